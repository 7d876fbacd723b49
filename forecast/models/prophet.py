"""Prophet set up for annual and quarterly data.

On annual data Prophet is a piecewise-linear trend: weekly, daily and yearly seasonality are off.
On quarterly and monthly data a yearly seasonality of Fourier order m / 2 (2 for quarters, 6 for
months: m phases a year allow no more), fitted on quarter-end or month-end dates.
The default 25 changepoints overfit or hang on short series; we allow one per three points, at most
five. Paths come from `predictive_samples` (shape (h, n): transposed). Prophet samples with
numpy's global RNG, so we seed it from our generator and restore the global state afterwards.
"""

from __future__ import annotations

import logging

import numpy as np

from .base import Model, seed_from

FREQ = {1: "YE", 4: "QE", 12: "ME"}  # season length -> pandas period-end frequency


def _quiet() -> None:
    """Prophet and cmdstanpy log every Stan call at INFO (and a plotly notice at import)."""
    for name in ("cmdstanpy", "prophet", "prophet.plot", "prophet.models"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    logging.getLogger("cmdstanpy").disabled = True  # cmdstanpy resets its level on first use


class Prophet(Model):
    name = "prophet"

    def __init__(self, season_length: int = 1, changepoint_prior_scale: float = 0.05, transformed: bool = False):
        super().__init__(season_length, transformed)
        self.changepoint_prior_scale = changepoint_prior_scale

    def _check_season(self) -> None:
        if self.season_length not in FREQ:
            raise ValueError(f"prophet: season_length {self.season_length} is not one of {sorted(FREQ)} (annual, quarterly, monthly)")

    def _dates(self, n: int):
        import pandas as pd
        return pd.date_range("2000-01-01", periods=n, freq=FREQ[self.season_length])

    def _fit(self, y: np.ndarray) -> None:
        import pandas as pd
        _quiet()
        from prophet import Prophet as _Prophet
        _quiet()
        self._check_season()
        self.n_changepoints_ = int(min(5, len(y) // 3))
        m = self.season_length
        seasonal = m > 1 and len(y) >= 2 * m
        self.model_ = _Prophet(
            growth="linear", n_changepoints=self.n_changepoints_, changepoint_prior_scale=self.changepoint_prior_scale,
            yearly_seasonality=m // 2 if seasonal else False, weekly_seasonality=False, daily_seasonality=False,
            uncertainty_samples=0,
        )
        df = pd.DataFrame({"ds": self._dates(len(y)), "y": y})
        self.model_.fit(df, seed=1234)
        self.seasonal_ = seasonal

    def _sample(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        import pandas as pd
        future = pd.DataFrame({"ds": self._dates(len(self.y_) + h)[-h:]})
        self.model_.uncertainty_samples = n_paths
        state = np.random.get_state()
        np.random.seed(seed_from(rng))
        try:
            samples = self.model_.predictive_samples(future)["yhat"]
        finally:
            np.random.set_state(state)
        return np.asarray(samples, dtype=float).T

    def _point(self, h: int) -> np.ndarray:
        import pandas as pd
        return np.asarray(self.model_.predict(pd.DataFrame({"ds": self._dates(len(self.y_) + h)[-h:]}))["yhat"], dtype=float)

    def _describe(self) -> dict:
        params = self.model_.params
        return {"n_changepoints": self.n_changepoints_, "changepoint_prior_scale": self.changepoint_prior_scale,
                "yearly_seasonality": bool(self.seasonal_), "sigma_obs": float(np.ravel(params["sigma_obs"])[0]),
                "growth_rate_k": float(np.ravel(params["k"])[0])}
