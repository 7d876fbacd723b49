"""Rolling-origin backtests, accuracy by model and horizon, and band calibration from the errors.

Names follow STYLE.md: `h` steps ahead, `n_windows` origins, `step_size` between them; the output is
long, one row per (model, cutoff, horizon) with `cutoff`, `y` and the forecast columns.

Calibration: published evidence (M4, the tourism competition) and our own measurements show
ARIMA/ETS/Theta bands on short annual series cover far less than nominal. From the backtest we
take, per horizon, the factor by which each window's 95% band would have had to be stretched
around its median to contain the actual value, and use the conformal quantile of those factors
(the ceil((n+1) 0.95)-th smallest) to stretch future paths around their median in model space.
With fewer than `MIN_CALIBRATION_POINTS` errors at a horizon there is nothing honest to learn from,
and the output says "uncalibrated" instead of pretending.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast.engine import metrics
from forecast.engine.ensemble import mix
from forecast.models import make_model
from forecast.registry.transforms import Transform
from forecast.seeds import rng_for

MIN_CALIBRATION_POINTS = 5
CAL_LEVEL = 95
LEVELS = (80, 95)


@dataclass(frozen=True)
class BacktestSpec:
    h: int
    n_windows: int
    step_size: int = 1

    def cutoffs(self, n: int, min_train: int) -> list[int]:
        """Training lengths for each window (the last ends at n - h), dropping windows too short."""
        lengths = [n - self.h - i * self.step_size for i in range(self.n_windows)]
        return sorted(length for length in lengths if length >= min_train)


def cross_validation(z: np.ndarray, spec: BacktestSpec, models: tuple[str, ...], season_length: int, n_paths: int,
                     seed: int, label: str, min_train: int = 6) -> tuple[dict, list[int], dict[str, str]]:
    """Model-space paths for every window: {model: [(train_len, paths (n_paths, h))]}, cutoffs,
    and failures. The ensemble is the equal mixture of the members that fitted in that window."""
    cutoffs = spec.cutoffs(len(z), min_train)
    out, failures = {m: [] for m in models + ("ensemble",)}, {}
    for n in cutoffs:
        window = {}
        for name in models:
            try:
                paths = make_model(name, season_length).fit(z[:n]).sample(spec.h, n_paths, rng_for(seed, label, name, str(n)))
                window[name] = paths
                out[name].append((n, paths))
            except Exception as exc:  # noqa: BLE001 - one failed window must not lose the others
                failures[f"{name}@{n}"] = f"{type(exc).__name__}: {exc}"
        if window:
            out["ensemble"].append((n, mix(window, None, rng_for(seed, label, "ensemble", str(n)))))
    return out, cutoffs, failures


def required_scale(z_actual: float, paths_k: np.ndarray, level: int = CAL_LEVEL) -> float:
    """How much the central band of `paths_k` (one horizon) must stretch around its median to hold
    the actual value; 0 when the median is exact."""
    med = np.median(paths_k)
    lo, hi = np.percentile(paths_k, [50 - level / 2, 50 + level / 2])
    if z_actual >= med:
        half = hi - med
    else:
        half = med - lo
    gap = abs(z_actual - med)
    if half <= 1e-12:
        return np.inf if gap > 1e-12 else 0.0
    return float(gap / half)


def conformal_quantile(scores: list[float], level: int = CAL_LEVEL) -> float | None:
    """The ceil((n+1) level)-th smallest score (split-conformal), or None below
    `MIN_CALIBRATION_POINTS` scores."""
    if len(scores) < MIN_CALIBRATION_POINTS:
        return None
    rank = min(int(np.ceil((len(scores) + 1) * level / 100)), len(scores))
    return float(np.sort(scores)[rank - 1])


def calibration_factors(windows: list[tuple[int, np.ndarray]], z: np.ndarray, h: int) -> dict:
    """Per-horizon conformal stretch factors for the 95% band, or None where too few points."""
    factors, counts = [], []
    for k in range(h):
        scores = [required_scale(z[n + k], paths[:, k]) for n, paths in windows if n + k < len(z)]
        counts.append(len(scores))
        factors.append(conformal_quantile(scores))
    return {"level": CAL_LEVEL, "factors": factors, "points": counts,
            "status": "calibrated" if all(f is not None for f in factors) else
            ("partly calibrated" if any(f is not None for f in factors) else "uncalibrated: too little history")}


def apply_calibration(paths: np.ndarray, factors: list) -> np.ndarray:
    """Stretch paths around their per-horizon median; horizons beyond the backtest use the last
    known factor, horizons without one are left as they are."""
    out = np.array(paths, dtype=float, copy=True)
    known = [f for f in factors if f is not None]
    if not known:
        return out
    med = np.median(out, axis=0)
    for k in range(out.shape[1]):
        f = factors[k] if k < len(factors) else factors[-1]
        if f is None or not np.isfinite(f):
            continue
        out[:, k] = med[k] + f * (out[:, k] - med[k])
    return out


def evaluate(z: np.ndarray, windows: dict, transform: Transform, season_length: int, calibration: dict | None = None) -> tuple[list[dict], list[dict]]:
    """Long rows (one per model, cutoff, horizon) and a summary row per model, on the natural scale."""
    y = transform.inverse(z)
    rows, summary = [], []
    for model, items in windows.items():
        if not items:
            continue
        ys, meds, bands, crps, scales = [], [], {lv: ([], []) for lv in LEVELS}, [], []
        for n, paths in items:
            h = min(paths.shape[1], len(z) - n)
            nat = transform.inverse(paths[:, :h])
            actual = y[n:n + h]
            crps.append(metrics.crps_per_horizon(actual, nat))
            med = np.median(nat, axis=0)
            scales.append(metrics.naive_scale(y[:n], season_length if n > season_length else 1) if np.ptp(y[:n]) > 0 else np.nan)
            for k in range(h):
                row = {"model": model, "cutoff": n, "horizon": k + 1, "y": float(actual[k]), "mean": float(nat[:, k].mean()),
                       "median": float(med[k])}
                for lv in LEVELS:
                    lo, hi = metrics.quantile_band(nat[:, k:k + 1], lv)
                    row[f"lo-{lv}"], row[f"hi-{lv}"] = float(lo[0]), float(hi[0])
                rows.append(row)
            ys.append(actual)
            meds.append(med)
            for lv in LEVELS:
                lo, hi = metrics.quantile_band(nat, lv)
                bands[lv][0].append(lo)
                bands[lv][1].append(hi)
        yy, mm = np.concatenate(ys), np.concatenate(meds)
        scale = float(np.nanmean(scales)) if np.any(np.isfinite(scales)) else np.nan
        s = {"model": model, "windows": len(items), "points": int(len(yy)), "mae": metrics.mae(yy, mm), "rmse": metrics.rmse(yy, mm),
             "mape": metrics.mape(yy, mm) if np.all(yy != 0) else None, "smape": metrics.smape(yy, mm),
             "mase": metrics.mae(yy, mm) / scale if np.isfinite(scale) else None, "crps": float(np.mean(np.concatenate(crps)))}
        for lv in LEVELS:
            lo, hi = np.concatenate(bands[lv][0]), np.concatenate(bands[lv][1])
            s[f"coverage-{lv}"] = metrics.coverage(yy, lo, hi)
            s[f"width-{lv}"] = metrics.interval_width(lo, hi)
            s[f"winkler-{lv}"] = metrics.winkler_score(yy, lo, hi, lv)
        s["msis"] = s["winkler-95"] / scale if np.isfinite(scale) else None
        summary.append(s)
    return rows, summary


def inverse_square_weights(scores: dict[str, float]) -> dict[str, float] | None:
    """Weights proportional to 1 / score^2 (Bates & Granger's inverse mean squared error rule, with
    CRPS as the error), or None when fewer than two members were scored."""
    scores = {m: v for m, v in scores.items() if v is not None and np.isfinite(v) and v > 0}
    if len(scores) < 2:
        return None
    inv = {m: 1.0 / v ** 2 for m, v in scores.items()}
    total = sum(inv.values())
    return {m: v / total for m, v in inv.items()}


def weights_from_summary(summary: list[dict], members: tuple[str, ...]) -> dict[str, float] | None:
    """Ensemble weights from each member's backtest CRPS, or None when fewer than two were scored."""
    return inverse_square_weights({s["model"]: s["crps"] for s in summary if s["model"] in members})


def leave_one_out_calibrated(windows: list[tuple[int, np.ndarray]], z: np.ndarray, h: int, rule=None) -> list[tuple[int, np.ndarray]]:
    """Each window's paths stretched by factors learned from the *other* windows (passed through
    `rule` when given, as a run applies them), so the calibrated coverage reported is out of sample."""
    out = []
    for i, (n, paths) in enumerate(windows):
        others = windows[:i] + windows[i + 1:]
        factors = calibration_factors(others, z, h)["factors"]
        out.append((n, apply_calibration(paths, rule(factors) if rule else factors)))
    return out


def origins(rows: list[dict], grid: list[str], model: str = "ensemble") -> list[dict]:
    """One model's forecasts from each origin, labelled on the series' grid (`grid[i]` names the
    i-th regular period), in the shape `charts.backtest_chart` draws."""
    out = []
    for cutoff in sorted({r["cutoff"] for r in rows if r["model"] == model}):
        mine = [r for r in rows if r["model"] == model and r["cutoff"] == cutoff]
        out.append({"origin": grid[cutoff - 1], "periods": [grid[cutoff - 1 + r["horizon"]] for r in mine],
                    "median": [r["median"] for r in mine], "lo": [r["lo-80"] for r in mine], "hi": [r["hi-80"] for r in mine]})
    return out


def learn(z: np.ndarray, transform: Transform, season_length: int, models: tuple[str, ...], spec: BacktestSpec,
          n_paths: int, seed: int, label: str) -> tuple[dict[str, float] | None, list | None, dict]:
    """What a run takes from backtesting the series it fits: member weights (None: equal), the
    ensemble's per-horizon calibration factors (None: too little history), and a record of both
    with the raw and the out-of-sample calibrated coverage of the weighted ensemble."""
    windows, cutoffs, failures = cross_validation(z, spec, models, season_length, n_paths, seed, label)
    members = {m: w for m, w in windows.items() if m != "ensemble" and w}
    if not cutoffs or not members:
        return None, None, {"status": f"uncalibrated: {len(z)} points, too few for one backtest window of h={spec.h}",
                            "weighting": "equal: no backtest window", "h": spec.h, "n_windows": 0}
    _, summary = evaluate(z, members, transform, season_length)
    weights = weights_from_summary(summary, tuple(members))
    by_cutoff: dict[int, dict[str, np.ndarray]] = {}
    for m, items in members.items():
        for n, paths in items:
            by_cutoff.setdefault(n, {})[m] = paths
    ens = [(n, mix(by_cutoff[n], weights, rng_for(seed, label, "ensemble", str(n)))) for n in sorted(by_cutoff)]
    calibration = calibration_factors(ens, z, spec.h)
    _, (raw,) = evaluate(z, {"ensemble": ens}, transform, season_length)
    _, (cal,) = evaluate(z, {"ensemble": leave_one_out_calibrated(ens, z, spec.h, widening_only)}, transform, season_length)
    record = {"status": calibration["status"], "h": spec.h, "n_windows": len(cutoffs), "step_size": spec.step_size,
              "training_lengths": cutoffs, "paths": n_paths,
              "weighting": "backtest: 1 / CRPS^2" if weights else "equal: fewer than two members scored",
              "crps": {s["model"]: s["crps"] for s in summary},
              "factors_conformal": calibration["factors"], "points": calibration["points"], "level": calibration["level"],
              "coverage_raw": {str(lv): raw[f"coverage-{lv}"] for lv in LEVELS},
              "coverage_calibrated_out_of_sample": {str(lv): cal[f"coverage-{lv}"] for lv in LEVELS},
              "beyond_h": f"horizons past {spec.h} steps use the factor of step {spec.h}",
              "failures": failures}
    applied = widening_only(calibration["factors"])
    record["factors_applied"] = applied
    return weights, (applied if any(f is not None for f in applied) else None), record


def widening_only(factors: list) -> list:
    """The factors a run applies: never below 1 and never falling with the horizon. A handful of
    windows whose outcomes all fell inside the band is weak evidence that the band is too wide,
    and a narrower band at a longer horizon is an artefact of few points, not a finding."""
    out, running = [], 1.0
    for f in factors:
        if f is None or not np.isfinite(f):
            out.append(None)
            continue
        running = max(running, f)
        out.append(running)
    return out


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


def backtest_headlines(reg, spec: BacktestSpec, models: tuple[str, ...], n_paths: int, seed: int,
                       metric_names=None, progress=None, executor=None) -> list[SeriesBacktest]:
    """Backtest the series every headline metric is forecast from: the national counterpart (the
    provincial series are too short for even one window) and the provincial one where it allows."""
    from forecast.registry.grid import regularize
    from forecast.registry.series import UNFIT_QUALITIES
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
            if not spec.cutoffs(len(series.z), 6):
                jobs.append((metric, sid, None, None, f"{sid}: {len(series.z)} points, too few for one window of h={spec.h}"))
                continue
            jobs.append((metric, sid, series, meta.transformer, ""))
    tasks = [(metric, sid, series, transform, spec, models, n_paths, seed) for metric, sid, series, transform, note in jobs if series is not None]
    results = list((executor.map if executor else map)(_backtest_one, tasks))
    done = {(r.metric, r.series_id): r for r in results}
    out = []
    for metric, sid, series, _, note in jobs:
        if progress:
            progress(sid)
        out.append(done[(metric, sid)] if series is not None else SeriesBacktest(sid, metric, [], [], {}, None, {}, note))
    return out


def _backtest_one(task) -> SeriesBacktest:
    metric, sid, series, transform, spec, models, n_paths, seed = task
    windows, cutoffs, failures = cross_validation(series.z, spec, models, series.season_length, n_paths, seed, sid)
    rows, summary = evaluate(series.z, windows, transform, series.season_length)
    calibrated = {f"{m}-calibrated": leave_one_out_calibrated(w, series.z, spec.h) for m, w in windows.items() if w}
    cal_rows, cal_summary = evaluate(series.z, calibrated, transform, series.season_length)
    calibration = {m: calibration_factors(w, series.z, spec.h) for m, w in windows.items() if w}
    for r in rows + cal_rows:
        r["series_id"] = sid
    weights = weights_from_summary(summary, models)
    note = f"{len(cutoffs)} windows, training lengths {cutoffs[0]}–{cutoffs[-1]}, {series.filled} gaps interpolated"
    return SeriesBacktest(sid, metric, rows + cal_rows, summary + cal_summary, calibration, weights, failures, note)


def run_and_store(reg, spec: BacktestSpec, models: tuple[str, ...], n_paths: int, seed: int, store, metric_names=None,
                  executor=None, progress=None) -> tuple[str, list[SeriesBacktest], dict]:
    """Backtest the headline series and keep the result in the run store under an id that hashes
    the data, the spec, the models, the seed and the package version (same inputs, same id)."""
    import hashlib
    import json

    from forecast import __version__
    key = {"data": reg.fingerprint, "h": spec.h, "n_windows": spec.n_windows, "step_size": spec.step_size,
           "models": list(models), "paths": n_paths, "seed": seed, "metrics": list(metric_names) if metric_names else None,
           "version": __version__}
    backtest_id = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    results = backtest_headlines(reg, spec, models, n_paths, seed, metric_names, progress=progress, executor=executor)
    summary = [{"series_id": r.series_id, "metric": r.metric, **s} for r in results for s in r.summary]
    result = {"summary": summary, "calibration": {r.series_id: r.calibration for r in results},
              "weights": {r.series_id: r.weights for r in results}, "failures": {r.series_id: r.failures for r in results},
              "notes": {r.series_id: r.note for r in results}, "rows": [row for r in results for row in r.rows]}
    store.save_backtest(backtest_id, key, result)
    return backtest_id, results, result
