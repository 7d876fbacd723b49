"""Bands, ensemble mixing, transforms and the provincial relation: the arithmetic on paths."""

from __future__ import annotations

import numpy as np
import pytest

from smfcast.engine import ensemble, provincial
from smfcast.errors import InvalidInput
from smfcast.outputs.bands import band_rows, parse_levels, summarize
from smfcast.registry.grid import regularize
from smfcast.registry.periods import Period, parse_period
from smfcast.registry.series import Observation
from smfcast.registry.transforms import Transform


def test_summarize_orders_band_edges_and_matches_numpy():
    rng = np.random.default_rng(1)
    paths = rng.normal(size=(4000, 5)).cumsum(axis=1)
    s = summarize(paths, (80, 95))
    assert np.all(s["lo-95"] <= s["lo-80"]) and np.all(s["lo-80"] <= s["median"])
    assert np.all(s["median"] <= s["hi-80"]) and np.all(s["hi-80"] <= s["hi-95"])
    np.testing.assert_allclose(s["lo-80"], np.percentile(paths, 10, axis=0))
    np.testing.assert_allclose(s["hi-95"], np.percentile(paths, 97.5, axis=0))
    # a unit-variance random walk: the 95% band at step k is about +-1.96 sqrt(k)
    np.testing.assert_allclose(s["hi-95"], 1.96 * np.sqrt(np.arange(1, 6)), rtol=0.08)


def test_parse_levels_validates_and_sorts():
    assert parse_levels("95,80") == (80, 95)
    assert parse_levels([90]) == (90,)
    assert parse_levels(None) == (80, 95)
    assert parse_levels("67.5") == (67.5,)
    with pytest.raises(InvalidInput, match="level 120 is outside"):
        parse_levels("80,120")
    with pytest.raises(InvalidInput, match="'abc' is not a number"):
        parse_levels("abc")


def test_band_rows_are_long_format_per_period():
    paths = np.tile(np.array([1.0, 2.0]), (10, 1))
    rows = band_rows("s", "baseline", "arima", [parse_period("2026"), parse_period("2027")], paths, (80,))
    assert [r["period"] for r in rows] == ["2026", "2027"]
    assert rows[1] == {"series_id": "s", "scenario": "baseline", "model": "arima", "period": "2027", "kind": "forecast",
                       "mean": 2.0, "median": 2.0, "lo-80": 2.0, "hi-80": 2.0}


def test_ensemble_allocates_exactly_and_is_deterministic():
    assert ensemble.allocate(2000, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}) == {"a": 667, "b": 667, "c": 666}
    members = {"a": np.zeros((1000, 3)), "b": np.ones((1000, 3))}
    mixed = ensemble.mix(members, {"a": 0.25, "b": 0.75}, np.random.default_rng(0))
    assert mixed.shape == (1000, 3) and mixed[:, 0].sum() == 750
    again = ensemble.mix(members, {"a": 0.25, "b": 0.75}, np.random.default_rng(0))
    np.testing.assert_array_equal(mixed, again)
    assert ensemble.normalize_weights(["a", "b"], None) == {"a": 0.5, "b": 0.5}
    assert ensemble.normalize_weights(["a", "b"], {"a": 3.0, "b": 1.0, "gone": 5.0}) == {"a": 0.75, "b": 0.25}


def test_mixture_marginals_are_the_pooled_weighted_quantiles_of_every_member_path():
    grid = np.arange(1000.0)[:, None] / 1000
    members = {"a": np.repeat(grid, 2, axis=1), "b": 1 + np.repeat(grid, 2, axis=1)}
    mixed = np.sort(ensemble.mix(members, {"a": 0.2, "b": 0.8}, np.random.default_rng(3)), axis=0)
    # a path of a carries mass 0.2 / 1000, so the level (i + 1/2) / 1000 is first reached at a's path 5i + 2;
    # a path of b carries 0.8 / 1000 on top of a's 0.2
    np.testing.assert_allclose(mixed[:200, 0], (5 * np.arange(200) + 2) / 1000)
    i = np.arange(200, 1000)
    np.testing.assert_allclose(mixed[200:, 1], 1 + (np.ceil((i + 0.5 - 200) / 0.8) - 1) / 1000)
    alone = ensemble.mix({"a": members["a"]}, None, np.random.default_rng(3))
    np.testing.assert_array_equal(np.sort(alone, axis=0), members["a"])


def test_mixture_paths_keep_the_members_dependence_between_horizons():
    rng = np.random.default_rng(5)
    level = {"a": rng.normal(0, 1, 400), "b": rng.normal(3, 2, 400)}
    members = {k: np.repeat(v[:, None], 4, axis=1) * [1, 2, 3, 4] for k, v in level.items()}
    mixed = ensemble.mix(members, {"a": 0.6, "b": 0.4}, rng)
    np.testing.assert_allclose(mixed / mixed[:, :1], np.tile([1.0, 2, 3, 4], (400, 1)))


def test_mixture_tails_are_read_off_every_path_not_a_subsample():
    rng = np.random.default_rng(11)
    exact = {"a": np.quantile(rng.normal(0, 1, 2_000_000), 0.975)}  # both members N(0, 1): the mixture is N(0, 1)
    errors, subsample_errors = [], []
    for _ in range(60):
        members = {name: rng.normal(0, 1, (500, 1)) for name in "abcde"}
        errors.append(np.percentile(ensemble.mix(members, None, rng), 97.5) - exact["a"])
        drawn = ensemble.subsample(members, ensemble.normalize_weights(list(members), None), 500, rng)  # the old mixture
        subsample_errors.append(np.percentile(drawn, 97.5) - exact["a"])
    assert np.sqrt(np.mean(np.square(errors))) < 0.6 * np.sqrt(np.mean(np.square(subsample_errors)))


def test_transforms_round_trip_and_keep_bounds():
    logit = Transform("logit", 0, 100)
    x = np.array([0.5, 2.7, 50.0, 99.5])
    np.testing.assert_allclose(logit.inverse(logit.forward(x)), x)
    extreme = logit.inverse(np.array([-1e6, 1e6]))
    assert 0 < extreme[0] and extreme[1] < 100
    log = Transform("log")
    np.testing.assert_allclose(log.inverse(log.forward([786.4])), [786.4])
    with pytest.raises(ValueError, match="strictly inside"):
        logit.forward([100.0])
    with pytest.raises(ValueError, match="positive"):
        log.forward([0.0])


def _obs(period: str, value: float) -> Observation:
    return Observation("s", parse_period(period), value, "src", "official", "", 0)


def test_regularize_fills_internal_gaps_in_model_space():
    obs = [_obs("2020Q1", 100.0), _obs("2020Q3", 121.0), _obs("2020Q4", 133.1)]
    grid = regularize(obs, Transform("log"))
    assert [str(p) for p in grid.periods] == ["2020Q1", "2020Q2", "2020Q3", "2020Q4"]
    assert grid.filled == 1 and grid.season_length == 4
    assert np.exp(grid.z[1]) == pytest.approx(110.0)  # geometric midpoint: interpolated on the log scale


def test_short_series_method_recovers_a_known_ratio():
    """Provincial = 2% of national at every date: the relation is flat, and the provincial paths
    are the national paths scaled by 0.02."""
    national_obs = [_obs(f"{y}Q{q}", 30 * 1.03 ** (4 * (y - 2018) + q)) for y in range(2018, 2026) for q in range(1, 5)]
    national = regularize(national_obs, Transform("log"))
    prov = [(p.decimal_year, np.log(0.02 * v)) for p, v in
            [(parse_period(str(y)), 30 * 1.03 ** (4 * (y - 2018) + 4)) for y in (2021, 2022, 2023)]]
    rel = provincial.fit_relation([t for t, _ in prov], [z for _, z in prov], national, prior_sigma=0.05)
    assert rel.last == pytest.approx(np.log(0.02), abs=1e-12)
    assert rel.drift == pytest.approx(0.0, abs=1e-12)
    paths = provincial.relation_paths(rel, [2025.0 + k for k in range(1, 6)], 20000, np.random.default_rng(3))
    np.testing.assert_allclose(np.exp(np.median(paths, axis=0)), 0.02, rtol=0.01)
    # the uncertainty grows like sqrt(time) plus the drift's standard error
    spread = paths.std(axis=0)
    assert np.all(np.diff(spread) > 0)


def test_relation_drift_is_shrunk_and_prior_dominates_one_change():
    national = regularize([_obs(f"{y}", 100.0) for y in range(2015, 2026)], Transform("log"))
    times = [Period(2021, 12, "annual").decimal_year, Period(2022, 12, "annual").decimal_year]
    rel = provincial.fit_relation(times, [np.log(10.0), np.log(10.0) - 0.1], national, prior_sigma=0.05)
    assert rel.drift == pytest.approx(-0.1 / 3)  # one change: shrunk by 1 / (1 + 2)
    assert rel.sigma == pytest.approx(0.05)  # no residual variance to pool with yet
    outside = provincial.fit_relation([2030.0, times[0]], [0.0, np.log(10.0)], national, 0.05)
    assert outside.dropped == 1 and len(outside.r) == 1


def test_weighted_median_matches_the_median_with_equal_weights_and_ignores_a_light_member():
    values = np.array([[1.0, 10.0], [2.0, 30.0], [4.0, 20.0], [100.0, -5.0]])
    np.testing.assert_allclose(ensemble.weighted_median(values, np.ones(4)), np.median(values, axis=0))
    # a member with less weight than each other cannot move the weighted median on its own:
    # it is the median of the other three wherever the light one sits
    light = np.array([1.0, 1.0, 1.0, 0.5])
    np.testing.assert_allclose(ensemble.weighted_median(values, light), np.median(values[:3], axis=0))
    np.testing.assert_allclose(ensemble.weighted_median(values, np.array([0.1, 0.1, 0.7, 0.1])), values[2])


def test_weights_shrink_towards_equal_by_the_evidence():
    w, lam = ensemble.shrunk_weights({"a": 1.0, "b": 3.0}, evidence=8)
    assert lam == pytest.approx(0.5)
    assert w == pytest.approx({"a": 0.25 + 0.5 * 0.75, "b": 0.25 + 0.5 * 0.25})  # inverse scores 3:1, halfway to equal
    many, lam = ensemble.shrunk_weights({"a": 1.0, "b": 3.0}, evidence=10_000)
    assert many["a"] == pytest.approx(0.75, abs=1e-3)
    few, _ = ensemble.shrunk_weights({"a": 1.0, "b": 1e6}, evidence=2)
    assert few["b"] > 0.39  # a member is never weighted near zero on a handful of windows
    assert ensemble.shrunk_weights({"a": 1.0, "b": np.nan}, evidence=8) == (None, 1.0)


def test_the_ensemble_is_centred_on_the_weighted_median_of_member_points():
    # a member's point is its path mean (its library's point forecast)
    rng = np.random.default_rng(0)
    members = {"a": rng.normal(0, 1, (4000, 3)), "b": rng.normal(1, 1, (4000, 3)), "c": rng.normal(5, 0.1, (4000, 3))}
    for how in ensemble.COMBINATIONS:
        point, paths = ensemble.combine(members, None, np.random.default_rng(1), how=how)
        np.testing.assert_allclose(point, np.median([np.mean(p, axis=0) for p in members.values()], axis=0))
        np.testing.assert_allclose(np.median(paths, axis=0), point, atol=1e-9)
    # quantile averaging: the spread is the members' average spread, not their disagreement
    _, q = ensemble.combine(members, None, np.random.default_rng(1), how="quantiles")
    _, m = ensemble.combine(members, None, np.random.default_rng(1), how="mixture")
    assert np.all(q.std(axis=0) < 0.8) and np.all(m.std(axis=0) > 2)
    # the paths keep the members' dependence between horizons (a random walk stays a random walk)
    walks = {"a": rng.normal(0, 1, (4000, 6)).cumsum(axis=1), "b": rng.normal(0, 1, (4000, 6)).cumsum(axis=1)}
    _, q = ensemble.combine(walks, None, np.random.default_rng(2))
    assert np.corrcoef(q[:, 0], q[:, 5])[0, 1] == pytest.approx(np.corrcoef(walks["a"][:, 0], walks["a"][:, 5])[0, 1], abs=0.06)
    # in model space: the point is the log of the members' mean in natural units (the arithmetic
    # mean of their points, not the geometric mean a mean on logs would give); the paths' median in
    # natural units is that mean
    from smfcast.registry.transforms import Transform
    skewed = {"a": np.exp(rng.normal(0, 1, (4000, 2))), "b": 0.01 * np.exp(rng.normal(0, 1, (4000, 2)))}
    for rule in ensemble.POINT_RULES:
        point, paths = ensemble.combine(skewed, None, np.random.default_rng(3), space=Transform("log"), point_rule=rule)
        natural = np.mean([np.mean(p, axis=0) for p in skewed.values()], axis=0)
        np.testing.assert_allclose(point, np.log(natural), rtol=1e-9)
        assert np.all(np.exp(point) > 0.8)  # the geometric mean of the two points is about 0.16
        np.testing.assert_allclose(np.median(np.exp(paths), axis=0), natural, rtol=1e-9)


def test_members_truncated_at_zero_do_not_blow_up_the_recentred_ensemble():
    # more than half of each member's paths sit on the bound 0, so the mixture's median is the bound;
    # a shift on logs from there to the point multiplied the other paths by thousands
    from smfcast.registry.transforms import Transform
    rng = np.random.default_rng(4)
    def truncated(level):
        paths = rng.normal(level, 100, (1000, 3))
        paths[:600] = 0.0
        return paths
    members = {"a": truncated(1000.0), "b": truncated(1200.0)}
    for how in ensemble.COMBINATIONS:
        point, paths = ensemble.combine(members, None, np.random.default_rng(5), how, Transform("log"), "mean")
        natural = np.exp(paths)
        np.testing.assert_allclose(np.exp(point), np.mean([m.mean(axis=0) for m in members.values()], axis=0), rtol=1e-9)
        np.testing.assert_allclose(np.median(natural, axis=0), np.exp(point), rtol=1e-6)
        assert np.all(np.percentile(natural, 97.5, axis=0) < 2500) and np.all(natural >= 0)


def test_relative_errors_are_geometric_means_of_mae_against_the_median_member():
    # per case the median member's MAE is the reference: case 1 median 2, case 2 median 4
    rel = ensemble.relative_errors({"a": [1.0, 4.0], "b": [2.0, 8.0], "c": [4.0, 2.0]})
    assert rel["a"] == pytest.approx(np.sqrt(0.5 * 1.0))
    assert rel["b"] == pytest.approx(np.sqrt(1.0 * 2.0))
    assert rel["c"] == pytest.approx(np.sqrt(2.0 * 0.5))
    # a case a member missed, or where the median member is exact, is skipped for all
    assert ensemble.relative_errors({"a": [1.0, np.nan, 0.0], "b": [2.0, 1.0, 0.0], "c": [4.0, 1.0, 0.0]})["a"] == pytest.approx(0.5)


def test_pool_leaves_out_a_member_far_worse_on_much_evidence_and_keeps_it_on_little():
    relative = {"a": 0.95, "b": 1.0, "c": 1.02, "d": 1.3}
    kept, shrunk = ensemble.pool(relative, evidence=700)
    assert kept == ["a", "b", "c"] and shrunk["d"] == pytest.approx(1.3 ** (700 / 708))
    # eight windows halve the log: 1.3 becomes 1.14, still out; 1.2 becomes 1.095, kept
    assert ensemble.pool(relative, evidence=8)[0] == ["a", "b", "c"]
    assert ensemble.pool({**relative, "d": 1.2}, evidence=8)[0] == ["a", "b", "c", "d"]
    assert ensemble.pool(relative, evidence=0)[0] == ["a", "b", "c", "d"]  # no evidence, no verdict
    # never fewer than two members
    assert ensemble.pool({"a": 0.5, "b": 2.0, "c": 3.0}, evidence=1000)[0] == ["a", "b"]
    assert ensemble.pooled({"a": 0.2, "b": 0.3, "c": 0.5}, ["a", "b", "c"], ["a", "b"]) == pytest.approx({"a": 0.4, "b": 0.6, "c": 0.0})
    assert ensemble.pooled(None, ["a", "b", "c"], ["a", "c"]) == pytest.approx({"a": 0.5, "b": 0.0, "c": 0.5})


def test_point_rules_and_the_training_evidence_that_chooses_between_them():
    points = np.array([[1.0, 10.0], [2.0, 20.0], [9.0, 60.0]])
    np.testing.assert_allclose(ensemble.combined_point(points, np.ones(3), "median"), [2.0, 20.0])
    np.testing.assert_allclose(ensemble.combined_point(points, np.ones(3), "mean"), [4.0, 30.0])
    np.testing.assert_allclose(ensemble.combined_point(points, np.array([0.5, 0.5, 0.0]), "mean"), [1.5, 15.0])
    with pytest.raises(ValueError, match="point rule"):
        ensemble.combined_point(points, np.ones(3), "mode")
    def cases(*truths):
        return [(points, np.ones(3), np.array(t, dtype=float), 1.0) for t in truths]
    # outcomes at the mean win for the mean; at the median for the median; a tie keeps the median
    assert ensemble.choose_point_rule(cases([4.0, 30.0], [4.5, 31.0]))[0] == "mean"
    assert ensemble.choose_point_rule(cases([2.0, 20.0], [2.5, 21.0]))[0] == "median"
    assert ensemble.choose_point_rule(cases([3.0, 25.0], [3.0, 25.0]))[0] == "median"
    assert ensemble.choose_point_rule(cases([np.nan, np.nan], [np.nan, np.nan]))[0] == "median"
    # one case is no evidence; a gain inside one standard error of the paired difference is none either
    assert ensemble.choose_point_rule(cases([4.0, 30.0]))[0] == "median"
    rule, scores = ensemble.choose_point_rule(cases([4.0, 30.0], [2.0, 21.0]))
    assert rule == "median" and scores == pytest.approx({"median": 3.25, "mean": 2.75})  # gains +6 and -5
    rule, scores = ensemble.choose_point_rule(cases([4.0, np.nan], [4.0, np.nan]) + [(points, np.ones(3), np.array([4.0, 30.0]), 2.0)])
    assert rule == "mean" and scores == pytest.approx({"median": 7 / 3, "mean": 0.0})  # NaN unscored; scale 2 halves


def test_a_member_left_out_of_the_pool_takes_no_part_in_the_ensemble():
    rng = np.random.default_rng(0)
    members = {"a": rng.normal(0, 1, (2000, 3)), "b": rng.normal(1, 1, (2000, 3)), "far": rng.normal(50, 1, (2000, 3))}
    for how in ensemble.COMBINATIONS:
        point, paths = ensemble.combine(members, {"a": 0.5, "b": 0.5, "far": 0.0}, np.random.default_rng(1), how, None, "mean")
        np.testing.assert_allclose(point, np.mean([members["a"].mean(axis=0), members["b"].mean(axis=0)], axis=0))
        assert paths.max() < 10  # no path of the left-out member


def test_provincial_paths_follow_national_increments_after_the_last_provincial_point():
    from smfcast.engine.headline import national_at
    # a national series ending at 2024Q2 and national paths for 2024Q3 onwards (constant per path)
    national = regularize([_obs(f"{y}Q{q}", 10.0 + (y - 2020) * 4 + q) for y in range(2020, 2025) for q in range(1, 5)
                           if (y, q) <= (2024, 2)], Transform("log"))
    steps = 12
    paths = np.log(np.linspace(27.0, 38.0, steps))[None, :] + np.array([[-0.1], [0.0], [0.1]])
    at = national_at(national, paths, [2024.5, 2025.0, 2025.125, 2025.75])  # decimal years of period ends
    np.testing.assert_allclose(at[:, 0], national.z[-1])  # 2024Q2 is observed: known, no spread
    np.testing.assert_allclose(at[:, 1], paths[:, 1])  # 2024Q4 is the second future quarter
    np.testing.assert_allclose(at[:, 2], 0.5 * (paths[:, 1] + paths[:, 2]))  # halfway to 2025Q1
    np.testing.assert_allclose(at[:, 3], paths[:, 4])  # 2025Q3
