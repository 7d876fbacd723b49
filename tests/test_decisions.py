"""Decision tools: goal seek and sensitivity against answers computed by hand on fixed paths, and
forecast revisions between runs whose data differ by one observation."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import zipfile

import numpy as np
import pytest

from smfcast.engine.headline import EngineConfig
from smfcast.errors import InvalidInput, NotFound
from smfcast.policy.decisions import Overlay, TargetOutcome, YearOutcome, goal_seek, held, sensitivity
from smfcast.policy.scenarios import Elasticity, Lever, Scenario, apply, resolve_paths
from smfcast.policy.targets import Target, probability_met
from smfcast.registry.transforms import Transform
from smfcast.seeds import rng_for
from smfcast.store.runs import RunStore, create_run
from tests.conftest import DATA

LOGIT, LOG = Transform("logit", 0, 100), Transform("log")
YEARS = [2025, 2026, 2027, 2028]
NPL_X = np.array([2.05 + 0.1 * i for i in range(10)])  # ten paths, flat over the years: 2.05, 2.15, ..., 2.95
BELOW_2_2 = Target("npl_2026", "npl_ratio", 2026, "level", "<", 2.2, "NPL below 2.2% in 2026", "", "")
# Cheap runs for comparisons: one fast member, no backtest.
CHEAP = EngineConfig(n_paths=200, models=("theta",), backtest_windows=0)


def lever(lid: str, metric: str, low: float, mode: float | None = None, high: float | None = None, *, baseline: float,
          lower: float, upper: float, lag: int = 0) -> Lever:
    mode = low if mode is None else mode
    high = low if high is None else high
    return Lever(lid, lid, lid, "units", baseline, lower, upper, lag, (Elasticity(metric, low, mode, high, "pp"),),
                 "assumption", "", "a test lever", {})


def npl_overlay(levers: dict, x: np.ndarray = NPL_X, seed: int = 1) -> Overlay:
    z = LOGIT.forward(np.repeat(x[:, None], len(YEARS), axis=1))
    return Overlay("npl_ratio", z, YEARS, LOGIT, levers, seed, last_observed=2.5)


def baseline(levers: dict) -> Scenario:
    return Scenario("baseline", "baseline", "", resolve_paths(levers, {}))


NPL_LEVERS = {
    "adopt": lever("adopt", "npl_ratio", -0.012, baseline=30, lower=0, upper=100),  # -0.012 pp of NPL per unit
    "snow": lever("snow", "npl_ratio", 0.5, baseline=0, lower=0, upper=1),  # +0.5 pp at severity 1
    "fund": lever("fund", "market_size", 1.0, baseline=5, lower=0, upper=30),  # moves another metric only
}


def test_goal_seek_finds_the_hand_computed_threshold():
    """P(NPL < 2.2) >= 0.8 needs 8 of the 10 paths below 2.2: the 8th smallest (2.75) must fall by
    more than 0.55 pp, i.e. adopt > 30 + 0.55 / 0.012 = 75.8333 (and at most 100)."""
    ov, base = npl_overlay(NPL_LEVERS), baseline(NPL_LEVERS)
    answer = goal_seek(ov, base, TargetOutcome(BELOW_2_2), "adopt", probability=0.8)
    assert answer.status == "reached" and answer.monotone and answer.direction == "at_least"
    assert answer.value == pytest.approx(30 + 0.55 / 0.012, abs=2e-3)  # bisected to 1e-5 of the 0–100 range, then rounded up
    assert answer.value == round(answer.value, 3)
    assert answer.value > 30 + 0.55 / 0.012
    assert answer.at["probability"] == pytest.approx(0.8)
    assert answer.at["median"] == pytest.approx(2.5 - 0.55, abs=3e-5)  # every path fell by 0.55 pp
    assert answer.base_value == 30 and answer.base == pytest.approx({"probability": 0.2, "median": 2.5})
    # the best in the range: adopt = 100 moves every path by -0.84 pp, leaving 2.95 - 0.84 = 2.11 as the top: P = 1
    assert answer.best_value == 100 and answer.best["probability"] == pytest.approx(1.0)
    # the same value as a custom scenario (the overlay every other endpoint uses) gives the same probability
    custom = Scenario("custom", "", "", resolve_paths(NPL_LEVERS, {"adopt": answer.value}))
    natural = LOGIT.inverse(apply(ov.z, "npl_ratio", YEARS, LOGIT, custom, NPL_LEVERS, ov.seed))
    assert probability_met(BELOW_2_2, natural, YEARS) == answer.at["probability"]
    assert "needs adopt at least 75.83" in answer.note


def test_goal_seek_on_a_median_with_a_lag_and_from_both_sides():
    """market_size paths 700..900 in every year; +1% of the balance per unit above 5, one year late.
    A 2027 median of 880 needs +10%: fund >= 15 from 2026; a median of 780 needs -2.5%: fund <= 2.5."""
    levers = {"fund": lever("fund", "market_size", 1.0, baseline=5, lower=0, upper=30, lag=1)}
    x = np.array([700.0, 750.0, 800.0, 850.0, 900.0])
    ov = Overlay("market_size", LOG.forward(np.repeat(x[:, None], len(YEARS), axis=1)), YEARS, LOG, levers, 1)
    base, in_2027 = baseline(levers), YearOutcome("market_size", 2027)
    up = goal_seek(ov, base, in_2027, "fund", median=880)
    assert up.status == "reached" and up.direction == "at_least" and up.value == pytest.approx(15, abs=1e-3)
    assert up.at["median"] == pytest.approx(880, abs=0.01) and up.at["lo-80"] == pytest.approx(1.1 * 720, abs=0.01)
    assert up.at["median"] >= 880 and up.value == round(up.value, 4)  # rounded to 1e-4 (the range is 30), upwards
    assert up.base == pytest.approx({"median": 800, "lo-80": 720, "hi-80": 880})  # 10th / 90th percentiles, linear
    down = goal_seek(ov, base, in_2027, "fund", median=780)
    assert down.status == "reached" and down.direction == "at_most" and down.value == pytest.approx(2.5, abs=1e-3)
    assert down.goal.endswith("<= 780")
    # set in 2027, a one-year lag acts in 2028: too late for 2027, and the refusal says why
    with pytest.raises(InvalidInput, match="acts 1 year.*cannot move market_size in 2027; hold it from 2026") as info:
        goal_seek(ov, base, in_2027, "fund", from_year=2027, median=880)
    assert info.value.field == "from_year"
    # 30 units is +25%: a median of 1,100 (+37.5%) is out of reach; the closest is at the top of the range
    far = goal_seek(ov, base, in_2027, "fund", median=1100)
    assert far.status == "unreachable" and far.value is None
    assert far.best_value == 30 and far.best["median"] == pytest.approx(1000)


def test_goal_seek_unreachable_and_met_throughout():
    ov, base = npl_overlay(NPL_LEVERS), baseline(NPL_LEVERS)
    # snow only raises NPL: from P = 0.2 at severity 0 nothing reaches 0.5; the best is the lower bound
    snow = goal_seek(ov, base, TargetOutcome(BELOW_2_2), "snow", probability=0.5)
    assert snow.status == "unreachable" and snow.value is None and snow.monotone
    assert snow.best_value == 0 and snow.best["probability"] == pytest.approx(0.2) and snow.at == snow.best
    assert "holds nowhere in [0, 1]" in snow.note
    easy = Target("npl_below_5", "npl_ratio", 2026, "level", "<", 5.0, "", "", "")
    always = goal_seek(ov, base, TargetOutcome(easy), "adopt", probability=0.9)
    assert always.status == "met_throughout" and always.value is None and always.best["probability"] == 1.0


def test_goal_seek_where_the_probability_is_not_monotone():
    """Elasticities of either sign (triangular -0.01, 0, 0.01 pp per unit), paths built from the
    draws so that a path with a positive draw meets NPL < 2.2 exactly when the lever is below 50.5
    and one with a negative draw exactly when it is above 80.5: P is share(positive) up to 50,
    0 between, share(negative) from 81. From the base value 60 the nearest grid value (step 1) that
    meets P >= 0.3 is 50."""
    n, seed = 200, 3
    mixed = {"mixed": lever("mixed", "npl_ratio", -0.01, 0.0, 0.01, baseline=60, lower=0, upper=100)}
    draws = mixed["mixed"].effects[0].draw(n, rng_for(seed, "elasticity", "npl_ratio", "mixed"))
    x = np.where(draws > 0, 2.2 - draws * (50.5 - 60), 2.2 - draws * (80.5 - 60))
    positive, negative = float(np.mean(draws > 0)), float(np.mean(draws < 0))
    assert min(positive, negative) > 0.3
    ov, base = npl_overlay(mixed, x, seed), baseline(mixed)
    answer = goal_seek(ov, base, TargetOutcome(BELOW_2_2), "mixed", probability=0.3)
    assert answer.status == "reached" and not answer.monotone and answer.direction is None
    assert answer.value == 50 and answer.at["probability"] == pytest.approx(positive)
    assert answer.base["probability"] == 0
    assert answer.best["probability"] == pytest.approx(max(positive, negative))
    assert "not monotone in mixed" in answer.note and "grid of step 1" in answer.note
    curve = {round(c["value"]): c["probability"] for c in answer.curve}
    assert curve[0] == pytest.approx(positive) and curve[65] == 0 and curve[100] == pytest.approx(negative)


def test_sensitivity_deltas_by_hand():
    """Constant elasticities move every path by the same amount, so each delta is known:
    adopt at 0 / 100 shifts NPL by +0.36 / -0.84 pp, by one unit -0.012; snow at 1 by +0.5 pp."""
    ov, base = npl_overlay(NPL_LEVERS), baseline(NPL_LEVERS)
    result = sensitivity(ov, base, TargetOutcome(BELOW_2_2))
    rows = {(r["lever"], r["move"]): r for r in result.rows}
    assert [(r["lever"], r["move"]) for r in result.rows] == [("adopt", "low"), ("adopt", "high"), ("snow", "low"), ("snow", "high")]
    assert result.quiet == ["fund"] and result.base == pytest.approx({"probability": 0.2, "median": 2.5})
    # adopt 0: every path up 0.36 pp, none below 2.2; adopt 100: down 0.84 pp, all ten below (2.95 - 0.84 = 2.11)
    assert rows["adopt", "low"]["delta_probability"] == pytest.approx(-0.2)
    assert rows["adopt", "high"]["delta_probability"] == pytest.approx(0.8)
    assert rows["adopt", "low"]["delta_median"] == pytest.approx(0.36) and rows["adopt", "high"]["delta_median"] == pytest.approx(-0.84)
    assert rows["adopt", "low"]["swing"] == pytest.approx(1.0)
    # snow 0 is the base; snow 1: +0.5 pp, none below 2.2
    assert rows["snow", "low"]["delta_probability"] == 0 and rows["snow", "high"]["delta_probability"] == pytest.approx(-0.2)
    assert rows["snow", "high"]["swing"] == pytest.approx(0.2)
    units = {r["lever"]: r for r in result.per_unit}
    assert [r["lever"] for r in result.per_unit] == ["snow", "adopt"]  # |-0.2| before |0|
    assert units["adopt"]["move"] == "+1" and units["adopt"]["value"] == 31
    assert units["adopt"]["delta_probability"] == 0 and units["adopt"]["delta_median"] == pytest.approx(-0.012)
    assert units["snow"]["delta_median"] == pytest.approx(0.5)
    # the median and 80% band of NPL in 2027 shift with the paths, each by the same amount
    band = sensitivity(ov, base, YearOutcome("npl_ratio", 2027))
    assert band.base == pytest.approx({"median": 2.5, "lo-80": 2.14, "hi-80": 2.86})
    for r in band.rows:
        shift = {("adopt", "low"): 0.36, ("adopt", "high"): -0.84, ("snow", "low"): 0.0, ("snow", "high"): 0.5}[r["lever"], r["move"]]
        for key in ("median", "lo-80", "hi-80"):
            assert r[f"delta_{key}"] == pytest.approx(shift, abs=1e-9)
    assert band.columns[-1] == "swing" and "delta_lo-80" in band.unit_columns


def test_sensitivity_steps_down_where_up_leaves_the_range_and_counts_the_lag():
    levers = {"cap": lever("cap", "npl_ratio", 0.1, baseline=10, lower=0, upper=10),
              "late": lever("late", "npl_ratio", 0.1, baseline=0, lower=0, upper=10, lag=1)}
    result = sensitivity(npl_overlay(levers), baseline(levers), TargetOutcome(BELOW_2_2))
    units = {r["lever"]: r for r in result.per_unit}
    assert units["cap"]["move"] == "-1" and units["cap"]["value"] == 9 and units["cap"]["delta_median"] == pytest.approx(-0.1)
    late = [r for r in result.rows if r["lever"] == "late"]
    assert all(r["delta_probability"] == 0 and abs(r["delta_median"]) < 1e-12 for r in late)  # set in 2026, acts in 2027


def test_refusals_name_the_field_and_the_reason():
    ov, base = npl_overlay(NPL_LEVERS), baseline(NPL_LEVERS)
    target = TargetOutcome(BELOW_2_2)
    for p in (0, 1, 1.5, -0.1, True, "0.8", None):
        with pytest.raises(InvalidInput) as info:
            goal_seek(ov, base, target, "adopt", probability=p)
        assert info.value.field == "probability"
    with pytest.raises(InvalidInput) as info:
        goal_seek(ov, base, target, "fund", probability=0.5)
    assert info.value.field == "lever"
    assert str(info.value) == "lever 'fund' does not act on npl_ratio (it moves market_size); levers that do: adopt, snow"
    with pytest.raises(NotFound, match="unknown lever 'nope'; choose one of adopt, fund, snow"):
        goal_seek(ov, base, target, "nope", probability=0.5)
    with pytest.raises(InvalidInput, match="from_year must be one of 2026, 2027") as info:
        goal_seek(ov, base, target, "adopt", from_year=2031, probability=0.5)
    assert info.value.field == "from_year"
    with pytest.raises(InvalidInput, match="give probability") as info:
        goal_seek(ov, base, target, "adopt", median=2.0)
    with pytest.raises(InvalidInput, match="give median"):
        goal_seek(ov, base, YearOutcome("npl_ratio", 2027), "adopt", probability=0.5)
    with pytest.raises(InvalidInput, match="median must be a finite number"):
        goal_seek(ov, base, YearOutcome("npl_ratio", 2027), "adopt", median=float("nan"))
    with pytest.raises(InvalidInput, match="year 2035 is not forecast for npl_ratio") as info:
        sensitivity(ov, base, YearOutcome("npl_ratio", 2035))
    assert info.value.field == "year"


def test_held_keeps_the_base_path_before_the_year():
    base = Scenario("b", "", "", resolve_paths(NPL_LEVERS, {"adopt": {"2026": 50, "2028": 70}}))
    moved = held(base, "adopt", 90.0, 2028)
    assert moved.paths["adopt"] == {2026: 50, 2027: 50, 2028: 90, 2029: 90, 2030: 90}
    assert moved.paths["snow"] is base.paths["snow"] and base.paths["adopt"][2028] == 70


# -- on a stored run ------------------------------------------------------------------------------


def test_goal_seek_on_the_shipped_target_agrees_with_the_custom_scenario(small_store, small_run):
    from smfcast.outputs.decision_tables import seek, tornado
    from smfcast.outputs.run_tables import target_rows
    from smfcast.policy.scenarios import parse_custom
    target, lever_id = "npl_below_2_2_by_2026", "risk_model_adoption"
    spread = tornado(small_store, small_run, target=target)
    probabilities = {r["move"]: r["probability"] for r in spread.rows if r["lever"] == lever_id}
    goal = round((spread.base["probability"] + probabilities["high"]) / 2, 2)
    answer = seek(small_store, small_run, lever_id, target=target, probability=goal)
    assert answer.status == "reached" and answer.direction == "at_least" and 30 < answer.value < 100
    custom = parse_custom({"base": "baseline", "levers": {lever_id: {"2026": answer.value}}}, small_run.presets(), small_run.levers())
    row = target_rows(small_store, small_run, [custom.name], custom=custom)[0]
    assert row["probability"] == answer.at["probability"] >= goal and row["median"] == answer.at["median"]
    below = parse_custom({"base": "baseline", "levers": {lever_id: {"2026": answer.value - 0.01}}}, small_run.presets(), small_run.levers())
    assert target_rows(small_store, small_run, [below.name], custom=below)[0]["probability"] < goal  # the first value to reach it
    with pytest.raises(NotFound, match="unknown target 'npl_below_1'; choose one of npl_below_2_2_by_2026"):
        seek(small_store, small_run, lever_id, target="npl_below_1", probability=0.5)
    with pytest.raises(NotFound, match="unknown base scenario 'rosy'; choose one of baseline"):
        seek(small_store, small_run, lever_id, target=target, probability=0.5, base="rosy")
    with pytest.raises(InvalidInput, match="a metric needs a year"):
        tornado(small_store, small_run, metric="npl_ratio")
    with pytest.raises(NotFound, match="unknown metric 'gdp'"):
        tornado(small_store, small_run, metric="gdp", year=2027)


# -- revisions --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two cheap runs whose data differ by one observation (the Qinghai 2022 loan balance)."""
    root = tmp_path_factory.mktemp("revisions")
    data = root / "data"
    shutil.copytree(DATA, data)
    store = RunStore(root / "runs.sqlite")
    first = create_run(data, CHEAP, store)
    path = data / "observations.csv"
    text = path.read_text(encoding="utf-8")
    assert text.count("qh_smallmicro_loans,2022,786.4,") == 1
    path.write_text(text.replace("qh_smallmicro_loans,2022,786.4,", "qh_smallmicro_loans,2022,790.0,"), encoding="utf-8")
    second = create_run(data, CHEAP, store)
    return store, first, second, data


def test_compare_lists_exactly_the_revised_observation_with_its_source(two_runs):
    from smfcast.outputs.revisions import compare
    from smfcast.registry.series import load_registry
    store, first, second, data = two_runs
    record = compare(store, first, second, sources=load_registry(data).sources)
    assert record["observations"] == [{
        "change": "revised", "metric": "market_size", "role": "provincial", "series_id": "qh_smallmicro_loans", "period": "2022",
        "value_a": 786.4, "value_b": 790.0, "quality_a": "report", "quality_b": "report",
        "source_a": "report_smallmicro_loans_2022", "source_b": "report_smallmicro_loans_2022",
        "publisher": "industry report", "title": record["observations"][0]["title"], "url": None}]
    assert record["observations"][0]["title"].startswith("2026年及未来5年")
    assert record["observation_notes"] == []
    assert record["settings"] == [{"what": "input file", "name": "observations.csv", "a": first.inputs["observations.csv"][:12],
                                   "b": second.inputs["observations.csv"][:12]}]
    # the numbers: market_size rises (a higher last provincial level); the other metrics do not move
    by = {(r["metric"], r["scenario"], r["period"]): r for r in record["forecasts"]}
    for scenario in first.scenarios:
        row = by["market_size", scenario, "2030"]
        assert row["median_change"] == pytest.approx(row["median_b"] - row["median_a"]) and row["median_change"] > 0
    assert all(r["median_change"] == 0 and r["hi-95_change"] == 0 for r in record["forecasts"] if r["metric"] != "market_size")
    scenarios = {r["scenario"] for r in record["forecasts"]}
    assert scenarios == set(first.scenarios)
    assert [r["probability_change"] for r in record["targets"]] == [0.0] * len(first.scenarios)


def test_compare_an_added_national_observation_and_a_run_that_did_not_record(two_runs, tmp_path):
    from smfcast.outputs.revisions import NOT_RECORDED, observation_changes, setting_changes
    from smfcast.store.runs import Run
    _store, first, second, _data = two_runs
    # an observation added to the national NPL series shows as added, with its grade and source
    summary = json.loads(json.dumps(second.summary))
    summary["metrics"]["npl_ratio"]["observations"].append(
        {"role": "national", "series_id": "cn_bank_npl_ratio", "period": "2030Q4", "value": 1.2, "quality": "official",
         "source_id": "made_up"})
    added = Run("feedfeedfeedfeed", second.created, second.version, second.config, second.inputs, summary)
    rows, _ = observation_changes(second, added)
    assert [(r["change"], r["series_id"], r["period"], r["value_b"], r["source_b"]) for r in rows] == [
        ("added", "cn_bank_npl_ratio", "2030Q4", 1.2, "made_up")]
    # a run stored before runs recorded their observations, code and libraries
    old_summary = json.loads(json.dumps(first.summary))
    for info in old_summary["metrics"].values():
        del info["observations"]
    old_summary.pop("code")
    old_summary.pop("libraries", None)
    old = Run("0123456789abcdef", first.created, first.version, first.config, first.inputs, old_summary)
    rows, notes = observation_changes(old, second)
    assert [(r["change"], r["series_id"], r["period"]) for r in rows] == [("revised", "qh_smallmicro_loans", "2022")]
    assert any(f"national observations used are {NOT_RECORDED} in run 0123456789abcdef" in n for n in notes)
    settings = {(r["what"], r["name"]): r for r in setting_changes(old, second)}
    assert settings["engine code", "forecast package digest"]["a"] == NOT_RECORDED
    assert settings["library", "versions"]["a"] == NOT_RECORDED


def test_compare_names_changed_definitions_and_configuration(two_runs):
    from smfcast.outputs.revisions import setting_changes
    from smfcast.store.runs import Run
    _store, first, second, _data = two_runs
    summary = json.loads(json.dumps(second.summary))
    summary["levers"]["snow_disaster"]["range"] = [0.0, 2.0]
    config = {**second.config, "n_paths": 400}
    other = Run("feedfeedfeedfeed", second.created, second.version, config, second.inputs, summary)
    rows = {(r["what"], r["name"]): r for r in setting_changes(second, other)}
    assert rows["lever", "snow_disaster"] == {"what": "lever", "name": "snow_disaster", "a": "range=[0.0, 1.0]", "b": "range=[0.0, 2.0]"}
    assert rows["configuration", "n_paths"]["a"] == "200" and rows["configuration", "n_paths"]["b"] == "400"


# -- the command line, the API, the page and the workbook -----------------------------------------

PROBLEM = "application/problem+json"
NPL_TARGET = "npl_below_2_2_by_2026"


def _cli(capsys, *argv) -> tuple[int, str, str]:
    from smfcast.cli import main
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def csv_rows(text: str):
    return csv.DictReader(io.StringIO(text))


def _problem(resp, status: int, field: str) -> str:
    assert resp.status_code == status and resp.mimetype == PROBLEM, resp.get_data(as_text=True)
    body = resp.get_json(force=True)
    assert body["status"] == status and body["errors"][0]["field"] == field, body
    return body["detail"]


def test_cli_goal_seek_sensitivity_and_their_errors(small_store, small_run, capsys):
    from smfcast.outputs.decision_tables import seek
    store = ("--store", str(small_store.path))
    code, out, _ = _cli(capsys, *store, "goal-seek", "--target", NPL_TARGET, "--lever", "risk_model_adoption",
                        "--probability", "0.45", "--format", "json")
    answer = json.loads(out)
    expected = seek(small_store, small_run, "risk_model_adoption", target=NPL_TARGET, probability=0.45)
    assert code == 0 and answer["value"] == expected.value and answer["status"] == expected.status
    assert answer["run_id"] == small_run.run_id and len(answer["curve"]) == 101
    code, out, _ = _cli(capsys, *store, "goal-seek", "--target", NPL_TARGET, "--lever", "risk_model_adoption", "--probability", "0.45")
    assert code == 0 and out.splitlines()[0] == f"{expected.note} [run {small_run.run_id}, base baseline]"
    code, out, _ = _cli(capsys, *store, "goal-seek", "--metric", "market_size", "--year", "2028", "--median", "1500",
                        "--lever", "interest_subsidy", "--format", "csv")
    row = next(csv_rows(out))
    assert code == 0 and row["goal"].startswith("median market_size in 2028") and row["status"] in ("reached", "unreachable")
    for argv, message in (
            (("--target", "npl_below_1", "--lever", "snow_disaster", "--probability", "0.5"),
             "smfcast: error: unknown target 'npl_below_1'; choose one of npl_below_2_2_by_2026"),
            (("--target", NPL_TARGET, "--lever", "snow_disaster", "--probability", "1.5"),
             "smfcast: error: probability must be a number strictly between 0 and 1, got 1.5"),
            (("--target", NPL_TARGET, "--lever", "guarantee_balance", "--probability", "0.5"),
             "smfcast: error: lever 'guarantee_balance' does not act on npl_ratio (it moves market_size); levers that do: "
             "commodity_price_shock, risk_model_adoption, snow_disaster"),
            (("--target", NPL_TARGET, "--lever", "rain", "--probability", "0.5"), "smfcast: error: unknown lever 'rain'; choose one of"),
            (("--target", NPL_TARGET, "--lever", "snow_disaster", "--probability", "0.5", "--base", "rosy"),
             "smfcast: error: unknown base scenario 'rosy'")):
        code, _, err = _cli(capsys, *store, "goal-seek", *argv)
        assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith(message), err
    code, out, _ = _cli(capsys, *store, "sensitivity", "--target", NPL_TARGET, "--format", "csv")
    rows = list(csv_rows(out))
    assert code == 0 and {r["table"] for r in rows} == {"range", "unit"}
    assert {r["lever"] for r in rows} == {"risk_model_adoption", "snow_disaster", "commodity_price_shock"}
    code, out, _ = _cli(capsys, *store, "sensitivity", "--metric", "market_size", "--year", "2030")
    assert code == 0 and "moved by one unit from the base path" in out and "levers that do not act on market_size: risk_model_adoption" in out
    code, _, err = _cli(capsys, *store, "sensitivity", "--metric", "market_size")
    assert code == 2 and err.startswith("smfcast: error: a metric needs a year: one of")


def test_api_goal_seek_and_sensitivity(client, small_store, small_run):
    from smfcast.outputs.decision_tables import seek, tornado
    body = {"target": NPL_TARGET, "lever": "risk_model_adoption", "probability": 0.45}
    resp = client.post("/v1/goal-seek", json=body)
    answer = resp.get_json()
    expected = seek(small_store, small_run, "risk_model_adoption", target=NPL_TARGET, probability=0.45)
    assert resp.status_code == 200 and answer["run_id"] == small_run.run_id
    assert {k: answer[k] for k in ("status", "value", "direction", "probability", "median", "base_probability", "best_value")} == \
        {"status": expected.status, "value": expected.value, "direction": expected.direction, "probability": expected.at["probability"],
         "median": expected.at["median"], "base_probability": expected.base["probability"], "best_value": expected.best_value}
    row = next(csv_rows(client.post("/v1/goal-seek?format=csv", json=body).get_data(as_text=True)))
    assert float(row["value"]) == pytest.approx(expected.value) and row["lever"] == "risk_model_adoption"
    median = client.post("/v1/goal-seek", json={"metric": "npl_ratio", "year": 2027, "lever": "snow_disaster", "median": 3.0})
    assert median.status_code == 200 and median.get_json()["goal"].startswith("median npl_ratio in 2027")
    assert "unknown target 'nope'; choose one of npl_below_2_2_by_2026" in _problem(
        client.post("/v1/goal-seek", json={**body, "target": "nope"}), 404, "target")
    assert "choose one of commodity_price_shock" in _problem(client.post("/v1/goal-seek", json={**body, "lever": "rain"}), 404, "lever")
    assert "unknown metric 'gdp'" in _problem(client.post("/v1/goal-seek", json={"metric": "gdp", "year": 2027, "lever": "x", "median": 1}),
                                              404, "metric")
    for bad in (0, 1, 1.5, "high", True):
        _problem(client.post("/v1/goal-seek", json={**body, "probability": bad}), 422, "probability")
    assert "does not act on npl_ratio" in _problem(client.post("/v1/goal-seek", json={**body, "lever": "interest_subsidy"}), 422, "lever")
    _problem(client.post("/v1/goal-seek", data="lever=snow", content_type="application/x-www-form-urlencoded"), 415, "Content-Type")
    _problem(client.post("/v1/goal-seek", json={**body, "colour": "red"}), 422, "colour")
    _problem(client.post("/v1/goal-seek", json={"target": NPL_TARGET, "probability": 0.5}), 422, "lever")
    _problem(client.post("/v1/goal-seek", json={**body, "from_year": 2040}), 422, "from_year")
    _problem(client.post("/v1/goal-seek", json={**body, "run": "0000000000000000"}), 404, "run")

    spread = client.get(f"/v1/sensitivity?target={NPL_TARGET}&base=adverse").get_json()
    expected = tornado(small_store, small_run, target=NPL_TARGET, base="adverse")
    assert spread["rows"] == json.loads(json.dumps(expected.rows)) and spread["per_unit"] == json.loads(json.dumps(expected.per_unit))
    assert spread["base"] == expected.base and spread["quiet"] == expected.quiet and spread["run_id"] == small_run.run_id
    text = client.get("/v1/sensitivity?metric=market_size&year=2030&format=csv").get_data(as_text=True)
    rows = list(csv_rows(text))
    assert {r["table"] for r in rows} == {"range", "unit"} and "delta_hi-80" in rows[0]
    assert client.get("/v1/sensitivity?metric=market_size&year=2030&format=xlsx").status_code == 200
    _problem(client.get("/v1/sensitivity?metric=market_size"), 422, "year")
    _problem(client.get("/v1/sensitivity?target=nope"), 404, "target")
    _problem(client.get(f"/v1/sensitivity?target={NPL_TARGET}&base=rosy"), 404, "base")
    _problem(client.get(f"/v1/sensitivity?target={NPL_TARGET}&metric=npl_ratio&year=2026"), 422, "target")
    _problem(client.get("/v1/sensitivity?metric=npl_ratio&year=next"), 422, "year")
    _problem(client.get(f"/v1/sensitivity?target={NPL_TARGET}&colour=red"), 422, "colour")


def test_page_goal_seek_form_tornado_and_bad_input(client, small_store, small_run):
    from smfcast.outputs.decision_tables import seek
    resp = client.get(f"/?metric=npl_ratio&scenario=baseline&gs_target={NPL_TARGET}&gs_lever=risk_model_adoption"
                      "&gs_probability=0.45&gs_year=2026")
    html = resp.get_data(as_text=True)
    expected = seek(small_store, small_run, "risk_model_adoption", target=NPL_TARGET, probability=0.45)
    assert resp.status_code == 200 and 'id="goal-seek-form"' in html
    assert re.search(r'id="goal-seek-answer" data-status="(\w+)"', html).group(1) == expected.status
    assert float(re.search(r'<td id="gs-value">([\d.]+)</td>', html).group(1)) == pytest.approx(expected.value, abs=1e-4)
    assert 'id="tornado"><svg' in html and "P(npl_below_2_2_by_2026" in re.search(r'id="tornado-caption">(.*?)</p>', html, re.S).group(1)
    assert "lever value" not in client.get("/?metric=market_size").get_data(as_text=True)  # no answer before the form is sent
    bad = client.get(f"/?metric=market_size&gs_target={NPL_TARGET}&gs_lever=guarantee_balance&gs_probability=0.5")
    assert bad.status_code == 422 and "does not act on npl_ratio" in bad.get_data(as_text=True)
    nan = client.get(f"/?gs_target={NPL_TARGET}&gs_lever=snow_disaster&gs_probability=most")
    assert nan.status_code == 422 and "probability &#39;most&#39; is not a number" in nan.get_data(as_text=True)


@pytest.fixture
def two_runs_client(two_runs):
    from smfcast.api import create_app
    store, _first, _second, data = two_runs
    return create_app({"SMFCAST_DATA": str(data), "SMFCAST_STORE": str(store.path), "TESTING": True}).test_client()


def test_compare_over_http_on_the_page_and_on_the_command_line(two_runs, two_runs_client, capsys):
    store, first, second, _data = two_runs
    client = two_runs_client
    record = client.get(f"/v1/runs/{first.run_id}/compare/{second.run_id}").get_json()
    assert [(o["change"], o["series_id"], o["period"], o["value_a"], o["value_b"]) for o in record["observations"]] == [
        ("revised", "qh_smallmicro_loans", "2022", 786.4, 790.0)]
    assert record["run_a"]["run_id"] == first.run_id and record["run_b"]["run_id"] == second.run_id
    assert {r["metric"] for r in record["forecasts"]} == set(first.metrics)
    only = client.get(f"/v1/runs/{first.run_id}/compare/{second.run_id}?metric=npl_ratio&table=targets&format=csv")
    assert [r["scenario"] for r in csv_rows(only.get_data(as_text=True))] == first.scenarios
    observations = list(csv_rows(client.get(f"/v1/runs/{first.run_id}/compare/{second.run_id}?format=csv&table=observations")
                                 .get_data(as_text=True)))
    assert [(r["series_id"], r["value_a"], r["value_b"], r["publisher"]) for r in observations] == [
        ("qh_smallmicro_loans", "786.4", "790.0", "industry report")]
    _problem(client.get(f"/v1/runs/{first.run_id}/compare/ffffffffffffffff"), 404, "run")
    _problem(client.get(f"/v1/runs/{first.run_id}/compare/{second.run_id}?table=everything"), 422, "table")
    _problem(client.get(f"/v1/runs/{first.run_id}/compare/{second.run_id}?metric=gdp"), 404, "metric")
    # the page of the newer run shows what changed since the published (first) run, and why
    html = client.get(f"/?metric=market_size&run={second.run_id}").get_data(as_text=True)
    changes = html[html.index('id="changes"'):html.index("<h2>Download")]
    assert f'<code id="changes-run">{first.run_id}</code>' in changes and "published" in changes
    assert "observation revised: qh_smallmicro_loans 2022" in changes and "786.4 (report) → 790.0 (report)" in changes
    assert changes.count('<tr><td class="t">') == len(second.periods("market_size"))
    # the first run is the oldest: nothing to compare it with
    assert "No earlier run in the store" in client.get(f"/?run={first.run_id}").get_data(as_text=True)
    # the command line: the same record
    code, out, _ = _cli(capsys, "--store", str(store.path), "--data", str(_data), "compare", first.run_id, second.run_id,
                        "--format", "csv", "--table", "observations")
    assert code == 0 and [(r["change"], r["series_id"], r["period"]) for r in csv_rows(out)] == [("revised", "qh_smallmicro_loans", "2022")]
    code, out, _ = _cli(capsys, "--store", str(store.path), "compare", first.run_id, second.run_id, "--metric", "npl_ratio")
    assert code == 0 and "observations: none differ" in out and "settings: 1 row(s)" in out and "input file" in out
    code, _, err = _cli(capsys, "--store", str(store.path), "compare", first.run_id, "nope")
    assert code == 2 and err.strip() == "smfcast: error: unknown run 'nope'; `smfcast runs` lists the stored runs"


def test_export_adds_sensitivity_and_revisions_sheets_with_native_bar_charts(two_runs, tmp_path, capsys):
    from openpyxl import load_workbook
    store, first, second, data = two_runs
    out = tmp_path / "book.xlsx"
    code, _, _ = _cli(capsys, "--store", str(store.path), "--data", str(data), "export", "-o", str(out), "--run", second.run_id,
                      "--sensitivity", "--compare", first.run_id)
    assert code == 0
    book = load_workbook(out)
    assert {"sensitivity", "revisions"} <= set(book.sheetnames)
    with zipfile.ZipFile(out) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/")]
    # a tornado per target (1) and per metric (3), each a native bar chart
    assert sum("<c:barChart>" in c for c in charts) == len(second.targets()) + len(second.metrics)
    cells = [[c for c in row] for row in book["sensitivity"].iter_rows(values_only=True)]
    header = next(r for r in cells if r[0] == "lever")
    first_block = dict(zip(header, next(r for r in cells if r[0] == "risk_model_adoption")))  # the target's tornado comes first
    from smfcast.outputs.decision_tables import tornado
    expected = {r["move"]: r for r in tornado(store, second, target=NPL_TARGET).rows if r["lever"] == "risk_model_adoption"}
    assert first_block["change_at_high"] == pytest.approx(expected["high"]["delta_probability"])
    assert first_block["at_low"] == pytest.approx(expected["low"]["probability"]) and first_block["high"] == 100
    revisions = [tuple(row) for row in book["revisions"].iter_rows(values_only=True)]
    revised = [r for r in revisions if r[0] == "revised"]
    assert len(revised) == 1 and revised[0][3:7] == ("qh_smallmicro_loans", "2022", 786.4, 790.0)
    code, _, err = _cli(capsys, "--store", str(store.path), "export", "-o", str(tmp_path / "x.csv"), "--format", "csv", "--sensitivity")
    assert code == 2 and "use them with --format xlsx" in err


def test_tornado_svg_draws_both_ends_of_every_lever_to_scale():
    from smfcast.outputs.charts import tornado_svg
    svg = tornado_svg("P(x) under <base>", "change", [{"lever": "fund", "low": -1.0, "high": 2.0},
                                                      {"lever": "snow<", "low": 0.0, "high": -0.5}])
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "under &lt;base&gt;" in svg and "snow&lt;" in svg
    widths = {(cls, i): float(w) for i, (cls, w) in enumerate(re.findall(r'class="bar-(low|high)" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', svg))}
    assert [k[0] for k in widths] == ["low", "high", "low", "high"]
    low_fund, high_fund, _, high_snow = widths.values()
    assert high_fund == pytest.approx(2 * low_fund, abs=0.15) and high_fund == pytest.approx(4 * high_snow, abs=0.3)


def test_previous_run_is_the_one_published_before(two_runs, tmp_path):
    from smfcast.outputs.revisions import previous_run
    _store, first, second, data = two_runs
    store = RunStore(tmp_path / "runs.sqlite")
    a = create_run(DATA, CHEAP, store)  # the first run of an empty store is published by the store
    b = create_run(data, CHEAP, store)
    assert (a.run_id, b.run_id) == (first.run_id, second.run_id)
    assert previous_run(store, b)[0].run_id == a.run_id  # never published: against the published run
    assert previous_run(store, a) == (None, "no earlier run in the store")
    store.publish(b.run_id, "test", "the revised balance")
    found, why = previous_run(store, b)
    assert found.run_id == a.run_id and why.startswith("published ")
    assert previous_run(store, a)[0] is None  # nothing was published before it
    store.publish(a.run_id, "test", "back to the first")
    assert previous_run(store, a) == (None, "no earlier run in the store")  # a rollback looks back, never at a newer run
    assert previous_run(store, b)[0].run_id == a.run_id


def test_a_runs_workbook_and_comparison_read_the_registry_the_run_was_made_from(tmp_path, capsys):
    """After a source is retitled in the data folder, an export of a run made before shows the title
    that run was made from, and a comparison of the two runs cites each run's own sources."""
    from openpyxl import load_workbook

    from smfcast.cli import main
    from smfcast.outputs.workbook import HEADER_ROW
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    store = RunStore(tmp_path / "runs.sqlite")
    first = create_run(data, CHEAP, store)
    old_title = "2026年及未来5年市场数据中国青海省小微金融行业市场发展数据监测及投资前景展望报告 (industry report)"
    path, obs = data / "sources.toml", data / "observations.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(old_title, "A retitled report"), encoding="utf-8")
    obs.write_text(obs.read_text(encoding="utf-8").replace("qh_smallmicro_loans,2022,786.4,", "qh_smallmicro_loans,2022,790.0,"),
                   encoding="utf-8")
    second = create_run(data, CHEAP, store)
    titles = [store.registry_for(r.run_id, data).sources["report_smallmicro_loans_2022"]["title"] for r in (first, second)]
    assert titles == [old_title, "A retitled report"]
    out = tmp_path / "first.xlsx"
    assert main(["--data", str(data), "--store", str(store.path), "export", "--run", first.run_id, "-o", str(out)]) == 0
    table = [list(r) for r in load_workbook(out)["sources"].iter_rows(values_only=True)]
    rows = [dict(zip(table[HEADER_ROW], r)) for r in table[HEADER_ROW + 1:] if r[0]]
    cited = {r["title"] for r in rows if r["source_id"] == "report_smallmicro_loans_2022"}
    assert cited == {old_title}  # the run's own registry, not today's files
    capsys.readouterr()
    assert main(["--data", str(data), "--store", str(store.path), "compare", second.run_id, first.run_id, "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["observations"]
    assert (row["value_a"], row["value_b"], row["title"]) == (790.0, 786.4, old_title)  # the later run (first) wins
