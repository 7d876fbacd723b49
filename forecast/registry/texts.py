"""The registry's files as text, edited at a named place with every other byte kept.

A change to the registry is a list of edits, each one "the text at this place becomes that": an
observation's row in `observations.csv` (place: `series_id,period`), a source's table in
`sources.toml` (place: the source id), a series' table in `series.toml` (place: `series.ID`), or
the `series = "..."` line of a headline table (place: `headline.METRIC`). Reading the text at a
place before writing gives the old text, so the change log can keep both and a revert can put the
old text back exactly: byte for byte, in the same position.

An empty text means "absent": setting a place's text to "" removes it, and setting an absent
place appends it at the end of the file.
"""

from __future__ import annotations

import csv
import io
import re

from smfcast.registry.periods import parse_period

OBSERVATIONS, SERIES, SOURCES = "observations.csv", "series.toml", "sources.toml"
ALLOWED_CONTROLS = "\t\n"  # the only control characters a text field may hold


def control_character(text: str) -> str | None:
    """The first control character (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) in `text`
    other than tab and newline, as "U+0000", or None. A NUL or an escape code written into
    `observations.csv` turns the file binary to grep and invisible in a spreadsheet."""
    for ch in text:
        code = ord(ch)
        if (code < 0x20 or 0x7F <= code <= 0x9F) and ch not in ALLOWED_CONTROLS:
            return f"U+{code:04X}"
    return None


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"


def csv_line(cells: list[str]) -> str:
    """One CSV record as the registry writes it (minimal quoting), without its line end."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()[:-1]


def observation_key(series_id: str, period: str) -> str:
    """The place of an observation: its series and its period in canonical form (2024Q4)."""
    try:
        period = str(parse_period(period))
    except ValueError:
        pass  # an unparseable period keeps its text; the registry's loader names the problem
    return f"{series_id.strip()},{period}"


def _records(text: str) -> list[tuple[int, int, list[str]]]:
    """(first line index, end line index exclusive, cells) of each data record after the header."""
    lines = text.splitlines(keepends=True)
    out, start = [], 1
    reader = csv.reader(lines[1:])
    for cells in reader:
        end = 1 + reader.line_num
        out.append((start, end, cells))
        start = end
    return out


def observation_index(text: str) -> dict[str, tuple[int, int]]:
    """place -> (first line index, end line index exclusive) of every observation row, read once:
    a change of many rows looks each one up here instead of reading the file per row."""
    out = {}
    for start, end, cells in _records(text):
        if len(cells) >= 2:
            out.setdefault(observation_key(cells[0], cells[1]), (start, end))
    return out


def _get_observation(text: str, key: str, index: dict | None = None) -> tuple[str, tuple[int, int] | None]:
    span = (index if index is not None else observation_index(text)).get(key)
    if span is None:
        return "", None
    return "".join(text.splitlines(keepends=True)[span[0]:span[1]]).rstrip("\r\n"), span


def put_observations(text: str, rows: dict[str, str]) -> str:
    """`observations.csv` with the row at each place replaced by its new text ("" removes it);
    places not yet in the file are appended in the order given. One pass over the file."""
    index = observation_index(text)
    nl = _newline(text)
    lines = text.splitlines(keepends=True)
    replaced = {index[k][0]: (index[k][1], new) for k, new in rows.items() if k in index}
    out, i = [], 0
    while i < len(lines):
        if i in replaced:
            end, new = replaced[i]
            if new:
                out.append(new + nl)
            i = end
        else:
            out.append(lines[i])
            i += 1
    body = "".join(out)
    added = [new for k, new in rows.items() if k not in index and new]
    if added:
        if body and not body.endswith("\n"):
            body += nl
        body += "".join(new + nl for new in added)
    return body


def _set_observation(text: str, key: str, new: str) -> str:
    return put_observations(text, {key: new})


def _table_span(lines: list[str], header: str) -> tuple[int, int] | None:
    """Lines of the TOML table `[header]`: its header line through its last line before a blank
    line, a comment or the next table."""
    for i, line in enumerate(lines):
        if line.strip() == f"[{header}]":
            j = i + 1
            while j < len(lines) and lines[j].strip() and not lines[j].lstrip().startswith(("[", "#")):
                j += 1
            return i, j
    return None


def _set_table(text: str, header: str, new: str) -> str:
    """Replace, remove or append the table `[header]`. An appended table gets one blank line
    before it, and removing a table takes that blank line with it, so add-then-remove gives back
    the file byte for byte."""
    lines = text.splitlines(keepends=True)
    nl = _newline(text)
    span = _table_span(lines, header)
    block = "".join(line + nl for line in new.split("\n")) if new else ""
    if span is None:
        if not new:
            return text
        if text and not text.endswith("\n"):
            text += nl
        return text + nl + block
    start, end = span
    if not new and start > 0 and not lines[start - 1].strip():
        start -= 1  # the blank line that separated it
    return "".join(lines[:start]) + block + "".join(lines[end:])


_KEY_LINE = re.compile(r"^\s*series\s*=")


def _headline_line(lines: list[str], metric: str) -> int | None:
    span = _table_span(lines, f"headline.{metric}")
    if span is None:
        return None
    start, _ = span
    for j in range(start + 1, len(lines)):
        if lines[j].lstrip().startswith("["):
            break
        if _KEY_LINE.match(lines[j]):
            return j
    return None


def get(text: str, file: str, key: str, index: dict | None = None) -> str:
    """The text at `key` in the file's `text` ("" when absent), without its final line end.
    `index`: the file's `observation_index`, when many rows are looked up."""
    if file == OBSERVATIONS:
        return _get_observation(text, key, index)[0]
    lines = text.splitlines(keepends=True)
    if file == SERIES and key.startswith("headline."):
        j = _headline_line(lines, key.removeprefix("headline."))
        return lines[j].rstrip("\r\n") if j is not None else ""
    span = _table_span(lines, key)
    return "".join(lines[span[0]:span[1]]).rstrip("\r\n").replace("\r\n", "\n") if span else ""


def span(text: str, file: str, key: str, index: dict | None = None) -> tuple[int, int] | None:
    """1-based first and last line of the text at `key`, or None when absent: what a loader's
    line number is matched against to find which edit it is about."""
    if file == OBSERVATIONS:
        found = (index if index is not None else observation_index(text)).get(key)
        return (found[0] + 1, found[1]) if found else None
    lines = text.splitlines(keepends=True)
    if file == SERIES and key.startswith("headline."):
        j = _headline_line(lines, key.removeprefix("headline."))
        return (j + 1, j + 1) if j is not None else None
    found = _table_span(lines, key)
    return (found[0] + 1, found[1]) if found else None


def put(text: str, file: str, key: str, new: str) -> str:
    """The file's text with the text at `key` replaced by `new` ("" removes it)."""
    if file == OBSERVATIONS:
        return _set_observation(text, key, new)
    if file == SERIES and key.startswith("headline."):
        metric = key.removeprefix("headline.")
        lines = text.splitlines(keepends=True)
        j = _headline_line(lines, metric)
        if j is None:
            raise ValueError(f"series.toml has no [headline.{metric}] table with a 'series' line")
        lines[j] = new + _newline(text)
        return "".join(lines)
    return _set_table(text, key, new)


def toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return toml_string(str(value))


def toml_table(header: str, fields: dict) -> str:
    """`[header]` and one `key = value` line per field that is not None, without a final line end."""
    return "\n".join([f"[{header}]"] + [f"{k} = {toml_value(v)}" for k, v in fields.items() if v is not None])
