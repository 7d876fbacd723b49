"""Fit every member on a series' chosen scale and return natural-unit paths that can be trusted.

One place for what runs, backtests and validation all do with a member: put the series on its
fitting scale, fit, simulate, bring the paths back to natural units, and guard them:

* non-finite paths are dropped and replaced by resampling finite ones (counted); a member with more
  than half its paths non-finite has failed;
* values outside the series' bounds are truncated at the bound (counted);
* a member whose 95% band at the last horizon is more than `EXPLOSIVE_RATIO` times as wide as a
  random walk with drift's on the same series is refused as explosive (recorded, never served):
  seen on held-out data, where a few ARIMA fits with two differences on logs produced 95% upper
  bounds of 10^14.

A member that raises is recorded by name with its error; the others go on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from smfcast.engine.scales import Scale
from smfcast.models import make_model
from smfcast.seeds import rng_for

EXPLOSIVE_RATIO = 10.0
Z95 = 1.959963984540054


@dataclass
class MemberFit:
    name: str
    paths: np.ndarray  # natural units, (n_paths, h)
    describe: dict
    truncated: int = 0
    resampled: int = 0
    seconds: float = 0.0  # fit and simulation

    @property
    def point(self) -> np.ndarray:
        """The member's point forecast: its path mean per horizon (the library's point forecast,
        the conditional mean; `tests/test_model_contract.py` checks they agree)."""
        return np.mean(self.paths, axis=0)


@dataclass
class MemberSet:
    fits: dict[str, MemberFit] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def paths(self) -> dict[str, np.ndarray]:
        return {name: f.paths for name, f in self.fits.items()}

    @property
    def seconds(self) -> dict[str, float]:
        return {name: f.seconds for name, f in self.fits.items()}


def random_walk_width(y: np.ndarray, h: int) -> np.ndarray:
    """Width of a random walk with drift's 95% band at steps 1..h (innovation and drift error)."""
    steps = np.diff(np.asarray(y, dtype=float))
    if len(steps) < 2:
        return np.full(h, np.nan)
    sd = float(np.std(steps, ddof=1))
    k = np.arange(1, h + 1)
    return 2 * Z95 * sd * np.sqrt(k + k**2 / len(steps))


def guard(name: str, paths: np.ndarray, y: np.ndarray, scale: Scale, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """(paths, truncated, resampled) after the checks of the module docstring; raises
    FloatingPointError for a member that cannot be trusted."""
    finite = np.all(np.isfinite(paths), axis=1)
    resampled = int(np.sum(~finite))
    if resampled > paths.shape[0] // 2:
        raise FloatingPointError(f"{name}: {resampled} of {paths.shape[0]} paths are not finite")
    if resampled:
        good = np.flatnonzero(finite)
        paths = paths.copy()
        paths[~finite] = paths[rng.choice(good, size=resampled)]
    paths, truncated = scale.truncate(paths)
    # the random walk's width, floored at 0.1% of the series' level (a nearly straight line has a
    # random-walk band of almost nothing, next to which any honest band looks explosive)
    rw = max(random_walk_width(y, paths.shape[1])[-1], 1e-3 * float(np.mean(np.abs(y))))
    lo, hi = np.percentile(paths[:, -1], [2.5, 97.5])
    if np.isfinite(rw) and rw > 0 and hi - lo > EXPLOSIVE_RATIO * rw:
        raise FloatingPointError(f"{name}: explosive paths (95% band {hi - lo:.4g} wide at step {paths.shape[1]}, "
                                 f"{(hi - lo) / rw:.0f}x a random walk's); refused")
    return paths, truncated, resampled


def fit_members(y: np.ndarray, season_length: int, h: int, models: tuple[str, ...], n_paths: int, seed: int, label: str,
                scale: Scale) -> MemberSet:
    """Every member fitted on `scale`, with natural-unit paths for steps 1..h."""
    y = np.asarray(y, dtype=float)
    out = MemberSet()
    z = scale.forward(y)
    for name in models:
        rng = rng_for(seed, label, name)
        started = time.perf_counter()
        try:
            model = make_model(name, season_length=season_length, transformed=scale.kind != "raw").fit(z)
            paths = scale.inverse(model.sample(h, n_paths, rng))
            paths, truncated, resampled = guard(name, paths, y, scale, rng)
            out.fits[name] = MemberFit(name, paths, model.describe(), truncated, resampled, time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - a member may fail numerically in many ways; record and go on
            out.failures[name] = f"{type(exc).__name__}: {exc}"
    return out
