"""`GET /v1/runs/{a}/compare/{b}`: what changed from run A to run B (B minus A), and why."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from smfcast.errors import InvalidInput, NotFound
from smfcast.outputs.revisions import COLUMNS, TABLES, compare
from smfcast.outputs.workbook import table_workbook
from smfcast.registry.series import HEADLINE_METRICS

from .formats import requested_format, respond_table, safe_filename
from .params import allow, many, sources, store

bp = Blueprint("revisions", __name__)


@bp.get("/runs/<run_a>/compare/<run_b>")
def compare_runs(run_a: str, run_b: str):
    allow("metric", "table")
    st = store()
    a, b = st.get(run_a), st.get(run_b)
    metrics = many("metric") or None
    for m in metrics or []:
        if m not in HEADLINE_METRICS:
            raise NotFound(f"unknown metric {m!r}; choose one of {', '.join(HEADLINE_METRICS)}", "metric")
    table = request.args.get("table")
    if table is not None and table not in TABLES:
        raise InvalidInput(f"table {table!r} is not one of {', '.join(TABLES)}", "table")
    record = compare(st, a, b, metrics, sources(a, b))
    fmt = requested_format()
    if fmt == "json" and table is None:
        resp = jsonify(record)
        resp.headers["X-Smfcast-Run"] = b.run_id
        return resp
    name = safe_filename("smfcast_compare", a.run_id, b.run_id, table or "")
    xlsx = table_workbook([(t, record[t], COLUMNS[t]) for t in TABLES]) if fmt == "xlsx" and table is None else None
    table = table or "forecasts"
    return respond_table(record[table], COLUMNS[table], name, {"run_id": b.run_id, "run_a": a.run_id, "run_b": b.run_id}, xlsx=xlsx)
