"""Runs: list them, read one, and refit (`POST /v1/runs`) after the data changed."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from forecast.defaults import MEMBERS
from forecast.engine.headline import EngineConfig
from forecast.errors import InvalidInput
from forecast.store.runs import create_run

from .formats import respond_table
from .jobs import require_token, start_job
from .params import allow, store

bp = Blueprint("runs", __name__)
COLUMNS = ["run_id", "created", "version", "seed", "n_paths", "scenarios", "metrics"]


@bp.get("/runs")
def runs_index():
    allow()
    rows = [{"run_id": r.run_id, "created": r.created, "version": r.version, "seed": r.config["seed"],
             "n_paths": r.config["n_paths"], "scenarios": ",".join(r.scenarios), "metrics": ",".join(r.metrics)}
            for r in store().list()]
    latest = rows[0]["run_id"] if rows else None
    return respond_table(rows, COLUMNS, "smfcast_runs", {"run_id": latest})


@bp.get("/runs/<run_id>")
def run_detail(run_id: str):
    allow()
    r = store().get(run_id)
    metrics = {m: {k: r.metric_info(m)[k] for k in ("series_id", "unit", "periods", "models", "method", "failures", "grades", "members")}
               for m in r.metrics}
    return jsonify({**r.header(), "details": metrics, "levers": r.summary["levers"], "targets": r.summary["targets"]})


@bp.post("/runs")
def post_run():
    allow()
    require_token()
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object such as {\"seed\": 1, \"n_paths\": 2000}", "body")
    bounds = {"seed": (0, 2**32 - 1), "n_paths": (100, 20000), "backtest_h": (1, 12), "backtest_windows": (0, 20),
              "backtest_paths": (100, 5000)}
    unknown = sorted(set(body) - set(bounds) - {"models"})
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}; a refit takes {', '.join(list(bounds) + ['models'])}", unknown[0])
    defaults = EngineConfig()
    values = {name: body.get(name, getattr(defaults, name)) for name in bounds}
    for name, (lo, hi) in bounds.items():
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise InvalidInput(f"{name} must be an integer in [{lo}, {hi}], got {value!r}", name)
    models = body.get("models", list(MEMBERS))
    if not isinstance(models, list) or not models or any(m not in MEMBERS for m in models):
        raise InvalidInput(f"models must be a non-empty list drawn from {', '.join(MEMBERS)}", "models")
    data_dir, st = current_app.config["SMFCAST_DATA"], store()
    config = EngineConfig(models=tuple(models), **values)

    def work():
        run = create_run(data_dir, config, st)
        return {"run_id": run.run_id, "url": f"/v1/runs/{run.run_id}"}

    body, status, headers = start_job("run", {**values, "models": models}, work)
    return jsonify(body), status, headers
