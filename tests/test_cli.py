"""The `smfcast` command line: output, formats, and one-line errors with non-zero exits."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.request

import pytest

from smfcast.cli import main
from tests.conftest import DATA


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_data_check_lists_headlines_and_counterparts(capsys):
    code, out, _ = _run(capsys, "data", "check")
    assert code == 0
    lines = out.splitlines()
    for sid, role in (("qh_smallmicro_loans", "market_size"), ("cn_inclusive_smallmicro_loans_cbirc", "market_size (national)"),
                      ("qh_green_loan_share", "green_loan_share"), ("cn_green_loan_share", "green_loan_share (national)"),
                      ("qh_smallmicro_npl_ratio", "npl_ratio"), ("cn_bank_npl_ratio", "npl_ratio (national)")):
        assert any(re.match(rf"{sid} +{re.escape(role)}  ", line) for line in lines), sid
    assert "every one resolved to one of" in out


def test_data_check_json_and_show(capsys):
    code, out, _ = _run(capsys, "data", "check", "--format", "json")
    rows = json.loads(out)["rows"]
    assert code == 0 and {r["headline"] for r in rows} >= {"market_size", "npl_ratio (national)"}
    code, out, _ = _run(capsys, "data", "show", "qh_smallmicro_npl_ratio", "--format", "csv")
    shown = list(csv.DictReader(io.StringIO(out)))
    assert [(r["period"], r["value"], r["quality"]) for r in shown] == [("2020", "3.1", "derived"), ("2022", "2.7", "report")]
    assert shown[1]["quote"].startswith("2022年全省普惠型")


def test_bad_arguments_exit_non_zero_with_one_line(capsys):
    code, _, err = _run(capsys, "data", "show", "nope")
    assert code == 2 and err.strip() == "smfcast: error: unknown series 'nope'; `smfcast data check` lists the series"
    with pytest.raises(SystemExit) as info:
        main(["forecast", "--metric", "gdp"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "invalid choice: 'gdp'" in err


@pytest.mark.parametrize("name, value, reason", [("SMFCAST_PORT", "eighty", "must be a whole number, got 'eighty'"),
                                                 ("SMFCAST_QUEUE_WORKERS", "0", "must be at least 1, got 0")])
def test_a_bad_setting_in_the_environment_is_one_line_naming_it(monkeypatch, capsys, name, value, reason):
    monkeypatch.setenv(name, value)
    code, out, err = _run(capsys, "data", "check")  # every command: the parser reads the settings
    assert code == 2 and out == "" and err.strip() == f"smfcast: error: {name} {reason}"


def test_broken_data_is_one_located_line(tmp_path, capsys):
    import shutil
    shutil.copytree(DATA, tmp_path / "data")
    obs = tmp_path / "data" / "observations.csv"
    obs.write_text(obs.read_text(encoding="utf-8") + "qh_smallmicro_loans,2023,lots,report_smallmicro_loans_2022,report,\n", encoding="utf-8")
    code, _, err = _run(capsys, "--data", str(tmp_path / "data"), "data", "check")
    assert code == 2 and "observations.csv, line" in err and "field 'value': 'lots' is not a number" in err


def test_forecast_without_a_run_says_what_to_do(tmp_path, capsys):
    code, _, err = _run(capsys, "--store", str(tmp_path / "none.sqlite"), "forecast", "--metric", "npl_ratio")
    assert code == 2 and "run `smfcast run` first" in err


def test_forecast_targets_and_scenario_file(small_store, small_run, tmp_path, capsys):
    store = str(small_store.path)
    code, out, _ = _run(capsys, "--store", store, "forecast", "--metric", "npl_ratio", "--format", "json", "--model", "arima")
    rows = json.loads(out)["rows"]
    assert code == 0 and [r["period"] for r in rows][-5:] == ["2026", "2027", "2028", "2029", "2030"]
    assert all(0 < r["lo-95"] <= r["median"] <= r["hi-95"] < 100 for r in rows)
    code, out, _ = _run(capsys, "--store", store, "targets", "--format", "json")
    probs = json.loads(out)["rows"]
    from smfcast.outputs.run_tables import target_rows
    expected = {r["scenario"]: r["probability"] for r in target_rows(small_store, small_run, small_run.scenarios)}
    assert code == 0 and {p["scenario"]: p["probability"] for p in probs} == expected
    scenario = tmp_path / "mine.toml"
    scenario.write_text('base = "baseline"\n[levers]\nrisk_model_adoption = { 2026 = 80, 2028 = 90 }\n'
                        'green_relending_quota = { 2026 = 100 }\nesg_incentive_fund = { 2026 = 10 }\n', encoding="utf-8")
    code, out, _ = _run(capsys, "--store", store, "forecast", "--metric", "npl_ratio", "--scenario-file", str(scenario), "--format", "json")
    custom = json.loads(out)["rows"]
    code, out, _ = _run(capsys, "--store", store, "forecast", "--metric", "npl_ratio", "--scenario", "policy_targets", "--format", "json")
    preset = json.loads(out)["rows"]
    assert [r["median"] for r in custom] == [r["median"] for r in preset]
    scenario.write_text('[levers]\nsnow_disaster = { 2027 = 5 }\n', encoding="utf-8")
    code, _, err = _run(capsys, "--store", store, "forecast", "--metric", "npl_ratio", "--scenario-file", str(scenario))
    assert code == 2 and "lever 'snow_disaster' in 2027 is 5" in err and "[0, 1]" in err



def test_scenario_file_not_utf8_is_one_line_and_a_bom_is_read(small_store, tmp_path, capsys):
    store = str(small_store.path)
    scenario = tmp_path / "gbk.toml"
    scenario.write_bytes('base = "baseline"\ntitle = "青海"\n'.encode("gbk"))
    code, _, err = _run(capsys, "--store", store, "forecast", "--metric", "npl_ratio", "--scenario-file", str(scenario))
    offset = len('base = "baseline"\ntitle = "')
    assert code == 2 and err.strip() == f"smfcast: error: {scenario} is not UTF-8 text (byte {offset}); save it as UTF-8"
    for name, text in (("bom.toml", 'base = "baseline"\n'), ("bom.json", '{"base": "baseline"}')):
        (tmp_path / name).write_text(text, encoding="utf-8-sig")
        code, out, err = _run(capsys, "--store", store, "forecast", "--metric", "npl_ratio", "--scenario-file", str(tmp_path / name))
        assert code == 0 and err == "" and "2030" in out


@pytest.mark.slow
def test_real_gunicorn_serves_csv_over_http(live_server):
    with urllib.request.urlopen(live_server + "/v1/health", timeout=10) as r:
        health = json.load(r)
    assert health["status"] == "ok" and health["run_id"]
    with urllib.request.urlopen(live_server + "/v1/forecasts?metric=npl_ratio&scenario=adverse&format=csv", timeout=10) as r:
        assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
        rows = list(csv.DictReader(io.StringIO(r.read().decode("utf-8"))))
    assert [row["period"] for row in rows][-5:] == ["2026", "2027", "2028", "2029", "2030"]
    assert all(row["scenario"] == "adverse" for row in rows)


def test_export_writes_what_the_file_name_says_unless_told(small_store, small_run, tmp_path, capsys):
    store = ["--store", str(small_store.path)]
    assert main(store + ["export", "-o", str(tmp_path / "bands.csv")]) == 0
    assert (tmp_path / "bands.csv").read_text(encoding="utf-8").startswith("series_id,")
    assert main(store + ["export", "-o", str(tmp_path / "book.xlsx")]) == 0
    assert (tmp_path / "book.xlsx").read_bytes()[:2] == b"PK"  # a zip: the workbook
    assert main(store + ["export", "--format", "xlsx", "-o", str(tmp_path / "book.csv")]) == 0
    assert (tmp_path / "book.csv").read_bytes()[:2] == b"PK"
