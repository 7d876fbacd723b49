"""The inputs behind the forecasts: series with their sources, levers, scenarios."""

from __future__ import annotations

from flask import Blueprint

from smfcast.errors import NotFound
from smfcast.outputs.registry_tables import SERIES_COLUMNS, observation_rows, series_rows
from smfcast.policy.scenarios import LEVER_COLUMNS, lever_rows

from .formats import respond_table, safe_filename
from .params import allow, registry, run

bp = Blueprint("meta", __name__)


@bp.get("/series")
def series_index():
    allow()
    return respond_table(series_rows(registry()), SERIES_COLUMNS, "smfcast_series")


@bp.get("/series/<series_id>")
def series_detail(series_id: str):
    allow("quality")
    rows, columns, info = observation_rows(registry(), series_id)
    return respond_table(rows, columns, safe_filename("smfcast", series_id), info)


@bp.get("/levers")
def levers():
    allow("run")
    r = run()
    rows = lever_rows(r.levers())
    return respond_table(rows, LEVER_COLUMNS, safe_filename("smfcast_levers", r.run_id), {"run_id": r.run_id})


@bp.get("/scenarios")
def scenarios():
    allow("run")
    r = run()
    rows = [{"name": s.name, "title": s.title, "rationale": s.rationale} for s in r.presets().values()]
    rows.sort(key=lambda x: (x["name"] != "baseline", x["name"]))
    return respond_table(rows, ["name", "title", "rationale"], safe_filename("smfcast_scenarios", r.run_id), {"run_id": r.run_id})


@bp.get("/scenarios/<name>")
def scenario(name: str):
    allow("run")
    r = run()
    presets = r.presets()
    if name not in presets:
        raise NotFound(f"unknown scenario {name!r}; choose one of {', '.join(sorted(presets))}", "name")
    s = presets[name]
    levers = r.levers()
    rows = [{"lever": lid, "year": year, "value": value, "baseline": levers[lid].baseline, "unit": levers[lid].unit}
            for lid, path in sorted(s.paths.items()) for year, value in sorted(path.items())]
    return respond_table(rows, ["lever", "year", "value", "baseline", "unit"], safe_filename("smfcast_scenario", name, r.run_id),
                         {"run_id": r.run_id, "name": s.name, "title": s.title, "rationale": s.rationale})
