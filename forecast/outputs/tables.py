"""Plain-text, JSON and CSV renderings of row tables, the answer object every door gives, and the
one rule that keeps text cells from running as spreadsheet formulas.

One place decides how a table is written, so the command line and the API give the same thing:
JSON is the object `answer` builds (the table's meta, `columns`, `rows`), whether `smfcast ...
--format json` prints it or `GET /v1/...` answers it; a CSV is the same bytes whether the command
line prints it, writes it to a file or the API serves it (`csv_text`). The plain-text table is for
people: it fits `WIDTH` columns (long text cut with an ellipsis, then the last columns left out,
said so) unless asked for `wide`.
"""

from __future__ import annotations

import csv
import io
import json
import math

from smfcast.defaults import rounded

FORMATS = ("table", "json", "csv")
WIDTH = 120  # characters a plain-text table may take unless --wide
_MIN_TEXT = 8  # a cut text column keeps at least this many characters
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Prefix a text cell that a spreadsheet would run as a formula (OWASP CSV injection); numbers
    pass untouched, so a negative number stays a number."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def computed(rows: list[dict], columns=None) -> list[dict]:
    """Rows whose numbers were computed, each float at `defaults.PRECISION` significant digits
    (NaN as None); `columns` limits it to those columns. Observed values are never passed here."""
    out = []
    for r in rows:
        out.append({k: rounded(v) if isinstance(v, float) and (columns is None or k in columns) else v for k, v in r.items()})
    return out


def answer(rows: list[dict], columns: list[str], meta: dict | None = None) -> dict:
    """The JSON answer of a table: its meta beside `columns` and `rows` (objects with exactly
    those keys, in that order)."""
    return {**(meta or {}), "columns": list(columns), "rows": [{c: r.get(c) for c in columns} for r in rows]}


def json_text(value) -> str:
    """JSON as the command line prints it (indented, UTF-8 text kept)."""
    return json.dumps(value, ensure_ascii=False, indent=2)


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


def render(rows: list[dict], columns: list[str], fmt: str = "table", meta: dict | None = None, wide: bool = False,
           view: list[str] | None = None, whole: tuple[str, ...] = ()) -> str:
    """The table as text to print, without a final line end (`print` adds it: a printed CSV is then
    `csv_text` byte for byte). JSON is `answer(rows, columns, meta)`; the plain-text table shows
    `view` (default: `columns`) and fits `WIDTH` unless `wide` (`text_table`)."""
    if fmt == "json":
        return json_text(answer(rows, columns, meta))
    if fmt == "csv":
        return csv_text(rows, columns).removesuffix("\n")
    return text_table(rows, view or columns, None if wide else WIDTH, whole)


def text_table(rows: list[dict], columns: list[str], width: int | None = WIDTH, whole: tuple[str, ...] = ()) -> str:
    """Aligned columns for a terminal. Within `width`: the widest text columns are cut first (never
    a number, the first column (the row's key) or one named in `whole`, never below their header or
    `_MIN_TEXT`), then the last columns are left out and a line names them."""
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows) for c in columns]
    widths = [max([_width(c)] + [_width(row[i]) for row in cells]) for i, c in enumerate(columns)]
    shown = list(range(len(columns)))
    if width is not None:
        kept = [numeric[i] or i == 0 or c in whole for i, c in enumerate(columns)]
        floor = [w if kept[i] else max(_width(columns[i]), min(w, _MIN_TEXT)) for i, w in enumerate(widths)]
        while _total(widths, shown) > width:  # the widest cuttable column loses a character, until it fits
            cuttable = [i for i in shown if widths[i] > floor[i]]
            if not cuttable:
                break
            widths[max(cuttable, key=lambda k: (widths[k], k))] -= 1
        while _total(widths, shown) > width and len(shown) > 1:
            shown.pop()
    lines = ["  ".join(_pad(columns[i], widths[i]) for i in shown).rstrip(), "  ".join("-" * widths[i] for i in shown)]
    lines += ["  ".join(_pad(_cut(row[i], widths[i]), widths[i]) for i in shown).rstrip() for row in cells]
    if len(shown) < len(columns):
        left = [columns[i] for i in range(len(columns)) if i not in shown]
        lines.append(_cut(f"({len(left)} more column(s) with --wide: {', '.join(left)})", width))
    return "\n".join(lines)


def wrap(text: str, width: int | None = WIDTH) -> str:
    """Prose within `width` display columns (CJK characters count two), broken at spaces; a word
    longer than a line keeps a line of its own."""
    if width is None:
        return text
    out = []
    for paragraph in text.split("\n"):
        indent = paragraph[:len(paragraph) - len(paragraph.lstrip(" "))]
        line = indent
        for word in paragraph.split():
            candidate = f"{line} {word}" if line.strip() else line + word
            if line.strip() and _width(candidate) > width:
                out.append(line)
                line = indent + "  " + word  # a continued line is indented a little more
            else:
                line = candidate
        out.append(line)
    return "\n".join(out)


def _total(widths: list[int], shown: list[int]) -> int:
    return sum(widths[i] for i in shown) + 2 * (len(shown) - 1)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)


def _cut(text: str, width: int | None) -> str:
    """`text` within `width` display columns, an ellipsis marking a cut."""
    if width is None or _width(text) <= width:
        return text
    out, used = "", 0
    for ch in text:
        w = _width(ch)
        if used + w > width - 1:
            break
        out, used = out + ch, used + w
    return out + "…"


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
