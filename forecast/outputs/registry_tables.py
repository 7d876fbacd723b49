"""The registry read as tables: every series with its data vintage, and one series' observations
with their sources, as `smfcast data check` / `data show` and `GET /v1/series` /
`GET /v1/series/{id}` answer them (the same columns, rows and meta; values as recorded)."""

from __future__ import annotations

SERIES_COLUMNS = ["id", "title_en", "title_zh", "region", "unit", "frequency", "transform", "national", "first", "last", "count", "headline",
                  "last_change", "last_change_id", "last_change_source"]  # the data vintage: the series' newest logged change
OBSERVATION_COLUMNS = ["series_id", "period", "value", "unit", "quality", "note", "source_id", "publisher", "title", "url", "quote"]


def series_rows(reg) -> list[dict]:
    """One row per series of the registry, in its order: definition, span, count, the headline
    role it plays (if any) and its newest logged change."""
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
    return rows


def observation_rows(reg, series_id: str) -> tuple[list[dict], list[str], dict]:
    """(rows, columns, meta) of one series: each observation as recorded with its grade and source,
    the series' definition as the meta (an unknown id is refused by the registry, named)."""
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
    return rows, OBSERVATION_COLUMNS, info
