"""Decision tools over HTTP: goal seek (`POST /v1/goal-seek`: a question in a JSON body, nothing
stored, so no token) and sensitivity (`GET /v1/sensitivity`), answered from the run's stored
paths without refitting. Both compute, so both count against the per-client limit of anonymous
compute (`limits.py`)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from smfcast.errors import InvalidInput
from smfcast.outputs.decision_tables import seek, seek_answer, seek_table, tornado, tornado_answer, tornado_table
from smfcast.outputs.workbook import table_workbook

from .formats import requested_format, respond_table, safe_filename
from .limits import SEEK_COST, anonymous_compute
from .params import allow, json_fields, store

bp = Blueprint("decisions", __name__)
GOAL_SEEK_FIELDS = ("target", "metric", "year", "lever", "probability", "median", "base", "from_year", "run")
TEXT_FIELDS = ("target", "metric", "lever", "base", "run")


@bp.post("/goal-seek")
@anonymous_compute(cost=SEEK_COST)
def goal_seek():
    allow("run")
    body = json_fields('{"target": "npl_below_2_2_by_2026", "lever": "risk_model_adoption", "probability": 0.8}',
                       GOAL_SEEK_FIELDS, "goal seek")
    for name in TEXT_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise InvalidInput(f"{name} must be a string", name)
    if not body.get("lever"):
        raise InvalidInput("lever is required: the id of the lever to move (GET /v1/levers lists them)", "lever")
    st = store()
    run = st.get(body.get("run") or request.args.get("run") or None)
    answer = seek(st, run, body["lever"], target=body.get("target"), metric=body.get("metric"), year=body.get("year"),
                  probability=body.get("probability"), median=body.get("median"), base=body.get("base"),
                  from_year=body.get("from_year"))
    if requested_format() == "json":
        resp = jsonify(seek_answer(answer, run))
        resp.headers["X-Smfcast-Run"] = run.run_id
        return resp
    rows, columns, meta = seek_table(answer, run)
    return respond_table(rows, columns, safe_filename("smfcast_goal_seek", answer.lever, run.run_id), meta)


@bp.get("/sensitivity")
@anonymous_compute
def sensitivity():
    allow("target", "metric", "year", "base", "from_year", "run")
    st = store()
    run = st.get(request.args.get("run") or None)
    args = request.args
    result = tornado(st, run, target=args.get("target"), metric=args.get("metric"), year=args.get("year"),
                     base=args.get("base"), from_year=args.get("from_year"))
    name = safe_filename("smfcast_sensitivity", args.get("target") or f"{args.get('metric')}-{args.get('year')}", run.run_id)
    fmt = requested_format()
    if fmt == "json":
        return jsonify(tornado_answer(result, run, args.get("base")))
    rows, columns, meta = tornado_table(result, run, args.get("base"))
    xlsx = table_workbook([("range", result.rows, result.columns), ("unit", result.per_unit, result.unit_columns)]) if fmt == "xlsx" else None
    return respond_table(rows, columns, name, meta, xlsx=xlsx)
