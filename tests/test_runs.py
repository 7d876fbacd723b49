"""Immutable runs: same inputs, same id and numbers; changed data, new id; old runs stay readable.
And the engine's methods, fallbacks and bounds on the shipped data."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from smfcast.engine.headline import EngineConfig, forecast_metric
from smfcast.errors import NotFound
from smfcast.outputs.run_tables import forecast_rows, scenario_paths
from smfcast.policy.scenarios import Scenario
from smfcast.registry.series import load_registry
from smfcast.store.runs import RunStore, create_run, run_id_for
from tests.conftest import DATA, SMALL

FAST = EngineConfig(n_paths=200, models=("ets", "theta"))


def test_same_inputs_same_id_and_identical_numbers(tmp_path, small_store, small_run):
    other = RunStore(tmp_path / "other.sqlite")
    again = create_run(DATA, SMALL, other)
    assert again.run_id == small_run.run_id
    for metric in small_run.metrics:
        for model in small_run.models(metric):
            np.testing.assert_array_equal(other.paths(again.run_id, metric, model, "adverse"),
                                          small_store.paths(small_run.run_id, metric, model, "adverse"))


def test_changed_observation_gives_a_new_run_and_old_runs_stay_readable(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    store = RunStore(tmp_path / "runs.sqlite")
    first = create_run(data, FAST, store)
    path = data / "observations.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("qh_smallmicro_loans,2022,786.4,", "qh_smallmicro_loans,2022,790.0,"), encoding="utf-8")
    assert run_id_for(data, FAST)[0] != first.run_id
    second = create_run(data, FAST, store)
    assert second.run_id != first.run_id
    assert store.get().run_id == first.run_id  # the published run is the default, not the newest
    store.publish(second.run_id, "test", "new data")
    assert store.get().run_id == second.run_id
    old = forecast_rows(store, store.get(first.run_id), "market_size")
    new = forecast_rows(store, store.get(second.run_id), "market_size")
    assert old[-1]["median"] != new[-1]["median"]
    assert {r.run_id for r in store.list()} == {first.run_id, second.run_id}


def test_seed_changes_the_id(tmp_path):
    assert run_id_for(DATA, FAST)[0] != run_id_for(DATA, EngineConfig(seed=1, n_paths=200, models=("ets", "theta")))[0]


def test_bands_2026_2030_are_usable_and_the_ensemble_sits_among_its_members(small_store, small_run):
    for metric in small_run.metrics:
        assert small_run.metric_info(metric)["periods"][-5:] == ["2026", "2027", "2028", "2029", "2030"]
        medians = {m: {r["period"]: r["median"] for r in forecast_rows(small_store, small_run, metric, m, "baseline")}
                   for m in small_run.models(metric)}
        members = [m for m in medians if m != "ensemble"]
        for period, value in medians["ensemble"].items() if members else ():
            assert min(medians[m][period] for m in members) - 1e-9 <= value <= max(medians[m][period] for m in members) + 1e-9
    # no absurd bands: the green-loan share's 2028 95% band once ran from 1.4% to 89.7%
    green = {r["period"]: r for r in forecast_rows(small_store, small_run, "green_loan_share", "ensemble", "baseline")}
    assert green["2028"]["hi-95"] - green["2028"]["lo-95"] < 40
    npl = {r["period"]: r for r in forecast_rows(small_store, small_run, "npl_ratio", "ensemble", "baseline")}
    assert npl["2026"]["hi-95"] - npl["2026"]["lo-95"] < 4


def test_methods_and_grades_are_recorded(small_run):
    market = small_run.metric_info("market_size")
    assert market["method"]["method"] == "ratio_to_national"
    assert market["method"]["national"] == "cn_inclusive_smallmicro_loans_cbirc"
    assert market["grades"]["report"] == 1 and market["grades"]["derived"] >= 1
    green = small_run.metric_info("green_loan_share")["method"]
    assert green["method"] == "spread_to_national" and green["relation"]["points_after_national_data"] == 2
    assert set(small_run.metric_info("npl_ratio")["method"]["ensemble_weights"]) == {"arima", "ets", "theta"}
    assert small_run.metric_info("npl_ratio")["method"]["national_fit"] == "members on the quarterly grid"


def test_a_failing_member_falls_back_and_is_recorded(monkeypatch):
    from smfcast.engine import members
    from smfcast.models import make_model as real

    class Broken:
        def fit(self, y):
            raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr(members, "make_model", lambda name, season_length=1, transformed=False:
                        Broken() if name == "ets" else real(name, season_length, transformed))
    fc = forecast_metric(load_registry(DATA), "npl_ratio", EngineConfig(n_paths=4000, models=("ets", "theta")))
    assert fc.failures == {"ets": "LinAlgError: singular matrix"}
    assert set(fc.paths) == {"theta", "ensemble"}
    # the ensemble of one member is that member's national paths (reordered, stretched by their own
    # backtest calibration) plus the same provincial relation: the same median, a band at least as wide
    assert fc.method.ensemble_weights == {"theta": 1.0} and fc.method.ensemble_weighting.startswith("equal")
    ens, theta = np.percentile(fc.paths["ensemble"], [2.5, 50, 97.5], axis=0), np.percentile(fc.paths["theta"], [2.5, 50, 97.5], axis=0)
    np.testing.assert_allclose(ens[1], theta[1], atol=0.02 * np.max(theta[2] - theta[0]))
    assert np.all(ens[2] - ens[0] >= 0.95 * (theta[2] - theta[0]))


def test_custom_scenario_reuses_cached_paths(small_store, small_run):
    preset = small_run.scenario("policy_targets")
    custom = Scenario("mine", "mine", "", preset.paths)
    np.testing.assert_array_equal(scenario_paths(small_store, small_run, "npl_ratio", "ensemble", custom),
                                  small_store.paths(small_run.run_id, "npl_ratio", "ensemble", "policy_targets"))


def test_policy_and_adverse_scenarios_move_the_right_way(small_store, small_run):
    def median(metric, scenario, year):
        rows = forecast_rows(small_store, small_run, metric, "ensemble", scenario)
        return next(r["median"] for r in rows if r["period"] == str(year))
    assert median("market_size", "policy_targets", 2028) > median("market_size", "baseline", 2028)
    assert median("market_size", "adverse", 2027) < median("market_size", "baseline", 2027)
    assert median("npl_ratio", "policy_targets", 2026) < median("npl_ratio", "baseline", 2026)
    assert median("npl_ratio", "adverse", 2027) > median("npl_ratio", "baseline", 2027)
    assert median("green_loan_share", "policy_targets", 2028) > median("green_loan_share", "baseline", 2028)
    assert median("npl_ratio", "adverse", 2026) == median("npl_ratio", "baseline", 2026)  # the shock starts in 2027


def test_unknown_run_model_and_scenario_are_not_found(small_store, small_run):
    with pytest.raises(NotFound, match="unknown run"):
        small_store.get("0000000000000000")
    with pytest.raises(NotFound, match="unknown model 'lstm'"):
        forecast_rows(small_store, small_run, "npl_ratio", "lstm")
    with pytest.raises(NotFound, match="unknown scenario 'rosy'"):
        forecast_rows(small_store, small_run, "npl_ratio", "ensemble", "rosy")
    with pytest.raises(NotFound, match="no run in the store yet; run `smfcast run` first"):
        RunStore(small_store.path.parent / "empty.sqlite").get()


def test_run_weights_and_calibration_come_from_its_own_backtest(small_run):
    from smfcast.engine.ensemble import shrunk_weights
    for metric in ("market_size", "npl_ratio"):  # green_loan_share's national series is sparse: one walk, no members
        method = small_run.metric_info(metric)["method"]
        cal = method["calibration"]
        assert cal["h"] == 4 and 1 <= cal["n_windows"] <= 8 and set(cal["coverage_raw"]) == {"80", "95"}
        # the weights are 1 / scaled CRPS of the members' backtest, shrunk towards equal by the windows
        expected, lam = shrunk_weights(cal["crps_scaled"], cal["n_windows"])
        assert method["ensemble_weights"] == pytest.approx(expected, abs=1e-6)
        assert method["ensemble_weighting"] == f"backtest: 1 / CRPS, shrunk towards equal (lambda {lam:.2f})"
        assert method["scale"]["scale"] in ("raw", "log", "logit", "boxcox") and method["scale"]["why"]
        applied = [f for f in cal["factors_applied"] if f is not None]
        assert all(f >= 1 for f in applied) and applied == sorted(applied)
        labels = cal["labels_by_step"]
        assert len(labels) > 4  # every step through 2030 is labelled
        if cal["status"].startswith("uncalibrated"):
            assert set(labels) == {"uncalibrated"}
        else:
            assert set(labels[:4]) <= {"calibrated", "uncalibrated"} and set(labels[4:]) <= {"extrapolated", "uncalibrated"}
        walk = cal["against_random_walk"]
        assert set(walk) == {"ensemble_served", "ensemble_raw", "random_walk_with_drift"}
        assert walk["ensemble_served"]["points"] == walk["random_walk_with_drift"]["points"] > 0


def test_a_sparse_national_series_is_fitted_on_its_native_dates(small_run):
    # 8 published quarters on a 16-quarter grid: no model is fitted on the straight-line fills
    method = small_run.metric_info("green_loan_share")["method"]
    assert method["national_fit"] == "random walk with drift on native dates (sparse)"
    assert small_run.models("green_loan_share") == ["ensemble"]
    failures = small_run.metric_info("green_loan_share")["failures"]
    assert set(failures) == set(SMALL.models) and all("8 published points on a 16-point grid" in v for v in failures.values())
    walk = method["calibration"]["against_random_walk"]
    assert walk["ensemble_served"] == walk["random_walk_with_drift"] and walk["ensemble_served"]["points"] > 0
    assert [b["after"] for b in method["breaks"]] == ["2022Q4", "2024Q4", "2024Q4"]


def test_provincial_paths_start_from_the_last_provincial_point_not_the_last_national_one(small_store, small_run):
    # Qinghai's green share is observed at 2025Q2, the national series ends at 2024Q2: the 2025
    # year-end band must grow from 2025Q2 (half a year), not from 2024Q2 (a year and a half)
    rows = {r["period"]: r for r in forecast_rows(small_store, small_run, "green_loan_share", "ensemble", "baseline")}
    width = {p: r["hi-95"] - r["lo-95"] for p, r in rows.items()}
    assert width["2025"] / width["2026"] < 0.7, width
    last = small_run.metric_info("green_loan_share")["history"][-1]
    assert last["period"] == "2025Q2" and abs(rows["2025"]["median"] - last["value"]) < 1.5


def test_without_backtest_the_ensemble_is_equal_and_says_so():
    fc = forecast_metric(load_registry(DATA), "npl_ratio", EngineConfig(n_paths=200, models=("ets", "theta"), backtest_windows=0))
    assert fc.method.ensemble_weights == {"ets": 0.5, "theta": 0.5}
    assert fc.method.ensemble_weighting == "equal: backtest off"
    assert fc.method.calibration.status == "uncalibrated: backtest_windows = 0"


def test_metrics_fitted_in_local_processes_equal_the_serial_run(tmp_path):
    from smfcast.engine.executor import executor
    config = EngineConfig(n_paths=100, models=("ets", "theta"), backtest_windows=5, backtest_paths=100)
    serial = create_run(DATA, config, RunStore(tmp_path / "a.sqlite"))
    with executor("local", workers=2) as ex:
        parallel = create_run(DATA, config, RunStore(tmp_path / "b.sqlite"), executor=ex)
    assert parallel.run_id == serial.run_id
    for metric in serial.metrics:
        assert parallel.metric_info(metric)["method"] == serial.metric_info(metric)["method"]
        for scenario in serial.scenarios:
            np.testing.assert_array_equal(RunStore(tmp_path / "b.sqlite").paths(parallel.run_id, metric, "ensemble", scenario),
                                          RunStore(tmp_path / "a.sqlite").paths(serial.run_id, metric, "ensemble", scenario))


@pytest.mark.parametrize("make, reason", [(lambda p: p.mkdir(), "unable to open database file"),
                                          (lambda p: p.write_bytes(b"not a database " * 100), "file is not a database")])
def test_a_store_path_that_is_not_a_store_is_one_line_naming_it(tmp_path, capsys, make, reason):
    from smfcast.cli import main
    store = tmp_path / "runs.sqlite"
    make(store)
    before = store.read_bytes() if store.is_file() else None
    assert main(["--store", str(store), "runs"]) == 2
    assert capsys.readouterr().err.startswith(f"smfcast: error: cannot open the run store {store}: {reason}; ")
    assert (store.read_bytes() if store.is_file() else None) == before  # a file that is not a store is left alone


def test_every_member_failing_is_one_clear_error(monkeypatch):
    from smfcast.engine import members
    from smfcast.errors import SmfcastError

    class Broken:
        def fit(self, y):
            raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr(members, "make_model", lambda name, season_length=1, transformed=False: Broken())
    with pytest.raises(SmfcastError, match="every model failed"):
        forecast_metric(load_registry(DATA), "npl_ratio", EngineConfig(n_paths=200, models=("ets", "theta")))
