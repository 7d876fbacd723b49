"""Goal seek and sensitivity asked of a stored run: the baseline paths come from the store and the
levers, seed, scenarios and targets from the run, so an old run answers with its own assumptions.
The CLI, the API, the page and the workbook all ask through here and name bad input the same way,
and the CLI and the API answer alike (`seek_answer`, `seek_table`, `tornado_answer`, `tornado_table`).
"""

from __future__ import annotations

from smfcast.defaults import ENSEMBLE
from smfcast.errors import InvalidInput, NotFound
from smfcast.outputs.tables import answer, computed
from smfcast.policy.decisions import (
    Outcome,
    Overlay,
    Seek,
    Sensitivity,
    TargetOutcome,
    YearOutcome,
    goal_seek,
    sensitivity,
)
from smfcast.policy.scenarios import SCENARIO_YEARS, Scenario
from smfcast.store.runs import BASELINE, Run, RunStore


def overlay(store: RunStore, run: Run, metric: str, model: str = ENSEMBLE) -> Overlay:
    """The run's baseline paths of `metric` and what moves them."""
    info = run.metric_info(metric)
    if model not in info["models"]:
        raise NotFound(f"unknown model {model!r}; choose one of {', '.join(info['models'])}", "model")
    last = info["history"][-1]["value"] if info["history"] else None
    return Overlay(metric, store.paths(run.run_id, metric, model, BASELINE), [p.year for p in run.periods(metric)],
                   run.transform(metric), run.levers(), int(run.config["seed"]), last)


def outcome(run: Run, target: str | None = None, metric: str | None = None, year=None) -> Outcome:
    """A target of the run, or a metric in a year: exactly one of the two."""
    if target is not None:
        if metric is not None or year is not None:
            raise InvalidInput("give a target, or a metric and a year, not both", "target")
        targets = run.targets()
        if target not in targets:
            raise NotFound(f"unknown target {target!r}; choose one of {', '.join(sorted(targets))}", "target")
        return TargetOutcome(targets[target])
    if metric is None:
        raise InvalidInput("name a target, or a metric and a year", "target")
    run.metric_info(metric)  # unknown metrics are named with the choices
    if year is None:
        raise InvalidInput(f"a metric needs a year: one of {', '.join(str(p.year) for p in run.periods(metric))}", "year")
    return YearOutcome(metric, _whole(year, "year"))


def base_scenario(run: Run, name: str | None) -> Scenario:
    name = name or BASELINE
    if name not in run.scenarios:
        raise NotFound(f"unknown base scenario {name!r}; choose one of {', '.join(run.scenarios)}", "base")
    return run.scenario(name)


def from_year_of(value) -> int:
    return SCENARIO_YEARS[0] if value is None else _whole(value, "from_year")


def _whole(value, name: str) -> int:
    """A year from JSON (a whole number) or a query string (its digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise InvalidInput(f"{name} must be a whole year, got {value!r}", name)


def seek(store: RunStore, run: Run, lever: str, target: str | None = None, metric: str | None = None, year=None,
         probability=None, median=None, base: str | None = None, from_year=None) -> Seek:
    """Goal seek on the run's ensemble paths (see `decisions.goal_seek`)."""
    if not isinstance(lever, str):
        raise InvalidInput("lever must be the id of a lever", "lever")
    question = outcome(run, target, metric, year)
    scenario = base_scenario(run, base)
    return goal_seek(overlay(store, run, question.metric), scenario, question, lever, from_year_of(from_year),
                     probability=probability, median=median)


def tornado(store: RunStore, run: Run, target: str | None = None, metric: str | None = None, year=None,
            base: str | None = None, from_year=None) -> Sensitivity:
    """Sensitivity of a target's probability, or of a metric's median and 80% band in a year, to
    every lever, on the run's ensemble paths (see `decisions.sensitivity`)."""
    question = outcome(run, target, metric, year)
    return sensitivity(overlay(store, run, question.metric), base_scenario(run, base), question, from_year_of(from_year))


SEEK_COLUMNS = ["status", "goal", "lever", "from_year", "value", "direction", "probability", "median", "base_value",
                "base_probability", "base_median", "best_value", "best_probability", "monotone", "note"]
SEEK_MEDIAN_COLUMNS = ["status", "goal", "lever", "from_year", "value", "direction", "median", "lo-80", "hi-80", "base_value",
                       "base_median", "best_value", "best_median", "monotone", "note"]


def seek_columns(answer: Seek) -> list[str]:
    return SEEK_COLUMNS if "probability" in answer.at else SEEK_MEDIAN_COLUMNS


def seek_answer(answer: Seek, run: Run) -> dict:
    """A goal seek as JSON (`POST /v1/goal-seek`, `smfcast goal-seek --format json`): the run,
    the flat row and the scanned curve, computed values at `defaults.PRECISION` digits."""
    return {"run_id": run.run_id, **computed([answer.as_dict()])[0], "curve": computed(answer.curve)}


def seek_table(answer: Seek, run: Run) -> tuple[list[dict], list[str], dict]:
    """(rows, columns, meta) of a goal seek as a one-row table (CSV, XLSX)."""
    return [{**computed([answer.as_dict()])[0], "run_id": run.run_id}], seek_columns(answer) + ["run_id"], {"run_id": run.run_id}


def tornado_meta(result: Sensitivity, run: Run, base: str | None) -> dict:
    return {"run_id": run.run_id, "outcome": result.outcome, "metric": result.metric, "base_scenario": base or BASELINE,
            "base": computed([result.base])[0], "quiet": result.quiet}


def tornado_answer(result: Sensitivity, run: Run, base: str | None) -> dict:
    """A sensitivity as JSON (`GET /v1/sensitivity`, `smfcast sensitivity --format json`): the
    tornado (`rows`, `columns`) and the one-unit moves (`per_unit`, `unit_columns`)."""
    return {**answer(computed(result.rows), result.columns, tornado_meta(result, run, base)), "unit_columns": result.unit_columns,
            "per_unit": [{c: r.get(c) for c in result.unit_columns} for r in computed(result.per_unit)]}


def tornado_table(result: Sensitivity, run: Run, base: str | None) -> tuple[list[dict], list[str], dict]:
    """(rows, columns, meta) of a sensitivity as one table (CSV): `table` says range or unit."""
    rows = [{"table": "range", **r} for r in computed(result.rows)] + [{"table": "unit", **r} for r in computed(result.per_unit)]
    return rows, ["table"] + result.columns, tornado_meta(result, run, base)
