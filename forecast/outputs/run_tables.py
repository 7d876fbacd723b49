"""A run read as tables: forecast rows (history then bands) of a headline metric or of a marked
series, the long table for CSV/JSON, any scenario's paths from the run's cached baseline, and
P(target met) per scenario."""

from __future__ import annotations

import numpy as np

from smfcast.defaults import ENSEMBLE, LEVELS
from smfcast.engine.headline import MARKED
from smfcast.errors import NotFound
from smfcast.outputs.bands import band_rows, history_rows, level_columns
from smfcast.policy.scenarios import Scenario, apply
from smfcast.policy.targets import probability_met, target_values
from smfcast.registry.transforms import Transform
from smfcast.store.runs import BASELINE, Run, RunStore


def _check_model(info: dict, model: str, what: str) -> None:
    if model not in info["models"]:
        why = info.get("failures", {}).get(model)
        if why:
            raise NotFound(f"{model} was not fitted for {what}: {why}; choose one of {', '.join(info['models'])}", "model")
        raise NotFound(f"unknown model {model!r}; choose one of {', '.join(info['models'])}", "model")


def forecast_rows(store: RunStore, run: Run, metric: str | None, model: str = ENSEMBLE, scenario: str = BASELINE,
                  levels=LEVELS, history: bool = False, paths: np.ndarray | None = None, series: str | None = None) -> list[dict]:
    """Long-format rows for one metric (or one marked `series`) / model / scenario of a run:
    history (optional) then forecast. A marked series is forecast under the baseline only: the
    levers' elasticities are the headline metrics'."""
    if series is not None:
        info = run.series_info(series)
        if scenario != BASELINE:
            raise NotFound(f"series {series!r} is forecast under {BASELINE} only: the levers act on the headline metrics",
                           "scenario")
        key, transform = MARKED + series, Transform(**info["transform"])
    else:
        info, key, transform = run.metric_info(metric), metric, run.transform(metric)
    _check_model(info, model, series or metric)
    if scenario not in run.scenarios and paths is None:
        raise NotFound(f"unknown scenario {scenario!r}; choose one of {', '.join(run.scenarios)}", "scenario")
    z = paths if paths is not None else store.paths(run.run_id, key, model, scenario)
    natural = transform.inverse(z)
    rows = []
    if history:
        rows += history_rows(info["series_id"], info["history"], levels, scenario, "history")
    rows += band_rows(info["series_id"], scenario, model, info["periods"], natural, levels)
    for r in rows:
        r["run_id"] = run.run_id
        r["unit"] = info["unit"]
    return rows



def table_columns(levels=LEVELS) -> list[str]:
    """Columns of the long forecast table (API CSV/JSON and `smfcast export --format csv`)."""
    return ["series_id", "metric", "scenario", "model", "period", "kind", "mean", "median"] + level_columns(levels) + ["unit", "run_id"]


def forecast_table(store: RunStore, run: Run, metrics: list[str], scenarios: list[str], model: str = ENSEMBLE,
                   levels=LEVELS, history: bool = False, series: list[str] = ()) -> list[dict]:
    """Long rows for several metrics and scenarios, each metric's history (when asked) once,
    first; then the marked `series` (baseline only, `metric` empty)."""
    rows = []
    for metric in metrics:
        for i, scenario in enumerate(scenarios):
            rows += [{**r, "metric": metric} for r in forecast_rows(store, run, metric, model, scenario, levels, history=history and i == 0)]
    for sid in series:
        rows += [{**r, "metric": None} for r in forecast_rows(store, run, None, model, BASELINE, levels, history=history, series=sid)]
    return rows


def scenario_paths(store: RunStore, run: Run, metric: str, model: str, scenario: Scenario) -> np.ndarray:
    """Model-space paths of any scenario (a custom one too) from the run's cached baseline paths:
    the overlay only, no refit. A custom scenario equal to a preset gives the preset's numbers."""
    z = store.paths(run.run_id, metric, model, BASELINE)
    years = [p.year for p in run.periods(metric)]
    return apply(z, metric, years, run.transform(metric), scenario, run.levers(), int(run.config["seed"]))


def target_rows(store: RunStore, run: Run, scenarios: list[str], model: str = ENSEMBLE,
                custom: Scenario | None = None) -> list[dict]:
    """P(target met) for every target of the run under each scenario, read off the paths."""
    rows = []
    for target in run.targets().values():
        info = run.metric_info(target.metric)
        years = [p.year for p in run.periods(target.metric)]
        last = info["history"][-1]["value"] if info["history"] else None
        for name in scenarios:
            if custom is not None and name == custom.name:
                z = scenario_paths(store, run, target.metric, model, custom)
            else:
                run.scenario(name)
                z = store.paths(run.run_id, target.metric, model, name) if model in info["models"] else None
                if z is None:
                    raise NotFound(f"unknown model {model!r}; choose one of {', '.join(info['models'])}", "model")
            natural = run.transform(target.metric).inverse(z)
            rows.append({"target": target.id, "metric": target.metric, "year": target.year,
                         "condition": f"{target.kind} {target.op} {target.value:g}", "scenario": name, "model": model,
                         "probability": probability_met(target, natural, years, last),
                         "median": float(np.median(target_values(target, natural, years, last))),
                         "title_en": target.title_en, "run_id": run.run_id})
    return rows
