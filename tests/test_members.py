"""Fitting members on a scale: natural-unit paths, guards against non-finite, out-of-bounds and
explosive paths, failures recorded by name."""

from __future__ import annotations

import numpy as np
import pytest

from smfcast.engine.members import EXPLOSIVE_RATIO, fit_members, guard, random_walk_width
from smfcast.engine.scales import Scale

Y = np.array([10.0, 10.8, 11.5, 12.7, 13.1, 14.4, 15.0, 16.2, 17.1, 17.9, 19.2, 20.0])


def test_members_are_fitted_on_the_scale_and_answer_in_natural_units():
    raw = fit_members(Y, 1, 4, ("ets", "theta"), 300, 1, "t", Scale("raw"))
    log = fit_members(Y, 1, 4, ("ets", "theta"), 300, 1, "t", Scale("log"))
    assert set(raw.fits) == {"ets", "theta"} and not raw.failures
    for fits in (raw, log):
        for fit in fits.fits.values():
            assert fit.paths.shape == (300, 4) and 18 < fit.point[0] < 24  # natural units, near the last value 20
    assert not np.allclose(raw.fits["ets"].paths, log.fits["ets"].paths)


def test_explosive_paths_are_refused_and_recorded(monkeypatch):
    rng = np.random.default_rng(0)
    width = random_walk_width(Y, 4)[-1]
    calm = 20 + rng.normal(0, width / 4, size=(400, 4))
    out, truncated, resampled = guard("m", calm, Y, Scale("raw"), rng)
    assert truncated == 0 and resampled == 0
    wild = 20 + rng.normal(0, EXPLOSIVE_RATIO * width, size=(400, 4))
    with pytest.raises(FloatingPointError, match="explosive paths"):
        guard("m", wild, Y, Scale("raw"), rng)


def test_non_finite_paths_are_resampled_and_bounds_truncate():
    rng = np.random.default_rng(1)
    paths = 20 + rng.normal(0, 1, size=(100, 3))
    paths[:10, 1] = np.nan
    paths[10:15, 2] = -5.0
    out, truncated, resampled = guard("m", paths, Y, Scale("raw", lower=0), rng)
    assert resampled == 10 and np.all(np.isfinite(out)) and truncated == 5 and out.min() >= 0
    paths[:60, 0] = np.inf
    with pytest.raises(FloatingPointError, match="60 of 100 paths are not finite"):
        guard("m", paths, Y, Scale("raw"), rng)


def test_an_arima_that_explodes_on_logs_is_refused_and_the_others_stand():
    # a short accelerating series: two differences on logs make a quadratic log trend, i.e. an
    # exponentially growing band; the guard refuses the member and the run goes on without it
    y = np.array([1.0, 1.05, 1.2, 1.5, 2.1, 3.2, 5.4, 9.8, 19.0, 39.0, 84.0, 190.0, 450.0, 1100.0, 2800.0, 7400.0,
                  20000.0, 56000.0, 160000.0, 470000.0, 1.4e6, 4.3e6])
    from smfcast.models import ARIMA
    wide = np.exp(ARIMA(max_d=2).fit(np.log(y)).sample(12, 500, np.random.default_rng(0)))
    lo, hi = np.percentile(wide[:, -1], [2.5, 97.5])
    assert hi - lo > EXPLOSIVE_RATIO * random_walk_width(y, 12)[-1]  # the unguarded paths do explode
    members = fit_members(y, 1, 12, ("arima", "theta"), 500, 0, "x", Scale("log"))
    assert "explosive paths" in members.failures.get("arima", "") or "arima" in members.fits
