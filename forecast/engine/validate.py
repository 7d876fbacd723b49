"""External validation on competition data: the members, the ensemble and benchmarks (Naive /
Naive2, statsmodels' Theta, a random walk with drift), scored as in the M3/M4 competitions.

Each series is split as the competition did (the last `h` points are the test). Nothing learned
sees a test value. Two procedures:

* `pooled` (default): every series is also forecast from its training part minus its last `h`
  points; those inner forecasts, scored against the held-back training points, decide the pool
  (members whose relative MAE is more than 10% above the typical member's are left out), the
  point rule (weighted median or mean), the weights (1 / mean scaled CRPS per member) and the
  combination, all pooled across series (cross-learning). The per-horizon conformal factors of the
  weighted ensemble (which may narrow as well as widen) are learned on that origin and one more,
  the training part minus its last 2h points, where at least 6 points remain.
* `run`: what a run does with its one series, series by series: a rolling-origin backtest of the
  training part (`EngineConfig`'s h and windows) chooses the scale, the pool, the point rule and
  the weights, and calibrates the ensemble with the run's widening rule; the coverage printed is
  the coverage served.

Rows. Each member; the ensemble as runs publish it (the pooled members' weighted median or mean
point, with the distribution, mixture or quantile average, chosen on the training parts and
recentred on it): with equal weights over every member and the median, as learned, and
calibrated; the older path-mixture ensemble (point = mixture median) for comparison; and the
benchmarks. Every row covers
the same series: a member that fails on a series is replaced there by the random walk with drift
(counted in `fallback`), a benchmark that cannot handle a series (Naive2's multiplicative
decomposition on zeros, say) falls back to Naive, and a series no member can fit is left out of
every row and named. Seconds include the inner fits and backtests.
"""

from __future__ import annotations

import time

import numpy as np

from smfcast.defaults import ENSEMBLE, LEVELS, members_for
from smfcast.engine import calibration, metrics
from smfcast.engine.backtest import BacktestSpec, learn
from smfcast.engine.datasets import Series
from smfcast.engine.ensemble import (
    COMBINATIONS,
    DEFAULT_COMBINATION,
    POOL_TOLERANCE,
    choose_point_rule,
    combine,
    mix,
    pool,
    pooled,
    relative_errors,
    shrunk_weights,
)
from smfcast.engine.members import fit_members
from smfcast.engine.scales import choose as choose_scale
from smfcast.errors import InvalidInput
from smfcast.registry.grid import RegularSeries
from smfcast.registry.periods import Period
from smfcast.registry.transforms import Transform
from smfcast.seeds import rng_for

PROCEDURES = ("pooled", "run")
# The pooled procedure's held-back origins: the training part minus its last h points ("inner"),
# and minus its last 2h ("inner2", where at least 6 points remain). Pool, point rule, weights and
# combination are learned on the first; calibration factors, a tail quantile, on both (more scores
# for it; measured against one origin in docs/anchors.md).
INNER_ORIGINS = ("inner", "inner2")
N_PATHS = 500  # per member and series: the competition data are many short series
Z = {80: 1.2815515655446004, 95: 1.959963984540054}
BENCHMARKS = ("naive", "naive2", "theta (statsmodels)", "random walk with drift")


def _space(train: np.ndarray) -> tuple[Transform, float]:
    """(model space, lower bound): positive series are combined and calibrated on logs and cannot
    go below 0; a series with zeros or negatives stays raw and unbounded."""
    return (Transform("log"), 0.0) if np.all(train > 0) else (Transform("none"), -np.inf)


def _as_regular(train: np.ndarray, m: int, space: Transform) -> RegularSeries:
    """A competition series on a regular grid of its own kind (the dates themselves do not matter)."""
    kind = {1: "annual", 4: "quarterly", 12: "monthly"}[m]
    step = 12 // m
    periods = [Period(2000 + (i * step) // 12, (i * step) % 12 + step, kind) for i in range(len(train))]
    return RegularSeries(periods, space.forward(train), 0, np.ones(len(train), dtype=bool), space)


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


# --- phase 1: one series ---------------------------------------------------------------------

def forecast_series(task) -> dict:
    """Member paths for the test period (natural units) and what the procedure needs besides:
    inner-holdout paths (pooled) or the series' own backtest and served ensemble (run)."""
    s, models, seed, procedure, spec = task
    models = members_for(models, s.season_length)
    h, m = len(s.test), s.season_length
    space, lower = _space(s.train)
    out = {"id": s.id, "seconds": {}, "inner": None, "inner_truth": None, "failures": {}, "served": None}
    started = time.perf_counter()
    if procedure == "run":
        series = _as_regular(s.train, m, space)
        learned = learn(series, m, models, spec, N_PATHS, seed, s.id, lower, np.inf, h)
        scale, out["learned"] = learned.scale, {"weights": learned.weights, "status": learned.record.get("status"),
                                                "combination": learned.combination, "point_rule": learned.point_rule,
                                                "pool": learned.record.get("pool")}
    else:
        scale = choose_scale(s.train, lower, np.inf, h, None, m)
    out["scale"] = scale.scale.kind
    out["seconds"]["learning"] = time.perf_counter() - started
    fitted = fit_members(s.train, m, h, models, N_PATHS, seed, s.id, scale.scale)
    out["paths"], out["failures"] = fitted.paths, dict(fitted.failures)
    out["seconds"].update(fitted.seconds)
    for depth, key in enumerate(INNER_ORIGINS if procedure == "pooled" else (), start=1):
        part = s.train[:-depth * h]
        if len(part) < 6 or (depth > 1 and out["inner"] is None):
            break
        inner = fit_members(part, m, h, models, N_PATHS, seed, s.id + ":" + key, scale.scale)
        for name, secs in inner.seconds.items():
            out["seconds"][name] = out["seconds"].get(name, 0.0) + secs
        if not inner.fits:
            break
        out[key], out[key + "_truth"] = inner.paths, s.train[len(part):len(part) + h]
        if depth == 1:
            out["inner_scale"] = metrics.naive_scale(part, m if len(part) > m else 1) if np.ptp(part) > 0 else np.nan
    if procedure == "run" and fitted.fits:
        point, ens = combine(fitted.paths, learned.weights, rng_for(seed, s.id, ENSEMBLE), learned.combination, space,
                             learned.point_rule)
        raw = (space.inverse(point), space.inverse(ens))
        if learned.factors is not None:
            ens = calibration.widen(ens, calibration.extend(learned.factors, h)[0], space, s.train)[0]
        out["served"] = {"raw": raw, "calibrated": (space.inverse(point), space.inverse(ens))}
    out["bands"], bench_seconds, out["benchmark_fallback"] = _benchmarks(s)
    out["seconds"].update(bench_seconds)
    return out


# --- phase 2: pooled learning ------------------------------------------------------------------

def _inner_complete(results: list[dict], models: tuple[str, ...]) -> list[dict]:
    """The series whose inner holdout every member fitted and which has a naive scale."""
    return [r for r in results if r["inner"] is not None and all(m in r["inner"] for m in models)
            and np.isfinite(r.get("inner_scale", np.nan))]


def pooled_weights(results: list[dict], models: tuple[str, ...]) -> tuple[dict[str, float] | None, float]:
    """(weights, lambda): 1 / mean scaled CRPS of each member on the inner holdouts of the series
    where every member fitted, shrunk towards equal by the number of series."""
    complete = _inner_complete(results, models)
    if not complete:
        return None, 1.0
    scores = {m: float(np.mean([metrics.crps_from_paths(r["inner_truth"], r["inner"][m]) / r["inner_scale"] for r in complete]))
              for m in models}
    return shrunk_weights(scores, len(complete))


def pooled_pool(results: list[dict], models: tuple[str, ...]) -> tuple[list[str], dict[str, float]]:
    """(members kept, relative errors): forecast pooling (`ensemble.pool`) on the inner holdouts,
    one case per series."""
    complete = _inner_complete(results, models)
    errors = {m: [float(np.mean(np.abs(np.mean(r["inner"][m], axis=0) - r["inner_truth"]))) for r in complete] for m in models}
    return pool(relative_errors(errors), len(complete))


def pooled_point_rule(results: list[dict], weights: dict[str, float], models: tuple[str, ...]) -> tuple[str, dict[str, float]]:
    """The point rule (weighted median or mean of member points) with the lower mean scaled MAE on
    the inner holdouts."""
    names = sorted(m for m in models if weights[m] > 0)
    cases = []
    for r in _inner_complete(results, models):
        points = np.array([np.mean(r["inner"][m], axis=0) for m in names])
        cases.append((points, np.array([weights[m] for m in names]), r["inner_truth"], r["inner_scale"]))
    return choose_point_rule(cases)


def inner_ensembles(results: list[dict], weights, seed: int, point_rule: str, key: str = "inner",
                    combinations: tuple[str, ...] = COMBINATIONS) -> dict[str, dict[str, tuple]]:
    """{combination: {series id: (model space, ensemble paths)}} on every series' held-back origin
    `key`, made once for choosing the combination and calibrating it."""
    out = {how: {} for how in combinations}
    for r in results:
        if r.get(key) is None:
            continue
        space, _ = _space(r[key + "_truth"])
        for how in combinations:
            out[how][r["id"]] = (space, combine(r[key], weights, rng_for(seed, r["id"], "ensemble:" + key), how, space,
                                                point_rule)[1])
    return out


def pooled_combination(results: list[dict], ensembles: dict[str, dict[str, tuple]]) -> tuple[str, dict[str, float]]:
    """The combination with the lower mean scaled interval score (MSIS) of the raw ensemble on the
    inner holdouts, pooled over series; and both scores."""
    msis = {}
    for how in COMBINATIONS:
        scores = []
        for r in results:
            if r["id"] not in ensembles[how] or not np.isfinite(r.get("inner_scale", np.nan)):
                continue
            space, ens = ensembles[how][r["id"]]
            lo, hi = metrics.quantile_band(space.inverse(ens), 95)
            scores.append(metrics.winkler_score(r["inner_truth"], lo, hi, 95) / r["inner_scale"])
        msis[how] = float(np.mean(scores)) if scores else np.inf
    return min(COMBINATIONS, key=lambda k: (msis[k], k != DEFAULT_COMBINATION)), msis


def pooled_factors(results: list[dict], ensembles: dict[str, dict[str, tuple]], h: int) -> list[dict]:
    """Per-horizon conformal factors of the chosen ensemble from every series' held-back origins
    (`ensembles`: origin key -> series id -> (model space, paths))."""
    scores = [[] for _ in range(h)]
    for key, by_id in ensembles.items():
        for r in results:
            if r["id"] not in by_id:
                continue
            space, ens = by_id[r["id"]]
            truth = space.forward_inside(r[key + "_truth"])
            for k in range(min(h, ens.shape[1])):
                scores[k].append(calibration.required_scale(truth[k], ens[:, k]))
    out = []
    for k, sc in enumerate(scores):
        factor, rule = calibration.quantile_factor(sc)
        out.append({"h": k + 1, "scores": len(sc), "infinite": int(np.sum(~np.isfinite(sc))), "factor": factor, "rule": rule})
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


def validate(series: list[Series], models: tuple[str, ...], seed: int, executor=None, progress=None,
             procedure: str = "pooled", spec: BacktestSpec | None = None) -> tuple[list[dict], dict]:
    if procedure not in PROCEDURES:
        raise InvalidInput(f"procedure {procedure!r} is not one of {', '.join(PROCEDURES)}", "procedure")
    if spec is None:
        from smfcast.engine.headline import EngineConfig
        cfg = EngineConfig()
        spec = BacktestSpec(cfg.backtest_h, cfg.backtest_windows)
    seasons = {s.season_length for s in series}
    if len(seasons) == 1:  # one kind of data: the members that fit it (a mixed file keeps all, with fallbacks)
        models = members_for(models, seasons.pop())
    tasks = [(s, models, seed, procedure, spec) for s in series]
    results = []
    for r in (executor.map(forecast_series, tasks) if executor else map(forecast_series, tasks)):
        results.append(r)
        if progress:
            progress()
    by_id = {s.id: s for s in series}
    excluded = {r["id"]: "; ".join(f"{k}: {v}" for k, v in r["failures"].items()) for r in results if not r["paths"]}
    kept = [r for r in results if r["paths"]]
    h_max = max(len(s.test) for s in series)
    info = {"procedure": procedure, "models": list(models), "excluded": excluded, "scales": _count(r["scale"] for r in kept),
            "member_failures": _count(k for r in kept for k in r["failures"]),
            "benchmark_fallbacks": _count(k for r in kept for k in r["benchmark_fallback"])}
    table = _Table()
    if procedure == "pooled":
        members, relative = pooled_pool(kept, models)
        weights, lam = pooled_weights(kept, tuple(members))
        weights = pooled(weights, list(models), members)
        point_rule, point_scores = pooled_point_rule(kept, weights, models)
        ensembles = inner_ensembles(kept, weights, seed, point_rule)
        how, inner_msis = pooled_combination(kept, ensembles)
        later = {key: inner_ensembles(kept, weights, seed, point_rule, key, (how,))[how] for key in INNER_ORIGINS[1:]}
        horizons = pooled_factors(kept, {"inner": ensembles[how], **later}, h_max)
        factors = [hz["factor"] for hz in horizons]
        info.update({"pool": members, "relative_errors": relative, "pool_tolerance": POOL_TOLERANCE, "point_rule": point_rule, "point_rule_inner_mase": point_scores,
                     "weights": weights, "shrinkage": lam, "combination": how, "combination_inner_msis": inner_msis,
                     "calibration": horizons, "calibration_factors": factors})
    for r in kept:
        s = by_id[r["id"]]
        secs = r["seconds"]["learning"] + sum(r["seconds"].get(name, 0.0) for name in models)
        for name in models:
            if name in r["paths"]:
                table.add(name, s, _path_bands(r["paths"][name], np.mean(r["paths"][name], axis=0)), r["seconds"][name])
            else:
                table.add(name, s, r["bands"]["random walk with drift"], 0.0, fallback=True)
        space, _ = _space(s.train)
        natural, z = r["paths"], {k: space.forward_inside(p) for k, p in r["paths"].items()}
        rng = lambda label: rng_for(seed, s.id, label)  # noqa: E731
        if procedure == "pooled":
            # older ensemble: the path mixture, point = its median
            table.add("ensemble (mixture, equal)", s, _path_bands(space.inverse(mix(z, None, rng(ENSEMBLE)))), secs)
            table.add("ensemble (mixture, weighted)", s, _path_bands(space.inverse(mix(z, weights, rng(ENSEMBLE)))), secs)
            for label, w, rule in (("ensemble (equal weights)", None, "median"), ("ensemble", weights, point_rule)):
                point, ens = combine(natural, w, rng(ENSEMBLE), how, space, rule)
                table.add(label, s, _path_bands(space.inverse(ens), space.inverse(point)), secs)
            # (point, ens) are the weighted ensemble's from the last pass: calibrate those
            served = calibration.widen(ens, factors[: ens.shape[1]], space, s.train)[0]
            table.add("ensemble (calibrated)", s, _path_bands(space.inverse(served), space.inverse(point)), secs)
        else:
            point, ens = combine(natural, None, rng(ENSEMBLE), r["learned"]["combination"], space)
            table.add("ensemble (equal weights)", s, _path_bands(space.inverse(ens), space.inverse(point)), secs)
            for label, key in (("ensemble", "raw"), ("ensemble (calibrated)", "calibrated")):
                point, paths = r["served"][key]
                table.add(label, s, _path_bands(paths, point), secs)
        for name, b in r["bands"].items():
            table.add(name, s, b, r["seconds"].get(name, 0.0), fallback=name in r["benchmark_fallback"])
    order = list(models) + ["ensemble (mixture, equal)", "ensemble (mixture, weighted)", "ensemble (equal weights)", "ensemble",
                            "ensemble (calibrated)"] + list(BENCHMARKS)
    if procedure == "run":
        info["run_status"] = _count(r["learned"]["status"].split(" (")[0] for r in kept if r.get("learned"))
        info["combinations"] = _count(r["learned"]["combination"] for r in kept if r.get("learned"))
        info["point_rules"] = _count(r["learned"]["point_rule"] for r in kept if r.get("learned"))
        info["left_out"] = _count(m for r in kept if r.get("learned") and r["learned"]["pool"] for m in models
                                  if m not in r["learned"]["pool"] and m in r["paths"])
    return table.rows(order), info


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items()))

