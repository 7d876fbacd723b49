"""Backtests: `GET /v1/backtests` reads the newest (or a pinned) stored backtest; `POST` reruns
them in the background (token required when configured)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from forecast.defaults import MEMBERS
from forecast.engine.backtest import BacktestSpec, run_and_store
from forecast.errors import InvalidInput, NotFound
from forecast.registry.series import HEADLINE_METRICS, load_registry

from .formats import respond_table, safe_filename
from .jobs import require_token, start_job
from .params import allow, store

bp = Blueprint("backtests", __name__)
SUMMARY = ["series_id", "metric", "model", "windows", "points", "mae", "rmse", "mape", "smape", "mase", "coverage-80",
           "coverage-95", "width-95", "winkler-95", "msis", "crps"]
ROWS = ["series_id", "model", "cutoff", "horizon", "y", "mean", "median", "lo-80", "hi-80", "lo-95", "hi-95"]
LIMITS = {"h": (1, 12, 4), "n_windows": (1, 20, 8), "step_size": (1, 4, 1), "n_paths": (100, 2000, 500)}


@bp.get("/backtests")
def get_backtests():
    allow("metric", "backtest", "detail")
    metric = request.args.get("metric")
    if metric is not None and metric not in HEADLINE_METRICS:
        raise NotFound(f"unknown metric {metric!r}; choose one of {', '.join(HEADLINE_METRICS)}", "metric")
    detail = request.args.get("detail", "summary")
    if detail not in ("summary", "rows"):
        raise InvalidInput(f"detail {detail!r} is not one of summary, rows", "detail")
    bt = store().backtest(request.args.get("backtest") or None)
    series = {s["series_id"] for s in bt["summary"] if metric is None or s["metric"] == metric}
    if detail == "summary":
        rows, columns = [s for s in bt["summary"] if s["series_id"] in series], SUMMARY
    else:
        rows, columns = [r for r in bt["rows"] if r["series_id"] in series], ROWS
    meta = {"backtest_id": bt["backtest_id"], "created": bt["created"], "spec": bt["spec"], "notes": bt["notes"],
            "calibration": {k: v for k, v in bt["calibration"].items() if k in series or metric is None}}
    return respond_table(rows, columns, safe_filename("smfcast_backtest", metric or "all", detail, bt["backtest_id"]), meta)


@bp.post("/backtests")
def post_backtests():
    allow()
    require_token()
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object such as {\"h\": 4, \"n_windows\": 8}", "body")
    unknown = sorted(set(body) - set(LIMITS) - {"metric", "models", "seed"})
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}; a backtest takes metric, models, seed, {', '.join(LIMITS)}", unknown[0])
    params = {}
    for name, (lo, hi, default) in LIMITS.items():
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise InvalidInput(f"{name} must be an integer in [{lo}, {hi}], got {value!r}", name)
        params[name] = value
    seed = body.get("seed", 20260101)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInput("seed must be a non-negative integer", "seed")
    metric = body.get("metric")
    if metric is not None and metric not in HEADLINE_METRICS:
        raise NotFound(f"unknown metric {metric!r}; choose one of {', '.join(HEADLINE_METRICS)}", "metric")
    models = body.get("models", list(MEMBERS))
    if not isinstance(models, list) or not models or any(m not in MEMBERS for m in models):
        raise InvalidInput(f"models must be a non-empty list drawn from {', '.join(MEMBERS)}", "models")
    data_dir, st = current_app.config["SMFCAST_DATA"], store()

    def work():
        reg = load_registry(data_dir)
        spec = BacktestSpec(params["h"], params["n_windows"], params["step_size"])
        backtest_id, _, _ = run_and_store(reg, spec, tuple(models), params["n_paths"], seed, st, [metric] if metric else None)
        return {"backtest_id": backtest_id, "url": f"/v1/backtests?backtest={backtest_id}"}

    out, status, headers = start_job("backtest", {**params, "seed": seed, "metric": metric, "models": models}, work)
    return jsonify(out), status, headers
