"""Plain-text, JSON and CSV renderings of row tables, and the one rule that keeps text cells from
running as spreadsheet formulas.

One place decides how a list of dicts is written, so every CLI command offers the same formats and
a CSV is the same bytes whether the command line prints it, writes it to a file or the API serves
it (`csv_text`).
"""

from __future__ import annotations

import csv
import io
import json
import math

FORMATS = ("table", "json", "csv")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Prefix a text cell that a spreadsheet would run as a formula (OWASP CSV injection); numbers
    pass untouched, so a negative number stays a number."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.4g}" if abs(value) < 1e-3 and value != 0 else f"{value:,.4f}".rstrip("0").rstrip(".")
    return str(value)


def csv_text(rows: list[dict], columns: list[str]) -> str:
    """The table as CSV: a header, then one record per row, each ended by "\n" like the registry's
    own files (every spreadsheet reads it); None is an empty cell and text cells are neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow(["" if r.get(c) is None else neutralise(r.get(c)) for c in columns])
    return buf.getvalue()


def render(rows: list[dict], columns: list[str], fmt: str = "table") -> str:
    """The table as text to print, without a final line end (`print` adds it: a printed CSV is then
    `csv_text` byte for byte)."""
    if fmt == "json":
        return json.dumps([{c: r.get(c) for c in columns} for r in rows], ensure_ascii=False, indent=2)
    if fmt == "csv":
        return csv_text(rows, columns).removesuffix("\n")
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([_width(c)] + [_width(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(_pad(c, w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(_pad(v, w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
