"""Forecast one headline metric: its sample paths per member and for the ensemble.

This is where the data registry meets the models. A provincial annual series long enough to fit
(`MIN_DIRECT_POINTS`) is fitted directly; otherwise its national counterpart is fitted and the
provincial/national relation carries the forecast to the province (`provincial.py`). Either way
the series that is fitted goes through the engine's one entry on arrays (`forecaster.fit_own`:
what `smfcast.forecast` does with a series on its own evidence): its own rolling-origin backtest
chooses the fitting scale, pools and weights the members and calibrates the ensemble. A national
series too sparse for a regular grid is the exception: a random walk on its native dates
(`fit_sparse`), since models on a grid would fit straight-line fills.

Output paths are in the metric's model space (log for balances, logit for percentages) for the
year-ends after the last provincial observation through `until_year`: scenarios act there, and
bands back-transform at the end.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from smfcast.defaults import ENSEMBLE
from smfcast.engine import provincial
from smfcast.engine.backtest import BacktestSpec
from smfcast.engine.config import PRIOR_SIGMA, EngineConfig
from smfcast.engine.forecaster import SeriesBacktest, SeriesFit, SeriesInput, backtest_series, fit_own, min_points
from smfcast.engine.records import SCHEMA, Method
from smfcast.errors import SmfcastError
from smfcast.registry.grid import RegularSeries, regularize
from smfcast.registry.periods import STEP_MONTHS, Period, future_periods
from smfcast.registry.series import Observation, Registry, SeriesMeta
from smfcast.registry.transforms import Transform
from smfcast.seeds import rng_for

__all__ = ["EngineConfig", "MetricForecast", "fit_sparse", "backtest_headlines", "forecast_marked", "forecast_metric", "forecast_years", "national_at"]
MARKED = "series:"  # the key prefix of a marked series' forecast in a run (metrics have bare names)


@dataclass
class MetricForecast:
    metric: str
    series_id: str
    unit: str
    transform: Transform
    periods: list[Period]  # forecast year-ends
    paths: dict[str, np.ndarray]  # model -> (n_paths, len(periods)) in model space
    method: Method
    members: dict[str, dict]  # model -> describe()
    failures: dict[str, str]
    grades: dict[str, int]
    history: list[Observation]

    def natural(self, model: str) -> np.ndarray:
        return self.transform.inverse(self.paths[model])


MIN_GRID_COVERAGE = 2 / 3  # below this share of published grid points, a series is fitted on its native dates


def fit_sparse(observations: list[Observation], series: RegularSeries, h: int, config: EngineConfig, label: str) -> SeriesFit:
    """A series too sparse for models on a regular grid (more than a third of its grid would be
    straight-line fill) is forecast on its native dates by a random walk with drift in continuous
    time; the members are not fitted on interpolated values, and the record says so. Its rolling
    backtest (each published point as an origin, the next year's published points as outcomes)
    scores the walk, which is here both the served band and the random-walk benchmark."""
    times = np.array([o.period.decimal_year for o in observations])
    z = series.transform.forward([o.value for o in observations])
    future = [p.decimal_year for p in future_periods(series.periods[-1], 9999)[:h]]
    walk = provincial.fit_walk(times, z)
    paths = provincial.relation_paths(walk, future, config.n_paths, rng_for(config.seed, label, ENSEMBLE))
    why = (f"not fitted: {len(observations)} published points on a {len(series.periods)}-point grid "
           f"({series.coverage:.0%} < {MIN_GRID_COVERAGE:.0%}); models on a regular grid would fit straight-line fills")
    scored = _walk_backtest(times, z, series.transform, config, label)
    record = {"status": "uncalibrated: the random walk's own band (native dates)", "weighting": "none: one model",
              "method": "random walk with drift on native dates", "walk": walk.describe(), "h": 4,
              "scale": {"scale": series.transform.kind, "why": "the series' model space; native dates"},
              "combination": "none", "labels_by_step": ["uncalibrated"] * h, "factors_applied": [],
              "against_random_walk": {"ensemble_served": scored, "random_walk_with_drift": scored,
                                      "note": "the served band is the random walk's"},
              "ensemble_weights": {}}
    return SeriesFit({ENSEMBLE: paths}, np.median(paths, axis=0), {}, {m: why for m in config.models}, record)


def _walk_backtest(times: np.ndarray, z: np.ndarray, transform: Transform, config: EngineConfig, label: str) -> dict:
    """Coverage (percent), width and interval score of the walk's 95% band for the published points
    up to a year after each origin (origins from the fourth point on), in natural units."""
    from smfcast.engine import metrics
    ys, los, his = [], [], []
    for k in range(4, len(times)):
        ahead = [j for j in range(k, len(times)) if times[j] - times[k - 1] <= 1.0 + 1e-9]
        if not ahead:
            continue
        walk = provincial.fit_walk(times[:k], z[:k])
        sims = provincial.relation_paths(walk, times[ahead], 2000, rng_for(config.seed, label, "walk", str(k)))
        lo, hi = metrics.quantile_band(transform.inverse(sims), 95)
        ys += list(transform.inverse(z[ahead]))
        los += list(lo)
        his += list(hi)
    if not ys:
        return {}
    y, lo, hi = np.array(ys), np.array(los), np.array(his)
    return {"coverage-95": 100 * metrics.coverage(y, lo, hi), "width-95": metrics.interval_width(lo, hi),
            "interval_score-95": metrics.winkler_score(y, lo, hi, 95), "points": int(len(y))}


def _target_years(last: Period, until_year: int) -> list[Period]:
    start = last.year + 1 if last.month == 12 else last.year
    return [Period(y, 12, "annual") for y in range(start, until_year + 1)]


def forecast_years(reg: Registry, metric: str, config: EngineConfig) -> list[int]:
    """The years `forecast_metric` will forecast the metric for, known before anything is fitted
    (from the year after the last usable provincial point to `until_year`)."""
    prov = reg.observations(reg.headline(metric).series, config.exclude_qualities)
    return [p.year for p in _target_years(prov[-1].period, config.until_year)] if prov else []


def national_at(national: RegularSeries, paths: np.ndarray, times: list[float]) -> np.ndarray:
    """National model-space values at decimal `times`, per path: observed (no uncertainty) inside
    the national span, read off (interpolated between) the paths' grid points beyond it."""
    n_paths = paths.shape[0]
    future = future_periods(national.periods[-1], 9999)[: paths.shape[1]]
    grid = np.array([p.decimal_year for p in national.periods + future])
    values = np.concatenate([np.broadcast_to(national.z, (n_paths, len(national.z))), paths], axis=1)
    out = np.empty((n_paths, len(times)))
    for j, t in enumerate(times):
        i = int(np.searchsorted(grid, t - 1e-9))
        if i < len(grid) and abs(grid[i] - t) < 1e-9:
            out[:, j] = values[:, i]
        elif 0 < i < len(grid):
            w = (t - grid[i - 1]) / (grid[i] - grid[i - 1])
            out[:, j] = (1 - w) * values[:, i - 1] + w * values[:, i]
        else:
            raise ValueError(f"time {t:.3f} is outside the national series and its forecast")
    return out


def _breaks(reg: Registry, *series_ids: str) -> list[dict]:
    return [{"series": sid, **b} for sid in series_ids for b in reg.meta(sid).breaks]


def forecast_metric(reg: Registry, metric: str, config: EngineConfig) -> MetricForecast:
    head = reg.headline(metric)
    meta: SeriesMeta = reg.meta(head.series)
    prov = reg.observations(head.series, config.exclude_qualities)
    if not prov:
        raise SmfcastError(f"{head.series!r} has no observations of a usable grade (excluded: {', '.join(config.exclude_qualities)})")
    targets = _target_years(prov[-1].period, config.until_year)
    if not targets:
        raise SmfcastError(f"{head.series!r} is already observed through {config.until_year}; nothing to forecast")
    transform = meta.transformer
    direct = meta.frequency == "annual" and len(prov) >= config.min_direct_points

    if direct:
        series = regularize(prov, transform)
        fit = fit_own(SeriesInput(metric, series, meta.lower, meta.upper), len(targets), config)
        paths, used = fit.paths, prov
        method = {"method": "direct", "series": head.series, "points": len(prov), "gaps_filled": series.filled,
                  "min_direct_points": config.min_direct_points, "breaks": _breaks(reg, head.series)}
    else:
        nat_meta = reg.meta(head.national)
        nat_obs = reg.observations(head.national, config.exclude_qualities)
        national = regularize(nat_obs, nat_meta.transformer)
        last = national.periods[-1]
        step = STEP_MONTHS[last.kind]
        h_nat = max(((config.until_year - last.year) * 12 + (12 - last.month)) // step, 1)
        sparse = national.coverage < MIN_GRID_COVERAGE
        fit = (fit_sparse(nat_obs, national, h_nat, config, f"{metric}:national") if sparse
               else fit_own(SeriesInput(f"{metric}:national", national, nat_meta.lower, nat_meta.upper), h_nat, config))
        # The relation is fitted against the national series, extended past its last point by the
        # ensemble's own point forecast (the median of the paths used below), so that provincial
        # points published after the last national figure (Qinghai's 2025 green shares) count.
        future = future_periods(last, config.until_year)[:h_nat]
        extended = RegularSeries(national.periods + future, np.concatenate([national.z, fit.point[:len(future)]]), national.filled)
        prov_times = [o.period.decimal_year for o in prov]
        rel = provincial.fit_relation(prov_times, transform.forward([o.value for o in prov]), extended,
                                      config.prior_sigma.get(meta.transform, PRIOR_SIGMA["none"]))
        beyond = sum(1 for t in prov_times if t > last.decimal_year + 1e-9)
        target_times = [t.decimal_year for t in targets]
        rel_paths = provincial.relation_paths(rel, target_times, config.n_paths, rng_for(config.seed, metric, "relation"))
        # Provincial paths follow national *increments* from the last provincial point: the province
        # was observed there, so national uncertainty before that date must not count again.
        paths = {}
        for name, p in fit.paths.items():
            at = national_at(national, p, [rel.last_time] + target_times)
            paths[name] = rel.last_z + (at[:, 1:] - at[:, :1]) + (rel_paths - rel.last)
        used = prov + nat_obs
        method = {"method": "ratio_to_national" if meta.transform == "log" else "spread_to_national",
                  "series": head.series, "national": head.national, "national_points": len(nat_obs),
                  "national_gaps_filled": national.filled, "national_last": str(last),
                  "national_fit": "random walk with drift on native dates (sparse)" if sparse else "members on the quarterly grid",
                  "relation": {**rel.describe(), "points_after_national_data": beyond},
                  "prior_sigma": config.prior_sigma.get(meta.transform), "min_direct_points": config.min_direct_points,
                  "why": f"{len(prov)} usable provincial points < {config.min_direct_points} needed for a direct fit"
                  if meta.frequency == "annual" else f"provincial series is {meta.frequency}, not annual",
                  "breaks": _breaks(reg, head.series, head.national)}
    record = dict(fit.record)
    method.update({"scale": record.get("scale"), "ensemble_weights": record.pop("ensemble_weights"),
                   "ensemble_weighting": record.get("weighting"), "calibration": record})
    grades = dict(sorted(Counter(o.quality for o in used).items()))
    return MetricForecast(metric, head.series, meta.unit, transform, targets, paths, Method.from_dict({**method, "schema": SCHEMA}),
                          fit.members, fit.failures, grades, reg.observations(head.series))


def forecast_marked(reg: Registry, series_id: str, config: EngineConfig) -> MetricForecast:
    """A series marked to be forecast (`forecast = true` in series.toml: a bank's own portfolio
    ratio, say): fitted directly through the engine's one entry on its own evidence, as
    `smfcast.forecast` treats one series, in its model space and bounds, through `until_year`'s
    last period. No lever acts on it (levers' elasticities are the headline metrics'); a series
    that cannot be forecast raises an error naming it and why, which the run records."""
    meta = reg.meta(series_id)
    if meta.frequency == "irregular":
        raise SmfcastError(f"{series_id!r} is published at irregular dates: only annual, quarterly and monthly series are forecast")
    obs = reg.observations(series_id, config.exclude_qualities)
    need = min_points(meta.frequency)
    if len(obs) < need:
        raise SmfcastError(f"{series_id!r} has {len(obs)} usable point(s); {meta.frequency} series need at least {need}")
    series = regularize(obs, meta.transformer)
    if series.coverage < MIN_GRID_COVERAGE:
        raise SmfcastError(f"{series_id!r} is too sparse: {len(obs)} published points on a {len(series.periods)}-point grid "
                           f"({series.coverage:.0%} < {MIN_GRID_COVERAGE:.0%})")
    periods = future_periods(series.periods[-1], config.until_year)
    if not periods:
        raise SmfcastError(f"{series_id!r} is already observed through {config.until_year}; nothing to forecast")
    fit = fit_own(SeriesInput(MARKED + series_id, series, meta.lower, meta.upper), len(periods), config)
    record = dict(fit.record)
    method = {"method": "direct", "series": series_id, "points": len(obs), "gaps_filled": series.filled,
              "min_points": need, "breaks": _breaks(reg, series_id), "scale": record.get("scale"),
              "ensemble_weights": record.pop("ensemble_weights"), "ensemble_weighting": record.get("weighting"),
              "calibration": record, "schema": SCHEMA}
    grades = dict(sorted(Counter(o.quality for o in obs).items()))
    return MetricForecast(MARKED + series_id, series_id, meta.unit, meta.transformer, periods, fit.paths, Method.from_dict(method),
                          fit.members, fit.failures, grades, reg.observations(series_id))


def backtest_headlines(reg, spec: BacktestSpec, models: tuple[str, ...], n_paths: int, seed: int,
                       metric_names=None, progress=None, executor=None) -> list[SeriesBacktest]:
    """Backtest the series every headline metric is forecast from: the national counterpart (the
    provincial series are too short for even one window) and the provincial one where it allows."""
    from smfcast.registry.series import UNFIT_QUALITIES
    jobs = []
    for metric, head in reg.headlines.items():
        if metric_names and metric not in metric_names:
            continue
        for sid in (head.national, head.series):
            meta = reg.meta(sid)
            obs = reg.observations(sid, UNFIT_QUALITIES)
            if meta.frequency == "irregular" or len({o.period.kind for o in obs}) != 1:
                jobs.append((metric, sid, None, None, f"{sid}: irregular publication dates, no regular grid to backtest on"))
                continue
            series = regularize(obs, meta.transformer)
            if not spec.cutoffs(len(series.z)):
                jobs.append((metric, sid, None, None, f"{sid}: {len(series.z)} points, too few for one window of h={spec.h}"))
                continue
            jobs.append((metric, sid, series, meta, ""))
    tasks = [(metric, sid, series, meta.lower, meta.upper, spec, models, n_paths, seed)
             for metric, sid, series, meta, note in jobs if series is not None]
    results = list((executor.map if executor else map)(backtest_series, tasks))
    done = {(r.metric, r.series_id): r for r in results}
    out = []
    for metric, sid, series, _, note in jobs:
        if progress:
            progress(sid)
        out.append(done[(metric, sid)] if series is not None else SeriesBacktest(sid, metric, [], [], {}, None, {}, note))
    return out
