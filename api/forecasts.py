"""Forecast bands: presets by GET (cached whole, ETag; see `response_cache.py`), custom scenarios
by POST (overlay only, no refit), and fan charts."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from smfcast.defaults import ENSEMBLE, LEVELS
from smfcast.errors import InvalidInput, NotFound
from smfcast.outputs.bands import level_columns, parse_levels
from smfcast.outputs.charts import fan_chart
from smfcast.outputs.run_tables import (
    forecast_rows,
    forecast_table,
    scenario_paths,
    table_columns,
)
from smfcast.outputs.workbook import build_workbook
from smfcast.policy.scenarios import parse_custom
from smfcast.registry.series import HEADLINE_METRICS
from smfcast.store.runs import BASELINE

from .formats import flag, requested_format, respond_table, safe_filename
from .limits import CHART_COST, anonymous_compute
from .params import allow, many, registry, run, store
from .response_cache import CACHE_CONTROL, CACHE_HEADERS, etag_for

bp = Blueprint("forecasts", __name__)
FORECAST_PARAMS = ("metric", "scenario", "model", "level", "run", "history")


def _metrics() -> list[str]:
    metrics = many("metric") or list(HEADLINE_METRICS)
    for m in metrics:
        if m not in HEADLINE_METRICS:
            raise NotFound(f"unknown metric {m!r}; choose one of {', '.join(HEADLINE_METRICS)}", "metric")
    return metrics


@bp.get("/forecasts")
def get_forecasts():
    allow(*FORECAST_PARAMS)
    r = run()
    levels = parse_levels(many("level") or None)
    scenarios = many("scenario") or [BASELINE]
    if scenarios == ["all"]:
        scenarios = r.scenarios
    model = request.args.get("model", ENSEMBLE)
    history = flag("history")
    metrics = _metrics()
    name = safe_filename("smfcast", "-".join(metrics) if len(metrics) < 3 else "all", "-".join(scenarios), model, r.run_id)
    # XLSX is the analyst's workbook (metric sheets with charts, targets, assumptions, sources, run),
    # which reads the paths itself (and refuses unknown names); the long table is for the other formats.
    workbook = build_workbook(store(), r, registry(r), metrics, scenarios, model, levels) if requested_format() == "xlsx" else None
    rows = [] if workbook is not None else forecast_table(store(), r, metrics, scenarios, model, levels, history)
    resp = respond_table(rows, table_columns(levels), name, {"run_id": r.run_id, "metrics": metrics, "scenarios": scenarios,
                                                          "model": model, "levels": list(levels)},
                         wide_stats=["mean", "median"] + level_columns(levels), xlsx=workbook)
    # Built, so the query was valid: only now may a conditional request (even `*`) answer 304.
    etag = etag_for(r.run_id, request.environ)
    resp.set_etag(etag)
    resp.headers.update(CACHE_HEADERS)
    current_app.extensions["smfcast_responses"].put(etag, resp.get_data(), list(resp.headers.items()))
    if request.if_none_match.contains_weak(etag):
        not_modified = Response(status=304)
        not_modified.set_etag(etag)
        not_modified.headers.update(CACHE_HEADERS)
        return not_modified
    return resp


@bp.post("/forecasts")
@anonymous_compute
def post_forecast():
    allow("run", "level")
    body = request.get_json(silent=True)
    if body is None:
        raise InvalidInput("the body must be a JSON object: {\"metric\": ..., \"base\": ..., \"levers\": {...}}", "body")
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object, not " + type(body).__name__, "body")
    r = run()
    doc = dict(body)
    metric = doc.pop("metric", None)
    model = doc.pop("model", ENSEMBLE)
    level = doc.pop("level", None)
    levels = parse_levels(level if level is not None else many("level") or None)
    history = doc.pop("history", False)
    if not isinstance(history, bool):
        raise InvalidInput("history must be true or false", "history")
    if not isinstance(model, str):
        raise InvalidInput("model must be a string", "model")
    metrics = [metric] if metric is not None else list(HEADLINE_METRICS)
    for m in metrics:
        if not isinstance(m, str) or m not in HEADLINE_METRICS:
            raise NotFound(f"unknown metric {m!r}; choose one of {', '.join(HEADLINE_METRICS)}", "metric")
    custom = parse_custom(doc, r.presets(), r.levers())
    rows = []
    for m in metrics:
        z = scenario_paths(store(), r, m, model, custom) if model in r.models(m) else None
        part = forecast_rows(store(), r, m, model, custom.name, levels, history=history, paths=z)
        for row in part:
            row["metric"] = m
        rows += part
    return respond_table(rows, table_columns(levels), safe_filename("smfcast", custom.name, r.run_id),
                         {"run_id": r.run_id, "scenario": custom.as_dict(), "model": model, "levels": list(levels)},
                         wide_stats=["mean", "median"] + level_columns(levels))


def _chart(fmt: str):
    allow("metric", "scenario", "model", "run")
    r = run()
    metric = request.args.get("metric", "market_size")
    scenarios = many("scenario") or list(r.scenarios)
    model = request.args.get("model", ENSEMBLE)
    info = r.metric_info(metric)
    bands = {s: forecast_rows(store(), r, metric, model, s, LEVELS) for s in scenarios}
    body = fan_chart(f"{info['title_en']} ({model})", info["unit"], info["history"], bands, fmt)
    resp = Response(body, mimetype="image/png" if fmt == "png" else "image/svg+xml")
    resp.headers["Cache-Control"] = CACHE_CONTROL
    resp.headers["X-Smfcast-Run"] = r.run_id
    return resp


@bp.get("/forecasts/chart.png")
@anonymous_compute(cost=CHART_COST)
def chart_png():
    return _chart("png")


@bp.get("/forecasts/chart.svg")
@anonymous_compute(cost=CHART_COST)
def chart_svg():
    return _chart("svg")
