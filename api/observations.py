"""Bringing figures in over HTTP: `POST /v1/observations` and the change log per series.

The body is JSON (`{"rows": [...], "sources": [...]}`), a CSV or the XLSX template, sent as the
request body (Content-Type text/csv or the XLSX type) or as the `file` field of a form upload.
Everything goes through `registry.intake`, as `smfcast data add|import` does: the same rules, the
same all-or-nothing write and change log, and every problem located by row and field in one
problem+json answer (422), nothing written. A write needs the bearer token.

Forecasts move only when a run is made from the new data (`POST /v1/runs`, or `smfcast run`).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, request

from smfcast.errors import InvalidInput, NotFound, SmfcastError
from smfcast.registry import changes, intake
from smfcast.registry.template import (
    OPTIONAL,
    REQUIRED,
    SOURCE_COLUMNS,
    inputs_from_records,
    json_records,
    read_file,
)

from .formats import XLSX_MIME, flag, respond_table, safe_filename
from .jobs import require_token
from .params import allow, json_fields

bp = Blueprint("observations", __name__)
UPLOAD_LIMIT = 4 * 2**20  # a filled workbook is larger than the JSON the other writes take
BODY_KEYS = ("rows", "sources", "series", "revise", "reason", "check")
# A new series, as `smfcast data series add` takes it; `forecast: true` has every run forecast it.
SERIES_FIELDS = ("series_id", "title_en", "title_zh", "unit", "frequency", "region", "bounds", "transform", "national", "definition",
                 "headline", "forecast")
SERIES_REQUIRED = ("series_id", "title_en", "title_zh", "unit", "frequency", "region", "bounds", "transform")
_UPLOAD_TYPES = {"text/csv": "upload.csv", XLSX_MIME: "upload.xlsx"}


class UnsupportedMediaType(SmfcastError):
    status = 415


def _data_dir() -> Path:
    return Path(current_app.config["SMFCAST_DATA"])


def _series(items) -> list[intake.NewSeries]:
    """New series from the body's `series` list, each field checked by name and located."""
    if not isinstance(items, list):
        raise InvalidInput("'series' must be a list of objects", "series")
    out = []
    for i, item in enumerate(items):
        where = f"request body, series[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"{where} must be an object such as {{\"series_id\": ..., \"frequency\": ...}}", "series")
        unknown = sorted(set(item) - set(SERIES_FIELDS))
        if unknown:
            raise InvalidInput(f"{where}, field '{unknown[0]}': unknown field; a series takes {', '.join(SERIES_FIELDS)}", unknown[0])
        missing = [k for k in SERIES_REQUIRED if k not in item]
        if missing:
            raise InvalidInput(f"{where}, field '{missing[0]}': missing", missing[0])
        for key in SERIES_FIELDS:
            value = item.get(key)
            if key == "bounds":
                if not (isinstance(value, list) and len(value) == 2 and all(isinstance(b, (int, float)) and not isinstance(b, bool)
                                                                           for b in value)):
                    raise InvalidInput(f"{where}, field 'bounds': must be [lower, upper] numbers", "bounds")
            elif key == "forecast":
                if value is not None and not isinstance(value, bool):
                    raise InvalidInput(f"{where}, field 'forecast': must be true or false", "forecast")
            elif value is not None and not isinstance(value, str):
                raise InvalidInput(f"{where}, field '{key}': must be a string", key)
        out.append(intake.NewSeries(item["series_id"], item["title_en"], item["title_zh"], item["unit"], item["frequency"],
                                    item["region"], (float(item["bounds"][0]), float(item["bounds"][1])), item["transform"],
                                    item.get("national"), item.get("definition") or "", item.get("headline"),
                                    intake.Origin(where, "request body", "series", i), bool(item.get("forecast", False))))
    return out


def _from_json() -> tuple[list, list, dict]:
    body = json_fields('{"rows": [{"series_id": "qh_green_loan_share", "period": "2024Q4", "value": 25.82, "source_id": "...", '
                       '"quality": "derived", "note": "..."}]}', BODY_KEYS, "the body")
    if not body.get("rows") and not body.get("sources") and not body.get("series"):
        raise InvalidInput("nothing to add: give 'rows' (observations), 'sources' and/or 'series'", "rows")
    for name in ("revise", "check"):
        if name in body and not isinstance(body[name], bool):
            raise InvalidInput(f"{name} must be true or false", name)
    if "reason" in body and not isinstance(body["reason"], str):
        raise InvalidInput("reason must be a string", "reason")
    obs = json_records(body.get("rows", []), "rows", REQUIRED + OPTIONAL, REQUIRED)
    src = json_records(body.get("sources", []), "sources", SOURCE_COLUMNS, ("source_id", "publisher", "title", "quote"))
    observations, sources = inputs_from_records(obs, src)
    options = {k: body[k] for k in ("revise", "reason", "check") if k in body}
    return observations, sources, {**options, "series": _series(body.get("series", []))}


def _from_upload() -> tuple[list, list, dict]:
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput("the form has no 'file' field holding the .csv or .xlsx", "file")
        name = Path(upload.filename or "upload").name
        data = upload.read()
    else:
        name, data = _UPLOAD_TYPES[request.mimetype], request.get_data()
    if not data:
        raise InvalidInput(f"{name} is empty", "file")
    observations, sources = read_file(data, name)
    return observations, sources, {}


@bp.post("/observations")
def post_observations():
    allow("revise", "reason", "check")
    token_name = require_token()
    request.max_content_length = UPLOAD_LIMIT
    if request.is_json:
        observations, sources, options = _from_json()
    elif request.mimetype in _UPLOAD_TYPES or request.mimetype == "multipart/form-data":
        observations, sources, options = _from_upload()
    else:
        raise UnsupportedMediaType("send application/json rows, a text/csv or XLSX body, or a multipart/form-data 'file'",
                                   "Content-Type")
    for name in ("revise", "reason", "check"):
        if name in request.args and name in options:
            raise InvalidInput(f"{name} is given both in the query and in the body; give it once", name)
    revise = options.get("revise", flag("revise"))
    check = options.get("check", flag("check"))
    reason = options.get("reason", request.args.get("reason", ""))
    who = f"api:{token_name}" if token_name else "api"
    out = intake.apply(_data_dir(), observations, sources, options.get("series", []), revise=revise, who=who, reason=reason,
                       check_only=check)
    series = sorted({e["series_id"] for e in out.entries if e.get("series_id")})
    body = {"change_id": out.change_id, "written": out.written and out.change_id is not None, "summary": out.summary(),
            "added": out.count("add"), "revised": out.count("revise"), "sources_added": out.count("add source"),
            "series_added": out.count("add series"),
            "unchanged": out.unchanged, "history": [f"/v1/series/{s}/history" for s in series],
            "changes": [{c: e.get(c, "") for c in ("action", "series_id", "period", "old_value", "new_value", "source_id", "quality")}
                        for e in out.entries],
            "next": "forecasts change when a run is made from the new data: POST /v1/runs (or `smfcast run`)"}
    return jsonify(body), 201 if body["written"] else 200


@bp.get("/series/<series_id>/history")
def series_history(series_id: str):
    allow()
    entries = changes.read_log(_data_dir())
    if not any(e["series_id"] == series_id for e in entries):
        from smfcast.registry.series import load_registry
        if series_id not in load_registry(_data_dir()).series:
            raise NotFound(f"unknown series {series_id!r}; GET /v1/series lists the series", "series_id")
    rows = changes.history(entries, series_id)
    return respond_table(rows, changes.HISTORY_COLUMNS, safe_filename("smfcast_history", series_id),
                         {"series_id": series_id, "log": changes.LOG})
