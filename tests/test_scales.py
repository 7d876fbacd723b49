"""The fitting scale: raw by default, logit where the upper bound is near, another scale only on
strong backtest evidence."""

from __future__ import annotations

import numpy as np
import pytest

from smfcast.engine.scales import MIN_WINDOWS, Scale, bound_is_near, choose, guerrero_lambda


def test_scales_round_trip_and_truncate():
    y = np.array([0.5, 2.0, 30.0, 99.0])
    for scale in (Scale("raw"), Scale("log"), Scale("logit", lower=0, upper=100), Scale("boxcox", lam=0.5), Scale("boxcox", lam=0.0)):
        np.testing.assert_allclose(scale.inverse(scale.forward(y)), y, rtol=1e-12)
    clipped, n = Scale("raw", lower=0, upper=100).truncate(np.array([-1.0, 5.0, 101.0]))
    assert n == 2 and clipped.tolist() == [0.0, 5.0, 100.0]
    with pytest.raises(ValueError, match="scale 'sqrt' is not one of raw, log, logit, boxcox"):
        Scale("sqrt")


def test_raw_is_the_default_and_thin_evidence_keeps_it():
    y = np.linspace(100, 200, 20)
    assert choose(y, 0, np.inf, 6).scale.kind == "raw"
    few = {"raw": [1.0] * (MIN_WINDOWS - 1), "log": [0.1] * (MIN_WINDOWS - 1)}
    choice = choose(y, 0, np.inf, 6, few)
    assert choice.scale.kind == "raw" and f"at least {MIN_WINDOWS} are needed" in choice.reason


def test_strong_evidence_moves_the_scale_and_weak_evidence_does_not():
    y = np.geomspace(10, 200, 20)
    strong = {"raw": [1.0] * 8, "log": [0.8] * 8}
    assert choose(y, 0, np.inf, 6, strong).scale.kind == "log"
    split = {"raw": [1.0] * 8, "log": [0.5] * 4 + [1.2] * 4}  # wins half the windows
    assert choose(y, 0, np.inf, 6, split).scale.kind == "raw"
    slight = {"raw": [1.0] * 8, "log": [0.95] * 8}  # wins every window by 5%
    assert choose(y, 0, np.inf, 6, slight).scale.kind == "raw"


def test_a_near_upper_bound_chooses_logit_and_a_near_lower_bound_truncates_raw_values():
    falling = np.linspace(10, 1, 12)  # heading for 0 within the horizon
    assert bound_is_near(falling, 0, np.inf, 6) == (True, False)
    choice = choose(falling, 0, np.inf, 6)
    assert choice.scale.kind == "raw" and choice.scale.lower == 0
    assert choice.scale.truncate(np.array([-0.5, 0.5]))[0].tolist() == [0.0, 0.5]
    share = np.linspace(90, 99, 12)  # a percentage heading for 100
    choice = choose(share, 0, 100, 6)
    assert choice.scale.kind == "logit" and "upper bound is near" in choice.reason
    assert choose(np.linspace(10, 1, 12), 0, 100, 6).scale.kind == "raw"  # a share heading for 0
    rising = np.linspace(10, 20, 12)  # moving away from 0: raw
    assert bound_is_near(rising, 0, np.inf, 6) == (False, False) and choose(rising, 0, np.inf, 6).scale.kind == "raw"


def test_guerrero_lambda_finds_the_variance_stabilising_power():
    rng = np.random.default_rng(0)
    level = np.geomspace(10, 1000, 40)
    multiplicative = level * np.exp(rng.normal(0, 0.05, 40))  # sd proportional to the level: log (lambda 0)
    additive = np.linspace(10, 1000, 40) + rng.normal(0, 5, 40)  # constant sd and steps: no transform (lambda 1)
    assert abs(guerrero_lambda(multiplicative, 1)) < 0.35
    assert guerrero_lambda(additive, 1) > 0.6
