"""The typed records of how a metric was forecast: one reader for stored runs, old and new."""

from __future__ import annotations

from smfcast.engine.records import SCHEMA, AgainstRandomWalk, Calibration, Failure, Interval, Method


def test_a_stored_method_reads_back_typed_and_writes_back_the_same(small_run):
    for metric in small_run.metrics:
        stored = small_run.metric_info(metric)["method"]
        method = small_run.method(metric)
        assert isinstance(method.calibration, Calibration) and method.schema == SCHEMA
        assert method.to_dict() == stored  # nothing lost on the way through
    market = small_run.method("market_size")
    assert market.method == "ratio_to_national" and market.national == "cn_inclusive_smallmicro_loans_cbirc"
    assert market.calibration.against_random_walk.verdict in ("beats", "matches", "worse")
    assert isinstance(market.calibration.against_random_walk.served, Interval)


def test_a_run_stored_before_the_schema_reads_with_defaults_and_keeps_unknown_keys():
    old = {"method": "direct", "series": "s", "ensemble_weights": {"ets": 1.0}, "ensemble_weighting": "equal: backtest off",
           "calibration": {"status": "calibrated", "factors_conformal": [1.2], "crps": {"ets": 0.1}}, "gaps_filled": 0}
    method = Method.from_dict(old)
    assert method.schema == SCHEMA and method.method == "direct" and method.national is None  # read in today's shape
    assert method.calibration.status == "calibrated" and method.calibration.labels_by_step == []
    assert method.calibration.extra == {"factors_conformal": [1.2], "crps": {"ets": 0.1}}
    assert method.extra == {"gaps_filled": 0}
    assert method.calibration.against_random_walk.verdict == "not measured"
    assert Method.from_dict(None).method == "not recorded"


def test_the_verdict_compares_interval_scores():
    band = lambda score: {"coverage-95": 0.9, "width-95": 1.0, "interval_score-95": score, "points": 8}  # noqa: E731
    assert AgainstRandomWalk.from_dict({"ensemble_served": band(1.0), "random_walk_with_drift": band(2.0)}).verdict == "beats"
    assert AgainstRandomWalk.from_dict({"ensemble_served": band(3.0), "random_walk_with_drift": band(2.0)}).verdict == "worse"
    assert AgainstRandomWalk.from_dict({"ensemble_served": band(2.0), "random_walk_with_drift": band(2.0)}).verdict == "matches"


def test_failures_read_as_records(small_run):
    failures = small_run.failures("green_loan_share")
    assert all(isinstance(f, Failure) and f.reason for f in failures)
    assert {f.model for f in failures} == set(small_run.metric_info("green_loan_share")["failures"])
