"""Forecast a short provincial series from its national counterpart.

Qinghai publishes a handful of figures per metric, often at irregular dates; no time-series model
can be fitted to three points. A provincial balance does, however, move with the national one, so
we forecast the long national series and model only the provincial/national relation: the log
ratio for balances, the logit spread for percentages (both are a difference in model space).

The relation follows a random walk with drift in continuous time, from the last provincial point:
  r(t) = r_last + d * (t - t_last) + sigma * W(t - t_last).
With m observed changes, d is the average change per year shrunk towards zero by m / (m + 2)
(one observed change is weak evidence of a lasting trend), and sigma pools the observed volatility
with a prior worth two observations (`prior_sigma`, an explicit, editable assumption), because one
or two changes cannot estimate a variance. The drift is drawn per path with its standard error, so
an uncertain trend widens the band.

Threshold: a provincial annual series with fewer than `MIN_DIRECT_POINTS` points is forecast this
way. Ten points is the smallest sample on which an AICc choice among ARIMA(p<=2, d, q<=2) orders and
a unit-root test are more than noise (the M3 yearly minimum is 14; with 10 points, two lags and
a difference leave about 6 degrees of freedom).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smfcast.registry.grid import RegularSeries, interpolate_at

MIN_DIRECT_POINTS = 10
PRIOR_WEIGHT = 2.0  # the prior volatility counts as this many observed changes


@dataclass(frozen=True)
class Relation:
    """The fitted provincial/national relation in model space."""

    times: np.ndarray  # decimal years of the provincial points that had a national value
    r: np.ndarray  # relation at those times
    drift: float  # per year, after shrinkage
    drift_se: float
    sigma: float  # per sqrt(year)
    dropped: int  # provincial points outside the national span
    z: np.ndarray  # provincial model-space values at `times`

    @property
    def last_z(self) -> float:
        return float(self.z[-1])

    @property
    def last_time(self) -> float:
        return float(self.times[-1])

    @property
    def last(self) -> float:
        return float(self.r[-1])

    def describe(self) -> dict:
        return {
            "points": int(len(self.r)), "dropped_outside_national_span": self.dropped,
            "last_relation": round(self.last, 6), "drift_per_year": round(self.drift, 6),
            "drift_se": round(self.drift_se, 6), "sigma_per_sqrt_year": round(self.sigma, 6),
        }


def fit_relation(prov_times, prov_z, national: RegularSeries, prior_sigma: float) -> Relation:
    """Relation between provincial points (model space, decimal years) and the national grid."""
    times, r, kept, dropped = [], [], [], 0
    for t, z in zip(prov_times, prov_z):
        nat = interpolate_at(national, float(t))
        if nat is None:
            dropped += 1
            continue
        times.append(float(t))
        r.append(float(z) - nat)
        kept.append(float(z))
    if not r:
        raise ValueError("no provincial point falls inside the national series' observed span")
    times_a, r_a, z_a = np.array(times), np.array(r), np.array(kept)
    m = len(r_a) - 1
    if m == 0:
        return Relation(times_a, r_a, 0.0, prior_sigma, prior_sigma, dropped, z_a)
    dt = np.diff(times_a)
    dr = np.diff(r_a)
    span = float(times_a[-1] - times_a[0])
    raw_drift = float((r_a[-1] - r_a[0]) / span)
    resid_var = float(np.mean((dr - raw_drift * dt) ** 2 / dt)) if m >= 2 else 0.0
    sigma = float(np.sqrt(((m - 1) * resid_var + PRIOR_WEIGHT * prior_sigma**2) / ((m - 1) + PRIOR_WEIGHT)))
    shrink = m / (m + PRIOR_WEIGHT)
    return Relation(times_a, r_a, raw_drift * shrink, sigma / np.sqrt(span) * shrink, sigma, dropped, z_a)


def fit_walk(times, z) -> Relation:
    """A random walk with drift in continuous time fitted to a series on irregular dates (model
    space): drift = total change / span, sigma^2 = the mean of (change - drift dt)^2 / dt over the
    m changes with m - 1 degrees of freedom, drift standard error sigma / sqrt(span). For national
    series too sparse for models on a regular grid; no prior and no shrinkage (they have enough
    changes to speak for themselves)."""
    times_a, z_a = np.asarray(times, dtype=float), np.asarray(z, dtype=float)
    if len(z_a) < 3:
        raise ValueError(f"a random walk on irregular dates needs at least 3 points, got {len(z_a)}")
    dt, dz = np.diff(times_a), np.diff(z_a)
    span = float(times_a[-1] - times_a[0])
    drift = float((z_a[-1] - z_a[0]) / span)
    sigma = float(np.sqrt(np.sum((dz - drift * dt) ** 2 / dt) / (len(dz) - 1)))
    return Relation(times_a, z_a, drift, sigma / np.sqrt(span), sigma, 0, z_a)


def relation_paths(rel: Relation, target_times, n_paths: int, rng: np.random.Generator) -> np.ndarray:
    """Simulated relation at increasing `target_times` (decimal years), shape (n_paths, len)."""
    target = np.asarray(target_times, dtype=float)
    if np.any(target <= rel.last_time):
        raise ValueError("target times must lie after the last provincial point")
    steps = np.diff(np.concatenate([[rel.last_time], target]))
    drift = rel.drift + rel.drift_se * rng.standard_normal((n_paths, 1))
    shocks = rng.standard_normal((n_paths, len(steps))) * np.sqrt(steps) * rel.sigma
    return rel.last + drift * (target - rel.last_time) + np.cumsum(shocks, axis=1)
