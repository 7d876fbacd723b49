"""Band calibration: the scores, the quantile rules and their edges, the run's widening rule and
the labels of horizons beyond the backtest."""

from __future__ import annotations

import numpy as np
import pytest

from smfcast.engine import calibration as cal


def test_required_scale_is_the_stretch_that_holds_the_outcome():
    paths = np.random.default_rng(0).normal(0, 1, size=20000)
    # the 95% half-width of N(0,1) is 1.96: an outcome at 3.92 needs the band doubled
    assert cal.required_scale(3.92, paths) == pytest.approx(2.0, rel=0.03)
    assert cal.required_scale(-0.98, paths) == pytest.approx(0.5, rel=0.03)
    assert cal.required_scale(0.0, np.zeros(10)) == 0.0
    assert cal.required_scale(1.0, np.zeros(10)) == np.inf  # a zero-width band that missed


def test_conformal_rank_needs_19_scores_at_95():
    assert cal.min_conformal(95) == 19 and cal.min_conformal(80) == 4
    scores = [0.1 * i for i in range(1, 20)]  # n = 19: ceil(20 * 0.95) = 19th smallest
    assert cal.quantile_factor(scores) == (pytest.approx(1.9), "conformal")
    assert cal.quantile_factor(scores, 80) == (pytest.approx(1.6), "conformal")  # ceil(20 * 0.8) = 16th
    many = list(np.linspace(0.01, 1.0, 100))  # ceil(101 * 0.95) = 96th smallest
    assert cal.quantile_factor(many)[0] == pytest.approx(many[95])


def test_few_scores_use_the_half_normal_rule_not_the_maximum():
    scores = [0.2, 0.4, 0.6, 0.8, 1.0, 2.5]  # 6 scores: the conformal rank would be the maximum, 2.5
    factor, rule = cal.quantile_factor(scores)
    assert rule == "half-normal"
    assert factor == pytest.approx(1.959963985 * np.sqrt(np.mean(np.square(scores))))
    assert factor < max(scores)
    # correctly scaled normal errors give a factor near 1
    rng = np.random.default_rng(3)
    z = np.abs(rng.normal(size=18)) / 1.959963985
    assert 0.6 < cal.quantile_factor(list(z))[0] < 1.4
    assert cal.quantile_factor([1.0, 2.0, 3.0, 4.0]) == (None, "none: 4 scores < 5")


def test_infinite_scores_are_reported_not_dropped():
    truth = np.array([0.0] * 10 + [1.0] * 8)
    windows = [(n, np.zeros((50, 2))) for n in range(10, 16)]  # zero-width bands at 0; outcomes at 1 miss
    learned = cal.factors_from_windows(windows, truth, 2)
    assert learned["status"] == "degenerate band: 12 zero-width bands missed"
    assert all(hz["infinite"] == 6 for hz in learned["horizons"])


def test_factors_learn_the_missing_spread_and_skip_unobserved_points():
    rng = np.random.default_rng(1)
    truth = rng.normal(0, 2, size=60)  # outcomes twice as spread as the bands below
    windows = [(n, rng.normal(0, 1, size=(4000, 2))) for n in range(20, 58)]
    learned = cal.factors_from_windows(windows, truth, 2)
    assert learned["status"] == "calibrated (conformal)"
    assert all(1.5 < hz["factor"] < 3.0 and hz["scores"] == 38 for hz in learned["horizons"])
    truth[[25, 30]] = np.nan  # filled, not published: never scored
    assert [hz["scores"] for hz in cal.factors_from_windows(windows, truth, 2)["horizons"]] == [36, 36]
    stretched = cal.apply(windows[0][1], [2.0, None])
    np.testing.assert_allclose(stretched[:, 0].std(), 2 * windows[0][1][:, 0].std(), rtol=1e-9)
    np.testing.assert_array_equal(stretched[:, 1], windows[0][1][:, 1])


def test_too_little_history_is_said_not_hidden():
    windows = [(10, np.zeros((50, 2))), (11, np.zeros((50, 2)))]
    learned = cal.factors_from_windows(windows, np.zeros(13), 2)
    assert [hz["factor"] for hz in learned["horizons"]] == [None, None]
    assert learned["status"] == "uncalibrated: too few backtest scores"


def test_the_run_rule_widens_by_the_estimated_factor_never_narrows_and_never_falls_with_the_horizon():
    horizons = [{"factor": 1.35, "rule": "half-normal", "scores": 8}, {"factor": 0.5, "rule": "conformal", "scores": 30},
                {"factor": None, "rule": "none", "scores": 2}, {"factor": 2.0, "rule": "conformal", "scores": 30}]
    assert cal.run_rule(horizons) == [pytest.approx(1.35), pytest.approx(1.35), pytest.approx(1.35), 2.0]
    assert cal.run_rule([{"factor": 0.7, "rule": "half-normal", "scores": 8}]) == [1.0]
    assert cal.widening_only([0.5, 1.3, None, 1.1, 2.0]) == [1.0, 1.3, 1.3, 1.3, 2.0]
    assert cal.widening_only([0.5, None]) == [1.0, None]


def test_steps_past_the_backtest_are_labelled_extrapolated():
    factors, labels = cal.extend([1.2, 1.5], 5)
    assert factors == [1.2, 1.5, 1.5, 1.5, 1.5]
    assert labels == ["calibrated", "calibrated", "extrapolated", "extrapolated", "extrapolated"]
    assert cal.extend([None, None], 3) == ([None, None, None], ["uncalibrated"] * 3)


def test_leave_one_out_uses_only_the_other_windows():
    rng = np.random.default_rng(2)
    truth = np.concatenate([np.zeros(20), [50.0], np.zeros(30)])  # one wild outcome at index 20
    windows = [(n, rng.normal(0, 1, size=(500, 1))) for n in range(20, 45)]
    out = cal.leave_one_out(windows, truth, 1)
    # the window that missed by 50 was not stretched by its own score; every other window was
    assert np.std(out[0][1]) < 3 and all(np.std(p) > np.std(q) * 0.99 for (_, p), (_, q) in zip(out[1:], windows[1:]))


def test_a_served_band_is_never_wider_than_ten_random_walks():
    from smfcast.engine.members import EXPLOSIVE_RATIO, random_walk_width
    from smfcast.registry.transforms import Transform
    rng = np.random.default_rng(4)
    y = 100 + np.cumsum(rng.normal(1, 2, 30))
    paths = y[-1] + rng.normal(0, 2, size=(2000, 3))
    factors, capped = cal.cap(paths, [1.5, 500.0, None], Transform("none"), y)
    assert factors[0] == 1.5 and factors[2] is None and capped == [2]
    lo, hi = np.percentile(cal.apply(paths, factors)[:, 1], [2.5, 97.5])
    assert hi - lo == pytest.approx(EXPLOSIVE_RATIO * random_walk_width(y, 3)[1], rel=1e-3)
