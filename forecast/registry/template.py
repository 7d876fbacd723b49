"""The import format: a CSV, an XLSX workbook (the template) or JSON records, read into the
inputs of `intake`, and the XLSX template written for people to fill in.

Observation rows have the columns of `observations.csv` (series_id, period, value, source_id,
quality, note). A CSV row may also carry its source (publisher, title, url, quote) when that
source is new; a workbook carries new sources on its `sources` sheet. Every input keeps its file
(and sheet) and row, so a problem found later is reported where the person can fix it. Rows are
numbered as a spreadsheet numbers them: the header is row 1.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime, time
from pathlib import Path

from smfcast.errors import Rejected, RowError
from smfcast.registry.intake import NewObservation, NewSource, Origin
from smfcast.registry.series import OBSERVATION_COLUMNS, QUALITIES, Registry

REQUIRED = ("series_id", "period", "value", "source_id", "quality")
SOURCE_COLUMNS = ("source_id", "publisher", "title", "url", "quote")
OPTIONAL = ("note", "publisher", "title", "url", "quote")
SHEET, SOURCES_SHEET = "observations", "sources"
GRADE_MEANING = {
    "official": "a government release or its gov.cn mirror",
    "repost": "the release's own words on a newspaper or another site",
    "secondary": "a summary, translation or rewritten text",
    "doubtful": "provenance cannot be verified, or inconsistent with neighbouring releases (not fitted)",
    "report": "a claim of the industry report",
    "derived": "computed from other figures: give the formula in note",
    "estimate": "not (yet) published: the only grade a period after the current one may have; say how in note (not fitted)",
}
TEMPLATE_ROWS = 2000  # rows of the template that carry drop-downs


def _cell_text(value, origin: Origin, column: str) -> str:
    """A cell as the text the registry stores: numbers in their shortest exact form, 2024.0 as 2024."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        raise origin.error(column, f"a date cell ({value}); type the {column} as text, e.g. 2025-03 or 2024Q4")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value).strip()


def _header(cells: list, origin: Origin, allowed: tuple[str, ...], required: tuple[str, ...]) -> list[str | None]:
    names = [None if c is None or str(c).strip() == "" else str(c).strip().lower() for c in cells]
    unknown = [n for n in names if n is not None and n not in allowed]
    if unknown:
        hint = next((f" (the header looks {name}-separated: save the file as comma-separated CSV)"
                     for sep, name in ((";", "semicolon"), ("\t", "tab")) if sep in unknown[0]), "")
        raise origin.error(unknown[0], f"unknown column {unknown[0]!r}; the columns are {', '.join(allowed)}{hint}")
    missing = [c for c in required if c not in names]
    if missing:
        raise origin.error(missing[0], f"no {missing[0]!r} column; the header row needs {', '.join(required)}")
    repeated = [n for n in names if n is not None and names.count(n) > 1]
    if repeated:
        raise origin.error(repeated[0], f"column {repeated[0]!r} appears twice")
    return names


def records(rows, file: str, sheet: str | None, allowed: tuple[str, ...], required: tuple[str, ...]):
    """(origin, {column: text}) for each non-empty row after the header row."""
    rows = iter(rows)
    head = next(rows, None)
    if head is None:
        raise Origin.of_row(file, 1, sheet).error(None, f"empty; the header row needs {', '.join(required)}")
    names = _header(list(head), Origin.of_row(file, 1, sheet), allowed, required)
    problems, out = [], []
    for number, cells in enumerate(rows, start=2):
        cells = list(cells)
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        origin = Origin.of_row(file, number, sheet)
        extra = [c for name, c in zip(names, cells) if name is None and c not in (None, "")] + cells[len(names):]
        if any(c not in (None, "") for c in extra):
            problems.append(origin.error(None, "a value in a column without a header"))
            continue
        try:
            out.append((origin, {name: _cell_text(c, origin, name) for name, c in zip(names, cells) if name is not None}))
        except RowError as exc:
            problems.append(exc)
    if problems:
        raise Rejected(problems)
    return out


def json_records(items, key: str, allowed: tuple[str, ...], required: tuple[str, ...]):
    """(origin, {column: text}) for each object of a JSON list (an API request's `rows` or
    `sources`); an item is located as `request body, rows[2]`."""
    if not isinstance(items, list):
        raise RowError("request body", key, f"{key!r} must be a list of objects", file="request body")
    problems, out = [], []
    for i, item in enumerate(items):
        origin = Origin(f"request body, {key}[{i}]", "request body", key, i)
        if not isinstance(item, dict):
            problems.append(origin.error(None, "must be an object such as {\"series_id\": ..., \"period\": ..., \"value\": ...}"))
            continue
        unknown = sorted(set(item) - set(allowed))
        missing = [c for c in required if c not in item]
        nested = [k for k, v in item.items() if isinstance(v, (dict, list))]
        if unknown or missing or nested:
            name = (unknown or missing or nested)[0]
            why = (f"unknown field; the fields are {', '.join(allowed)}" if unknown else
                   "missing" if missing else "must be a string or a number")
            problems.append(origin.error(name, why))
            continue
        try:
            out.append((origin, {k: _cell_text(v, origin, k) for k, v in item.items()}))
        except RowError as exc:
            problems.append(exc)
    if problems:
        raise Rejected(problems)
    return out


def inputs_from_records(obs_records, source_records=()) -> tuple[list[NewObservation], list[NewSource]]:
    """Observation and source inputs; a row with any source column names a new source."""
    observations, sources = [], []
    for origin, r in obs_records:
        observations.append(NewObservation(r.get("series_id", ""), r.get("period", ""), r.get("value", ""),
                                           r.get("source_id", ""), r.get("quality", ""), r.get("note", ""), origin))
        if any(r.get(k) for k in ("publisher", "title", "url", "quote")):
            sources.append(NewSource(r.get("source_id", ""), r.get("publisher", ""), r.get("title", ""), r.get("quote", ""),
                                     r.get("url", ""), origin))
    for origin, r in source_records:
        sources.append(NewSource(r.get("source_id", ""), r.get("publisher", ""), r.get("title", ""), r.get("quote", ""),
                                 r.get("url", ""), origin))
    return observations, sources


def decode_text(data: bytes, name: str) -> str:
    """A text file's bytes as text: UTF-8 (with or without a byte-order mark) or GB18030."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # what Excel in a Chinese locale saves as "CSV"
    except UnicodeDecodeError:
        raise RowError(name, None, "neither UTF-8 nor GB18030 text; save the sheet as CSV UTF-8", file=name) from None


def read_csv(data: bytes, name: str) -> tuple[list[NewObservation], list[NewSource]]:
    text = decode_text(data, name)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return inputs_from_records(records(rows, name, None, REQUIRED + OPTIONAL, REQUIRED))


def read_xlsx(data: bytes, name: str) -> tuple[list[NewObservation], list[NewSource]]:
    from openpyxl import load_workbook
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a file that is not a workbook
        raise RowError(name, None, f"not an XLSX workbook ({type(exc).__name__}); use `smfcast data template`", file=name) from None
    try:
        if SHEET in wb.sheetnames:
            ws = wb[SHEET]
        elif len(wb.sheetnames) == 1:
            ws = wb[wb.sheetnames[0]]
        else:
            raise RowError(name, None, f"no sheet named {SHEET!r}; `smfcast data template` writes a workbook that has one", file=name)
        obs = records(ws.iter_rows(values_only=True), name, ws.title, REQUIRED + OPTIONAL, REQUIRED)
        src = []
        if SOURCES_SHEET in wb.sheetnames:
            src = records(wb[SOURCES_SHEET].iter_rows(values_only=True), name, SOURCES_SHEET, SOURCE_COLUMNS, ("source_id",))
        return inputs_from_records(obs, src)
    finally:
        wb.close()


def read_file(data: bytes, name: str) -> tuple[list[NewObservation], list[NewSource]]:
    """Read an import file by its name's extension (.csv or .xlsx)."""
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return read_csv(data, name)
    if suffix == ".xlsx":
        return read_xlsx(data, name)
    raise RowError(name, None, "import files are .csv or .xlsx (`smfcast data template` writes one)", file=name)


def write_template(reg: Registry, last_changes: dict[str, dict] | None = None) -> bytes:
    """The XLSX template: an `observations` sheet with drop-downs (series ids, grades, known source
    ids), a `sources` sheet for new sources, the series list, the grades, and an example."""
    import xlsxwriter
    last_changes = last_changes or {}
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    bold = wb.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1})
    text = wb.add_format({"num_format": "@"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    note = wb.add_format({"italic": True, "font_color": "#555555"})
    roles = reg.roles()
    series_ids = sorted(reg.series, key=lambda s: (s not in roles, not s.startswith("qh_"), s))
    source_ids = sorted(reg.sources)

    ws = wb.add_worksheet(SHEET)
    help_text = {
        "series_id": "A series id from the 'series' sheet (add a new series first: smfcast data series add).",
        "period": "Year-end 2024, quarter-end 2024Q4 or month-end 2024-12; the series' frequency decides which.",
        "value": "The number in the series' unit (see the 'series' sheet), as published.",
        "source_id": "An existing source id (drop-down) or a new one described on the 'sources' sheet.",
        "quality": "official, repost, secondary, doubtful, report, derived or estimate (see the 'grades' sheet).",
        "note": "Required for derived rows: the formula. Otherwise optional.",
    }
    widths = {"series_id": 34, "period": 10, "value": 14, "source_id": 36, "quality": 12, "note": 60}
    for c, name in enumerate(OBSERVATION_COLUMNS):
        ws.write_string(0, c, name, bold)
        ws.write_comment(0, c, help_text[name], {"x_scale": 2, "y_scale": 1.2})
        ws.set_column(c, c, widths[name], text if name in ("period", "source_id", "series_id", "note", "quality") else None)
    ws.freeze_panes(1, 0)
    last = TEMPLATE_ROWS
    ws.data_validation(1, 0, last, 0, {"validate": "list", "source": f"=lists!$A$2:$A${len(series_ids) + 1}",
                                       "error_title": "Unknown series", "error_message": "Choose a series id from the list."})
    ws.data_validation(1, 1, last, 1, {"validate": "any", "input_title": "Period", "input_message": "2024, 2024Q4 or 2024-12"})
    ws.data_validation(1, 2, last, 2, {"validate": "decimal", "criteria": "between", "minimum": -1e15, "maximum": 1e15,
                                       "error_title": "Not a number", "error_message": "The value must be a number."})
    ws.data_validation(1, 3, last, 3, {"validate": "list", "source": f"=lists!$C$2:$C${max(len(source_ids), 1) + 1}",
                                       "show_error": False, "input_title": "Source",
                                       "input_message": "A known source id, or a new id described on the 'sources' sheet."})
    ws.data_validation(1, 4, last, 4, {"validate": "list", "source": list(QUALITIES),
                                       "error_title": "Unknown grade", "error_message": "Choose one of the grades."})

    src = wb.add_worksheet(SOURCES_SHEET)
    for c, (name, width) in enumerate(zip(SOURCE_COLUMNS, (36, 30, 50, 50, 80))):
        src.write_string(0, c, name, bold)
        src.set_column(c, c, width, text)
    src.write_comment(0, 0, "New sources only: an id that already exists must have the same fields. "
                            "publisher, title and quote (the sentence the value was read from) are required.",
                      {"x_scale": 2.5, "y_scale": 1.5})
    src.freeze_panes(1, 0)

    ser = wb.add_worksheet("series")
    columns = ["id", "title_en", "title_zh", "region", "unit", "frequency", "lower", "upper", "transform", "national",
               "headline", "first", "last", "count", "last_change"]
    for c, name in enumerate(columns):
        ser.write_string(0, c, name, bold)
    for r, sid in enumerate(series_ids, start=1):
        m, obs = reg.meta(sid), reg.observations(sid)
        values = [sid, m.title_en, m.title_zh, m.region, m.unit, m.frequency, m.lower, m.upper, m.transform, m.national or "",
                  roles.get(sid, ""), str(obs[0].period) if obs else "", str(obs[-1].period) if obs else "", len(obs),
                  (last_changes.get(sid) or {}).get("time", "")[:10]]
        for c, v in enumerate(values):
            if isinstance(v, (int, float)):
                ser.write_number(r, c, v)
            else:
                ser.write_string(r, c, v)
    for c, width in enumerate((34, 50, 30, 8, 12, 10, 8, 10, 9, 34, 24, 8, 8, 6, 11)):
        ser.set_column(c, c, width)
    ser.freeze_panes(1, 1)

    grades = wb.add_worksheet("grades")
    grades.write_string(0, 0, "quality", bold)
    grades.write_string(0, 1, "meaning", bold)
    for r, q in enumerate(QUALITIES, start=1):
        grades.write_string(r, 0, q)
        grades.write_string(r, 1, GRADE_MEANING[q])
    grades.set_column(0, 0, 12)
    grades.set_column(1, 1, 90)

    ex = wb.add_worksheet("example")
    ex.write_string(0, 0, "An observation and its source as the registry records them (this sheet is not imported).", note)
    example = _example(reg)
    if example is not None:
        o, s = example
        for c, name in enumerate(OBSERVATION_COLUMNS):
            ex.write_string(2, c, name, bold)
            ex.write_string(3, c, o[name], wrap)
        for c, name in enumerate(SOURCE_COLUMNS):
            ex.write_string(5, c, name, bold)
            ex.write_string(6, c, s.get(name, ""), wrap)
    for c, width in enumerate((34, 30, 50, 50, 60, 60)):
        ex.set_column(c, c, width)

    lists = wb.add_worksheet("lists")
    for c, (name, values) in enumerate((("series_id", series_ids), ("quality", list(QUALITIES)), ("source_id", source_ids))):
        lists.write_string(0, c, name, bold)
        for r, v in enumerate(values, start=1):
            lists.write_string(r, c, v)
    lists.hide()
    ws.activate()
    wb.close()
    return buf.getvalue()


def _example(reg: Registry) -> tuple[dict, dict] | None:
    """The newest observation of the first headline's provincial series that has a source URL."""
    for head in reg.headlines.values():
        for o in reversed(reg.observations(head.series)):
            src = reg.sources.get(o.source_id, {})
            if src.get("url"):
                row = {"series_id": o.series_id, "period": str(o.period), "value": _cell_text(o.value, Origin("example"), "value"), "source_id": o.source_id,
                       "quality": o.quality, "note": o.note}
                return row, {"source_id": o.source_id, **{k: str(src.get(k, "")) for k in SOURCE_COLUMNS[1:]}}
    return None

