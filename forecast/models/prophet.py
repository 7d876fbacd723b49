"""Prophet set up for annual and quarterly data.

On annual data Prophet is a piecewise-linear trend: weekly, daily and yearly seasonality are off.
On quarterly data a yearly seasonality of Fourier order 2 (four phases a year allow no more).
The default 25 changepoints overfit or hang on short series; we allow one per three points, at most
five. Paths come from `predictive_samples` (shape (h, n): transposed). Prophet samples with
numpy's global RNG, so we seed it from our generator and restore the global state afterwards.
"""

from __future__ import annotations

import logging

import numpy as np

from .base import Model, seed_from


def _quiet() -> None:
    """Prophet and cmdstanpy log every Stan call at INFO (and a plotly notice at import)."""
    for name in ("cmdstanpy", "prophet", "prophet.plot", "prophet.models"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    logging.getLogger("cmdstanpy").disabled = True  # cmdstanpy resets its level on first use


class Prophet(Model):
    name = "prophet"

    def __init__(self, season_length: int = 1, changepoint_prior_scale: float = 0.05):
        super().__init__(season_length)
        self.changepoint_prior_scale = changepoint_prior_scale

    def _dates(self, n: int):
        import pandas as pd
        freq = "QE" if self.season_length == 4 else "YE"
        return pd.date_range("2000-01-01", periods=n, freq=freq)

    def _fit(self, y: np.ndarray) -> None:
        import pandas as pd
        _quiet()
        from prophet import Prophet as _Prophet
        _quiet()
        self.n_changepoints_ = int(min(5, len(y) // 3))
        quarterly = self.season_length == 4 and len(y) >= 8
        self.model_ = _Prophet(
            growth="linear", n_changepoints=self.n_changepoints_, changepoint_prior_scale=self.changepoint_prior_scale,
            yearly_seasonality=2 if quarterly else False, weekly_seasonality=False, daily_seasonality=False,
            uncertainty_samples=0,
        )
        df = pd.DataFrame({"ds": self._dates(len(y)), "y": y})
        self.model_.fit(df, seed=1234)
        self.quarterly_ = quarterly

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

    def _describe(self) -> dict:
        params = self.model_.params
        return {"n_changepoints": self.n_changepoints_, "changepoint_prior_scale": self.changepoint_prior_scale,
                "yearly_seasonality": bool(self.quarterly_), "sigma_obs": float(np.ravel(params["sigma_obs"])[0]),
                "growth_rate_k": float(np.ravel(params["k"])[0])}
