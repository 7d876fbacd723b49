"""Rolling-origin backtests, calibration factors, the executor seam and the backtest command."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from smfcast.cli import main
from smfcast.engine.backtest import BacktestSpec, cross_validation, evaluate, learn, window_errors, window_scores
from smfcast.engine.scales import Scale
from smfcast.registry.grid import regularize
from smfcast.registry.periods import parse_period
from smfcast.registry.series import Observation
from smfcast.registry.transforms import Transform


def test_cutoffs_follow_h_windows_and_step():
    assert BacktestSpec(h=4, n_windows=3, step_size=2).cutoffs(30, 6) == [22, 24, 26]
    assert BacktestSpec(h=4, n_windows=10, step_size=5).cutoffs(30, 6) == [6, 11, 16, 21, 26]


def test_cross_validation_long_output_names_cutoff_and_y():
    y = np.linspace(10, 30, 24)
    windows, cutoffs, failures = cross_validation(y, BacktestSpec(3, 4), ("ets", "theta"), 1, 100, 1, "s", Scale("raw"))
    assert cutoffs == [18, 19, 20, 21] and not failures
    assert [n for n, _ in windows["ets"]] == cutoffs and windows["ets"][0][1].shape == (100, 3)
    rows, summary = evaluate(y, y, windows, 1)
    assert len(rows) == 2 * 4 * 3  # models x windows x horizons
    first = rows[0]
    assert {"model", "cutoff", "horizon", "y", "median", "lo-95", "hi-95"} <= set(first)
    assert first["y"] == pytest.approx(y[first["cutoff"] + first["horizon"] - 1])
    assert {s["model"] for s in summary} == {"ets", "theta"}


def _obs(period, value):
    return Observation("s", parse_period(period), value, "src", "official", "", 0)


def test_interpolated_points_are_never_scored():
    quarters = [f"{y}Q{q}" for y in range(2015, 2022) for q in range(1, 5)]
    published = [p for i, p in enumerate(quarters) if i % 3 != 1]  # every third quarter missing
    series = regularize([_obs(p, 100 + 2 * quarters.index(p)) for p in published], Transform("log"))
    assert series.filled == sum(1 for i in range(len(quarters) - 1) if i % 3 == 1)
    windows, cutoffs, _ = cross_validation(series.y, BacktestSpec(4, 6), ("theta",), 4, 100, 1, "g", Scale("raw"))
    rows, _ = evaluate(series.truth, series.y, windows, 4)
    scored = {r["cutoff"] + r["horizon"] - 1 for r in rows}
    assert scored and all(series.observed[i] for i in scored)
    assert len(rows) == sum(1 for n in cutoffs for k in range(4) if n + k < len(series.y) and series.observed[n + k])
    assert len(window_scores(series.truth, series.y, windows["theta"], 4)) == len(cutoffs)


def _grid(values):
    return regularize([_obs(f"{2000 + i}", v) for i, v in enumerate(values)], Transform("log"))


def test_window_errors_align_members_by_training_length():
    # the pool compares members window by window: a member missing a window gets NaN there, and
    # unpublished points (NaN truth) are not scored
    truth = np.array([0.0, 0.0, 0.0, 10.0, 20.0, np.nan, 40.0])
    paths = lambda *means: np.tile(np.array(means, dtype=float), (4, 1))  # noqa: E731 - constant paths
    windows = {"a": [(3, paths(11, 22)), (5, paths(30, 43))], "b": [(5, paths(0, 40))]}
    errors = window_errors(truth, windows)
    assert errors["a"] == [pytest.approx(1.5), pytest.approx(3.0)]  # |11-10|, |22-20|; then |43-40| only
    assert np.isnan(errors["b"][0]) and errors["b"][1] == pytest.approx(0.0)


def test_learn_records_scale_weights_calibration_and_the_random_walk():
    rng = np.random.default_rng(0)
    series = _grid(100 * np.exp(np.cumsum(rng.normal(0.04, 0.02, 22))))
    learned = learn(series, 1, ("ets", "theta"), BacktestSpec(h=3, n_windows=8), 200, 1, "s", 0.0, np.inf, 6)
    record = learned.record
    assert record["n_windows"] == 8 and record["scale"]["scale"] in ("raw", "log", "boxcox")
    assert set(learned.weights) == {"ets", "theta"} and sum(learned.weights.values()) == pytest.approx(1.0)
    assert record["weighting"].startswith("backtest: 1 / CRPS, shrunk towards equal (lambda 0.50)")
    assert len(record["horizons"]) == 3 and all(hz["scores"] == 8 for hz in record["horizons"])
    assert record["labels_by_step"] == ["calibrated"] * 3 + ["extrapolated"] * 3 or learned.factors is None
    walk = record["against_random_walk"]
    assert set(walk) == {"ensemble_served", "ensemble_raw", "random_walk_with_drift"}
    assert all(walk[k]["points"] == 8 * 3 for k in walk)
    # the served band is the raw band widened by the run's rule: never narrower
    assert walk["ensemble_served"]["width-95"] >= walk["ensemble_raw"]["width-95"] - 1e-9
    # two members both stay (a pool keeps at least two); the point rule is the one with the lower backtest MAE, and the record says which and why
    assert record["pool"] == ["ets", "theta"] and set(record["relative_error_shrunk"]) == {"ets", "theta"}
    scores = record["point_rule_scaled_mae"]
    assert learned.point_rule == record["point_rule"] == min(scores, key=lambda r: (scores[r], r != "median"))


def test_the_random_walk_with_drift_is_a_member_on_annual_series_only():
    from smfcast.defaults import MEMBERS, members_for
    assert members_for(MEMBERS, 1) == MEMBERS and members_for(MEMBERS, 4) == tuple(m for m in MEMBERS if m != "drift")
    rng = np.random.default_rng(3)
    annual = _grid(100 * np.exp(np.cumsum(rng.normal(0.04, 0.02, 22))))
    learned = learn(annual, 1, ("theta", "drift"), BacktestSpec(h=3, n_windows=6), 200, 1, "a", 0.0, np.inf, 3)
    assert set(learned.weights) == {"theta", "drift"}  # weighted as a member ...
    assert learned.record["against_random_walk"]["random_walk_with_drift"]["points"] == 6 * 3  # ... and still the benchmark
    quarterly = learn(annual, 4, ("theta", "drift"), BacktestSpec(h=3, n_windows=6), 200, 1, "q", 0.0, np.inf, 3)
    assert quarterly.weights == {"theta": 1.0}  # one member left: a random walk ignores the season
    assert quarterly.record["weighting"].startswith("equal")
    assert quarterly.record["against_random_walk"]["random_walk_with_drift"]["points"] == 6 * 3


def test_learn_with_too_little_history_keeps_equal_weights_and_says_so():
    series = _grid(np.linspace(100.0, 130.0, 8))  # 8 points: h=4 leaves 4 < 6 to train on
    learned = learn(series, 1, ("ets", "theta"), BacktestSpec(h=4, n_windows=8), 100, 1, "short", 0.0, np.inf, 6)
    assert learned.weights is None and learned.factors is None
    assert learned.record["status"] == "uncalibrated: 8 points, too few for one backtest window of h=4"
    assert learned.record["weighting"] == "equal: no backtest window" and learned.record["n_windows"] == 0


def _backtest_cli(tmp_path, *extra):
    out = tmp_path / "bt"
    code = main(["--store", str(tmp_path / "s.sqlite"), "backtest", "--metric", "npl_ratio", "--models", "ets,theta",
                 "--h", "2", "--n-windows", "6", "--paths", "100", "--quiet", "-o", str(out), *extra])
    assert code == 0
    return out


def test_backtest_command_writes_csv_and_charts_and_repeats_exactly(tmp_path, capsys):
    out = _backtest_cli(tmp_path, "--engine", "serial")
    first = (out / "backtest_summary.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(open(out / "backtest_rows.csv", encoding="utf-8")))
    assert {r["series_id"] for r in rows} == {"cn_bank_npl_ratio"} and {r["model"] for r in rows} >= {"ets", "ensemble-calibrated"}
    assert (out / "backtest_cn_bank_npl_ratio.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "qh_smallmicro_npl_ratio: 3 points, too few for one window" in printed
    again = _backtest_cli(tmp_path, "--engine", "local")
    assert (again / "backtest_summary.csv").read_text(encoding="utf-8") == first


def test_backtest_bad_arguments(tmp_path, capsys):
    assert main(["--store", str(tmp_path / "s.sqlite"), "backtest", "--models", "lstm"]) == 2
    assert "--models must be a non-empty list drawn from arima, prophet, ets, theta" in capsys.readouterr().err
    assert main(["--store", str(tmp_path / "s.sqlite"), "backtest", "--engine", "dask"]) == 2
    assert "needs --address" in capsys.readouterr().err


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_numbers(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        out = _backtest_cli(tmp_path / "dask", "--engine", "dask", "--address", cluster.scheduler_address)
        dask_summary = (out / "backtest_summary.csv").read_text(encoding="utf-8")
    local = _backtest_cli(tmp_path / "local", "--engine", "serial")
    assert dask_summary == (local / "backtest_summary.csv").read_text(encoding="utf-8")
