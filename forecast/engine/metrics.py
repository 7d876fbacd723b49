"""Forecast accuracy in three families: point, interval and distribution.

Inputs are array-likes of equal shape (1-D per series, or 2-D: then averaged over everything).
Definitions follow the competitions the anchors are measured on (M3, M4), so our figures can be
set beside published ones.
"""

from __future__ import annotations

import numpy as np


def _pair(y, yhat, names=("y", "yhat")):
    y, yhat = np.asarray(y, dtype=float), np.asarray(yhat, dtype=float)
    if y.shape != yhat.shape:
        raise ValueError(f"{names[0]} and {names[1]} differ in shape: {y.shape} vs {yhat.shape}")
    if y.size == 0:
        raise ValueError(f"{names[0]} is empty")
    return y, yhat


def _alpha(level) -> float:
    level = float(level)
    if not 0 < level < 100:
        raise ValueError(f"level must be a percentage in (0, 100), got {level:g}")
    return 1.0 - level / 100.0


# --- point ------------------------------------------------------------------------------------

def mae(y, yhat) -> float:
    y, yhat = _pair(y, yhat)
    return float(np.mean(np.abs(y - yhat)))


def rmse(y, yhat) -> float:
    y, yhat = _pair(y, yhat)
    return float(np.sqrt(np.mean((y - yhat) ** 2)))


def mape(y, yhat) -> float:
    """Mean absolute percentage error, 0-100 scale; undefined (ValueError) when any y is 0."""
    y, yhat = _pair(y, yhat)
    if np.any(y == 0):
        raise ValueError("MAPE is undefined when an actual value is 0; use sMAPE or MASE")
    return float(np.mean(np.abs(y - yhat) / np.abs(y)) * 100)


def smape(y, yhat) -> float:
    """Symmetric MAPE as in the M3 competition, 0-200 scale: mean of 200|y - f| / (|y| + |f|).
    A point where both are 0 counts as 0 error."""
    y, yhat = _pair(y, yhat)
    denom = np.abs(y) + np.abs(yhat)
    terms = np.divide(200.0 * np.abs(y - yhat), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(np.mean(terms))


def naive_scale(y_train, season_length: int = 1) -> float:
    """In-sample MAE of the (seasonal) naive forecast: the MASE and MSIS denominator."""
    y_train = np.asarray(y_train, dtype=float)
    m = int(season_length)
    if len(y_train) <= m:
        raise ValueError(f"y_train needs more than season_length={m} points to scale by the naive forecast")
    scale = float(np.mean(np.abs(y_train[m:] - y_train[:-m])))
    if scale == 0:
        raise ValueError("the naive in-sample error is 0 (a constant training series): MASE is undefined")
    return scale


def mase(y, yhat, y_train, season_length: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006; M4): MAE / in-sample naive MAE."""
    return mae(y, yhat) / naive_scale(y_train, season_length)


# --- interval ---------------------------------------------------------------------------------

def coverage(y, lo, hi) -> float:
    """Share of actual values inside [lo, hi]."""
    y, lo = _pair(y, lo, ("y", "lo"))
    _, hi = _pair(y, hi, ("y", "hi"))
    return float(np.mean((y >= lo) & (y <= hi)))


def interval_width(lo, hi) -> float:
    lo, hi = _pair(lo, hi, ("lo", "hi"))
    return float(np.mean(hi - lo))


def interval_scores(y, lo, hi, level) -> np.ndarray:
    """Per point: width plus 2/alpha times any miss (the summands of `winkler_score`)."""
    y, lo = _pair(y, lo, ("y", "lo"))
    _, hi = _pair(y, hi, ("y", "hi"))
    a = _alpha(level)
    return (hi - lo) + (2 / a) * (lo - y) * (y < lo) + (2 / a) * (y - hi) * (y > hi)


def winkler_score(y, lo, hi, level) -> float:
    """Interval score (Winkler 1972; Gneiting & Raftery 2007): width plus 2/alpha times any miss."""
    return float(np.mean(interval_scores(y, lo, hi, level)))


def msis(y, lo, hi, y_train, level=95, season_length: int = 1) -> float:
    """Mean scaled interval score (M4 competition): interval score / in-sample naive MAE."""
    return winkler_score(y, lo, hi, level) / naive_scale(y_train, season_length)


# --- distribution -----------------------------------------------------------------------------

def crps_per_horizon(y, paths) -> np.ndarray:
    """Sample CRPS per horizon: E|X - y| - E|X - X'| / 2, with the second term from sorted
    samples in O(n log n): E|X - X'| = 2 / n^2 * sum_i (2i - n - 1) x_(i)."""
    paths = np.asarray(paths, dtype=float)
    y = np.asarray(y, dtype=float)
    if paths.ndim != 2 or y.ndim != 1 or paths.shape[1] != y.shape[0]:
        raise ValueError(f"paths must be (n_paths, h) and y (h,): got {paths.shape} and {y.shape}")
    n = paths.shape[0]
    term1 = np.mean(np.abs(paths - y[None, :]), axis=0)
    xs = np.sort(paths, axis=0)
    weights = (2 * np.arange(1, n + 1) - n - 1)[:, None]
    term2 = np.sum(weights * xs, axis=0) / n**2  # = E|X - X'| / 2
    return term1 - term2


def crps_from_paths(y, paths) -> float:
    return float(np.mean(crps_per_horizon(y, paths)))


def quantile_band(paths, level) -> tuple[np.ndarray, np.ndarray]:
    """Central band (lo, hi) per horizon of paths shaped (n_paths, h)."""
    a = _alpha(level)
    lo, hi = np.percentile(np.asarray(paths, dtype=float), [100 * a / 2, 100 * (1 - a / 2)], axis=0)
    return lo, hi
