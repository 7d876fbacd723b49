"""Transforms that keep forecasts inside their natural bounds.

Models are fitted on the transformed series and their sample paths are back-transformed. Because
quantiles commute with monotone maps, a band read off back-transformed paths is the back-transform
of the band: balances stay positive (`log`) and percentages stay inside (0, 100) (`logit`) with no
bias correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRANSFORMS = ("none", "log", "logit")


@dataclass(frozen=True)
class Transform:
    """A monotone map between natural units and model space. `logit` maps (lower, upper) to R."""

    kind: str = "none"
    lower: float = 0.0
    upper: float = 100.0

    def __post_init__(self) -> None:
        if self.kind not in TRANSFORMS:
            raise ValueError(f"transform {self.kind!r} is not one of {', '.join(TRANSFORMS)}")
        if self.kind == "logit" and not self.upper > self.lower:
            raise ValueError("a logit transform needs upper > lower")

    def forward(self, x):
        x = np.asarray(x, dtype=float)
        if self.kind == "log":
            if np.any(x <= 0):
                raise ValueError("a log transform needs positive values")
            return np.log(x)
        if self.kind == "logit":
            if np.any((x <= self.lower) | (x >= self.upper)):
                raise ValueError(f"a logit transform needs values strictly inside ({self.lower:g}, {self.upper:g})")
            u = (x - self.lower) / (self.upper - self.lower)
            return np.log(u) - np.log1p(-u)
        return x.copy()

    def forward_inside(self, x):
        """`forward` of values first clipped to just inside the bounds: for paths fitted on another
        scale and truncated at a bound, which the open log/logit domain excludes. Logs floor at a
        millionth of the largest value (not at the smallest float, whose log, -708, would drag any
        average of log-quantiles or any median shift far off)."""
        x = np.asarray(x, dtype=float)
        if self.kind == "log":
            top = float(np.nanmax(np.abs(x))) if np.any(np.isfinite(x)) else 0.0
            return np.log(np.where(np.isnan(x), np.nan, np.fmax(x, 1e-6 * top if top > 0 else np.finfo(float).tiny)))
        if self.kind == "logit":
            eps = 1e-9 * (self.upper - self.lower)
            return self.forward(np.clip(x, self.lower + eps, self.upper - eps))
        return x.copy()

    def inverse(self, z):
        z = np.asarray(z, dtype=float)
        if self.kind == "log":
            return np.exp(np.clip(z, -700, 700))
        if self.kind == "logit":
            u = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))  # clipped: stays strictly inside the bounds
            return self.lower + (self.upper - self.lower) * u
        return z.copy()
