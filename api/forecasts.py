"""Forecast bands: presets by GET (cached whole, ETag; see `response_cache.py`), custom scenarios
by POST (overlay only, no refit), and fan charts (cached and tagged alike)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from smfcast.defaults import ENSEMBLE
from smfcast.errors import InvalidInput, NotFound
from smfcast.outputs.bands import level_columns, parse_levels
from smfcast.outputs.charts import CHART_FORMATS, axis_label, fan_chart
from smfcast.outputs.run_tables import (
    custom_answer,
    forecast_answer,
    forecast_query,
    forecast_rows,
    scenario_names,
    table_columns,
)
from smfcast.outputs.workbook import build_workbook
from smfcast.policy.scenarios import parse_custom
from smfcast.registry.series import HEADLINE_METRICS

from .formats import flag, requested_format, respond_table, safe_filename
from .limits import CHART_COST, anonymous_compute
from .params import allow, json_fields, many, registry, run, store
from .response_cache import CACHE_HEADERS, conditional, etag_for

bp = Blueprint("forecasts", __name__)
FORECAST_PARAMS = ("metric", "series", "scenario", "model", "level", "run", "history")
CUSTOM_FIELDS = ("metric", "model", "level", "history", "base", "name", "title", "rationale", "levers")


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
    scenarios = many("scenario")
    model = request.args.get("model", ENSEMBLE)
    history = flag("history")
    series = many("series")  # marked series the run forecast; without metric=, only they are answered
    metrics = _metrics() if many("metric") or not series else []
    # XLSX is the analyst's workbook (metric sheets with charts, targets, assumptions, sources, run),
    # which reads the paths itself (and refuses unknown names); the long table is for the other formats.
    if requested_format() == "xlsx":
        scenarios = forecast_query(r, metrics, scenarios, series)
        workbook = build_workbook(store(), r, registry(r), metrics, scenarios, model, levels, series=series)
        rows, columns, meta = [], table_columns(levels), {"run_id": r.run_id}
    else:
        workbook = None
        rows, columns, meta = forecast_answer(store(), r, metrics, scenarios, model, levels, history, series)
        scenarios = meta["scenarios"]
    label = "-".join(metrics) if metrics and len(metrics) < 3 else ("all" if metrics else "")
    name = safe_filename("smfcast", label, "-".join(series), "-".join(scenarios), model, r.run_id)
    resp = respond_table(rows, columns, name, meta, wide_stats=["mean", "median"] + level_columns(levels), xlsx=workbook)
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
    body = json_fields('{"metric": "npl_ratio", "base": "baseline", "levers": {"risk_model_adoption": {"2026": 80}}}', CUSTOM_FIELDS,
                       "a custom forecast")
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
    rows, columns, meta = custom_answer(store(), r, metrics, model, custom, levels, history)
    return respond_table(rows, columns, safe_filename("smfcast", custom.name, r.run_id), meta,
                         wide_stats=["mean", "median"] + level_columns(levels))


CHART_PARAMS = ("metric", "scenario", "model", "level", "run", "history")
_CHART_MIMES = {"png": "image/png", "svg": "image/svg+xml"}


def _chart_format(fixed: str | None) -> str:
    """png or svg: `format=`, else the Accept header (PNG unless SVG is preferred); a `.png` or
    `.svg` path fixes it, and a `format=` that disagrees is refused rather than ignored."""
    fmt = request.args.get("format")
    if fmt is not None and fmt not in CHART_FORMATS:
        raise InvalidInput(f"format {fmt!r} is not one of {', '.join(CHART_FORMATS)} for a chart", "format")
    if fixed is not None:
        if fmt not in (None, fixed):
            raise InvalidInput(f"format {fmt!r} contradicts chart.{fixed}; ask /v1/forecasts/chart.{fmt} or /v1/forecasts/chart?format={fmt}",
                               "format")
        return fixed
    if fmt is not None:
        return fmt
    best = request.accept_mimetypes.best_match(list(_CHART_MIMES.values()), default="image/png")
    return "svg" if best == "image/svg+xml" else "png"


def _chart(fixed: str | None):
    """One scenario (baseline unless `scenario=`) with its history; several, or `all`, as small
    multiples. Cached and tagged like the forecast tables (`response_cache.conditional`)."""
    allow(*CHART_PARAMS)
    for name in ("layout", "bom"):
        if name in request.args:
            raise InvalidInput(f"{name} is for tables; a chart takes {', '.join(CHART_PARAMS)} and format", name)
    fmt = _chart_format(fixed)
    r = run()
    metric = request.args.get("metric", "market_size")
    if metric not in HEADLINE_METRICS:
        raise NotFound(f"unknown metric {metric!r}; choose one of {', '.join(HEADLINE_METRICS)}", "metric")
    scenarios = scenario_names(r, many("scenario"))
    model = request.args.get("model", ENSEMBLE)
    levels = parse_levels(many("level") or None)
    history = flag("history", default=True)
    info = r.metric_info(metric)
    bands = {s: forecast_rows(store(), r, metric, model, s, levels) for s in scenarios}
    titles = {s: r.scenario(s).title for s in scenarios}
    title = f"{info['title_en']}: {titles[scenarios[0]] if len(scenarios) == 1 else 'scenarios'} ({model})"
    body = fan_chart(title, axis_label(info["unit"]), info["history"] if history else [], bands, fmt, levels, titles)
    resp = Response(body, mimetype=_CHART_MIMES[fmt])
    resp.headers["X-Smfcast-Run"] = r.run_id
    return conditional(resp, r.run_id)


@bp.get("/forecasts/chart")
@anonymous_compute(cost=CHART_COST)
def chart():
    return _chart(None)


@bp.get("/forecasts/chart.png")
@anonymous_compute(cost=CHART_COST)
def chart_png():
    return _chart("png")


@bp.get("/forecasts/chart.svg")
@anonymous_compute(cost=CHART_COST)
def chart_svg():
    return _chart("svg")
