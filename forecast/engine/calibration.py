"""Band calibration from backtest errors: how much the ensemble's band must stretch to cover.

For each backtest window and horizon, the score is the factor by which the 95% band would have had
to stretch around its median (in model space) to hold the outcome. Per horizon, the factor applied
to future paths is a high quantile of those scores:

* with at least `MIN_CONFORMAL` scores (19 for 95%): the split-conformal quantile, the
  ceil((n+1) 0.95)-th smallest score, which covers 95% in finite samples when scores are exchangeable
  (overlapping backtest windows are not quite: read it as an approximation);
* with `MIN_SCORES` to 18 scores the conformal rank would be the maximum, which promises nothing,
  so we use the half-normal rule instead: if the band has the right shape but the wrong scale c,
  scores are |N(0, c^2)| / 1.96, their 95% quantile is c, and c = 1.96 sqrt(mean(score^2));
* with fewer than `MIN_SCORES`: no factor, and the status says "uncalibrated".

A score is infinite when a band of zero width missed; such scores are counted and reported
(status "degenerate band"), never dropped silently. Horizons beyond the backtested ones reuse
the factor of the last backtested horizon and are labelled "extrapolated".
"""

from __future__ import annotations

import numpy as np

LEVEL = 95
MIN_SCORES = 5


def min_conformal(level: int = LEVEL) -> int:
    """Fewest scores for which the conformal rank ceil((n+1) level) is below n + 1: 19 at 95%."""
    return int(np.ceil(level / (100 - level)))


MIN_CONFORMAL = min_conformal(LEVEL)


def required_scale(actual: float, paths_k: np.ndarray, level: int = LEVEL) -> float:
    """How much the central band of `paths_k` (one horizon, model space) must stretch around its
    median to hold `actual`: 0 when the median is exact, inf when a zero-width band missed."""
    med = np.median(paths_k)
    lo, hi = np.percentile(paths_k, [50 - level / 2, 50 + level / 2])
    half = hi - med if actual >= med else med - lo
    gap = abs(actual - med)
    if half <= 1e-12:
        return np.inf if gap > 1e-12 else 0.0
    return float(gap / half)


def quantile_factor(scores: list[float], level: int = LEVEL) -> tuple[float | None, str]:
    """(factor, rule) from one horizon's scores; see the module docstring for the rules."""
    finite = [s for s in scores if np.isfinite(s)]
    n = len(scores)
    if n < MIN_SCORES:
        return None, f"none: {n} scores < {MIN_SCORES}"
    if n >= min_conformal(level):
        rank = int(np.ceil((n + 1) * level / 100))
        return float(np.sort(np.asarray(scores, dtype=float))[rank - 1]), "conformal"
    if not finite:
        return None, "none: every score infinite"
    from scipy.stats import norm
    z = float(norm.ppf(0.5 + level / 200))
    return z * float(np.sqrt(np.mean(np.square(finite)))), "half-normal"


def factors_from_windows(windows: list[tuple[int, np.ndarray]], truth: np.ndarray, h: int, level: int = LEVEL) -> dict:
    """Per-horizon factors from backtest windows [(training length, paths (n, h))] against the
    model-space truth (NaN where a point was not observed: never scored)."""
    horizons = []
    for k in range(h):
        scores = [required_scale(truth[n + k], paths[:, k], level) for n, paths in windows
                  if n + k < len(truth) and np.isfinite(truth[n + k])]
        factor, rule = quantile_factor(scores, level)
        infinite = int(np.sum(~np.isfinite(scores)))
        horizons.append({"h": k + 1, "scores": len(scores), "infinite": infinite, "factor": factor, "rule": rule})
    return {"level": level, "horizons": horizons, "status": status_of(horizons)}


def status_of(horizons: list[dict]) -> str:
    factors = [hz["factor"] for hz in horizons]
    infinite = sum(hz["infinite"] for hz in horizons)
    if infinite:
        return f"degenerate band: {infinite} zero-width bands missed"
    if all(f is None for f in factors):
        return "uncalibrated: too few backtest scores"
    rules = {hz["rule"] for hz in horizons if hz["factor"] is not None}
    part = "calibrated" if all(f is not None for f in factors) else "partly calibrated"
    return f"{part} ({', '.join(sorted(rules))})"


def widening_only(factors: list) -> list:
    """The factors a run applies: never below 1 and never falling with the horizon. A handful of
    windows whose outcomes all fell inside the band is weak evidence that the band is too wide,
    and a narrower band at a longer horizon is an artefact of few points, not a finding."""
    out, running = [], 1.0
    for f in factors:
        if f is None or not np.isfinite(f):
            out.append(running if running > 1.0 else None)
            continue
        running = max(running, f)
        out.append(running)
    return out


def run_rule(horizons: list[dict]) -> list:
    """What a run applies: each horizon's factor as estimated (conformal or half-normal), never
    below 1, never falling with the horizon. An earlier rule took the half-normal factor's lower
    one-standard-error bound, factor * (1 - 1 / sqrt(2 n)), to widen only as far as a few windows
    surely support; served bands then covered 88.1% of M3 quarterly test points
    (`smfcast validate --procedure run`), short of the 90% a reader can rely on."""
    return widening_only([hz["factor"] for hz in horizons])


def extend(factors: list, h: int) -> tuple[list, list[str]]:
    """Factors for steps 1..h and their labels: backtested steps are "calibrated" (or
    "uncalibrated" without a factor); later steps reuse the last factor and say "extrapolated"."""
    known = list(factors[:h])
    labels = ["calibrated" if f is not None else "uncalibrated" for f in known]
    last = next((f for f in reversed(factors) if f is not None), None)
    while len(known) < h:
        known.append(last)
        labels.append("extrapolated" if last is not None else "uncalibrated")
    return known, labels


def apply(paths: np.ndarray, factors: list) -> np.ndarray:
    """Stretch model-space paths around their per-horizon median by `factors` (one per column;
    None or non-finite leaves that column as it is)."""
    out = np.array(paths, dtype=float, copy=True)
    med = np.median(out, axis=0)
    for k in range(out.shape[1]):
        f = factors[k] if k < len(factors) else None
        if f is None or not np.isfinite(f):
            continue
        out[:, k] = med[k] + f * (out[:, k] - med[k])
    return out


def cap(paths: np.ndarray, factors: list, transform, y: np.ndarray) -> tuple[list, list[int]]:
    """Factors lowered where the stretched 95% band would be more than `EXPLOSIVE_RATIO` times as
    wide as a random walk with drift's on the same series (natural units): the limit members are
    held to, applied to what is served. A few windows with one wild miss against a narrow band give
    a half-normal factor in the hundreds; a band that wide informs nobody. Returns the factors and
    the (1-based) steps that were capped."""
    from smfcast.engine.members import EXPLOSIVE_RATIO, random_walk_width
    steps = len(factors)
    limit = EXPLOSIVE_RATIO * np.maximum(np.nan_to_num(random_walk_width(y, steps), nan=0.0), 1e-3 * float(np.mean(np.abs(y))))
    out, capped = [], []
    for k, f in enumerate(factors):
        if f is None or not np.isfinite(f) or f <= 1:
            out.append(f)
            continue
        col = paths[:, k]
        med = np.median(col)

        def width(g: float) -> float:
            lo, hi = np.percentile(transform.inverse(med + g * (col - med)), [2.5, 97.5])
            return float(hi - lo)
        if width(f) <= limit[k]:
            out.append(f)
            continue
        low, high = 1.0, float(f)
        if width(low) <= limit[k]:
            for _ in range(40):
                mid = 0.5 * (low + high)
                low, high = (mid, high) if width(mid) <= limit[k] else (low, mid)
        out.append(low)
        capped.append(k + 1)
    return out, capped


def widen(paths: np.ndarray, factors: list, transform, y: np.ndarray) -> tuple[np.ndarray, list, list[int]]:
    """The ensemble as served: `paths` stretched by `factors` held to the width limit (`cap`); with
    the factors applied and the (1-based) steps that were capped."""
    factors, capped = cap(paths, factors, transform, y)
    return apply(paths, factors), factors, capped


def leave_one_out(windows: list[tuple[int, np.ndarray]], truth: np.ndarray, h: int, rule=None) -> list[tuple[int, np.ndarray]]:
    """Each window's paths stretched by factors learned from the *other* windows (`rule` maps the
    horizon records to factors, as a run applies them; raw factors by default), so the calibrated
    coverage reported is out of sample."""
    out = []
    for i, (n, paths) in enumerate(windows):
        horizons = factors_from_windows(windows[:i] + windows[i + 1:], truth, h)["horizons"]
        factors = rule(horizons) if rule else [hz["factor"] for hz in horizons]
        out.append((n, apply(paths, factors)))
    return out
