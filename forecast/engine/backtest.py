"""Rolling-origin backtests, and what a run learns from its own: scale, weights, calibration.

Names follow statsforecast's cross-validation: `h` steps ahead, `n_windows` origins, `step_size`
between them; long output, one row per (model, cutoff, horizon) with `cutoff`, `y` and the
forecast columns. Points that were interpolated to fill a gap in the published series are never
scored (`RegularSeries.truth` is NaN there).

`learn` is what every run does with the series it fits: choose the fitting scale
(`scales.choose`, on the backtest of the fast members), pool the members whose backtest errors are
not far above the typical member's (`ensemble.pool`), weight them by their backtest CRPS (shrunk
towards equal, `ensemble.shrunk_weights`), choose the combined point (weighted median or mean, the
lower backtest MAE) and how to combine their distributions (the lower interval score of the raw
ensemble), learn per-horizon calibration factors for the weighted
ensemble (`calibration`), and compare the served ensemble with a random walk with drift on the same
windows: coverage, mean 95% width and interval score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from smfcast.defaults import LEVELS, members_for, rounded
from smfcast.engine import calibration, metrics
from smfcast.engine.ensemble import (
    COMBINATIONS,
    DEFAULT_COMBINATION,
    DEFAULT_POINT_RULE,
    choose_point_rule,
    combine,
    pool,
    pooled,
    relative_errors,
    shrunk_weights,
)
from smfcast.engine.members import fit_members
from smfcast.engine.scales import Scale, ScaleChoice, guerrero_lambda, usable
from smfcast.engine.scales import choose as choose_scale
from smfcast.registry.grid import RegularSeries
from smfcast.seeds import rng_for

MIN_TRAIN = 6
FAST_MEMBERS = ("ets", "theta")  # cheap enough to backtest on every candidate scale
BENCHMARK = "drift"


@dataclass(frozen=True)
class BacktestSpec:
    h: int
    n_windows: int
    step_size: int = 1

    def cutoffs(self, n: int, min_train: int = MIN_TRAIN) -> list[int]:
        """Training lengths for each window (the last ends at n - h), dropping windows too short."""
        lengths = [n - self.h - i * self.step_size for i in range(self.n_windows)]
        return sorted(length for length in lengths if length >= min_train)


Windows = dict[str, list[tuple[int, np.ndarray]]]  # model -> [(training length, natural paths (n_paths, h))]


def by_cutoff(windows: Windows) -> dict[int, dict[str, np.ndarray]]:
    """The same windows keyed the other way: training length -> {model: paths}, in order."""
    out: dict[int, dict[str, np.ndarray]] = {}
    for model, items in windows.items():
        for n, paths in items:
            out.setdefault(n, {})[model] = paths
    return dict(sorted(out.items()))


def cross_validation(y: np.ndarray, spec: BacktestSpec, models: tuple[str, ...], season_length: int, n_paths: int,
                     seed: int, label: str, scale: Scale) -> tuple[Windows, list[int], dict[str, str]]:
    """Natural-unit member paths for every window, the training lengths, and failures by model@length."""
    cutoffs = spec.cutoffs(len(y))
    out: Windows = {m: [] for m in models}
    failures = {}
    for n in cutoffs:
        fitted = fit_members(y[:n], season_length, spec.h, models, n_paths, seed, f"{label}@{n}", scale)
        for name, fit in fitted.fits.items():
            out[name].append((n, fit.paths))
        failures.update({f"{name}@{n}": why for name, why in fitted.failures.items()})
    return out, cutoffs, failures


def _naive_scale(y_train: np.ndarray, season_length: int) -> float:
    m = season_length if len(y_train) > season_length else 1
    try:
        return metrics.naive_scale(y_train, m)
    except ValueError:
        return np.nan


def window_scores(truth: np.ndarray, y: np.ndarray, items: list[tuple[int, np.ndarray]], season_length: int) -> list[float]:
    """Per window: mean CRPS over its observed horizons, divided by the in-sample naive MAE of its
    training part (so windows and series of different size can be averaged)."""
    out = []
    for n, paths in items:
        h = min(paths.shape[1], len(truth) - n)
        actual = truth[n:n + h]
        ok = np.isfinite(actual)
        scale = _naive_scale(y[:n], season_length)
        if not ok.any() or not np.isfinite(scale):
            continue
        out.append(float(np.mean(metrics.crps_per_horizon(actual[ok], paths[:, :h][:, ok]))) / scale)
    return out


def window_errors(truth: np.ndarray, windows: Windows) -> dict[str, list[float]]:
    """Per member, the MAE of its point (path mean) in every window any member has, aligned by
    training length (NaN where the member has no fit or nothing was observed)."""
    def mae(n: int, paths: np.ndarray | None) -> float:
        if paths is None:
            return np.nan
        h = min(paths.shape[1], len(truth) - n)
        actual = truth[n:n + h]
        ok = np.isfinite(actual)
        return float(np.mean(np.abs(paths[:, :h].mean(axis=0)[ok] - actual[ok]))) if ok.any() else np.nan
    cases = by_cutoff(windows)
    return {model: [mae(n, fits.get(model)) for n, fits in cases.items()] for model in windows}


def point_cases(windows: Windows, weights: dict[str, float], truth: np.ndarray, y: np.ndarray,
                season_length: int) -> list[tuple]:
    """The cases `ensemble.choose_point_rule` scores: one per window in which every member fitted."""
    names = sorted(windows)
    cases = []
    for n, fits in by_cutoff(windows).items():
        if len(fits) != len(names):
            continue
        h = min(fits[names[0]].shape[1], len(truth) - n)
        points = np.array([fits[m][:, :h].mean(axis=0) for m in names])
        cases.append((points, np.array([weights[m] for m in names]), truth[n:n + h], _naive_scale(y[:n], season_length)))
    return cases


def evaluate(truth: np.ndarray, y: np.ndarray, windows: Windows, season_length: int) -> tuple[list[dict], list[dict]]:
    """Long rows (one per model, cutoff and observed horizon; `cutoff` the training length) and a
    summary row per model, in natural units, coverage in percent. `truth` is NaN where a point was
    not published; `y` is the filled series the models were trained on (for the MASE/MSIS scale)."""
    rows, summary = [], []
    for model, items in windows.items():
        if not items:
            continue
        acc = {"y": [], "median": [], "crps": [], "scale": [], **{f"{side}-{lv}": [] for lv in LEVELS for side in ("lo", "hi")}}
        for n, paths in items:
            h = min(paths.shape[1], len(truth) - n)
            med = np.median(paths[:, :h], axis=0)
            bands = {lv: metrics.quantile_band(paths[:, :h], lv) for lv in LEVELS}
            scale = _naive_scale(y[:n], season_length)
            for k in range(h):
                actual = truth[n + k]
                if not np.isfinite(actual):
                    continue
                row = {"model": model, "cutoff": n, "horizon": k + 1, "y": float(actual), "mean": float(paths[:, k].mean()),
                       "median": float(med[k])}
                for lv in LEVELS:
                    row[f"lo-{lv}"], row[f"hi-{lv}"] = float(bands[lv][0][k]), float(bands[lv][1][k])
                rows.append(row)
                acc["y"].append(actual)
                acc["median"].append(med[k])
                acc["crps"].append(float(metrics.crps_per_horizon(np.array([actual]), paths[:, k:k + 1])[0]))
                acc["scale"].append(scale)
                for lv in LEVELS:
                    acc[f"lo-{lv}"].append(row[f"lo-{lv}"])
                    acc[f"hi-{lv}"].append(row[f"hi-{lv}"])
        if not acc["y"]:
            continue
        yy, mm, sc = np.array(acc["y"]), np.array(acc["median"]), np.array(acc["scale"])
        s = {"model": model, "windows": len(items), "points": int(len(yy)), "mae": metrics.mae(yy, mm), "rmse": metrics.rmse(yy, mm),
             "mape": metrics.mape(yy, mm) if np.all(yy != 0) else None, "smape": metrics.smape(yy, mm),
             "mase": float(np.nanmean(np.abs(yy - mm) / sc)) if np.any(np.isfinite(sc)) else None,
             "crps": float(np.mean(acc["crps"]))}
        for lv in LEVELS:
            lo, hi = np.array(acc[f"lo-{lv}"]), np.array(acc[f"hi-{lv}"])
            s[f"coverage-{lv}"] = 100 * metrics.coverage(yy, lo, hi)  # percent: comparable with the level
            s[f"width-{lv}"] = metrics.interval_width(lo, hi)
            s[f"winkler-{lv}"] = metrics.winkler_score(yy, lo, hi, lv)
        scores95 = metrics.interval_scores(yy, np.array(acc["lo-95"]), np.array(acc["hi-95"]), 95)
        s["msis"] = float(np.nanmean(scores95 / sc)) if np.any(np.isfinite(sc)) else None
        summary.append(s)
    return rows, summary


def scale_evidence(series: RegularSeries, spec: BacktestSpec, season_length: int, seed: int, label: str,
                   lower: float, upper: float) -> dict[str, list[float]]:
    """Per candidate scale, the per-window scaled CRPS of the fast members' equal mixture."""
    y, truth = series.y, series.truth
    evidence = {}
    for kind in ("raw", "log", "boxcox"):
        if not usable(kind, y, lower, upper):
            continue
        scale = Scale(kind, lam=guerrero_lambda(y, season_length) if kind == "boxcox" else 1.0, lower=lower, upper=upper)
        windows, _, _ = cross_validation(y, spec, FAST_MEMBERS, season_length, 200, seed, f"{label}:scale", scale)
        mixed = [(n, np.concatenate([fits[m] for m in FAST_MEMBERS], axis=0)) for n, fits in by_cutoff(windows).items()
                 if len(fits) == len(FAST_MEMBERS)]
        evidence[kind] = window_scores(truth, y, mixed, season_length)
    if "raw" in evidence:
        n = len(evidence["raw"])
        evidence = {k: v for k, v in evidence.items() if len(v) == n}
    return evidence


@dataclass
class Learned:
    """What a run takes from its backtest."""

    scale: ScaleChoice
    weights: dict[str, float] | None
    factors: list | None  # per backtested horizon, as applied (widening only); None: uncalibrated
    combination: str = DEFAULT_COMBINATION  # how member distributions are combined ("mixture" or "quantiles")
    point_rule: str = DEFAULT_POINT_RULE  # how member points are combined ("median" or "mean")
    record: dict = field(default_factory=dict)
    windows: Windows = field(default_factory=dict, repr=False)  # natural-unit paths: members, ensemble (raw, served), drift
    failures: dict[str, str] = field(default_factory=dict)


def _ensemble_windows(windows: Windows, weights, transform, seed: int, label: str, how: str,
                      point_rule: str) -> list[tuple[int, np.ndarray]]:
    """The weighted, recentred ensemble of each window in model space (log/logit)."""
    return [(n, combine(members, weights, rng_for(seed, label, "ensemble", str(n)), how, transform, point_rule)[1])
            for n, members in by_cutoff(windows).items()]


def _interval_summary(truth: np.ndarray, items: list[tuple[int, np.ndarray]], y: np.ndarray, season_length: int) -> dict:
    """Coverage (percent), mean width and mean interval score of the 95% bands (natural units), and
    the interval score scaled by each window's naive MAE (MSIS)."""
    _, summary = evaluate(truth, y, {"m": items}, season_length)
    if not summary:
        return {}
    s = summary[0]
    return {"coverage-95": s["coverage-95"], "width-95": s["width-95"], "interval_score-95": s["winkler-95"],
            "msis": s["msis"], "coverage-80": s["coverage-80"], "points": s["points"]}


def learn(series: RegularSeries, season_length: int, models: tuple[str, ...], spec: BacktestSpec, n_paths: int, seed: int,
          label: str, lower: float, upper: float, h_future: int) -> Learned:
    """Scale, member weights, calibration factors and the random-walk comparison from a
    rolling-origin backtest of the series a run fits (see the module docstring)."""
    y, truth, transform = series.y, series.truth, series.transform
    models = members_for(models, season_length)
    cutoffs = spec.cutoffs(len(y))
    if not cutoffs:
        choice = choose_scale(y, lower, upper, h_future, None, season_length)
        return Learned(choice, None, None, DEFAULT_COMBINATION, DEFAULT_POINT_RULE, {
            "status": f"uncalibrated: {len(y)} points, too few for one backtest window of h={spec.h}",
            "weighting": "equal: no backtest window", "h": spec.h, "n_windows": 0, "scale": choice.describe()})
    evidence = scale_evidence(series, spec, season_length, seed, label, lower, upper)
    choice = choose_scale(y, lower, upper, h_future, evidence, season_length)
    # the random walk with drift is the benchmark, and on annual series a member too
    with_benchmark = models if BENCHMARK in models else models + (BENCHMARK,)
    windows, cutoffs, failures = cross_validation(y, spec, with_benchmark, season_length, n_paths, seed, label, choice.scale)
    bench = windows[BENCHMARK] if BENCHMARK in models else windows.pop(BENCHMARK)
    members = {m: w for m, w in windows.items() if w}
    scores = {m: float(np.mean(window_scores(truth, y, w, season_length) or [np.nan])) for m, w in members.items()}
    kept, relative = pool(relative_errors(window_errors(truth, members)), len(cutoffs))
    weights, lam = shrunk_weights({m: scores[m] for m in kept}, len(cutoffs))
    weights = pooled(weights, list(members), kept)
    point_rule, point_scores = choose_point_rule(point_cases(members, weights, truth, y, season_length))
    # the combination whose raw 95% band scored better on these windows (interval score)
    candidates = {how: _ensemble_windows(members, weights, transform, seed, label, how, point_rule) for how in COMBINATIONS}
    interval = {how: _interval_summary(truth, [(n, transform.inverse(p)) for n, p in items], y, season_length).get("interval_score-95", np.inf)
                for how, items in candidates.items()}
    how = min(COMBINATIONS, key=lambda k: (interval[k], k != DEFAULT_COMBINATION))
    ens = candidates[how]
    z_truth = transform.forward_inside(truth)
    z_truth[~np.isfinite(truth)] = np.nan
    learned = calibration.factors_from_windows(ens, z_truth, spec.h)
    conformal = [hz["factor"] for hz in learned["horizons"]]
    applied = calibration.run_rule(learned["horizons"])
    loo = calibration.leave_one_out(ens, z_truth, spec.h, calibration.run_rule)
    scored = {**members, "ensemble": [(n, transform.inverse(p)) for n, p in ens],
              "ensemble-calibrated": [(n, transform.inverse(p)) for n, p in loo], BENCHMARK: bench}
    served_raw = _interval_summary(truth, scored["ensemble"], y, season_length)
    served = _interval_summary(truth, scored["ensemble-calibrated"], y, season_length)
    walk = _interval_summary(truth, bench, y, season_length)
    factors_h, labels = calibration.extend(applied, h_future)
    record = {
        "status": learned["status"], "h": spec.h, "n_windows": len(cutoffs), "step_size": spec.step_size,
        "training_lengths": cutoffs, "paths": n_paths, "scale": choice.describe(), "scale_evidence": {k: [round(v, 6) for v in s] for k, s in evidence.items()},
        "weighting": (f"backtest: 1 / CRPS, shrunk towards equal (lambda {lam:.2f})" if lam < 1 else "equal: fewer than two members scored"),
        "pool": kept, "relative_error_shrunk": {m: round(v, 6) for m, v in relative.items()},
        "point_rule": point_rule, "point_rule_scaled_mae": {k: (round(v, 6) if np.isfinite(v) else None) for k, v in point_scores.items()},
        "combination": how, "combination_interval_score": {k: (round(v, 6) if np.isfinite(v) else None) for k, v in interval.items()},
        "crps_scaled": {m: (round(v, 6) if np.isfinite(v) else None) for m, v in scores.items()},
        "level": learned["level"], "horizons": learned["horizons"], "factors_estimated": conformal, "factors_applied": applied,
        "factors_by_step": factors_h, "labels_by_step": labels,
        "unscored_filled_points": int(np.sum(~np.isfinite(truth))),
        "coverage_raw": {k: served_raw.get(f"coverage-{k}") for k in LEVELS},
        "coverage_calibrated_out_of_sample": {k: served.get(f"coverage-{k}") for k in LEVELS},
        "against_random_walk": {"ensemble_served": served, "ensemble_raw": served_raw, "random_walk_with_drift": walk},
        "failures": failures,
    }
    return Learned(choice, weights, applied if any(f is not None for f in applied) else None, how, point_rule, record, scored, failures)


def origins(rows: list[dict], grid: list[str], model: str = "ensemble") -> list[dict]:
    """One model's forecasts from each origin (`cutoff`, the period of the last training point),
    labelled on the series' grid (`grid[i]` names the i-th regular period), in the shape
    `charts.backtest_chart` draws."""
    out = []
    position = {period: i for i, period in enumerate(grid)}
    for cutoff in sorted({r["cutoff"] for r in rows if r["model"] == model}, key=position.__getitem__):
        mine = [r for r in rows if r["model"] == model and r["cutoff"] == cutoff]
        out.append({"origin": cutoff, "periods": [grid[position[cutoff] + r["horizon"]] for r in mine],
                    "median": [r["median"] for r in mine], "lo": [r["lo-80"] for r in mine], "hi": [r["hi-80"] for r in mine]})
    return out


def as_answered(row: dict, series_id: str, series: RegularSeries) -> dict:
    """An `evaluate` row as answers give it: `cutoff` the period of the window's last training
    point, `y` the value as recorded, the forecast columns at `defaults.PRECISION` digits."""
    n = row["cutoff"]
    out = {"series_id": series_id, "model": row["model"], "cutoff": str(series.periods[n - 1]), "horizon": row["horizon"],
           "y": float(series.recorded[n + row["horizon"] - 1]) if series.recorded is not None else row["y"]}
    out.update({k: rounded(v) for k, v in row.items() if k not in out})
    return out
