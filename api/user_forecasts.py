"""Users' own series over HTTP: `POST /v1/forecast`.

The body is JSON, `{"h": 8, "level": [80, 95], "data": [{"unique_id": "a", "ds": "2015-03-31", "y":
1.2}, ...]}` (optional: freq, models, n_paths, seed, evidence, members, bounds), or a long CSV or
XLSX file as the body (Content-Type text/csv or the XLSX type) with the other fields in the query
string (`?h=8&level=80,95`). It is checked once (`store.requests.forecast_request`, the limits
included) and forecast by `smfcast.forecast`, the call Python users make.

A small request (`SYNC_SERIES` series, `SYNC_POINTS` points) is answered at once, by anyone, one
at a time per server process: a second one meanwhile gets 429 with Retry-After, so anonymous
compute cannot take every worker; and each client's anonymous forecasts count against its compute
budget (`limits.FORECAST_COST` units). A larger one needs the write token and becomes a queued job
(202, poll `GET /v1/jobs/ID`; its result holds the same rows and method record).
"""

from __future__ import annotations

import threading

from flask import Blueprint, jsonify, request, url_for

from smfcast.errors import InvalidInput, SmfcastError
from smfcast.outputs.user_forecasts import records_from_file
from smfcast.store.requests import SYNC_N_PATHS, SYNC_POINTS, SYNC_SERIES, forecast_request

from .formats import XLSX_MIME, respond_table, safe_filename
from .jobs import queue, require_token
from .limits import FORECAST_COST, anonymous_compute
from .params import UnsupportedMediaType

bp = Blueprint("user_forecasts", __name__)
BODY_LIMIT = 16 * 2**20  # two thousand series of a hundred points, as JSON
QUERY_FIELDS = ("h", "level", "freq", "models", "n_paths", "seed", "evidence", "members")
_FILES = {"text/csv": "upload.csv", XLSX_MIME: "upload.xlsx"}
_busy = threading.BoundedSemaphore(1)  # one small forecast at a time in this process


class Busy(SmfcastError):
    """Another small forecast is being computed by this server process."""

    status = 429
    retry_after = 5


def _query_body() -> dict:
    """The fields of a file upload, from the query string (numbers and lists parsed)."""
    body = {}
    for name in QUERY_FIELDS:
        if name not in request.args:
            continue
        raw = request.args[name]
        if name in ("h", "n_paths", "seed"):
            try:
                body[name] = int(raw)
            except ValueError:
                raise InvalidInput(f"{name} must be a whole number, got {raw!r}", name) from None
        elif name == "models":
            body[name] = [m.strip() for m in raw.split(",") if m.strip()]
        elif name == "members":
            if raw.lower() not in ("true", "false", "1", "0"):
                raise InvalidInput(f"members must be true or false, got {raw!r}", "members")
            body[name] = raw.lower() in ("true", "1")
        else:
            body[name] = raw
    return body


def _body() -> dict:
    request.max_content_length = BODY_LIMIT
    if request.mimetype in _FILES:
        unknown = sorted(set(request.args) - set(QUERY_FIELDS) - {"format", "layout", "bom"})
        if unknown:
            raise InvalidInput(f"unknown query parameter {unknown[0]!r}; a file upload takes {', '.join(QUERY_FIELDS)}", unknown[0])
        return {**_query_body(), "data": records_from_file(request.get_data(), _FILES[request.mimetype])}
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send the series as application/json ({\"h\": 8, \"data\": [...]}), or a text/csv or XLSX "
                                   "body with h in the query string", "Content-Type")
    unknown = sorted(set(request.args) - {"format", "layout", "bom"})
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]!r}; this endpoint takes format (the fields go in the body)", unknown[0])
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput('the body must be a JSON object such as {"h": 8, "data": [{"unique_id": "a", "ds": "2015-03-31", '
                           '"y": 1.2}]}', "body")
    return body


@bp.post("/forecast")
@anonymous_compute(cost=FORECAST_COST)
def post_forecast():
    checked = forecast_request(_body())
    if not checked.small:
        try:
            by = require_token()
        except SmfcastError as exc:
            exc.message = (f"{exc.message}: a forecast of more than {SYNC_SERIES} series, {SYNC_POINTS} points or "
                           f"{SYNC_N_PATHS} paths runs as a queued job, which needs the write token")
            raise
        job, created = queue().submit_forecast(checked.params, by)
        url = url_for("jobs.job", job_id=job["job_id"])
        return jsonify({**job, "url": url, "duplicate": not created,
                        "why": f"more than {SYNC_SERIES} series, {SYNC_POINTS} points or {SYNC_N_PATHS} paths: a queued job"}), \
            202, {"Location": url}
    if not _busy.acquire(blocking=False):
        raise Busy("another forecast is being computed by this server process; try again in a few seconds", "data")
    try:
        result = checked.answer()
    finally:
        _busy.release()
    return respond_table(result["rows"], result["columns"], safe_filename("smfcast_forecast", f"h{checked.h}"),
                         {k: result[k] for k in ("h", "levels", "evidence", "method")})
