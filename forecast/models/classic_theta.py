"""The classic Theta method, as statsmodels implements it: the M3 competition's most accurate method.

Assimakopoulos & Nikolopoulos (2000), "The theta model: a decomposition approach to forecasting",
IJF 16(4); Hyndman & Billah (2003) showed it is simple exponential smoothing with a drift of half
the series' linear-trend slope. statsmodels' `ThetaModel` tests the series for seasonality (90%
autocorrelation test at the season lag), deseasonalises it by classical decomposition
(multiplicative for positive data, additive otherwise), fits SES with drift and reseasonalises.
On a log or Box-Cox scale the member asks for additive decomposition (a multiplicative pattern
in natural units is additive there): multiplicative decomposition of log values scored 19.06
sMAPE against 17.85 additive on the tourism quarterly series the engine fits on logs (the
library on raw values: 17.51), and 27.28 against 27.22 on M3's.

It complements the dynamic optimised Theta member (`theta`): on quarterly data the classic form
scores better (M3 quarterly sMAPE 9.15 against 9.32 for statsforecast's DOTM, docs/anchors.md),
on yearly data worse (16.82 against 15.79). Which of the members enter a combination is decided
by training evidence (`smfcast.engine.ensemble.pool`), not by the data's name.

Paths: the library's point forecast plus Gaussian innovations with the variance of SES with drift
(an ARIMA(0,1,1) with theta = alpha - 1): sigma^2 (1 + (k - 1) alpha^2) at step k (Hyndman &
Athanasopoulos, "Forecasting: principles and practice", table 8.8), built cumulatively so horizons
are dependent; under multiplicative seasonality the innovations are scaled by each step's seasonal
index. sigma^2 is the variance of the model's own one-step errors on the deseasonalised series
(SES with the fitted alpha, drift removed as their mean). Two departures from statsmodels 0.15,
whose bands are not this model's:

* its `sigma2` fits an ARIMA(0,1,1) to the series *before* deseasonalising, so seasonal swings
  count as noise: on M3 quarterly series fitted on logs that made the band, and the log-normal
  path mean with it, many times too large (the member scored 9.82 sMAPE against 9.15 for the
  library's own point forecast);
* its `prediction_intervals` grow the variance by 1 + (alpha - 1)^2 = 1 + theta^2 a step where the
  integrated MA(1) form gives (1 + theta)^2 = alpha^2: for alpha = 0.3 a 95% band at step 8 about
  2.6 times too wide.
"""

from __future__ import annotations

import warnings

import numpy as np

from .base import Model


class ClassicTheta(Model):
    name = "classic_theta"

    def _fit(self, y: np.ndarray) -> None:
        from statsmodels.tsa.forecasting.theta import ThetaModel
        m = self.season_length
        deseasonalize = m > 1 and len(y) >= 2 * m
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            method = "additive" if self.transformed else "auto"  # auto: multiplicative for positive data
            self.result_ = ThetaModel(y, period=m if m > 1 else None, deseasonalize=deseasonalize, method=method).fit()
            seasonal = np.asarray(self.result_.forecast_components(m)["seasonal"], dtype=float)
        self.alpha_ = float(self.result_.params.iloc[1])
        self.b0_ = float(self.result_.params.iloc[0])
        self.sigma_ = self._innovation_sd(y, seasonal)
        multiplicative = self.result_.model.method.startswith("mul")
        found = bool(np.any(np.abs(seasonal - (1.0 if multiplicative else 0.0)) > 1e-12))
        self.seasonality_ = ("multiplicative" if multiplicative else "additive") if found else "none"
        if not (np.isfinite(self.alpha_) and np.isfinite(self.b0_) and np.isfinite(self.sigma_)):
            raise FloatingPointError(f"{self.name}: non-finite parameters (alpha {self.alpha_}, b0 {self.b0_}, sigma {self.sigma_})")

    def _innovation_sd(self, y: np.ndarray, future_seasonal: np.ndarray) -> float:
        """The standard deviation of one-step SES errors on the deseasonalised series, the drift
        removed; `future_seasonal` holds the seasonal terms of the next m steps (index or offset)."""
        m, n = self.season_length, len(y)
        position = np.empty(m)
        position[(n + np.arange(m)) % m] = future_seasonal[:m]
        by_step = position[np.arange(n) % m]
        x = y / by_step if self.result_.model.method.startswith("mul") else y - by_step
        level, errors = x[0], np.empty(n - 1)
        for t in range(1, n):
            errors[t - 1] = x[t] - level
            level += self.alpha_ * errors[t - 1]
        return float(np.std(errors, ddof=1)) if n > 2 else float(abs(errors[0]))

    def _point(self, h: int) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.result_.forecast(h), dtype=float)

    def _seasonal_index(self, h: int) -> np.ndarray:
        """Each future step's multiplicative seasonal index (ones unless the series was found
        seasonal and deseasonalised multiplicatively)."""
        if self.seasonality_ != "multiplicative":
            return np.ones(h)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.result_.forecast_components(h)["seasonal"], dtype=float)

    def _sample(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        shocks = rng.standard_normal((n_paths, h)) * self.sigma_
        carry = self.alpha_  # each past shock's weight on later steps (SES: the smoothing constant)
        earlier = np.cumsum(shocks, axis=1) - shocks
        return self.point_forecast(h)[None, :] + (shocks + carry * earlier) * self._seasonal_index(h)[None, :]

    def _describe(self) -> dict:
        return {"alpha": self.alpha_, "b0": self.b0_, "sigma": self.sigma_, "seasonality": self.seasonality_}
