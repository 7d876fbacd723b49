"""Metric functions against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smfcast.engine import metrics as m


def test_point_metrics_by_hand():
    y, f = [100.0, 200.0], [110.0, 180.0]
    assert m.mae(y, f) == 15.0  # (10 + 20) / 2
    assert m.rmse(y, f) == pytest.approx(math.sqrt((100 + 400) / 2))
    assert m.mape(y, f) == pytest.approx(10.0)  # (10% + 10%) / 2
    # M3 sMAPE: 200*10/210 = 9.5238, 200*20/380 = 10.5263 -> mean 10.0251
    assert m.smape(y, f) == pytest.approx((2000 / 210 + 4000 / 380) / 2)
    assert m.smape([0.0, 1.0], [0.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match="MAPE is undefined"):
        m.mape([0.0, 1.0], [1.0, 1.0])


def test_mase_with_naive_and_seasonal_scaling():
    train = [1.0, 3.0, 2.0, 5.0]  # naive in-sample errors 2, 1, 3 -> scale 2
    assert m.mase([6.0, 8.0], [5.0, 5.0], train) == pytest.approx(2.0 / 2.0)  # MAE (1 + 3) / 2 = 2
    seasonal = [1.0, 2.0, 3.0, 4.0, 2.0, 4.0, 3.0, 6.0]  # lag-4 errors 1, 2, 0, 2 -> scale 1.25
    assert m.mase([5.0], [4.0], seasonal, season_length=4) == pytest.approx(1.0 / 1.25)
    with pytest.raises(ValueError, match="constant training series"):
        m.mase([1.0], [1.0], [2.0, 2.0, 2.0])


def test_interval_metrics_by_hand():
    y, lo, hi = np.array([0.0, 5.0, 12.0]), np.array([1.0, 1.0, 1.0]), np.array([10.0, 10.0, 10.0])
    assert m.coverage(y, lo, hi) == pytest.approx(1 / 3)
    assert m.interval_width(lo, hi) == 9.0
    # level 80: alpha 0.2, 2/alpha = 10. Scores: 9 + 10*1 = 19; 9; 9 + 10*2 = 29 -> mean 19
    assert m.winkler_score(y, lo, hi, 80) == pytest.approx(19.0)
    # M4 MSIS at 95%: 2/alpha = 40 -> scores 49, 9, 89 -> mean 49; scale: naive MAE of [1, 2, 4] = 1.5
    assert m.msis(y, lo, hi, [1.0, 2.0, 4.0], level=95) == pytest.approx(49.0 / 1.5)


def test_crps_matches_brute_force_degenerate_and_gaussian():
    rng = np.random.default_rng(0)
    paths, y = rng.normal(size=(300, 3)), np.array([0.1, -1.0, 2.0])
    brute = np.mean(np.abs(paths - y), axis=0) - 0.5 * np.mean(np.abs(paths[:, None, :] - paths[None, :, :]), axis=(0, 1))
    np.testing.assert_allclose(m.crps_per_horizon(y, paths), brute, rtol=1e-12)
    assert m.crps_from_paths([3.0], np.full((5, 1), 1.0)) == pytest.approx(2.0)  # a point mass: |x - y|
    sigma, yv = 2.0, 1.0
    z = yv / sigma
    closed = sigma * (z * (2 * 0.5 * (1 + math.erf(z / math.sqrt(2))) - 1) + 2 * math.exp(-z * z / 2) / math.sqrt(2 * math.pi) - 1 / math.sqrt(math.pi))
    big = rng.normal(0, sigma, size=(200_000, 1))
    assert m.crps_from_paths([yv], big) == pytest.approx(closed, rel=0.01)


def test_shapes_and_levels_are_checked():
    with pytest.raises(ValueError, match="y and yhat differ in shape"):
        m.mae([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="level must be a percentage in \\(0, 100\\), got 120"):
        m.winkler_score([1.0], [0.0], [2.0], 120)
    with pytest.raises(ValueError, match="paths must be \\(n_paths, h\\)"):
        m.crps_from_paths([1.0, 2.0], np.ones((5, 3)))
    lo, hi = m.quantile_band(np.arange(101.0)[:, None], 80)
    assert (lo[0], hi[0]) == pytest.approx((10.0, 90.0))
