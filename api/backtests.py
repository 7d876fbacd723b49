"""Backtests: `GET /v1/backtests` reads the newest (or a pinned) stored backtest; `POST` reruns
them as a queued job (token required)."""

from __future__ import annotations

from flask import Blueprint, request

from smfcast.errors import InvalidInput, NotFound
from smfcast.registry.series import HEADLINE_METRICS
from smfcast.store.backtests import DETAILS, backtest_table, stored_backtest

from .formats import respond_table, safe_filename
from .jobs import submit
from .params import allow, store

bp = Blueprint("backtests", __name__)


@bp.get("/backtests")
def get_backtests():
    allow("metric", "backtest", "detail")
    metric = request.args.get("metric")
    if metric is not None and metric not in HEADLINE_METRICS:
        raise NotFound(f"unknown metric {metric!r}; choose one of {', '.join(HEADLINE_METRICS)}", "metric")
    detail = request.args.get("detail", "summary")
    if detail not in DETAILS:
        raise InvalidInput(f"detail {detail!r} is not one of {', '.join(DETAILS)}", "detail")
    bt = stored_backtest(store(), request.args.get("backtest") or None)
    rows, columns, meta = backtest_table(bt, metric, detail)
    return respond_table(rows, columns, safe_filename("smfcast_backtest", metric or "all", detail, bt["backtest_id"]), meta)


@bp.post("/backtests")
def post_backtests():
    return submit("backtest", '{"h": 4, "n_windows": 8}')
