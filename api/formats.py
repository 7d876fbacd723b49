"""One table, three formats: JSON, CSV (long or wide, optional BOM) and XLSX.

Every table endpoint answers through `respond_table`, so format negotiation, file names and the
neutralising of spreadsheet formulas happen in one place. JSON is the default: a request with no
`format=` and no Accept header, or one that accepts anything (`*/*`, as curl, Python's requests
and browsers send), gets JSON; CSV and XLSX come when `format=` or the Accept header names them.
"""

from __future__ import annotations

import re

from flask import Response, jsonify, request

from smfcast.errors import InvalidInput
from smfcast.outputs.tables import csv_text
from smfcast.outputs.workbook import table_workbook

FORMATS = ("json", "csv", "xlsx")
LAYOUTS = ("long", "wide")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# In order of preference: `*/*` matches the first.
_ACCEPT = {"application/json": "json", "text/csv": "csv", XLSX_MIME: "xlsx"}


def requested_format() -> str:
    fmt = request.args.get("format")
    if fmt is not None:
        if fmt not in FORMATS:
            raise InvalidInput(f"format {fmt!r} is not one of {', '.join(FORMATS)}", "format")
        return fmt
    best = request.accept_mimetypes.best_match(list(_ACCEPT), default="application/json")
    return _ACCEPT.get(best, "json")


def flag(name: str, default: bool = False) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise InvalidInput(f"{name} must be true or false, got {raw!r}", name)


def safe_filename(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9._-]+", "-", str(p)) for p in parts if p)


def to_wide(rows: list[dict], stats: list[str], key: str = "period") -> tuple[list[dict], list[str]]:
    """One row per period, a column per scenario x statistic (e.g. `adverse-lo-95`)."""
    scenarios, periods, out = [], [], {}
    for r in rows:
        scen = r.get("scenario") or "history"
        if r.get("kind") == "history":
            scen = "history"
        if scen not in scenarios:
            scenarios.append(scen)
        if r[key] not in out:
            out[r[key]] = {key: r[key]}
            periods.append(r[key])
        for s in stats:
            if s in r:
                out[r[key]][f"{scen}-{s}"] = r[s]
    columns = [key] + [f"{scen}-{s}" for scen in scenarios for s in stats
                       if any(f"{scen}-{s}" in row for row in out.values())]
    return [out[p] for p in periods], columns


def respond_table(rows: list[dict], columns: list[str], filename: str, meta: dict | None = None,
                  wide_stats: list[str] | None = None, xlsx: bytes | None = None) -> Response:
    """Answer a table in the requested format. `meta` goes beside the rows in JSON and into
    headers elsewhere; `wide_stats` enables `layout=wide` for CSV."""
    fmt = requested_format()
    layout = request.args.get("layout", "long")
    if layout not in LAYOUTS:
        raise InvalidInput(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}", "layout")
    if layout == "wide":
        if wide_stats is None:
            raise InvalidInput("layout=wide is only offered for forecast tables", "layout")
        rows, columns = to_wide(rows, wide_stats)
    bom = flag("bom")
    meta = meta or {}
    if fmt == "json":
        resp = jsonify({**meta, "columns": columns, "rows": [{c: r.get(c) for c in columns} for r in rows]})
    elif fmt == "csv":
        text = csv_text(rows, columns)
        body = ("\ufeff" + text) if bom else text
        resp = Response(body.encode("utf-8"), mimetype="text/csv")
        resp.headers["Content-Type"] = "text/csv; charset=utf-8"
        resp.headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    else:
        data = xlsx if xlsx is not None else table_workbook([("data", rows, columns)])
        resp = Response(data, mimetype=XLSX_MIME)
        resp.headers["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    if "run_id" in meta:
        resp.headers["X-Smfcast-Run"] = meta["run_id"]
    return resp
