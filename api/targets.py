"""`GET /v1/targets`: the probability that each policy target in the report is met, per scenario."""

from __future__ import annotations

from flask import Blueprint, request

from smfcast.defaults import ENSEMBLE
from smfcast.outputs.run_tables import TARGET_COLUMNS, target_rows

from .formats import respond_table, safe_filename
from .params import allow, many, run, store

bp = Blueprint("targets", __name__)


@bp.get("/targets")
def targets():
    allow("scenario", "model", "run")
    r = run()
    scenarios = many("scenario") or r.scenarios
    rows = target_rows(store(), r, scenarios, request.args.get("model", ENSEMBLE))
    return respond_table(rows, TARGET_COLUMNS, safe_filename("smfcast_targets", r.run_id), {"run_id": r.run_id})
