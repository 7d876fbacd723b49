"""External validation on competition data: the members, the ensemble and benchmarks (Naive /
Naive2, statsmodels' Theta, a random walk with drift), scored as in the M3/M4 competitions.

Each series is split as the competition did (the last `h` points are the test), and the training
parts are forecast by `smfcast.forecast` itself (`frames.forecast`, the call users make): what is
validated is what users get. Nothing learned sees a test value. Two procedures, the two kinds of
evidence the engine has (`forecaster`):

* `pooled` (default): held-back forecasts of every series' training part (minus its last h, and
  minus its last 2h where at least 6 points remain), pooled across the series, decide the pool,
  the point rule, the weights and the combination, and give per-horizon conformal factors
  (`cross_learning`): what a call with many series does.
* `run`: each series on its own rolling-origin backtest, exactly as runs treat the series they
  fit (the run's widening rule); the coverage printed is the coverage runs serve.

Rows. Each member (its paths as the forecast fitted them); the ensemble as served (`ensemble
(calibrated)`) and, for comparison, recombined from the same members: with equal weights over
every member and the median, and as learned but before calibration (`ensemble`); in the pooled
procedure also the older path-mixture ensemble (point = mixture median); and the benchmarks.
Every row covers the same series: a member that fails on a series is replaced there by the random
walk with drift (counted in `fallback`), a benchmark that cannot handle a series (Naive2's
multiplicative decomposition on zeros, say) falls back to Naive, and a series the forecast cannot
take (too short, or no member fits) is left out of every row and named. Seconds include the
inner fits and backtests.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from smfcast.defaults import ENSEMBLE, LEVELS, members_for
from smfcast.engine import metrics
from smfcast.engine.datasets import Series
from smfcast.engine.ensemble import POOL_TOLERANCE, combine, mix
from smfcast.engine.executor import executor as open_executor
from smfcast.engine.frames import forecast, min_points, model_space
from smfcast.errors import InvalidInput
from smfcast.seeds import rng_for

PROCEDURES = ("pooled", "run")
N_PATHS = 500  # per member and series: the competition data are many short series
Z = {80: 1.2815515655446004, 95: 1.959963984540054}
BENCHMARKS = ("naive", "naive2", "theta (statsmodels)", "random walk with drift")
FREQ = {1: "Y", 4: "Q", 12: "M"}  # season length -> the Periods the training parts are given as


# --- benchmarks (analytic bands on raw values) --------------------------------------------------

def _bands(point: np.ndarray, sd: np.ndarray) -> dict:
    return {"point": point, **{f"{side}-{lv}": point + sign * Z[lv] * sd for lv in LEVELS for side, sign in (("lo", -1), ("hi", 1))}}


def _naive(train: np.ndarray, h: int) -> dict:
    steps = np.diff(train)
    sd = float(np.std(steps, ddof=1)) if len(steps) > 1 else 0.0
    return _bands(np.full(h, train[-1]), sd * np.sqrt(np.arange(1, h + 1)))


def _naive2(train: np.ndarray, h: int, m: int) -> dict:
    """Naive2 (M3): naive forecast of the seasonally adjusted series when the lag-m autocorrelation
    is significant (90%), reseasonalised; plain naive otherwise. Multiplicative decomposition needs
    positive values: a series with zeros or negatives raises (the caller falls back to Naive)."""
    season = np.ones(m)
    if m > 1 and len(train) >= 3 * m and np.ptp(train) > 0:  # a constant series has no seasonality to test
        x = train - train.mean()
        acf = [np.sum(x[k:] * x[:-k]) / np.sum(x * x) for k in range(1, m + 1)]
        limit = 1.645 * np.sqrt((1 + 2 * np.sum(np.square(acf[:-1]))) / len(train))
        if abs(acf[-1]) > limit:
            from statsmodels.tsa.seasonal import seasonal_decompose
            season = np.asarray(seasonal_decompose(train, model="multiplicative", period=m).seasonal[:m])
    n = len(train)
    adjusted = train / season[np.arange(n) % m]
    sigma = np.std(np.diff(adjusted), ddof=1) if n > 2 else abs(adjusted[-1] - adjusted[0])
    future = season[np.arange(n, n + h) % m]
    return _bands(adjusted[-1] * future, sigma * np.sqrt(np.arange(1, h + 1)) * future)


def _theta_sm(train: np.ndarray, h: int, m: int) -> dict:
    import warnings

    from statsmodels.tsa.forecasting.theta import ThetaModel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ThetaModel(train, period=m, deseasonalize=m > 1 and len(train) >= 2 * m and bool(np.all(train > 0))).fit()
        out = {"point": np.asarray(res.forecast(h))}
        for lv in LEVELS:
            pi = np.asarray(res.prediction_intervals(h, alpha=1 - lv / 100))
            out[f"lo-{lv}"], out[f"hi-{lv}"] = pi[:, 0], pi[:, 1]
    if not all(np.all(np.isfinite(v)) for v in out.values()):
        raise FloatingPointError("theta (statsmodels): non-finite forecast")
    return out


def _benchmarks(s: Series) -> tuple[dict, dict, dict]:
    """(bands by benchmark, seconds by benchmark, fallbacks by benchmark) with the fallbacks of the
    module docstring."""
    h, m = len(s.test), s.season_length
    bands, seconds, fallback = {}, {}, {}
    makers = {"naive": lambda: _naive(s.train, h), "naive2": lambda: _naive2(s.train, h, m),
              "theta (statsmodels)": lambda: _theta_sm(s.train, h, m),
              "random walk with drift": lambda: _drift_bands(s)}
    for name in (("naive", "theta (statsmodels)", "random walk with drift") if m == 1 else
                 ("naive2", "theta (statsmodels)", "random walk with drift")):
        started = time.perf_counter()
        try:
            bands[name] = makers[name]()
        except (ValueError, FloatingPointError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
            bands[name], fallback[name] = _naive(s.train, h), f"{type(exc).__name__}: {exc}"
        seconds[name] = time.perf_counter() - started
    return bands, seconds, fallback


def _drift_bands(s: Series) -> dict:
    from smfcast.models import Drift
    model = Drift().fit(s.train)
    paths = model.sample(len(s.test), N_PATHS, rng_for(0, s.id, "drift"))
    return _path_bands(paths)


def _path_bands(paths: np.ndarray, point: np.ndarray | None = None) -> dict:
    out = {"point": np.median(paths, axis=0) if point is None else point}
    for lv in LEVELS:
        out[f"lo-{lv}"], out[f"hi-{lv}"] = metrics.quantile_band(paths, lv)
    return out


# --- scoring -----------------------------------------------------------------------------------

class _Table:
    """Accumulates per-series scores by method and summarises them."""

    def __init__(self):
        self.acc: dict[str, dict[str, list]] = {}

    def add(self, method: str, s: Series, bands: dict, seconds: float, fallback: bool = False) -> None:
        a = self.acc.setdefault(method, {k: [] for k in ("smape", "mase", "c80", "c95", "msis", "width")} | {"seconds": [0.0], "fallback": [0]})
        y, point = s.test, bands["point"]
        a["smape"].append(metrics.smape(y, point))
        m = s.season_length if len(s.train) > s.season_length else 1
        try:
            scale = metrics.naive_scale(s.train, m)
        except ValueError:
            scale = np.nan
        a["mase"].append(metrics.mae(y, point) / scale)
        a["msis"].append(metrics.winkler_score(y, bands["lo-95"], bands["hi-95"], 95) / scale)
        a["width"].append(metrics.interval_width(bands["lo-95"], bands["hi-95"]) / scale)
        a["c80"].append(metrics.coverage(y, bands["lo-80"], bands["hi-80"]))
        a["c95"].append(metrics.coverage(y, bands["lo-95"], bands["hi-95"]))
        a["seconds"][0] += seconds
        a["fallback"][0] += int(fallback)

    def rows(self, order: list[str]) -> list[dict]:
        out = []
        for method in sorted(self.acc, key=lambda k: order.index(k) if k in order else len(order)):
            a = self.acc[method]
            msis, width = np.array(a["msis"]), np.array(a["width"])
            out.append({"method": method, "series": len(a["smape"]), "fallback": a["fallback"][0],
                        "smape": float(np.mean(a["smape"])), "mase": float(np.nanmean(a["mase"])),
                        "coverage-80": float(np.mean(a["c80"])) * 100, "coverage-95": float(np.mean(a["c95"])) * 100,
                        "msis": float(np.nanmean(msis)), "msis-median": float(np.nanmedian(msis)), "msis-max": float(np.nanmax(msis)),
                        "width-95-median": float(np.nanmedian(width)), "width-95-max": float(np.nanmax(width)),
                        "seconds": round(a["seconds"][0], 2)})
        return out


def _frame(series: list[Series]) -> pd.DataFrame:
    """The training parts as the long frame users give `smfcast.forecast` (the dates themselves do
    not matter: Periods from 2000 on)."""
    parts = [pd.DataFrame({"unique_id": s.id, "ds": pd.period_range("2000", periods=len(s.train), freq=FREQ[s.season_length]),
                           "y": s.train}) for s in series]
    return pd.concat(parts, ignore_index=True)


def _benchmark_task(s: Series) -> tuple[dict, dict, dict]:
    return _benchmarks(s)


def validate(series: list[Series], models: tuple[str, ...], seed: int, procedure: str = "pooled", engine: str = "local",
             address: str | None = None, quiet: bool = True) -> tuple[list[dict], dict]:
    """The table of `smfcast validate` (one row per method) and what the forecast learned."""
    if procedure not in PROCEDURES:
        raise InvalidInput(f"procedure {procedure!r} is not one of {', '.join(PROCEDURES)}", "procedure")
    seasons = {s.season_length for s in series}
    if len(seasons) != 1:
        raise InvalidInput("the series mix frequencies; validate one frequency at a time", "csv")
    m = seasons.pop()
    models = members_for(models, m)
    need = min_points({1: "annual", 4: "quarterly", 12: "monthly"}[m])
    short = {s.id: f"{len(s.train)} training points; smfcast.forecast needs at least {need}" for s in series if len(s.train) < need}
    usable = [s for s in series if s.id not in short]
    if not usable:
        raise InvalidInput("no series has enough training points: " + "; ".join(f"{k} ({v})" for k, v in short.items()), "h")
    h = max(len(s.test) for s in usable)
    fc = forecast(_frame(usable), h, LEVELS, models=models, n_paths=N_PATHS, seed=seed,
                  evidence="pooled" if procedure == "pooled" else "own", paths=True, failed="drop", quiet=quiet,
                  engine=engine, address=address)
    method = fc.method
    if engine == "serial":
        benchmarks = [_benchmarks(s) for s in usable]
    else:
        with open_executor(engine, address) as ex:
            benchmarks = list(ex.map(_benchmark_task, usable))
    excluded = {**short, **method.failed}
    kept = [(s, b) for s, b in zip(usable, benchmarks) if s.id in method.series]
    records = {sid: method.series[sid] for sid in method.series}
    info = {"procedure": procedure, "models": list(models), "excluded": excluded, "evidence": method.why,
            "scales": _count(records[s.id].scale.get("scale", "raw") for s, _ in kept),
            "member_failures": _count(k for s, _ in kept for k in records[s.id].failures),
            "benchmark_fallbacks": _count(k for _, b in kept for k in b[2])}
    learned = method.pooled
    if procedure == "pooled":
        info.update({"pool": learned.pool, "relative_errors": learned.relative_errors, "pool_tolerance": POOL_TOLERANCE,
                     "point_rule": learned.point_rule, "point_rule_inner_mase": learned.point_rule_scores,
                     "weights": learned.weights, "shrinkage": learned.shrinkage, "combination": learned.combination,
                     "combination_inner_msis": learned.combination_msis, "calibration": learned.calibration,
                     "calibration_factors": learned.factors})
    table = _Table()
    for s, (bands, bench_seconds, bench_fallback) in kept:
        record, natural = records[s.id], fc.paths[s.id]
        members = {k: v for k, v in natural.items() if k != ENSEMBLE}
        secs = record.seconds.get("learning", 0.0) + sum(record.seconds.get(name, 0.0) for name in models)
        for name in models:
            if name in members:
                table.add(name, s, _path_bands(members[name], np.mean(members[name], axis=0)), record.seconds.get(name, 0.0))
            else:
                table.add(name, s, bands["random walk with drift"], 0.0, fallback=True)
        space, _, _ = model_space(s.train)
        rng = lambda label: rng_for(seed, s.id, label)  # noqa: E731
        if procedure == "pooled":
            z = {k: space.forward_inside(p) for k, p in members.items()}
            # older ensemble: the path mixture, point = its median
            table.add("ensemble (mixture, equal)", s, _path_bands(space.inverse(mix(z, None, rng(ENSEMBLE)))), secs)
            table.add("ensemble (mixture, weighted)", s, _path_bands(space.inverse(mix(z, learned.weights, rng(ENSEMBLE)))), secs)
            weights, how, rule = learned.weights, learned.combination, learned.point_rule
        else:
            weights, how, rule = record.weights, record.combination, record.point_rule
        point, ens = combine(members, None, rng(ENSEMBLE), how, space, "median")
        table.add("ensemble (equal weights)", s, _path_bands(space.inverse(ens), space.inverse(point)), secs)
        # the same members combined as learned, before calibration; the served band is the forecast's own
        point, ens = combine(members, weights, rng(ENSEMBLE), how, space, rule)
        table.add("ensemble", s, _path_bands(space.inverse(ens), space.inverse(point)), secs)
        table.add("ensemble (calibrated)", s, _path_bands(natural[ENSEMBLE], space.inverse(point)), secs)
        for name, b in bands.items():
            table.add(name, s, b, bench_seconds.get(name, 0.0), fallback=name in bench_fallback)
    order = list(models) + ["ensemble (mixture, equal)", "ensemble (mixture, weighted)", "ensemble (equal weights)", "ensemble",
                            "ensemble (calibrated)"] + list(BENCHMARKS)
    if procedure == "run":
        info["run_status"] = _count(records[s.id].status.split(" (")[0] for s, _ in kept)
        info["combinations"] = _count(records[s.id].combination for s, _ in kept)
        info["point_rules"] = _count(records[s.id].point_rule for s, _ in kept)
        info["left_out"] = _count(name for s, _ in kept for name in models
                                  if name in records[s.id].members and name not in records[s.id].pool)
    return table.rows(order), info


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items()))
