"""Users' series in runs: a registry series marked `forecast = true` is forecast by every run,
through the engine's one entry, and served like the headline metrics (HTTP, CLI, both exports,
its sources cited); one that cannot be forecast is a located failure of the run, never a failed run."""

from __future__ import annotations

import io
import json
import shutil

import pytest

from smfcast.cli import main
from smfcast.engine.headline import MARKED
from smfcast.store.runs import RunStore, create_run
from tests.conftest import DATA, SMALL, TOKEN

SERIES = ["series", "add", "--title-en", "Bank A small-business NPL ratio", "--title-zh", "甲银行小微不良率", "--region", "QH",
          "--unit", "percent", "--frequency", "quarterly", "--bounds", "0,100", "--transform", "logit", "--forecast"]
VALUES = [3.1, 3.0, 3.2, 3.3, 3.1, 2.9, 2.8, 2.9, 2.7, 2.6, 2.7, 2.5, 2.4, 2.5]


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    """A copy of the shipped data with two marked series (one long enough, one too short) and a run of it."""
    root = tmp_path_factory.mktemp("marked")
    data = root / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("changes.csv", ".*"))
    base = ["--data", str(data)]
    assert main(base + ["data", "source", "add", "bank_a_reports", "--publisher", "Bank A", "--title", "Quarterly reports",
                        "--quote", "不良贷款率"]) == 0
    assert main(base + ["data", *SERIES[:1], SERIES[1], "bank_a_npl", *SERIES[2:]]) == 0
    assert main(base + ["data", *SERIES[:1], SERIES[1], "bank_a_short", *SERIES[2:]]) == 0
    rows = ["series_id,period,value,source_id,quality,note"]
    rows += [f"bank_a_npl,{2022 + i // 4}Q{i % 4 + 1},{v},bank_a_reports,official," for i, v in enumerate(VALUES)]
    rows += [f"bank_a_short,2025Q{q},{2.0 + q / 10},bank_a_reports,official," for q in (1, 2, 3)]
    (root / "bank.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(base + ["data", "import", str(root / "bank.csv")]) == 0
    store = RunStore(root / "runs.sqlite")
    run = create_run(data, SMALL, store)
    return data, store, run


def test_every_run_forecasts_a_marked_series_and_records_one_it_cannot(marked):
    data, store, run = marked
    assert "forecast = true" in (data / "series.toml").read_text(encoding="utf-8")
    assert run.series_ids == ["bank_a_npl"]
    assert "bank_a_short" in run.series_failures and "3 usable point(s)" in run.series_failures["bank_a_short"]
    info = run.series_info("bank_a_npl")
    assert info["periods"][0] == "2025Q3" and info["periods"][-1] == "2030Q4"
    assert set(info["models"]) == {"arima", "ets", "theta", "ensemble"}
    assert info["method"]["method"] == "direct" and info["method"]["calibration"]["evidence"] == "own"
    assert [h["value"] for h in info["history"]] == VALUES
    assert store.paths(run.run_id, MARKED + "bank_a_npl", "arima", "baseline").shape == (SMALL.n_paths, 22)
    assert sorted(run.metrics) == ["green_loan_share", "market_size", "npl_ratio"]  # the headline metrics as before


def test_a_marked_series_is_served_over_http_with_its_members(marked):
    from smfcast.api import create_app
    data, store, run = marked
    client = create_app({"SMFCAST_DATA": str(data), "SMFCAST_STORE": str(store.path), "TESTING": True,
                         "SMFCAST_API_TOKENS": {"t": TOKEN}}).test_client()
    body = client.get("/v1/forecasts?series=bank_a_npl&history=true").get_json()
    assert body["series"] == ["bank_a_npl"] and body["metrics"] == []
    kinds = [r["kind"] for r in body["rows"]]
    assert kinds.count("history") == len(VALUES) and kinds.count("forecast") == 22
    forecast = [r for r in body["rows"] if r["kind"] == "forecast"]
    assert all(0 < r["lo-95"] < r["median"] < r["hi-95"] < 100 for r in forecast)
    arima = client.get("/v1/forecasts?series=bank_a_npl&model=arima").get_json()["rows"]
    assert {r["model"] for r in arima} == {"arima"} and arima[0]["median"] != forecast[0]["median"]
    assert client.get("/v1/forecasts?series=nope").status_code == 404
    refused = client.get("/v1/forecasts?series=bank_a_short").get_json()
    assert "could not forecast" in refused["detail"] and "3 usable point(s)" in refused["detail"]
    other = client.get("/v1/forecasts?series=bank_a_npl&scenario=adverse")
    assert other.status_code == 404 and "baseline only" in other.get_json()["detail"]
    both = client.get("/v1/forecasts?series=bank_a_npl&metric=npl_ratio").get_json()
    assert {r["series_id"] for r in both["rows"]} == {"qh_smallmicro_npl_ratio", "bank_a_npl"}
    workbook = client.get("/v1/forecasts?series=bank_a_npl&format=xlsx").data
    from openpyxl import load_workbook
    wb = load_workbook(io.BytesIO(workbook), read_only=True)
    assert "bank_a_npl" in wb.sheetnames and "market_size" not in wb.sheetnames
    cited = [r for r in wb["sources"].iter_rows(values_only=True) if r and r[2] == "bank_a_npl"]
    assert len(cited) == len(VALUES) and cited[0][8] == "Bank A"  # every observation with its publisher


def test_a_marked_series_from_the_command_line_and_both_exports(marked, capsys, tmp_path):
    data, store, run = marked
    base = ["--data", str(data), "--store", str(store.path)]
    assert main(base + ["forecast", "--series", "bank_a_npl", "--model", "arima", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert len(rows) == 22 and {r["model"] for r in rows} == {"arima"}
    assert main(base + ["forecast", "--series", "bank_a_short"]) == 2
    assert "3 usable point(s)" in capsys.readouterr().err
    assert main(base + ["export", "-o", str(tmp_path / "all.csv")]) == 0
    text = (tmp_path / "all.csv").read_text(encoding="utf-8")
    assert ",bank_a_npl," not in text and "bank_a_npl," in text and text.count("\nbank_a_npl,") == len(VALUES) + 22
    assert main(base + ["export", "-o", str(tmp_path / "all.xlsx")]) == 0
    from openpyxl import load_workbook
    assert "bank_a_npl" in load_workbook(tmp_path / "all.xlsx", read_only=True).sheetnames


def test_a_marked_series_prints_what_http_answers(marked, capsys):
    from smfcast.api import create_app
    data, store, run = marked
    client = create_app({"SMFCAST_DATA": str(data), "SMFCAST_STORE": str(store.path), "TESTING": True,
                         "SMFCAST_API_TOKENS": {"t": TOKEN}}).test_client()
    base = ["--data", str(data), "--store", str(store.path), "forecast"]
    for argv, query in ((["--series", "bank_a_npl"], "series=bank_a_npl"),
                        (["--series", "bank_a_npl", "--history", "--model", "arima"], "series=bank_a_npl&history=true&model=arima"),
                        (["--series", "bank_a_npl", "--metric", "npl_ratio", "--scenario", "all"], "series=bank_a_npl&metric=npl_ratio&scenario=all")):
        assert main(base + argv + ["--format", "json"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed == client.get(f"/v1/forecasts?{query}").get_json() and printed["series"] == ["bank_a_npl"]
        assert main(base + argv + ["--format", "csv"]) == 0
        assert capsys.readouterr().out.encode("utf-8") == client.get(f"/v1/forecasts?{query}&format=csv").data
    assert main(base + ["--series", "bank_a_npl", "--scenario", "adverse"]) == 2
    assert "baseline only" in capsys.readouterr().err


def test_the_page_shows_the_members_beside_the_ensemble_and_the_marked_series(marked):
    from smfcast.api import create_app
    data, store, run = marked
    client = create_app({"SMFCAST_DATA": str(data), "SMFCAST_STORE": str(store.path), "TESTING": True,
                         "SMFCAST_API_TOKENS": {"t": TOKEN}}).test_client()
    html = client.get("/?metric=npl_ratio").get_data(as_text=True)
    members = html.split('<table id="members">', 1)[1].split("</table>", 1)[0]
    periods = run.metric_info("npl_ratio")["periods"]
    assert members.count('<tr class="member">') == 3 * len(periods) and members.count('<tr class="ensemble">') == len(periods)
    for model in ("arima", "ets", "theta"):
        assert f'<td class="t">{model}</td>' in members
    listed = html.split('<table id="marked">', 1)[1].split("</table>", 1)[0]
    assert "bank_a_npl" in listed and "2030Q4" in listed and "/v1/forecasts?series=bank_a_npl" in listed
    assert "not forecast:" in listed and "3 usable point(s)" in listed


def test_a_series_marked_over_http_is_kept_with_its_flag(tmp_path):
    from smfcast.api import create_app
    from smfcast.registry.series import load_registry
    data = tmp_path / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("changes.csv", ".*"))
    client = create_app({"SMFCAST_DATA": str(data), "SMFCAST_STORE": str(tmp_path / "s.sqlite"), "TESTING": True,
                         "SMFCAST_API_TOKENS": {"t": TOKEN}}).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    series = {"series_id": "bank_b_npl", "title_en": "Bank B NPL ratio", "title_zh": "乙银行不良率", "unit": "percent",
              "frequency": "quarterly", "region": "QH", "bounds": [0, 100], "transform": "logit", "forecast": True}
    source = {"source_id": "bank_b", "publisher": "Bank B", "title": "Reports", "quote": "不良率"}
    rows = [{"series_id": "bank_b_npl", "period": f"{2023 + i // 4}Q{i % 4 + 1}", "value": 2 + i / 10, "source_id": "bank_b",
             "quality": "official"} for i in range(10)]
    answer = client.post("/v1/observations", json={"series": [series], "sources": [source], "rows": rows})
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["series_added"] == 1 and answer.get_json()["added"] == 10
    assert load_registry(data).marked() == ["bank_b_npl"]
    bad = client.post("/v1/observations", json={"series": [{**series, "series_id": "bank_c", "forecast": "yes"}]})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "forecast"


def test_a_forecast_flag_that_is_not_true_or_false_is_refused_where_it_is(tmp_path):
    from smfcast.errors import DataError
    from smfcast.registry.series import load_registry
    data = tmp_path / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("changes.csv", ".*"))
    text = (data / "series.toml").read_text(encoding="utf-8")
    (data / "series.toml").write_text(text.replace("[series.cn_bank_npl_ratio]\n", "[series.cn_bank_npl_ratio]\nforecast = \"yes\"\n", 1), encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_registry(data)
    assert err.value.field == "forecast" and "true or false" in err.value.message and err.value.line is not None
