"""The engine's one entry on arrays: forecast any set of regular series, h steps ahead.

Every door comes here: runs (each series a run fits), `smfcast.forecast` on a user's DataFrame,
`smfcast validate`, the command line on a CSV and `POST /v1/forecast`. So what is validated is
what users call. Each series' members are fitted on sample paths, and the evidence that chooses
the fitting scale, pools and weights the members, picks the point rule and the combination and
calibrates the band comes from one of two places (`evidence`):

* `own`: the series' own rolling-origin backtest (`backtest.learn`), as every run does: the scale
  on its evidence, the members weighted by their backtest CRPS, the band widened (never narrowed)
  where the backtest shows it too narrow (`fit_own`);
* `pooled`: every series is also forecast from its data minus its last h points (and minus 2h,
  where at least 6 remain), and those held-back forecasts, pooled across the series, decide the
  pool, weights, point rule, combination and per-horizon conformal factors for all of them
  (`cross_learning`): what `smfcast validate` scores on the M3 data;
* `auto` (the default of the doors): pooled from `POOLED_MIN_SERIES` series on, own below. Twenty
  conformal scores per horizon need ten series with two held-back origins each; with fewer, a
  series' own eight backtest windows are the better evidence.

Series are fitted in parallel by the executor (`executor.py`) when one is given; the numbers do
not depend on it (every random stream is named by the series' id, `seeds.rng_for`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from smfcast.defaults import ENSEMBLE, members_for, rounded
from smfcast.engine import calibration, cross_learning, metrics
from smfcast.engine.backtest import BacktestSpec, Learned, as_answered, evaluate, learn
from smfcast.engine.config import EngineConfig
from smfcast.engine.ensemble import DEFAULT_COMBINATION, DEFAULT_POINT_RULE, combine, normalize_weights
from smfcast.engine.members import fit_members
from smfcast.engine.scales import choose as choose_scale
from smfcast.errors import InvalidInput, SmfcastError
from smfcast.registry.grid import RegularSeries
from smfcast.seeds import rng_for

KINDS = {"annual": 1, "quarterly": 4, "monthly": 12}  # the frequencies the engine forecasts, and their season lengths
EVIDENCE = ("auto", "own", "pooled")
POOLED_MIN_SERIES = 10
POOLED_N_PATHS = 500  # per member and series in pooled forecasts: what validation measured on M3


@dataclass(frozen=True)
class SeriesInput:
    """One series as the engine sees it: on a gap-free grid in its model space (`series.transform`,
    where members are combined and bands calibrated; filled points marked and never scored),
    within natural bounds (paths are truncated there; logit when the upper one is near). `id`
    names its random streams and its errors."""

    id: str
    series: RegularSeries
    lower: float = -np.inf
    upper: float = np.inf

    @property
    def y(self) -> np.ndarray:
        return self.series.y

    @property
    def season_length(self) -> int:
        return self.series.season_length


@dataclass
class SeriesFit:
    """One series forecast: model-space paths per member and for the ensemble as served (steps
    1..h after its last period), the members' natural-unit paths as fitted, the ensemble's point
    (model space) and the record of how."""

    paths: dict[str, np.ndarray]
    point: np.ndarray
    members: dict[str, dict]
    failures: dict[str, str]
    record: dict
    natural: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    seconds: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)  # the ensemble's, over the members fitted


@dataclass
class Forecasts:
    """What `forecast_many` returns: a fit per series that could be forecast, the reason for each
    that could not (every member failed), which evidence decided, and what pooling learned."""

    fits: dict[str, SeriesFit]
    failed: dict[str, str]
    evidence: str
    pooled: cross_learning.PooledLearning | None = None
    why: str = ""


def min_points(frequency: str) -> int:
    """The fewest points a series needs: six, and two full seasons of seasonal data."""
    return max(6, 2 * KINDS[frequency])


def evidence_for(n_series: int, evidence: str = "auto") -> tuple[str, str]:
    """(evidence, why) for a call with `n_series` series."""
    if evidence not in EVIDENCE:
        raise InvalidInput(f"evidence {evidence!r} is not one of {', '.join(EVIDENCE)}", "evidence")
    if evidence == "own":
        return "own", "each series' own rolling-origin backtest (asked for)"
    if evidence == "pooled":
        return "pooled", f"held-back forecasts pooled across the {n_series} series (asked for)"
    if n_series >= POOLED_MIN_SERIES:
        return "pooled", f"held-back forecasts pooled across the {n_series} series ({POOLED_MIN_SERIES} or more)"
    return "own", f"each series' own rolling-origin backtest (fewer than {POOLED_MIN_SERIES} series to pool)"


def fit_own(item: SeriesInput, h: int, config: EngineConfig) -> SeriesFit:
    """Backtest, fit every member on the chosen scale, combine and calibrate (module docstring):
    the ensemble is the weighted median (or mean) of the member points with the recentred
    mixture (or quantile average) of their paths around it, stretched by the calibration factors
    (widening only; steps past the backtested ones reuse the last factor, "extrapolated")."""
    series, label = item.series, item.id
    m = series.season_length
    models = members_for(config.models, m)
    started = time.perf_counter()
    if config.backtest_windows > 0:
        spec = BacktestSpec(h=config.backtest_h, n_windows=config.backtest_windows)
        learned = learn(series, m, models, spec, config.backtest_paths, config.seed, label, item.lower, item.upper, h)
    else:
        choice = choose_scale(series.y, item.lower, item.upper, h)
        learned = Learned(choice, None, None, DEFAULT_COMBINATION, DEFAULT_POINT_RULE,
                          {"status": "uncalibrated: backtest_windows = 0", "weighting": "equal: backtest off", "scale": choice.describe()})
    learning = time.perf_counter() - started
    fitted = fit_members(series.y, m, h, models, config.n_paths, config.seed, label, learned.scale.scale)
    if not fitted.fits:
        raise SmfcastError(f"every model failed on {label}: " + "; ".join(f"{k}: {v}" for k, v in fitted.failures.items()))
    natural = fitted.paths
    z = {name: series.transform.forward_inside(p) for name, p in natural.items()}
    weights = normalize_weights(list(z), learned.weights)
    point, ens = combine(natural, weights, rng_for(config.seed, label, ENSEMBLE), learned.combination, series.transform,
                         learned.point_rule)
    record = {"evidence": "own", **learned.record}
    if learned.factors is not None:
        factors, labels = calibration.extend(learned.factors, h)
        ens, factors, record["capped_steps"] = calibration.widen(ens, factors, series.transform, series.y)
        record["factors_by_step"], record["labels_by_step"] = factors, labels
    record["ensemble_weights"] = {k: round(v, 6) for k, v in weights.items()}
    record["guards"] = _guards(fitted)
    described = {name: f.describe for name, f in fitted.fits.items()}
    return SeriesFit({**z, ENSEMBLE: ens}, point, described, fitted.failures, record, natural,
                     {"learning": learning, **fitted.seconds}, weights)


def _guards(fitted) -> dict:
    return {name: {"truncated": f.truncated, "resampled": f.resampled} for name, f in fitted.fits.items()
            if f.truncated or f.resampled}


def _own_task(task) -> SeriesFit | str:
    """One series on its own evidence (a process of its own under the local executor); an error a
    user can act on comes back as its message."""
    item, h, config = task
    try:
        return fit_own(item, h, config)
    except SmfcastError as exc:
        return exc.message


def member_evidence(task) -> dict:
    """Pooled forecasting, phase one, for one series: the members' natural-unit paths for its
    future and for its held-back origins (the data minus the last h and 2h points), on the scale
    its bounds call for (raw unless the upper bound is near: no per-series evidence to choose by)."""
    item, h, config = task
    y, m = item.y, item.season_length
    models = members_for(config.models, m)
    out = {"id": item.id, "seconds": {}, "inner": None, "inner_truth": None, "failures": {}}
    started = time.perf_counter()
    scale = choose_scale(y, item.lower, item.upper, h, None, m)
    out["scale"] = scale
    out["seconds"]["learning"] = time.perf_counter() - started
    fitted = fit_members(y, m, h, models, config.n_paths, config.seed, item.id, scale.scale)
    out["paths"], out["failures"], out["described"], out["guards"] = fitted.paths, dict(fitted.failures), \
        {name: f.describe for name, f in fitted.fits.items()}, _guards(fitted)
    out["seconds"].update(fitted.seconds)
    for depth, key in enumerate(cross_learning.INNER_ORIGINS, start=1):
        part = y[:-depth * h]
        if len(part) < 6 or (depth > 1 and out["inner"] is None):
            break
        inner = fit_members(part, m, h, models, config.n_paths, config.seed, item.id + ":" + key, scale.scale)
        for name, secs in inner.seconds.items():
            out["seconds"][name] = out["seconds"].get(name, 0.0) + secs
        if not inner.fits:
            break
        out[key], out[key + "_truth"] = inner.paths, y[len(part):len(part) + h]
        if depth == 1:
            out["inner_scale"] = metrics.naive_scale(part, m if len(part) > m else 1) if np.ptp(part) > 0 else np.nan
    return out


def finish_pooled(item: SeriesInput, result: dict, learned: cross_learning.PooledLearning, config: EngineConfig) -> SeriesFit:
    """Pooled forecasting, phase three, for one series: its members combined with what the pool
    learned, and the band stretched by the pooled per-horizon factors (which may narrow it too:
    they are conformal quantiles of many series' scores)."""
    natural, space, h = result["paths"], item.series.transform, next(iter(result["paths"].values())).shape[1]
    point, ens = combine(natural, learned.weights, rng_for(config.seed, item.id, ENSEMBLE), learned.combination, space,
                         learned.point_rule)
    factors = learned.factors[:h]
    weights = normalize_weights(list(natural), learned.weights)
    record = {"evidence": "pooled", "status": learned.status, "scale": result["scale"].describe(),
              "weighting": learned.weighting, "pool": learned.pool, "point_rule": learned.point_rule,
              "combination": learned.combination, "ensemble_weights": {k: round(v, 6) for k, v in weights.items()},
              "guards": result["guards"]}
    if any(f is not None for f in factors):
        ens, applied, record["capped_steps"] = calibration.widen(ens, factors, space, item.y)
        record["factors_by_step"] = applied
        record["labels_by_step"] = ["calibrated" if f is not None else "uncalibrated" for f in applied]
    else:
        record["factors_by_step"], record["labels_by_step"] = [None] * h, ["uncalibrated"] * h
    z = {name: space.forward_inside(p) for name, p in natural.items()}
    return SeriesFit({**z, ENSEMBLE: ens}, point, result["described"], result["failures"], record, natural, result["seconds"],
                     weights)


def forecast_many(items: list[SeriesInput], h: int, config: EngineConfig, evidence: str = "auto", executor=None,
                  progress=None) -> Forecasts:
    """Forecast every series h steps ahead (module docstring). `progress` is called once per
    series fitted; `executor` has `.map(fn, items)` (local processes, serial, Dask)."""
    if not items:
        raise InvalidInput("there is no series to forecast", "data")
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise InvalidInput("every series needs its own id", "unique_id")
    evidence, why = evidence_for(len(items), evidence)
    mapper = executor.map if executor is not None else map
    tasks = [(item, h, config) for item in items]
    if evidence == "own":
        fits, failed = {}, {}
        for item, result in zip(items, mapper(_own_task, tasks)):
            if progress:
                progress()
            if isinstance(result, str):
                failed[item.id] = result
            else:
                fits[item.id] = result
        return Forecasts(fits, failed, evidence, None, why)
    results = []
    for result in mapper(member_evidence, tasks):
        results.append(result)
        if progress:
            progress()
    failed = {r["id"]: "every model failed: " + "; ".join(f"{k}: {v}" for k, v in r["failures"].items())
              for r in results if not r["paths"]}
    kept = [r for r in results if r["paths"]]
    seasons = {item.season_length for item in items}
    # one kind of data: the members that fit it (a mixed set keeps all; series lacking one do not teach)
    models = members_for(config.models, seasons.pop()) if len(seasons) == 1 else config.models
    learned = cross_learning.learn_pooled(kept, models, config.seed, h, {item.id: item.series.transform for item in items})
    by_id = {item.id: item for item in items}
    fits = {r["id"]: finish_pooled(by_id[r["id"]], r, learned, config) for r in kept}
    return Forecasts(fits, failed, evidence, learned, why)


@dataclass
class SeriesBacktest:
    series_id: str
    metric: str
    rows: list[dict]
    summary: list[dict]
    calibration: dict
    weights: dict | None
    failures: dict
    note: str


def backtest_series(task) -> SeriesBacktest:
    """A rerun of the backtest a series' own evidence comes from (`smfcast backtest`, `POST
    /v1/backtests`), as `fit_own` learns from it: members, their weighted ensemble (raw, and calibrated by factors from the other windows) and
    the random walk with drift, on the scale a run would choose for this series."""
    metric, sid, series, lower, upper, spec, models, n_paths, seed = task
    m = series.season_length
    learned = learn(series, m, models, spec, n_paths, seed, sid, lower, upper, spec.h)
    rows, summary = evaluate(series.truth, series.y, learned.windows, m)
    rows = [as_answered(r, sid, series) for r in rows]
    summary = [{k: rounded(v) if isinstance(v, float) else v for k, v in s.items()} for s in summary]
    cutoffs = learned.record["training_lengths"]
    note = (f"{len(cutoffs)} windows, training lengths {cutoffs[0]}–{cutoffs[-1]}, {series.filled} gaps interpolated "
            f"(never scored), scale {learned.scale.scale.kind}")
    return SeriesBacktest(sid, metric, rows, summary, learned.record, learned.weights, learned.failures, note)
