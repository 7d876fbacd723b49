"""Forecast revisions: what changed between two runs, and why.

What: per metric, scenario and year, each run's median and 80%/95% bounds and the change; per
target and scenario, each run's P(target met) and the change. Changes are run B minus run A.
Why: the observations added, removed or revised (with their sources), and the configuration,
input files, lever, scenario and target definitions, engine code, package and library versions
that differ. A run stored before one of these was recorded says "not recorded" rather than guess.
"""

from __future__ import annotations

import json

from smfcast.defaults import ENSEMBLE
from smfcast.errors import NotFound
from smfcast.outputs.run_tables import forecast_rows, target_rows
from smfcast.store.runs import Run, RunStore

NOT_RECORDED = "not recorded"
STATS = ("median", "lo-80", "hi-80", "lo-95", "hi-95")
FORECAST_COLUMNS = ["metric", "scenario", "period", "unit"] + [f"{s}_{side}" for s in STATS for side in ("a", "b", "change")]
TARGET_COLUMNS = ["target", "metric", "year", "condition", "scenario", "probability_a", "probability_b", "probability_change",
                  "median_a", "median_b"]
OBSERVATION_COLUMNS = ["change", "metric", "role", "series_id", "period", "value_a", "value_b", "quality_a", "quality_b",
                       "source_a", "source_b", "publisher", "title", "url"]
SETTING_COLUMNS = ["what", "name", "a", "b"]
TABLES = ("forecasts", "targets", "observations", "settings")
COLUMNS = {"forecasts": FORECAST_COLUMNS, "targets": TARGET_COLUMNS, "observations": OBSERVATION_COLUMNS,
           "settings": SETTING_COLUMNS}


def forecast_changes(store: RunStore, a: Run, b: Run, metrics: list[str] | None = None, model: str = ENSEMBLE) -> list[dict]:
    """Median and 80/95% bounds of both runs and their change, per metric, shared scenario and
    period (a period forecast by one run only keeps its row with the other side empty)."""
    rows = []
    for metric in metrics or [m for m in b.metrics if m in a.metrics]:
        for run in (a, b):
            if metric not in run.metrics:
                raise NotFound(f"unknown metric {metric!r} in run {run.run_id}; choose one of {', '.join(run.metrics)}", "metric")
        unit = b.metric_info(metric)["unit"]
        for scenario in [s for s in b.scenarios if s in a.scenarios]:
            before = {r["period"]: r for r in forecast_rows(store, a, metric, model, scenario)}
            after = {r["period"]: r for r in forecast_rows(store, b, metric, model, scenario)}
            for period in sorted(set(before) | set(after)):
                row = {"metric": metric, "scenario": scenario, "period": period, "unit": unit}
                old, new = before.get(period), after.get(period)
                for stat in STATS:
                    va, vb = old and old[stat], new and new[stat]
                    row.update({f"{stat}_a": va, f"{stat}_b": vb, f"{stat}_change": None if va is None or vb is None else vb - va})
                rows.append(row)
    return rows


def target_changes(store: RunStore, a: Run, b: Run, metrics: list[str] | None = None, model: str = ENSEMBLE) -> list[dict]:
    """P(target met) of both runs and the change, per target and shared scenario."""
    scenarios = [s for s in b.scenarios if s in a.scenarios]
    before = {(r["target"], r["scenario"]): r for r in target_rows(store, a, scenarios, model)}
    after = {(r["target"], r["scenario"]): r for r in target_rows(store, b, scenarios, model)}
    rows = []
    for key in sorted(set(before) | set(after), key=lambda k: (k[0], scenarios.index(k[1]))):
        old, new = before.get(key), after.get(key)
        either = new or old
        if metrics and either["metric"] not in metrics:
            continue
        pa, pb = old and old["probability"], new and new["probability"]
        rows.append({"target": key[0], "metric": either["metric"], "year": either["year"], "condition": either["condition"],
                     "scenario": key[1], "probability_a": pa, "probability_b": pb,
                     "probability_change": None if pa is None or pb is None else pb - pa,
                     "median_a": old and old["median"], "median_b": new and new["median"]})
    return rows


def recorded_observations(run: Run) -> tuple[dict[tuple[str, str], dict], set[str], list[str]]:
    """(observations keyed by (series, period), the series they cover, what the run did not
    record). Runs record each metric's observations used, provincial and national; a run stored
    before that kept only the provincial series (all grades), read here without the grades its
    configuration left out of the fit."""
    rows, covered, missing = {}, set(), []
    for metric in run.metrics:
        info = run.metric_info(metric)
        if "observations" in info:
            used = info["observations"]
            covered.add(info["series_id"])
            covered.update(o["series_id"] for o in used)
            national = run.method(metric).national
            if national:
                covered.add(national)
        else:
            excluded = set(run.config.get("exclude_qualities", ()))
            used = [{"role": "provincial", "series_id": info["series_id"], **h} for h in info["history"]
                    if h["quality"] not in excluded]
            covered.add(info["series_id"])
            missing.append(f"{metric}: the national observations used are {NOT_RECORDED} in run {run.run_id}")
        for o in used:
            rows[(o["series_id"], str(o["period"]))] = {**o, "metric": metric}
    return rows, covered, missing


def observation_changes(a: Run, b: Run, sources: dict[str, dict] | None = None,
                        metrics: list[str] | None = None) -> tuple[list[dict], list[str]]:
    """Observations added, removed or revised (value, grade or source) between the runs, each
    with its source (publisher, title, URL from `sources` when given), and the notes on what
    could not be compared. Only series both runs recorded are compared."""
    old, old_covered, old_missing = recorded_observations(a)
    new, new_covered, new_missing = recorded_observations(b)
    both = old_covered & new_covered
    sources = sources or {}
    rows = []
    for key in sorted(set(old) | set(new)):
        if key[0] not in both:
            continue
        before, after = old.get(key), new.get(key)
        either = after or before
        if metrics and either["metric"] not in metrics:
            continue
        if before and after:
            if (before["value"], before["quality"], before["source_id"]) == (after["value"], after["quality"], after["source_id"]):
                continue
            change = "revised"
        else:
            change = "added" if after else "removed"
        source = sources.get(either["source_id"], {})
        rows.append({"change": change, "metric": either["metric"], "role": either["role"], "series_id": key[0], "period": key[1],
                     "value_a": before and before["value"], "value_b": after and after["value"],
                     "quality_a": before and before["quality"], "quality_b": after and after["quality"],
                     "source_a": before and before["source_id"], "source_b": after and after["source_id"],
                     "publisher": source.get("publisher"), "title": source.get("title"), "url": source.get("url")})
    notes = old_missing + new_missing
    for sid in sorted((old_covered | new_covered) - both):
        notes.append(f"{sid}: used by run {(a if sid in old_covered else b).run_id} only, or not recorded by the other; not compared")
    return rows, notes


def setting_changes(a: Run, b: Run) -> list[dict]:
    """Everything besides observations that changes the numbers, where the runs differ: package
    version, engine code, library versions, configuration, input files (by digest), and the
    lever, scenario and target definitions each run carries."""
    rows = []

    def differ(what: str, name: str, va, vb) -> None:
        if va != vb:
            rows.append({"what": what, "name": name, "a": _text(va), "b": _text(vb)})

    differ("package version", "smfcast", a.version, b.version)
    differ("engine code", "forecast package digest", a.summary.get("code", NOT_RECORDED), b.summary.get("code", NOT_RECORDED))
    libs_a, libs_b = a.summary.get("libraries"), b.summary.get("libraries")
    if libs_a is None or libs_b is None:
        differ("library", "versions", NOT_RECORDED if libs_a is None else "recorded", NOT_RECORDED if libs_b is None else "recorded")
    else:
        for lib in sorted(set(libs_a) | set(libs_b)):
            differ("library", lib, libs_a.get(lib, "absent"), libs_b.get(lib, "absent"))
    for key in sorted(set(a.config) | set(b.config)):
        differ("configuration", key, a.config.get(key, "absent"), b.config.get(key, "absent"))
    for name in sorted(set(a.inputs) | set(b.inputs)):
        differ("input file", name, a.inputs.get(name, "absent")[:12], b.inputs.get(name, "absent")[:12])
    for what, key in (("lever", "levers"), ("scenario", "scenario_defs"), ("target", "targets")):
        defs_a, defs_b = a.summary.get(key, {}), b.summary.get(key, {})
        for name in sorted(set(defs_a) | set(defs_b)):
            da, db = defs_a.get(name), defs_b.get(name)
            if da is None or db is None:
                differ(what, name, "absent" if da is None else "defined", "absent" if db is None else "defined")
            elif da != db:
                fields = [f for f in sorted(set(da) | set(db)) if da.get(f) != db.get(f)]
                differ(what, name, *("; ".join(f"{f}={_text(d.get(f))}" for f in fields) for d in (da, db)))
    return rows


def _text(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:199] + "…"


def compare(store: RunStore, a: Run, b: Run, metrics: list[str] | None = None, sources: dict[str, dict] | None = None,
            model: str = ENSEMBLE) -> dict:
    """The whole revision record of run B against run A (changes are B minus A)."""
    observations, notes = observation_changes(a, b, sources, metrics)
    return {"run_a": {"run_id": a.run_id, "created": a.created}, "run_b": {"run_id": b.run_id, "created": b.created},
            "metrics": metrics or [m for m in b.metrics if m in a.metrics],
            "forecasts": forecast_changes(store, a, b, metrics, model), "targets": target_changes(store, a, b, metrics, model),
            "observations": observations, "observation_notes": notes, "settings": setting_changes(a, b)}


def previous_run(store: RunStore, run: Run) -> tuple[Run | None, str]:
    """The run to compare `run` with, and why that one: of the runs stored before `run`, the one
    published last before `run` was first published (for a run never published: the one published
    last), so a comparison always looks back, even after a rollback republished an older run; with
    no such publication, the run stored just before it."""
    ids = [r.run_id for r in store.list()]  # newest first
    i = ids.index(run.run_id) if run.run_id in ids else len(ids)
    older = set(ids[i + 1:])
    history = store.publication_history()  # newest first
    own = [k for k, p in enumerate(history) if p["run_id"] == run.run_id]
    for publication in history[own[-1] + 1 if own else 0:]:
        if publication["run_id"] in older:
            return store.get(publication["run_id"]), f"published {publication['published']}"
    if i < len(ids) - 1:
        return store.get(ids[i + 1]), "the run stored before it; no earlier publication"
    return None, "no earlier run in the store"
