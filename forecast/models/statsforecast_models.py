"""ETS and Theta from statsforecast.

statsforecast's AutoETS and AutoTheta are both more accurate and about ten times faster than the
statsmodels equivalents on M3 yearly data (../shared/ANCHOR_RESULTS.md: AutoETS sMAPE 16.19 at 4 ms
per series against statsmodels ThetaModel 16.82 at 35 ms; `benchmarks/bench_models.py` measures
ours). Both simulate future paths natively (`simulate(h, n_paths, seed)`).
"""

from __future__ import annotations

import warnings
from abc import abstractmethod

import numpy as np

from .base import Model, seed_from

MIN_FIT_POINTS = 5  # statsforecast refuses "tiny datasets" below this


class _StatsForecastModel(Model):
    @abstractmethod
    def _make(self, season: int):
        """The unfitted statsforecast model for this season length."""

    @abstractmethod
    def _describe_fitted(self, fitted) -> dict:
        """Summary of the fitted statsforecast state."""

    def _fit(self, y: np.ndarray) -> None:
        # statsforecast needs two full seasons for a seasonal model; fall back to non-seasonal.
        season = self.season_length if len(y) >= 2 * self.season_length + 2 else 1
        self.season_used_ = season
        self.model_ = None
        if len(y) < MIN_FIT_POINTS:
            # Too short for statsforecast: a random walk with drift, the ETS(A,N,N) limit alpha -> 1.
            steps = np.diff(y)
            self.drift_, self.step_sd_ = float(steps.mean()), float(steps.std(ddof=1)) if len(steps) > 1 else float(abs(steps[0]))
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_ = self._make(season).fit(y)

    def _sample(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        if self.model_ is None:
            shocks = rng.normal(self.drift_, self.step_sd_, size=(n_paths, h))
            return self.y_[-1] + np.cumsum(shocks, axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.model_.simulate(h=h, n_paths=n_paths, seed=seed_from(rng)), dtype=float)

    def _describe(self) -> dict:
        if self.model_ is None:
            return {"method": "random walk with drift (series too short for statsforecast)",
                    "drift": self.drift_, "step_sd": self.step_sd_}
        return self._describe_fitted(self.model_.model_)


class ETS(_StatsForecastModel):
    """Exponential smoothing, state-space form, chosen by AICc among error/trend/season types."""

    name = "ets"

    def _make(self, season):
        from statsforecast.models import AutoETS
        return AutoETS(season_length=season)

    def _describe_fitted(self, fitted) -> dict:
        return {"method": str(fitted.get("method", "")), "aicc": float(fitted.get("aicc", np.nan)),
                "sigma2": float(fitted.get("sigma2", np.nan)), "season_used": self.season_used_}


class Theta(_StatsForecastModel):
    """The Theta method (the M3 winner) with the best variant chosen by statsforecast."""

    name = "theta"

    def _make(self, season):
        from statsforecast.models import AutoTheta
        return AutoTheta(season_length=season)

    def _describe_fitted(self, fitted) -> dict:
        return {"variant": str(fitted.get("modeltype", "")), "mse": float(fitted.get("mse", np.nan)),
                "season_used": self.season_used_}
