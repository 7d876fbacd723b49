"""Fit one headline metric with every model and return its sample paths per model.

This is where the data registry meets the models: choose the method (a direct fit when the
provincial series is long enough, else the national counterpart plus the provincial relation),
fit each member, fall back when one fails, and mix the survivors into the ensemble. The output is
paths in *model space* (log or logit) for the year-ends after the last provincial observation
through `until_year`; scenarios act there, and bands back-transform at the end.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from forecast.defaults import ENSEMBLE, MEMBERS, N_PATHS, SEED
from forecast.engine import ensemble, provincial
from forecast.engine.backtest import BacktestSpec, apply_calibration, learn
from forecast.errors import SmfcastError
from forecast.models import make_model
from forecast.registry.grid import RegularSeries, regularize
from forecast.registry.periods import STEP_MONTHS, Period, future_periods
from forecast.registry.series import UNFIT_QUALITIES, Observation, Registry, SeriesMeta
from forecast.registry.transforms import Transform
from forecast.seeds import rng_for

PRIOR_SIGMA = {"log": 0.05, "logit": 0.10, "none": 0.05}  # per sqrt(year); see provincial.py


@dataclass(frozen=True)
class EngineConfig:
    """Everything besides the data that changes the numbers (it goes into the run id)."""

    seed: int = SEED
    n_paths: int = N_PATHS
    until_year: int = 2030
    models: tuple[str, ...] = MEMBERS
    exclude_qualities: tuple[str, ...] = UNFIT_QUALITIES
    min_direct_points: int = provincial.MIN_DIRECT_POINTS
    prior_sigma: dict = field(default_factory=lambda: dict(PRIOR_SIGMA))
    # The backtest every run makes of the series it fits, for member weights and band calibration
    # (the same defaults as `smfcast backtest`); backtest_windows = 0 keeps equal, raw ensembles.
    backtest_h: int = 4
    backtest_windows: int = 8
    backtest_paths: int = 500

    def to_dict(self) -> dict:
        return {"seed": self.seed, "n_paths": self.n_paths, "until_year": self.until_year, "models": list(self.models),
                "exclude_qualities": list(self.exclude_qualities), "min_direct_points": self.min_direct_points,
                "prior_sigma": dict(sorted(self.prior_sigma.items())), "backtest_h": self.backtest_h,
                "backtest_windows": self.backtest_windows, "backtest_paths": self.backtest_paths}

    @classmethod
    def from_dict(cls, d: dict) -> "EngineConfig":
        defaults = cls()  # runs stored before the backtest settings existed read back with today's defaults
        return cls(seed=int(d["seed"]), n_paths=int(d["n_paths"]), until_year=int(d["until_year"]), models=tuple(d["models"]),
                   exclude_qualities=tuple(d["exclude_qualities"]), min_direct_points=int(d["min_direct_points"]),
                   prior_sigma=dict(d["prior_sigma"]), backtest_h=int(d.get("backtest_h", defaults.backtest_h)),
                   backtest_windows=int(d.get("backtest_windows", defaults.backtest_windows)),
                   backtest_paths=int(d.get("backtest_paths", defaults.backtest_paths)))


@dataclass
class MetricForecast:
    metric: str
    series_id: str
    unit: str
    transform: Transform
    periods: list[Period]  # forecast year-ends
    paths: dict[str, np.ndarray]  # model -> (n_paths, len(periods)) in model space
    method: dict
    members: dict[str, dict]  # model -> describe()
    failures: dict[str, str]
    grades: dict[str, int]
    history: list[Observation]

    def natural(self, model: str) -> np.ndarray:
        return self.transform.inverse(self.paths[model])


def _fit_members(z: np.ndarray, season_length: int, h: int, config: EngineConfig, label: str):
    """Fit every member; return (paths by model, describe by model, failures by model)."""
    paths, described, failures = {}, {}, {}
    for name in config.models:
        try:
            model = make_model(name, season_length=season_length).fit(z)
            sampled = model.sample(h, config.n_paths, rng_for(config.seed, label, name))
            if not np.all(np.isfinite(sampled)):
                raise FloatingPointError("simulated paths contain non-finite values")
            paths[name], described[name] = sampled, model.describe()
        except Exception as exc:  # noqa: BLE001 - a member may fail numerically in many ways; record and fall back
            failures[name] = f"{type(exc).__name__}: {exc}"
    if not paths:
        raise SmfcastError(f"every model failed on {label}: " + "; ".join(f"{k}: {v}" for k, v in failures.items()))
    return paths, described, failures


def _target_years(last: Period, until_year: int) -> list[Period]:
    start = last.year + 1 if last.month == 12 else last.year
    return [Period(y, 12, "annual") for y in range(start, until_year + 1)]


def _national_at(national: RegularSeries, nat_paths: np.ndarray, targets: list[Period], n_paths: int) -> np.ndarray:
    """National model-space values at the targets: observed where the target is inside the national
    span (a known value has no uncertainty), simulated beyond it."""
    last = national.periods[-1]
    step = STEP_MONTHS[last.kind]
    cols = []
    for t in targets:
        months_after = (t.year - last.year) * 12 + (t.month - last.month)
        if months_after <= 0:
            idx = next(i for i, p in enumerate(national.periods) if p.year == t.year and p.month == t.month)
            cols.append(np.full(n_paths, national.z[idx]))
        else:
            cols.append(nat_paths[:, months_after // step - 1])
    return np.column_stack(cols)


def _learned_ensemble(z: np.ndarray, transform: Transform, season_length: int, member_paths: dict[str, np.ndarray],
                      config: EngineConfig, label: str) -> tuple[np.ndarray, dict]:
    """The ensemble of the fitted members, weighted and calibrated by a backtest of the same series
    (z, in model space), and the record of how: weights, factors, raw and calibrated coverage."""
    models = tuple(m for m in config.models if m in member_paths)
    if config.backtest_windows > 0:
        spec = BacktestSpec(h=config.backtest_h, n_windows=config.backtest_windows)
        weights, factors, record = learn(z, transform, season_length, models, spec, config.backtest_paths, config.seed, label)
    else:
        weights, factors, record = None, None, {"status": "uncalibrated: backtest_windows = 0", "weighting": "equal: backtest off"}
    member_weights = ensemble.normalize_weights(list(member_paths), weights)
    mixed = ensemble.mix(member_paths, member_weights, rng_for(config.seed, label, ENSEMBLE))
    if factors is not None:
        mixed = apply_calibration(mixed, factors)
    record["ensemble_weights"] = {k: round(v, 6) for k, v in member_weights.items()}
    return mixed, record


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
        paths, described, failures = _fit_members(series.z, 1, len(targets), config, metric)
        paths[ENSEMBLE], learned = _learned_ensemble(series.z, transform, 1, paths, config, metric)
        used = prov
        method = {"method": "direct", "series": head.series, "points": len(prov), "gaps_filled": series.filled,
                  "min_direct_points": config.min_direct_points}
    else:
        nat_meta = reg.meta(head.national)
        nat_obs = reg.observations(head.national, config.exclude_qualities)
        national = regularize(nat_obs, nat_meta.transformer)
        last = national.periods[-1]
        step = STEP_MONTHS[last.kind]
        h_nat = max(((config.until_year - last.year) * 12 + (12 - last.month)) // step, 1)
        nat_paths, described, failures = _fit_members(national.z, national.season_length, h_nat, config, f"{metric}:national")
        # Provincial points published after the last national figure (Qinghai's 2025 green shares,
        # say) meet the national median forecast rather than being thrown away.
        future = future_periods(last, config.until_year)[:h_nat]
        pooled_median = np.median(np.concatenate(list(nat_paths.values()), axis=0), axis=0)
        extended = RegularSeries(national.periods + future, np.concatenate([national.z, pooled_median[:len(future)]]), national.filled)
        prov_times = [o.period.decimal_year for o in prov]
        rel = provincial.fit_relation(prov_times, transform.forward([o.value for o in prov]), extended,
                                      config.prior_sigma.get(meta.transform, PRIOR_SIGMA["none"]))
        beyond = sum(1 for t in prov_times if t > last.decimal_year + 1e-9)
        rel_paths = provincial.relation_paths(rel, [t.decimal_year for t in targets], config.n_paths,
                                              rng_for(config.seed, metric, "relation"))
        nat_paths[ENSEMBLE], learned = _learned_ensemble(national.z, nat_meta.transformer, national.season_length, nat_paths,
                                                         config, f"{metric}:national")
        paths = {name: _national_at(national, p, targets, config.n_paths) + rel_paths for name, p in nat_paths.items()}
        used = prov + nat_obs
        method = {"method": "ratio_to_national" if meta.transform == "log" else "spread_to_national",
                  "series": head.series, "national": head.national, "national_points": len(nat_obs),
                  "national_gaps_filled": national.filled, "national_last": str(last),
                  "relation": {**rel.describe(), "points_after_national_data": beyond}, "prior_sigma": config.prior_sigma.get(meta.transform),
                  "min_direct_points": config.min_direct_points,
                  "why": f"{len(prov)} usable provincial points < {config.min_direct_points} needed for a direct fit"
                  if meta.frequency == "annual" else f"provincial series is {meta.frequency}, not annual"}

    method["ensemble_weights"] = learned.pop("ensemble_weights")
    method["ensemble_weighting"] = learned["weighting"]
    method["calibration"] = learned
    grades = dict(sorted(Counter(o.quality for o in used).items()))
    return MetricForecast(metric, head.series, meta.unit, transform, targets, paths, method, described, failures, grades,
                          reg.observations(head.series))
