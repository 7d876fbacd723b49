"""Every model in forecast/models runs through the same contract checks; each member's paths must
be the selected model's distribution (their median tracks the library's own point forecast on
trending, damped, seasonal and noisy series); ARIMA's seasonal part, parameter draws and band
calibration where its model is the true one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from smfcast.models import MODELS, NotFittedError, make_model
from smfcast.models.arima import ARIMA, admissible, choose_seasonal_d

SERIES = np.array([10, 11, 12.5, 13, 14.2, 15, 16.8, 17, 18.5, 20, 21, 23.0])
SLOW = {"prophet"}


def _params(names=MODELS):
    return [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in names]


def _shapes(n: int = 32, seed: int = 0) -> dict[str, tuple[np.ndarray, int]]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return {
        "trending": (100 + 5 * t + rng.normal(0, 3, n), 1),
        "damped": (100 + 40 * (1 - 0.8 ** t) + rng.normal(0, 1, n), 1),
        "seasonal": (100 + 2 * t + 10 * np.tile([1.0, -1.0, 0.5, -0.5], n // 4) + rng.normal(0, 1, n), 4),
        "noisy": (50 + rng.normal(0, 5, n), 1),
    }


@pytest.mark.parametrize("name", _params())
def test_contract(name):
    model = make_model(name, season_length=1)
    with pytest.raises(NotFittedError, match=name):
        model.sample(3, 10, np.random.default_rng(0))
    model.fit(SERIES)
    a = model.sample(5, 300, np.random.default_rng(42))
    b = model.sample(5, 300, np.random.default_rng(42))
    c = model.sample(5, 300, np.random.default_rng(43))
    assert a.shape == (300, 5) and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    json.dumps(model.describe())
    assert model.describe()["model"] == name


@pytest.mark.parametrize("shape", ["trending", "damped", "seasonal", "noisy"])
@pytest.mark.parametrize("name", _params())
def test_path_mean_and_median_track_the_librarys_point_forecast(name, shape):
    # The paths must be the selected model's distribution: statsforecast 2.1.1's ETS simulator
    # kept undamped trends flat (median at the last level while predict() extrapolated); this is
    # the check that catches it. The library's point is the conditional mean: the path mean must
    # match it to a tenth of the spread, the median to a quarter (it differs under skew).
    y, m = _shapes()[shape]
    model = make_model(name, season_length=m).fit(y)
    paths = model.sample(8, 2000, np.random.default_rng(7))
    point = model.point_forecast(8)
    spread = paths.std(axis=0)
    mean_gap, median_gap = np.abs(paths.mean(axis=0) - point), np.abs(np.median(paths, axis=0) - point)
    assert np.all(mean_gap <= 0.1 * spread + 1e-6), (name, shape, np.round(mean_gap / spread, 3))
    assert np.all(median_gap <= 0.25 * spread + 1e-6), (name, shape, np.round(median_gap / spread, 3))
    if shape == "trending":  # and the forecast does extrapolate the trend (about 5 per step; the
        # classic Theta's drift is half the linear trend's slope, so 2.5 per step from the SES level)
        assert np.median(paths[:, -1]) - y[-1] > 15, (name, np.median(paths[:, -1]), y[-1])


def test_a_skewed_ets_keeps_its_mean_on_the_librarys_point():
    # ETS(M,N,N) with a large error: the paths' median falls with the horizon while the mean (the
    # library's point) stays at the level; the member's point is the mean
    rng = np.random.default_rng(2)
    y = 100 * np.exp(np.cumsum(rng.normal(0, 0.25, 30)) * 0.3) * np.exp(rng.normal(0, 0.3, 30))
    model = make_model("ets").fit(y)
    paths = model.sample(6, 20000, np.random.default_rng(0))
    point = model.point_forecast(6)
    np.testing.assert_allclose(paths.mean(axis=0), point, rtol=0.05)


@pytest.mark.parametrize("name", _params())
def test_three_point_and_constant_series(name):
    short = make_model(name).fit(SERIES[:3]).sample(4, 200, np.random.default_rng(1))
    assert short.shape == (200, 4) and np.all(np.isfinite(short))
    const = make_model(name).fit(np.full(6, 2.5)).sample(4, 200, np.random.default_rng(1))
    assert np.all(np.abs(np.median(const, axis=0) - 2.5) < 1e-9)


@pytest.mark.parametrize("name", _params())
def test_bad_input_names_the_model(name):
    with pytest.raises(ValueError, match=f"{name}: the series has 2 points; at least 3"):
        make_model(name).fit([1.0, 2.0])
    with pytest.raises(ValueError, match=f"{name}: the series contains non-finite"):
        make_model(name).fit([1.0, np.nan, 2.0, 3.0])
    with pytest.raises(ValueError, match="1-D"):
        make_model(name).fit(np.ones((3, 2)))


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown model 'lstm'; choose one of arima, prophet, ets, theta, classic_theta, drift"):
        make_model("lstm")


def test_arima_takes_a_seasonal_difference_on_seasonal_data_and_keeps_the_pattern():
    rng = np.random.default_rng(3)
    pattern = np.array([8.0, -6.0, 3.0, -5.0])
    y = 50 + np.cumsum(rng.normal(0.5, 0.3, 48)) + np.tile(pattern, 12) + rng.normal(0, 0.4, 48)
    assert choose_seasonal_d(y, 4) == 1
    model = ARIMA(season_length=4).fit(y)
    described = model.describe()
    assert described["seasonal_order"][1] == 1 and described["seasonal_order"][3] == 4
    median = np.median(model.sample(8, 1000, np.random.default_rng(0)), axis=0)
    # the forecast repeats the seasonal shape: quarter-on-quarter steps follow the pattern's steps
    steps = np.diff(median[:5])
    assert np.corrcoef(steps, np.diff(pattern[[0, 1, 2, 3, 0]]))[0, 1] > 0.9
    # the same series without its seasonal pattern needs no seasonal difference
    assert choose_seasonal_d(y - np.tile(pattern, 12), 4) == 0


def test_arima_draws_parameters_for_every_path_inside_the_admissible_region():
    rng = np.random.default_rng(4)
    e = rng.normal(size=81)
    y = np.cumsum(0.3 + e[1:] + 0.5 * e[:-1])  # ARIMA(0,1,1) with drift
    model = ARIMA().fit(y)
    theta, sigma2 = model.draws(500, np.random.default_rng(1))
    assert theta.shape == (500, len(model.theta_)) and sigma2.shape == (500,)
    assert len(np.unique(theta, axis=0)) == 500 and len(np.unique(sigma2)) == 500
    assert np.all(admissible(theta, model.spec_)) and np.all(sigma2 > 0)
    # the draws are centred on the estimates
    np.testing.assert_allclose(theta.mean(axis=0), model.theta_, atol=4 * np.sqrt(np.diag(model.cov_)).max() / np.sqrt(500) + 1e-9)


def test_arima_refits_with_one_difference_at_most_by_default():
    rng = np.random.default_rng(10)
    y = np.cumsum(np.cumsum(rng.normal(0.1, 1, 60)))  # I(2): KPSS rejects the first difference
    assert ARIMA().fit(y).describe()["order"][1] == 1
    assert ARIMA(max_d=2).fit(y).describe()["order"][1] == 2


def _coverage(simulate, n_rep: int, n: int, h: int, seed: int) -> np.ndarray:
    """Share of replications whose true future value lies inside the central 80/95% band."""
    rng = np.random.default_rng(seed)
    hits = np.zeros((2, h))
    for _ in range(n_rep):
        y = simulate(rng, n + h)
        paths = make_model("arima").fit(y[:n]).sample(h, 400, rng)
        for i, level in enumerate((80, 95)):
            lo, hi = np.percentile(paths, [50 - level / 2, 50 + level / 2], axis=0)
            hits[i] += (y[n:] >= lo) & (y[n:] <= hi)
    return hits / n_rep


def _ar1(rng, length):
    y = np.zeros(length)
    for t in range(1, length):
        y[t] = 0.6 * y[t - 1] + rng.normal()
    return y


def _rw_drift(rng, length):
    return np.cumsum(0.5 + rng.normal(size=length))


@pytest.mark.slow
@pytest.mark.parametrize("simulate, n", [(_ar1, 40), (_rw_drift, 30)], ids=["ar1", "random-walk-drift"])
def test_arima_bands_are_calibrated_when_its_model_is_true(simulate, n):
    # 200 replications: the binomial standard error of a coverage is 2.8 points at 80% and 1.5 at
    # 95% per horizon, and horizons of one replication move together. Order selection by AICc on
    # 30-40 points costs a few points of coverage that the parameter draws do not restore. The
    # average over horizons must be within nominal minus two standard errors minus 4 points
    # (70.4% / 88%) and two standard errors above; each horizon within a further 4 points.
    cov = _coverage(simulate, n_rep=200, n=n, h=5, seed=11)
    print(f"arima coverage on {simulate.__name__}: 80% -> {np.round(cov[0] * 100, 1)}, 95% -> {np.round(cov[1] * 100, 1)}")
    for i, (level, se) in enumerate(((80, 2.8), (95, 1.5))):
        assert level - 2 * se - 4 <= cov[i].mean() * 100 <= level + 2 * se, (level, cov[i])
        assert np.all(cov[i] * 100 >= level - 2 * se - 8), (level, cov[i])
        assert np.all(cov[i] * 100 <= level + 2 * se + 4), (level, cov[i])


def test_classic_theta_paths_have_the_ses_variance_and_decompose_additively_on_a_log_scale():
    y, m = _shapes()["seasonal"]
    raw = make_model("classic_theta", season_length=m).fit(y)
    logged = make_model("classic_theta", season_length=m, transformed=True).fit(np.log(y))
    assert raw.describe()["seasonality"] == "multiplicative" and logged.describe()["seasonality"] == "additive"
    # SES with drift: Var at step k is sigma^2 (1 + (k - 1) alpha^2), not statsmodels' 1 + (alpha - 1)^2 a step
    trend = make_model("classic_theta").fit(_shapes()["noisy"][0])
    paths = trend.sample(8, 20000, np.random.default_rng(3))
    expected = trend.sigma_ * np.sqrt(1 + np.arange(8) * trend.alpha_ ** 2)
    np.testing.assert_allclose(paths.std(axis=0), expected, rtol=0.03)
