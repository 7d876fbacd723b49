"""Forecasting models on sample paths: `make_model(name, season_length, transformed)` and the registry."""

from __future__ import annotations

from .arima import ARIMA
from .base import Model, NotFittedError
from .classic_theta import ClassicTheta
from .drift import Drift
from .prophet import Prophet
from .statsforecast_models import ETS, Theta

# "drift" is the random-walk benchmark runs compare themselves with, and a member on annual series.
MODELS: dict[str, type[Model]] = {"arima": ARIMA, "prophet": Prophet, "ets": ETS, "theta": Theta,
                                 "classic_theta": ClassicTheta, "drift": Drift}


def make_model(name: str, season_length: int = 1, transformed: bool = False) -> Model:
    """An unfitted model; `transformed`: it will see the series on a log or Box-Cox scale."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None
    return cls(season_length=season_length, transformed=transformed)


__all__ = ["ARIMA", "ClassicTheta", "Drift", "ETS", "MODELS", "Model", "NotFittedError", "Prophet", "Theta", "make_model"]
