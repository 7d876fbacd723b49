"""Combine members: a weighted median of their point forecasts, and a distribution centred on it.

* The point. The median of a pooled path mixture sits where the sharpest member puts its mass, so
  an overconfident member (Prophet on annual data) pulls it: measured on 81 M3 yearly series, the
  mixture median scored 16.65 sMAPE against 16.08 for the mean of member medians. We publish the
  weighted median of the members' point forecasts instead: robust to one member going astray, and
  a member with less weight than the others cannot move it on its own.
* The distribution, one of two, chosen per series by the interval score of its own backtest (or,
  in validation, pooled over series): the weighted mixture of member paths, which keeps each
  member's spread and adds the disagreement between members; or quantile averaging
  (Vincentization: the weighted mean of the members' quantiles, Lichtendahl, Grushka-Cockayne &
  Winkler 2013), which is sharper. Either is shifted per horizon so that its median is the point.
  Shifts are made in model space (log or logit), so bounds hold.
* The weights. Proportional to 1 / CRPS on training-only evidence (backtest windows, or inner
  holdouts pooled across series), shrunk towards equal in proportion to how little evidence there
  is: lambda = `PRIOR_WINDOWS` / (`PRIOR_WINDOWS` + windows). Eight windows leave half the weight
  equal, so no member is weighted near zero on a handful of windows (the forecast-combination
  puzzle: estimated weights rarely beat equal ones).
"""

from __future__ import annotations

import numpy as np

PRIOR_WINDOWS = 8.0


def normalize_weights(members: list[str], weights: dict[str, float] | None) -> dict[str, float]:
    """Weights for the members present, summing to one; equal when none are given."""
    if not members:
        raise ValueError("an ensemble needs at least one member")
    if not weights:
        return {m: 1.0 / len(members) for m in members}
    raw = {m: max(float(weights.get(m, 0.0)), 0.0) for m in members}
    total = sum(raw.values())
    if total <= 0:
        return {m: 1.0 / len(members) for m in members}
    return {m: w / total for m, w in raw.items()}


def shrunk_weights(scores: dict[str, float], evidence: int, prior: float = PRIOR_WINDOWS) -> tuple[dict[str, float] | None, float]:
    """(weights, lambda): inverse-score weights shrunk towards equal by lambda = prior / (prior +
    evidence); None when fewer than two members have a finite, positive score."""
    scores = {m: float(v) for m, v in scores.items() if v is not None and np.isfinite(v) and v > 0}
    if len(scores) < 2:
        return None, 1.0
    inv = {m: 1.0 / v for m, v in scores.items()}
    total = sum(inv.values())
    lam = prior / (prior + max(evidence, 0))
    k = len(scores)
    return {m: lam / k + (1 - lam) * v / total for m, v in inv.items()}, lam


def weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per column of `values` (members, h): the weighted median (the mid-point where the cumulative
    weight is exactly one half, as the ordinary median does with an even count)."""
    values = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    order = np.argsort(values, axis=0, kind="stable")
    sorted_vals = np.take_along_axis(values, order, axis=0)
    cum = np.cumsum(w[order], axis=0)
    out = np.empty(values.shape[1])
    for j in range(values.shape[1]):
        i = int(np.searchsorted(cum[:, j], 0.5 - 1e-12))
        if abs(cum[i, j] - 0.5) < 1e-12 and i + 1 < len(w):
            out[j] = 0.5 * (sorted_vals[i, j] + sorted_vals[i + 1, j])
        else:
            out[j] = sorted_vals[i, j]
    return out


def allocate(n_paths: int, weights: dict[str, float]) -> dict[str, int]:
    """Paths per member by largest remainder, so counts sum to n_paths exactly and deterministically."""
    names = sorted(weights)
    exact = np.array([weights[m] * n_paths for m in names])
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    for i in order[: n_paths - counts.sum()]:
        counts[i] += 1
    return dict(zip(names, counts.tolist()))


def mix(member_paths: dict[str, np.ndarray], weights: dict[str, float] | None, rng: np.random.Generator) -> np.ndarray:
    """A mixture of member paths with the given weights, shaped like one member's paths."""
    shapes = {p.shape for p in member_paths.values()}
    if len(shapes) != 1:
        raise ValueError(f"member paths differ in shape: {sorted(shapes)}")
    n_paths = shapes.pop()[0]
    counts = allocate(n_paths, normalize_weights(list(member_paths), weights))
    parts = []
    for name in sorted(member_paths):
        k = counts[name]
        if k:
            parts.append(member_paths[name][rng.choice(n_paths, size=k, replace=False)])
    return np.concatenate(parts, axis=0)[rng.permutation(n_paths)]


def quantile_average(member_paths: dict[str, np.ndarray], weights: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Paths whose marginals are the weighted average of the members' quantiles (Vincentization),
    arranged in time by the ranks of the weighted mixture's paths, so each path keeps the
    dependence between horizons that the members' own paths have."""
    names = sorted(member_paths)
    mixed = mix(member_paths, weights, rng)
    ranks = np.argsort(np.argsort(mixed, axis=0, kind="stable"), axis=0, kind="stable")
    averaged = sum(weights[m] * np.sort(member_paths[m], axis=0) for m in names)
    return np.take_along_axis(averaged, ranks, axis=0)


COMBINATIONS = ("mixture", "quantiles")
DEFAULT_COMBINATION = "mixture"  # the lower interval score on the M3 training parts, yearly and quarterly (README, validation)


def combine(member_paths: dict[str, np.ndarray], weights: dict[str, float] | None, rng: np.random.Generator,
            how: str = DEFAULT_COMBINATION, space=None) -> tuple[np.ndarray, np.ndarray]:
    """(point, paths) of the ensemble in model space, from natural-unit member paths.

    A member's point is its path mean in natural units, which is its library's point forecast (the
    conditional mean; for a multiplicative-error ETS the path median sits well below it). Points and
    paths are mapped to model space (`space`, a registry Transform: log or logit, where shifts keep
    bounds; natural units when None) before the weighted median and the recentring.
    `how`: "mixture" (the pooled paths) or "quantiles" (Vincentized members)."""
    if how not in COMBINATIONS:
        raise ValueError(f"combination {how!r} is not one of {', '.join(COMBINATIONS)}")
    forward = space.forward_inside if space is not None else (lambda x: np.asarray(x, dtype=float))
    w = normalize_weights(list(member_paths), weights)
    names = sorted(member_paths)
    z = {m: forward(member_paths[m]) for m in names}
    points = np.array([forward(np.mean(member_paths[m], axis=0)) for m in names])
    point = weighted_median(points, np.array([w[m] for m in names]))
    paths = quantile_average(z, w, rng) if how == "quantiles" else mix(z, w, rng)
    return point, paths + (point - np.median(paths, axis=0))[None, :]
