"""The inputs behind the forecasts: series with their sources, levers, scenarios."""

from __future__ import annotations

from flask import Blueprint

from smfcast.errors import NotFound
from smfcast.policy.scenarios import LEVER_COLUMNS, lever_rows

from .formats import respond_table, safe_filename
from .params import allow, registry, run

bp = Blueprint("meta", __name__)

SERIES_COLUMNS = ["id", "title_en", "title_zh", "region", "unit", "frequency", "transform", "national", "first", "last", "count", "headline",
                  "last_change", "last_change_id", "last_change_source"]  # the data vintage: the series' newest logged change
OBS_COLUMNS = ["series_id", "period", "value", "unit", "quality", "note", "source_id", "publisher", "title", "url", "quote"]


@bp.get("/series")
def series_index():
    allow()
    reg = registry()
    roles = reg.roles()
    rows = []
    for sid, m in reg.series.items():
        obs = reg.observations(sid)
        change = reg.last_changes.get(sid) or {}
        rows.append({"id": sid, "title_en": m.title_en, "title_zh": m.title_zh, "region": m.region, "unit": m.unit,
                     "frequency": m.frequency, "transform": m.transform, "national": m.national,
                     "first": str(obs[0].period) if obs else None, "last": str(obs[-1].period) if obs else None,
                     "count": len(obs), "headline": roles.get(sid), "last_change": change.get("time"),
                     "last_change_id": change.get("change_id"), "last_change_source": change.get("source_id")})
    return respond_table(rows, SERIES_COLUMNS, "smfcast_series")


@bp.get("/series/<series_id>")
def series_detail(series_id: str):
    allow("quality")
    reg = registry()
    meta = reg.meta(series_id)
    rows = []
    for o in reg.observations(series_id):
        src = reg.sources[o.source_id]
        rows.append({"series_id": series_id, "period": str(o.period), "value": o.value, "unit": meta.unit, "quality": o.quality,
                     "note": o.note, "source_id": o.source_id, "publisher": src.get("publisher"), "title": src.get("title"),
                     "url": src.get("url"), "quote": src.get("quote")})
    info = {"series": {"id": meta.id, "title_en": meta.title_en, "title_zh": meta.title_zh, "unit": meta.unit,
                       "frequency": meta.frequency, "region": meta.region, "definition": meta.definition,
                       "national": meta.national, "bounds": [meta.lower, meta.upper], "transform": meta.transform}}
    return respond_table(rows, OBS_COLUMNS, safe_filename("smfcast", series_id), info)


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
