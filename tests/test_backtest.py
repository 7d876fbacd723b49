"""Rolling-origin backtests, calibration factors, the executor seam and the backtest command."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from forecast.cli import main
from forecast.engine.backtest import (
    BacktestSpec,
    apply_calibration,
    calibration_factors,
    cross_validation,
    evaluate,
    required_scale,
    weights_from_summary,
)
from forecast.registry.transforms import Transform


def test_cutoffs_follow_h_windows_and_step():
    assert BacktestSpec(h=4, n_windows=3, step_size=2).cutoffs(30, 6) == [22, 24, 26]
    assert BacktestSpec(h=4, n_windows=10, step_size=5).cutoffs(30, 6) == [6, 11, 16, 21, 26]


def test_cross_validation_long_output_names_cutoff_and_y():
    z = np.log(np.linspace(10, 30, 24))
    windows, cutoffs, failures = cross_validation(z, BacktestSpec(3, 4), ("ets", "theta"), 1, 100, 1, "s")
    assert cutoffs == [18, 19, 20, 21] and not failures
    assert [n for n, _ in windows["ensemble"]] == cutoffs and windows["ets"][0][1].shape == (100, 3)
    rows, summary = evaluate(z, windows, Transform("log"), 1)
    assert len(rows) == 3 * 4 * 3  # models x windows x horizons
    first = rows[0]
    assert {"model", "cutoff", "horizon", "y", "median", "lo-95", "hi-95"} <= set(first)
    assert first["y"] == pytest.approx(np.exp(z[first["cutoff"] + first["horizon"] - 1]))
    assert {s["model"] for s in summary} == {"ets", "theta", "ensemble"}


def test_required_scale_and_conformal_factor():
    paths = np.random.default_rng(0).normal(0, 1, size=(20000, 1))
    # the 95% half-width of N(0,1) is 1.96: an actual at 3.92 needs the band doubled
    assert required_scale(3.92, paths[:, 0]) == pytest.approx(2.0, rel=0.03)
    assert required_scale(0.0, np.zeros(10)) == 0.0
    # bands half as wide as the errors: the factor learned is about 2
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, size=60)
    windows = [(n, rng.normal(0, 1, size=(4000, 2))) for n in range(20, 58)]
    cal = calibration_factors(windows, z, 2)
    assert cal["status"] == "calibrated" and all(1.5 < f < 3.0 for f in cal["factors"])
    stretched = apply_calibration(windows[0][1], cal["factors"])
    np.testing.assert_allclose(stretched.std(axis=0), windows[0][1].std(axis=0) * np.array(cal["factors"]), rtol=1e-9)


def test_too_little_history_is_said_not_hidden():
    windows = [(10, np.zeros((50, 2))), (11, np.zeros((50, 2)))]
    cal = calibration_factors(windows, np.zeros(13), 2)
    assert cal["factors"] == [None, None] and cal["status"] == "uncalibrated: too little history"
    np.testing.assert_array_equal(apply_calibration(np.ones((3, 2)), cal["factors"]), np.ones((3, 2)))


def test_weights_are_inverse_squared_crps():
    w = weights_from_summary([{"model": "a", "crps": 1.0}, {"model": "b", "crps": 3.0}, {"model": "ensemble", "crps": 0.1}], ("a", "b"))
    assert w == pytest.approx({"a": 0.9, "b": 0.1})  # 1 : 1/9
    assert weights_from_summary([{"model": "a", "crps": 1.0}], ("a",)) is None


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
    assert "--models must be drawn from" in capsys.readouterr().err
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


def test_learn_with_too_little_history_keeps_equal_weights_and_says_so():
    from forecast.engine.backtest import learn
    z = np.log(np.linspace(100.0, 130.0, 8))  # 8 points: h=4 leaves 4 < 6 to train on
    weights, factors, record = learn(z, Transform("log"), 1, ("ets", "theta"), BacktestSpec(h=4, n_windows=8), 100, 1, "short")
    assert weights is None and factors is None
    assert record["status"] == "uncalibrated: 8 points, too few for one backtest window of h=4"
    assert record["weighting"] == "equal: no backtest window" and record["n_windows"] == 0


def test_conformal_quantile_is_the_ceil_n_plus_one_rank():
    from forecast.engine.backtest import conformal_quantile
    scores = [0.1 * i for i in range(1, 20)]  # n = 19: ceil(20 * 0.95) = 19th smallest
    assert conformal_quantile(scores) == pytest.approx(1.9)
    assert conformal_quantile(scores, 80) == pytest.approx(1.6)  # ceil(20 * 0.8) = 16th
    assert conformal_quantile([1.0, 2.0, 3.0, 4.0]) is None  # below MIN_CALIBRATION_POINTS
