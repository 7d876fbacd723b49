"""ETS and Theta from statsforecast, with paths that follow the fitted model.

ETS is statsforecast's AutoETS (error, trend and season types chosen by AICc). Theta is the
Dynamic Optimised Theta Model (Fiorucci et al. 2016, "Models for optimising the Theta method and
their relationship to state space models", IJF 32(4)): the theta line's slope and weight are
estimated and its regression updated as data arrive. Of the four Theta variants statsforecast
offers it is the most accurate on M3 yearly data by a wide margin (15.79 sMAPE against 16.64-16.88)
and within 0.1 of the best on quarterly data (docs/anchors.md); on quarterly data the classic
Theta method (`classic_theta`, statsmodels) does better still, and is a member of its own.

statsforecast 2.1.1's `AutoETS.simulate` ignores the trend of undamped models: `simulate_ets`
replaces a NaN damping parameter `phi` with 0 where the model means 1, so for ETS(A,A,N),
ETS(M,A,N) and their seasonal forms the simulated paths stay at the last level while `predict()`
extrapolates the trend. Minimal reproduction:

    y = 100 + 5 * np.arange(30) + np.random.default_rng(0).normal(0, 3, 30)
    f = AutoETS(season_length=1).fit(y)          # ETS(A,A,N)
    f.predict(8)["mean"][-1]                     # 284.4
    np.median(f.simulate(8, 2000, seed=1), 0)[-1]  # 244.5: flat at the last level

We set `phi = 1` in the fitted model before simulating (the value an undamped trend means;
`predict()` is unchanged by it). `tests/test_model_contract.py` checks that every member's path
median tracks its library's point forecast on trending, damped, seasonal and noisy series.

statsforecast's simulators seed numpy's global generator; we restore its state afterwards.
"""

from __future__ import annotations

import math
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
            # Too short for statsforecast: a random walk with drift (the mean step), the simplest
            # trending model, with the observed step spread.
            steps = np.diff(y)
            self.drift_ = float(steps.mean())
            self.step_sd_ = float(steps.std(ddof=1)) if len(steps) > 1 else float(abs(steps[0]))
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_ = self._make(season).fit(y)
        self._repair(self.model_.model_)

    def _repair(self, fitted: dict) -> None:
        """Correct a fitted state the library's simulator misreads (nothing by default)."""

    def _point(self, h: int) -> np.ndarray:
        if self.model_ is None:
            return self.y_[-1] + self.drift_ * np.arange(1, h + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.model_.predict(h)["mean"], dtype=float)

    def _sample(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        if self.model_ is None:
            shocks = rng.normal(self.drift_, self.step_sd_, size=(n_paths, h))
            return self.y_[-1] + np.cumsum(shocks, axis=1)
        state = np.random.get_state()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return np.asarray(self.model_.simulate(h=h, n_paths=n_paths, seed=seed_from(rng)), dtype=float)
        finally:
            np.random.set_state(state)

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

    def _repair(self, fitted: dict) -> None:
        trend = str(fitted["components"])[1]
        if trend != "N" and math.isnan(fitted["par"][3]):
            fitted["par"][3] = 1.0  # undamped trend: see the module docstring
            self.phi_repaired_ = True
        else:
            self.phi_repaired_ = False

    def _describe_fitted(self, fitted) -> dict:
        return {"method": str(fitted.get("method", "")), "aicc": float(fitted.get("aicc", np.nan)),
                "sigma2": float(fitted.get("sigma2", np.nan)), "season_used": self.season_used_,
                "phi_repaired_for_simulation": self.phi_repaired_}


class Theta(_StatsForecastModel):
    """The Dynamic Optimised Theta Model (DOTM)."""

    name = "theta"

    def _make(self, season):
        from statsforecast.models import DynamicOptimizedTheta
        return DynamicOptimizedTheta(season_length=season)

    def _sample(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        # statsforecast 2.1.1's `simulate_theta` runs its own state recursion, whose mean strays
        # from `predict()` (measured: 0.14 standard deviations below it after 8 steps on a seasonal
        # series); the paths keep their spread and are centred on the library's point forecast.
        paths = super()._sample(h, n_paths, rng)
        return paths + (self.point_forecast(h) - paths.mean(axis=0))[None, :] if self.model_ is not None else paths

    def _describe_fitted(self, fitted) -> dict:
        par = fitted.get("par", {})
        return {"variant": str(fitted.get("modeltype", "")), "mse": float(fitted.get("mse", np.nan)),
                "alpha": float(par.get("alpha", np.nan)), "theta": float(par.get("theta", np.nan)),
                "season_used": self.season_used_}
