"""Random walk with drift: the benchmark every trending forecast has to beat.

y(t+k) = y(t) + k * drift + sum of k innovations. The drift is the mean step; paths also draw the
drift from its sampling distribution (standard error sd / sqrt(steps)), so the band widens as
k * sqrt(1 + k / steps), the textbook random-walk-with-drift interval (Hyndman & Athanasopoulos,
"Forecasting: principles and practice", 5.5). Runs compare their served ensemble with it on the
same backtest windows; on non-seasonal (annual) series it is also an ensemble member
(`smfcast.defaults.NON_SEASONAL_ONLY`).
"""

from __future__ import annotations

import numpy as np

from .base import Model


class Drift(Model):
    name = "drift"

    def _fit(self, y: np.ndarray) -> None:
        steps = np.diff(y)
        self.drift_ = float(steps.mean())
        self.step_sd_ = float(steps.std(ddof=1)) if len(steps) > 1 else float(abs(steps[0]))
        self.steps_ = len(steps)

    def _point(self, h: int) -> np.ndarray:
        return self.y_[-1] + self.drift_ * np.arange(1, h + 1)

    def _sample(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        drift = self.drift_ + self.step_sd_ / np.sqrt(self.steps_) * rng.standard_normal((n_paths, 1))
        shocks = rng.standard_normal((n_paths, h)) * self.step_sd_
        return self.y_[-1] + drift * np.arange(1, h + 1) + np.cumsum(shocks, axis=1)

    def _describe(self) -> dict:
        return {"drift": self.drift_, "step_sd": self.step_sd_}
