"""Runs: list them, read one, refit (`POST /v1/runs`, a queued job) and publish one
(`POST /v1/runs/{id}/publish`). Unpinned requests get the published run, never just the newest."""

from __future__ import annotations

from flask import Blueprint, jsonify

from smfcast.outputs.run_tables import run_rows
from smfcast.store.requests import refuse_unknown

from .formats import respond_table
from .jobs import require_token, submit
from .params import allow, json_body, store

bp = Blueprint("runs", __name__)


@bp.get("/runs")
def runs_index():
    allow()
    rows, columns, meta = run_rows(store())
    return respond_table(rows, columns, "smfcast_runs", meta)


@bp.get("/runs/<run_id>")
def run_detail(run_id: str):
    allow()
    r = store().get(run_id)
    metrics = {m: {**{k: r.metric_info(m)[k] for k in ("series_id", "unit", "periods", "models", "grades", "members")},
                   "method": r.method(m).to_dict(), "failures": {f.model: f.reason for f in r.failures(m)}}
               for m in r.metrics}
    return jsonify({**r.header(), "published": r.run_id == store().published_id(), "details": metrics,
                    "levers": r.summary["levers"], "targets": r.summary["targets"]})


@bp.post("/runs")
def post_run():
    return submit("refit", '{"seed": 1, "n_paths": 2000, "publish": true}')


@bp.post("/runs/<run_id>/publish")
def publish(run_id: str):
    allow()
    by = require_token()
    body = json_body('{"reason": "data for 2025 added"}')
    refuse_unknown(body, ("reason",), "a publication")
    record = store().publish(run_id, by, body.get("reason", ""))
    return jsonify(record)
