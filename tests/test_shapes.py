"""One table, one shape: for the same query the command line prints what the API answers (`--format
json` the same object, meta, `columns` and `rows`; `--format csv` the same bytes), periods are
periods, numbers numbers without float noise, and coverage is in percent everywhere."""

from __future__ import annotations

import json
import re

import pytest

from smfcast.cli import main
from smfcast.defaults import rounded
from smfcast.engine.records import Method, coverage_in_percent
from smfcast.registry.series import load_registry
from smfcast.store.runs import RunStore
from tests.conftest import DATA, TOKEN


def _cli(capsys, store, *argv) -> str:
    code = main(["--data", str(DATA), "--store", str(store), *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize("argv, query", [
    ([], "metric=npl_ratio"),
    (["--scenario", "all"], "metric=npl_ratio&scenario=all"),
    (["--scenario", "adverse", "--scenario", "policy_targets"], "metric=npl_ratio&scenario=adverse,policy_targets"),
    (["--history"], "metric=npl_ratio&history=true"),
    (["--model", "arima"], "metric=npl_ratio&model=arima"),
    (["--metric", "market_size", "--level", "50,90", "--scenario", "adverse,baseline"],
     "metric=npl_ratio&metric=market_size&level=50,90&scenario=adverse,baseline"),
])
def test_forecast_json_and_csv_are_what_http_answers(small_store, client, capsys, argv, query):
    printed = json.loads(_cli(capsys, small_store.path, "forecast", "--metric", "npl_ratio", *argv, "--format", "json"))
    answered = client.get(f"/v1/forecasts?{query}").get_json()
    assert printed == answered and printed["rows"]
    assert printed["columns"][:3] == ["series_id", "metric", "scenario"]  # the long table's columns, `metric` among them
    csv_text = _cli(capsys, small_store.path, "forecast", "--metric", "npl_ratio", *argv, "--format", "csv")
    assert csv_text.encode("utf-8") == client.get(f"/v1/forecasts?{query}&format=csv").data


def test_the_cli_csv_is_the_export_csv_for_the_same_rows(small_store, small_run, client, capsys, tmp_path):
    out = tmp_path / "bands.csv"
    assert main(["--store", str(small_store.path), "export", "--metric", "npl_ratio", "--scenario", "adverse", "-o", str(out)]) == 0
    capsys.readouterr()
    printed = _cli(capsys, small_store.path, "forecast", "--metric", "npl_ratio", "--scenario", "adverse", "--history", "--format", "csv")
    assert out.read_bytes() == printed.encode("utf-8")


def test_computed_numbers_have_no_float_noise_and_observed_ones_are_as_recorded(small_store, small_run, capsys):
    rows = json.loads(_cli(capsys, small_store.path, "forecast", "--metric", "market_size", "--history", "--scenario", "all",
                           "--format", "json"))["rows"]
    values = [r[c] for r in rows for c in ("mean", "median", "lo-80", "hi-80", "lo-95", "hi-95")]
    assert all(isinstance(v, float) and v == rounded(v) for v in values)  # 6 significant digits
    assert len({len(repr(v)) for v in values}) > 1 and max(len(repr(v).replace(".", "")) for v in values) <= 7
    recorded = {str(o.period): o.value for o in load_registry(DATA).observations("qh_smallmicro_loans")}
    history = [r for r in rows if r["kind"] == "history"]
    assert history and all(r["median"] == recorded[r["period"]] for r in history)


def test_the_other_shared_tables_answer_alike(small_store, small_run, client, capsys):
    store = small_store.path
    for argv, url in ((["targets"], "/v1/targets"), (["targets", "--scenario", "adverse"], "/v1/targets?scenario=adverse"),
                      (["runs"], "/v1/runs"), (["runs", "--publications"], "/v1/publications"),
                      (["data", "check"], "/v1/series"), (["data", "show", "qh_smallmicro_npl_ratio"], "/v1/series/qh_smallmicro_npl_ratio"),
                      (["sensitivity", "--target", "npl_below_2_2_by_2026"], "/v1/sensitivity?target=npl_below_2_2_by_2026"),
                      (["compare", small_run.run_id, small_run.run_id, "--table", "settings"],
                       f"/v1/runs/{small_run.run_id}/compare/{small_run.run_id}?table=settings"),
                      (["compare", small_run.run_id, small_run.run_id], f"/v1/runs/{small_run.run_id}/compare/{small_run.run_id}")):
        printed = json.loads(_cli(capsys, store, *argv, "--format", "json"))
        assert printed == client.get(url).get_json(), argv
        assert "rows" in printed or "forecasts" in printed
        if argv[0] != "compare" or "--table" in argv:
            assert _cli(capsys, store, *argv, "--format", "csv").encode("utf-8") == client.get(url + ("&" if "?" in url else "?")
                                                                                                   + "format=csv").data, argv
    seek = ["--target", "npl_below_2_2_by_2026", "--lever", "risk_model_adoption", "--probability", "0.5"]
    body = {"target": "npl_below_2_2_by_2026", "lever": "risk_model_adoption", "probability": 0.5}
    assert json.loads(_cli(capsys, store, "goal-seek", *seek, "--format", "json")) == client.post("/v1/goal-seek", json=body).get_json()
    assert _cli(capsys, store, "goal-seek", *seek, "--format", "csv").encode() == client.post("/v1/goal-seek?format=csv", json=body).data


def test_the_change_log_answers_numbers_alike(tmp_path, capsys):
    import shutil

    from smfcast.api import create_app
    data = tmp_path / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("changes.csv", ".*"))
    base = ["--data", str(data)]
    assert main(base + ["data", "add", "qh_smallmicro_npl_ratio", "2022", "2.65", "--source", "report_smallmicro_npl_2022",
                        "--quality", "report", "--revise", "--reason", "restated"]) == 0
    assert main(base + ["data", "source", "add", "s_x", "--publisher", "P", "--title", "T", "--quote", "Q"]) == 0
    capsys.readouterr()
    assert main(base + ["data", "history", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    edits = {r["action"]: (r["old_value"], r["new_value"]) for r in printed["rows"]}
    assert edits == {"revise": (2.7, 2.65), "add source": (None, None)}  # an observation's values are numbers; none is null
    client = create_app({"SMFCAST_DATA": str(data), "SMFCAST_STORE": str(tmp_path / "runs.sqlite"), "TESTING": True,
                         "SMFCAST_API_TOKENS": {"t": TOKEN}}).test_client()
    assert main(base + ["data", "history", "qh_smallmicro_npl_ratio", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == client.get("/v1/series/qh_smallmicro_npl_ratio/history").get_json()


def test_a_backtest_prints_what_http_answers_with_periods_and_percent(tmp_path, capsys):
    from smfcast.api import create_app
    store = tmp_path / "runs.sqlite"
    argv = ["backtest", "--metric", "npl_ratio", "--models", "ets,theta", "--h", "2", "--n-windows", "5", "--paths", "100",
            "--engine", "serial", "--quiet", "-o", str(tmp_path / "out")]
    printed = json.loads(_cli(capsys, store, *argv, "--format", "json"))
    client = create_app({"SMFCAST_DATA": str(DATA), "SMFCAST_STORE": str(store), "TESTING": True}).test_client()
    assert printed == client.get(f"/v1/backtests?backtest={printed['backtest_id']}&metric=npl_ratio").get_json()
    assert printed["columns"] == client.get("/v1/backtests?format=csv").get_data(as_text=True).splitlines()[0].split(",")
    assert all(0 <= r["coverage-95"] <= 100 for r in printed["rows"]) and any(r["coverage-95"] > 1 for r in printed["rows"])
    rows = client.get(f"/v1/backtests?backtest={printed['backtest_id']}&detail=rows").get_json()["rows"]
    assert rows and all(re.fullmatch(r"\d{4}(Q[1-4])?", r["cutoff"]) for r in rows)  # the period of the last training point
    files = (tmp_path / "out" / "backtest_rows.csv").read_text(encoding="utf-8").splitlines()
    assert files[0] == "series_id,model,cutoff,horizon,y,mean,median,lo-80,hi-80,lo-95,hi-95" and re.search(r",\d{4}Q[1-4],", files[1])
    summary = (tmp_path / "out" / "backtest_summary.csv").read_text(encoding="utf-8").splitlines()[0]
    assert summary == ",".join(printed["columns"])
    table = " ".join(_cli(capsys, store, *argv).split())
    assert "calibration None" not in table and re.search(r"cn_bank_npl_ratio: [^;]*; calibration (calibrated|partly|uncalibrated)", table)


def test_coverage_is_in_percent_in_run_records_and_the_workbook(small_store, small_run, client):
    import io

    from openpyxl import load_workbook
    cal = client.get(f"/v1/runs/{small_run.run_id}").get_json()["details"]["market_size"]["method"]["calibration"]
    served = cal["against_random_walk"]["ensemble_served"]
    assert 1 < served["coverage-95"] <= 100 and all(v is None or 0 <= v <= 100 for v in cal["coverage_raw"].values())
    book = load_workbook(io.BytesIO(client.get("/v1/forecasts?metric=market_size&format=xlsx").data), read_only=True)
    shown = {k: v for k, v in book["run"].iter_rows(values_only=True) if k}
    assert f"coverage {served['coverage-95']:.1f}%" in shown["market_size.backtest 95%: served band"]


def test_records_and_backtests_stored_with_coverage_as_a_share_read_in_percent(tmp_path):
    old = {"schema": 2, "method": "direct", "calibration": {
        "status": "calibrated", "coverage_raw": {"80": 0.75, "95": 0.9}, "coverage_calibrated_out_of_sample": {"95": None},
        "against_random_walk": {"ensemble_served": {"coverage-95": 0.95, "coverage-80": 0.8, "width-95": 2.0, "points": 20},
                                "random_walk_with_drift": None}}}
    method = Method.from_dict(old)
    assert method.calibration.coverage_raw == {"80": 75.0, "95": 90.0}
    assert method.calibration.coverage_calibrated_out_of_sample == {"95": None}
    assert method.calibration.against_random_walk.served.coverage_95 == 95.0
    assert method.calibration.against_random_walk.served.width_95 == 2.0  # only coverage changes unit
    assert Method.from_dict(method.to_dict()).calibration.coverage_raw == {"80": 75.0, "95": 90.0}  # read back: not twice
    assert coverage_in_percent(None) is None
    from smfcast.store.backtests import stored_backtest
    store = RunStore(tmp_path / "runs.sqlite")
    store.save_backtest("old", {"h": 2}, {"summary": [{"series_id": "s", "metric": "m", "model": "ets", "coverage-80": 0.5,
                                                       "coverage-95": 1.0, "mae": 0.25}],
                                          "calibration": {"s": old["calibration"]}, "notes": {}, "rows": []})
    bt = stored_backtest(store, "old")
    assert bt["summary"][0]["coverage-95"] == 100.0 and bt["summary"][0]["coverage-80"] == 50.0 and bt["summary"][0]["mae"] == 0.25
    assert bt["calibration"]["s"]["coverage_raw"] == {"80": 75.0, "95": 90.0}
