"""Decision tools on a run's sample paths: how far one lever must move for a goal (goal seek), and
which levers move an outcome most (sensitivity, a tornado).

Both move the stored baseline paths with the scenario overlay (`scenarios.apply`) and never refit,
so an answer costs milliseconds and agrees with the custom scenario that sets the same lever value:
the probability goal seek reports at its value is the one `POST /v1/forecasts` gives for it.

A lever is *held from a year*: from that year on it sits at the value asked, before it it follows
the base scenario. An outcome is either P(target met) (with the median of what the target is
judged on) or one metric's median and 80% band in one year.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from smfcast.errors import InvalidInput, NotFound
from smfcast.policy.scenarios import SCENARIO_YEARS, Lever, Scenario, apply
from smfcast.policy.targets import Target, probability_met, target_values
from smfcast.registry.transforms import Transform

SEEK_GRID = 101  # lever values scanned across the range (every 1% of it) before bisecting
SEEK_TOLERANCE = 1e-5  # bisection stops when the bracket is this share of the lever's range
STATUSES = ("reached", "unreachable", "met_throughout")


@dataclass(frozen=True)
class TargetOutcome:
    """P(target met): the share of paths meeting the target, and the median of the value the
    target is judged on (the level in its year, or the growth into it)."""

    target: Target
    score: ClassVar[str] = "probability"
    keys: ClassVar[tuple[str, ...]] = ("probability", "median")

    @property
    def metric(self) -> str:
        return self.target.metric

    @property
    def year(self) -> int:
        return self.target.year

    @property
    def label(self) -> str:
        t = self.target
        return f"P({t.id}: {t.metric} {'growth ' if t.kind == 'growth' else ''}{t.op} {t.value:g} in {t.year})"

    def measure(self, natural: np.ndarray, years: list[int], last_observed: float | None) -> dict:
        values = target_values(self.target, natural, years, last_observed)
        return {"probability": probability_met(self.target, natural, years, last_observed), "median": float(np.median(values))}


@dataclass(frozen=True)
class YearOutcome:
    """One metric's median and 80% band in one year (natural units)."""

    metric: str
    year: int
    score: ClassVar[str] = "median"
    keys: ClassVar[tuple[str, ...]] = ("median", "lo-80", "hi-80")

    @property
    def label(self) -> str:
        return f"median {self.metric} in {self.year}"

    def measure(self, natural: np.ndarray, years: list[int], last_observed: float | None) -> dict:
        median, lo, hi = np.percentile(natural[:, years.index(self.year)], [50.0, 10.0, 90.0])
        return {"median": float(median), "lo-80": float(lo), "hi-80": float(hi)}


Outcome = TargetOutcome | YearOutcome


@dataclass(frozen=True)
class Overlay:
    """One metric's baseline paths (model space, shaped (n_paths, len(years))) and what moves
    them: the run's levers and seed. `last_observed` is the value growth targets start from."""

    metric: str
    z: np.ndarray
    years: list[int]
    transform: Transform
    levers: dict[str, Lever]
    seed: int
    last_observed: float | None = None

    def natural(self, scenario: Scenario) -> np.ndarray:
        return self.transform.inverse(apply(self.z, self.metric, self.years, self.transform, scenario, self.levers, self.seed))

    def measure(self, scenario: Scenario, outcome: Outcome) -> dict:
        return outcome.measure(self.natural(scenario), self.years, self.last_observed)

    def acting(self) -> list[str]:
        """Levers with an effect on this metric, sorted by id."""
        return sorted(lid for lid, lever in self.levers.items() if any(e.metric == self.metric for e in lever.effects))


def held(base: Scenario, lever: str, value: float, from_year: int) -> Scenario:
    """`base` with `lever` at `value` from `from_year` on (the caller keeps `value` in range)."""
    paths = dict(base.paths)
    paths[lever] = {y: (float(value) if y >= from_year else v) for y, v in base.paths[lever].items()}
    return Scenario(f"{base.name}+{lever}", base.title, base.rationale, paths)


def shifted(base: Scenario, lever: str, step: float, from_year: int) -> Scenario:
    """`base` with `lever` moved by `step` units from `from_year` on."""
    paths = dict(base.paths)
    paths[lever] = {y: (v + step if y >= from_year else v) for y, v in base.paths[lever].items()}
    return Scenario(f"{base.name}{step:+g}{lever}", base.title, base.rationale, paths)


def check_outcome(overlay: Overlay, outcome: Outcome) -> None:
    if outcome.metric != overlay.metric:
        raise ValueError(f"outcome on {outcome.metric} asked of {overlay.metric} paths")
    if outcome.year not in overlay.years:
        raise InvalidInput(f"year {outcome.year} is not forecast for {overlay.metric}; choose one of "
                           f"{', '.join(map(str, overlay.years))}", "year")
    if isinstance(outcome, TargetOutcome) and outcome.target.kind == "growth":
        j = overlay.years.index(outcome.year)
        if j == 0 and overlay.last_observed is None:
            raise InvalidInput(f"target {outcome.target.id!r} needs the year before {outcome.year}, which is neither "
                               "forecast nor observed", "target")


def check_from_year(from_year) -> int:
    if isinstance(from_year, bool) or not isinstance(from_year, int) or from_year not in SCENARIO_YEARS:
        raise InvalidInput(f"from_year must be one of {', '.join(map(str, SCENARIO_YEARS))}, got {from_year!r}", "from_year")
    return from_year


def check_lever(overlay: Overlay, outcome: Outcome, lever_id: str, from_year: int) -> Lever:
    """The lever, if it can move the outcome: it must exist, act on the metric, and act (after its
    lag) by the outcome's year. Otherwise the refusal says why and which levers would do."""
    if lever_id not in overlay.levers:
        raise NotFound(f"unknown lever {lever_id!r}; choose one of {', '.join(sorted(overlay.levers))}", "lever")
    lever = overlay.levers[lever_id]
    acting = overlay.acting()
    if lever_id not in acting:
        moves = ", ".join(e.metric for e in lever.effects) or "nothing"
        raise InvalidInput(f"lever {lever_id!r} does not act on {overlay.metric} (it moves {moves}); levers that do: "
                           f"{', '.join(acting)}", "lever")
    if from_year + lever.lag > outcome.year:
        raise InvalidInput(f"lever {lever_id!r} acts {lever.lag} year(s) after it is set, so held from {from_year} it "
                           f"cannot move {overlay.metric} in {outcome.year}; hold it from {outcome.year - lever.lag} "
                           "or earlier, or choose another lever",
                           "from_year" if from_year > SCENARIO_YEARS[0] else "lever")
    return lever


@dataclass(frozen=True)
class Seek:
    """A goal-seek answer. `value` is the lever value (held from `from_year`) at which the goal is
    first met, None when no value in the range meets it (`unreachable`) or every value does
    (`met_throughout`); `at` is the outcome there, or at `best_value` when none meets it.
    `best_value` is the value that comes closest to the goal: an end of the range when the outcome
    is monotone in the lever, else the best scanned value. `direction` says which side of `value`
    meets the goal (monotone only); otherwise `value` is the scanned value nearest the base value
    that meets it. `base` is the outcome under the base scenario, where the lever is `base_value`."""

    status: str
    outcome: str
    goal: str
    lever: str
    unit: str
    from_year: int
    value: float | None
    direction: str | None
    at: dict
    base_value: float
    base: dict
    best_value: float
    best: dict
    monotone: bool
    note: str
    curve: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Flat: one row for a table, the curve apart."""
        out = {"status": self.status, "outcome": self.outcome, "goal": self.goal, "lever": self.lever,
               "lever_unit": self.unit, "from_year": self.from_year, "value": self.value, "direction": self.direction}
        out.update(self.at)
        out["base_value"] = self.base_value
        out.update({f"base_{k}": v for k, v in self.base.items()})
        out["best_value"] = self.best_value
        out.update({f"best_{k}": v for k, v in self.best.items()})
        out.update({"monotone": self.monotone, "note": self.note})
        return out


def goal_seek(overlay: Overlay, base: Scenario, outcome: Outcome, lever_id: str, from_year: int = SCENARIO_YEARS[0],
              probability: float | None = None, median: float | None = None, grid: int = SEEK_GRID) -> Seek:
    """The lever value at which the outcome first reaches the goal: P(target met) >= `probability`
    for a target, or the median reaching `median` (from the side the base scenario is on) for a
    year outcome. Scans `grid` values across the lever's range; where the outcome is monotone
    there, bisects the step where the goal starts to hold; where it is not, says so and returns
    the grid value nearest the base value that meets the goal."""
    check_outcome(overlay, outcome)
    from_year = check_from_year(from_year)
    lever = check_lever(overlay, outcome, lever_id, from_year)
    base_value = base.paths[lever_id][from_year]
    base_measure = overlay.measure(base, outcome)
    if isinstance(outcome, TargetOutcome):
        if median is not None or probability is None:
            raise InvalidInput("a target is sought by probability: give probability (not median)", "probability")
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 < probability < 1:
            raise InvalidInput(f"probability must be a number strictly between 0 and 1, got {probability!r}", "probability")
        goal_value, sign = float(probability), 1.0
        goal = f"{outcome.label} >= {goal_value:g}"
    else:
        if probability is not None or median is None:
            raise InvalidInput("a metric and year are sought by median: give median (not probability)", "median")
        if isinstance(median, bool) or not isinstance(median, (int, float)) or not np.isfinite(median):
            raise InvalidInput(f"median must be a finite number, got {median!r}", "median")
        goal_value = float(median)
        sign = -1.0 if base_measure["median"] > goal_value else 1.0  # approach the goal from the base's side
        goal = f"{outcome.label} {'<=' if sign < 0 else '>='} {goal_value:g}"

    def measure(value: float) -> dict:
        return overlay.measure(held(base, lever_id, value, from_year), outcome)

    def meets(m: dict) -> bool:
        return sign * m[outcome.score] >= sign * goal_value

    values = np.linspace(lever.lower, lever.upper, grid)
    measures = [measure(v) for v in values]
    scores = np.array([m[outcome.score] for m in measures])
    progress = sign * scores
    met = np.array([meets(m) for m in measures])
    steps = np.diff(scores)
    slack = 1e-12 * max(1.0, float(np.max(np.abs(scores))))
    monotone = bool(np.all(steps >= -slack) or np.all(steps <= slack))
    if monotone:  # the best is at a bound
        best_i = grid - 1 if progress[-1] >= progress[0] else 0
    else:
        best_i = _nearest(values, np.flatnonzero(progress == progress.max()), base_value)
    best_value, best = float(values[best_i]), measures[best_i]
    unit = lever.unit
    common = dict(outcome=outcome.label, goal=goal, lever=lever_id, unit=unit, from_year=from_year, base_value=base_value,
                  base=base_measure, best_value=best_value, best=best, monotone=monotone,
                  curve=[{"value": float(v), outcome.score: float(s)} for v, s in zip(values, scores)])
    if not met.any():
        return Seek("unreachable", value=None, direction=None, at=best, **common,
                    note=f"unreachable: {goal} holds nowhere in [{lever.lower:g}, {lever.upper:g}] {unit}; the closest is "
                         f"{outcome.score} {best[outcome.score]:.4g} at {best_value:g}")
    if met.all():
        return Seek("met_throughout", value=None, direction=None, at=best, **common,
                    note=f"{goal} holds at every value of {lever_id} in [{lever.lower:g}, {lever.upper:g}]: the lever is not needed")
    if not monotone:
        i = _nearest(values, np.flatnonzero(met), base_value)
        step = (lever.upper - lever.lower) / (grid - 1)
        return Seek("reached", value=float(values[i]), direction=None, at=measures[i], **common,
                    note=f"{outcome.score} is not monotone in {lever_id} on these paths, so no threshold exists; "
                         f"{values[i]:g} is the value nearest the base ({base_value:g}) on a grid of step {step:g} where {goal}")
    at_least = progress[-1] > progress[0]
    if at_least:  # the goal holds above a threshold: bisect the first step into it
        i = int(np.flatnonzero(met)[0])
        lo, hi = float(values[i - 1]), float(values[i])
    else:  # the goal holds below a threshold
        i = int(np.flatnonzero(met)[-1])
        lo, hi = float(values[i]), float(values[i + 1])
    tolerance = SEEK_TOLERANCE * (lever.upper - lever.lower)
    while hi - lo > tolerance:
        mid = 0.5 * (lo + hi)
        if meets(measure(mid)) == at_least:
            hi = mid
        else:
            lo = mid
    # Rounded to the tolerance's decimal place, away from the threshold: the goal still holds there.
    quantum = 10.0 ** math.floor(math.log10(tolerance))
    decimals = max(0, -math.floor(math.log10(tolerance)))
    if at_least:
        value = round(min(math.ceil(hi / quantum) * quantum, lever.upper), decimals)
    else:
        value = round(max(math.floor(lo / quantum) * quantum, lever.lower), decimals)
    direction = "at_least" if at_least else "at_most"
    return Seek("reached", value=value, direction=direction, at=measure(value), **common,
                note=f"{goal} needs {lever_id} {'at least' if at_least else 'at most'} {value:.6g} {unit} from {from_year} on "
                     f"(base {base_value:g}: {outcome.score} {base_measure[outcome.score]:.4g})")


def _nearest(values: np.ndarray, candidates: np.ndarray, to: float) -> int:
    """The candidate index whose value is nearest `to` (the lower value on a tie)."""
    return int(min(candidates, key=lambda i: (abs(values[i] - to), values[i])))


@dataclass(frozen=True)
class Sensitivity:
    """A tornado: `rows` holds each lever acting on the metric at the low and the high end of its
    range (two rows per lever, sorted by `swing`, the change of the score between the two ends);
    `per_unit` each lever moved by one unit. `base` is the outcome under the base scenario;
    `quiet` the levers that do not act on the metric at all."""

    outcome: str
    metric: str
    score: str
    base: dict
    rows: list[dict]
    per_unit: list[dict]
    columns: list[str]
    unit_columns: list[str]
    quiet: list[str]


def sensitivity(overlay: Overlay, base: Scenario, outcome: Outcome, from_year: int = SCENARIO_YEARS[0]) -> Sensitivity:
    """Which levers matter for the outcome: each lever acting on the metric held at the low and
    then the high end of its range from `from_year` (a tornado, sorted by the swing of the score
    between the two ends), and, as a second table, moved by one unit from its base path (+1, or -1
    where +1 would leave the range), sorted by the size of the change. Deltas are against the
    base scenario; a lever whose lag puts its effect after the outcome's year shows zero."""
    check_outcome(overlay, outcome)
    from_year = check_from_year(from_year)
    base_measure = overlay.measure(base, outcome)
    score = outcome.score
    ranges, units = [], []
    for lid in overlay.acting():
        lever = overlay.levers[lid]
        about = {"lever": lid, "title_en": lever.title_en, "lever_unit": lever.unit, "base_value": base.paths[lid][from_year]}
        pair = []
        for move, value in (("low", lever.lower), ("high", lever.upper)):
            pair.append({**about, "move": move, "value": value,
                         **_with_deltas(overlay.measure(held(base, lid, value, from_year), outcome), base_measure)})
        swing = abs(pair[1][f"delta_{score}"] - pair[0][f"delta_{score}"])
        ranges += [{**row, "swing": swing} for row in pair]
        later = [y for y in SCENARIO_YEARS if y >= from_year]
        step = next((s for s in (1.0, -1.0) if all(lever.lower <= base.paths[lid][y] + s <= lever.upper for y in later)), None)
        if step is None:
            continue  # a range narrower than one unit: the tornado covers it
        units.append({**about, "move": f"{step:+g}", "value": about["base_value"] + step,
                      **_with_deltas(overlay.measure(shifted(base, lid, step, from_year), outcome), base_measure)})
    ranges.sort(key=lambda r: (-r["swing"], r["lever"], r["move"] != "low"))
    units.sort(key=lambda r: (-abs(r[f"delta_{score}"]), r["lever"]))
    measured = list(outcome.keys) + [f"delta_{k}" for k in outcome.keys]
    about_columns = ["lever", "title_en", "lever_unit", "move", "value", "base_value"]
    quiet = sorted(set(overlay.levers) - set(overlay.acting()))
    return Sensitivity(outcome.label, outcome.metric, score, base_measure, ranges, units, about_columns + measured + ["swing"],
                       about_columns + measured, quiet)


def _with_deltas(measured: dict, base: dict) -> dict:
    return {**measured, **{f"delta_{k}": measured[k] - base[k] for k in measured}}
