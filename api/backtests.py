"""Backtests: `GET /v1/backtests` reads the newest (or a pinned) stored backtest; `POST` reruns
them as a queued job (token required)."""

from __future__ import annotations

from flask import Blueprint, request

from smfcast.errors import InvalidInput, NotFound
from smfcast.registry.series import HEADLINE_METRICS

from .formats import respond_table, safe_filename
from .jobs import submit
from .params import allow, store

bp = Blueprint("backtests", __name__)
SUMMARY = ["series_id", "metric", "model", "windows", "points", "mae", "rmse", "mape", "smape", "mase", "coverage-80",
           "coverage-95", "width-95", "winkler-95", "msis", "crps"]
ROWS = ["series_id", "model", "cutoff", "horizon", "y", "mean", "median", "lo-80", "hi-80", "lo-95", "hi-95"]


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
    return submit("backtest", '{"h": 4, "n_windows": 8}')
