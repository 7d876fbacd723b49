"""Only data a run can use is accepted: a figure dated after the current period is refused unless
graded `estimate` (and estimates are left out of fitting), a change is taken only if the registry
it leaves passes the run's own check (`registry.readiness`, which `create_run` calls too), and
text with control characters other than tab and newline is refused naming the field: through
`smfcast data` and `POST /v1/observations` alike, with nothing written."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import pytest

from smfcast.cli import main
from smfcast.engine.headline import EngineConfig
from smfcast.errors import DataError, Rejected
from smfcast.registry import intake, readiness
from smfcast.registry.intake import NewObservation, NewSource, Origin
from smfcast.registry.readiness import check_run_ready, run_problems
from smfcast.registry.series import load_registry
from smfcast.store.runs import RunStore, create_run

REPO = Path(__file__).resolve().parent.parent
FILES = ("observations.csv", "series.toml", "sources.toml", "changes.csv")
TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TODAY = date(2026, 12, 4)  # the current periods: 2026, 2026Q4, 2026-12
TINY = EngineConfig(n_paths=100, models=("theta",), backtest_windows=0)
LOANS = {"series_id": "qh_smallmicro_loans", "source_id": "report_smallmicro_loans_2022", "quality": "report", "note": ""}


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr(readiness, "today_utc", lambda: TODAY)


@pytest.fixture
def data(tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(REPO / "data", target, ignore=shutil.ignore_patterns("changes.csv", ".*"))
    return target


@pytest.fixture
def client(data, tmp_path):
    from smfcast.api import create_app
    return create_app({"SMFCAST_DATA": str(data), "SMFCAST_STORE": str(tmp_path / "runs.sqlite"), "TESTING": True,
                       "SMFCAST_API_TOKEN": TOKEN}).test_client()


def digests(data_dir: Path) -> dict:
    return {n: hashlib.sha256((data_dir / n).read_bytes()).hexdigest() if (data_dir / n).exists() else None for n in FILES}


def _refused(resp, field: str, *words: str) -> dict:
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json", resp.get_data(as_text=True)
    errors = [e for e in resp.get_json()["errors"] if e["field"] == field]
    assert errors, resp.get_json()["errors"]
    for word in words:
        assert word in errors[0]["message"], errors
    return errors[0]


@pytest.mark.parametrize("period", ["2999", "2031", "2027"])
def test_a_headline_figure_dated_after_the_current_period_is_refused_and_the_next_run_still_works(client, data, tmp_path, period):
    before = digests(data)
    resp = client.post("/v1/observations", json={"rows": [{**LOANS, "period": period, "value": 900}]}, headers=AUTH)
    error = _refused(resp, "period", f"qh_smallmicro_loans {period} is after the current period (2026, today 2026-12-04 UTC)",
                     "'estimate'")
    assert error["message"].startswith("request body, rows[0], field 'period'"), error
    assert digests(data) == before
    run = create_run(data, TINY, RunStore(tmp_path / "after.sqlite"))  # what used to fail: "already observed through 2030"
    assert str(run.periods("market_size")[-1]) == "2030"


def test_the_current_period_is_not_the_future(data):
    out = intake.apply(data, [NewObservation("cn_bank_npl_ratio", "2026Q4", "1.48", "cn_bank_npl_ratio_2025q4", "repost", "",
                                             Origin("smfcast data add"))])
    assert out.count("add") == 1
    with pytest.raises(Rejected, match="cn_bank_npl_ratio 2027Q1 is after the current period \\(2026Q4"):
        intake.apply(data, [NewObservation("cn_bank_npl_ratio", "2027Q1", "1.48", "cn_bank_npl_ratio_2025q4", "repost", "",
                                           Origin("smfcast data add"))])


def test_an_estimate_may_be_dated_ahead_and_runs_leave_it_out_of_fitting_and_show_it(data, tmp_path):
    base = create_run(data, TINY, RunStore(tmp_path / "base.sqlite"))
    with pytest.raises(Rejected, match="an estimate must say in 'note' how it was made"):
        intake.apply(data, [NewObservation("qh_smallmicro_loans", "2031", "1400", "report_smallmicro_loans_2022", "estimate", "",
                                           Origin("smfcast data add"))])
    intake.apply(data, [NewObservation("qh_smallmicro_loans", "2031", "1400", "report_smallmicro_loans_2022", "estimate",
                                       "the report's 2031 projection, extrapolated", Origin("smfcast data add"))])
    run = create_run(data, TINY, RunStore(tmp_path / "with.sqlite"))
    assert run.config["exclude_qualities"] == ["doubtful", "estimate"]
    assert run.periods("market_size") == base.periods("market_size")  # not fitted: the years forecast are the same
    info = run.metric_info("market_size")
    assert "estimate" not in run.summary["metrics"]["market_size"]["grades"]  # the grades that fed the fit
    assert {"period": "2031", "quality": "estimate"}.items() <= info["history"][-1].items()  # shown, with its grade


def test_a_change_that_leaves_a_target_year_unforecast_is_refused_naming_the_target(client, data):
    resp = client.post("/v1/observations", headers=AUTH, json={"rows": [
        {"series_id": "qh_smallmicro_npl_ratio", "period": "2026", "value": 2.4, "source_id": "report_smallmicro_npl_2022",
         "quality": "report", "note": ""}]})
    _refused(resp, "period", "npl_ratio is forecast for 2027–2030 only", "target 'npl_below_2_2_by_2026' is judged in 2026")


def test_a_change_that_leaves_a_headline_without_a_fitted_point_is_refused_and_so_is_its_revert(data):
    reg = load_registry(data)
    rows = reg.observations("qh_smallmicro_npl_ratio")
    assert [o.quality for o in rows] == ["derived", "report"]
    added = intake.apply(data, [NewObservation("qh_smallmicro_npl_ratio", "2021", "2.9", "report_smallmicro_npl_2022", "report", "",
                                               Origin("smfcast data add"))])
    downgraded = [NewObservation(o.series_id, str(o.period), f"{o.value:g}", o.source_id, "doubtful", o.note, Origin("smfcast data add"))
                  for o in rows]
    intake.apply(data, downgraded, revise=True)  # 2021 is still fitted
    before = digests(data)
    with pytest.raises(Rejected, match="'qh_smallmicro_npl_ratio' has no observation a run fits"):
        intake.revert(data, added.change_id)
    assert digests(data) == before
    with pytest.raises(Rejected, match="field 'period': .*has no observation a run fits|'qh_smallmicro_npl_ratio' has no observation"):
        intake.apply(data, [NewObservation("qh_smallmicro_npl_ratio", "2021", "2.9", "report_smallmicro_npl_2022", "doubtful", "",
                                           Origin("smfcast data add"))], revise=True)


def test_create_run_refuses_what_intake_refuses_before_fitting(data, tmp_path, monkeypatch):
    """The same function decides both: a future figure written by hand stops the run, located,
    before anything is fitted, and every change is refused until the registry is mended."""
    path = data / "observations.csv"
    path.write_text(path.read_text(encoding="utf-8") + "qh_smallmicro_loans,2999,900,report_smallmicro_loans_2022,report,\n",
                    encoding="utf-8")
    line = len(path.read_text(encoding="utf-8").splitlines())
    problems = run_problems(load_registry(data))
    assert [(p.line, p.field, p.series_id, p.period) for p in problems][:1] == [(line, "period", "qh_smallmicro_loans", "2999")]
    monkeypatch.setattr("smfcast.store.runs._forecast_task", lambda *a: pytest.fail("fitted before the data was checked"))
    with pytest.raises(DataError, match=f"observations.csv, line {line}, field 'period': qh_smallmicro_loans 2999 is after"):
        create_run(data, TINY, RunStore(tmp_path / "s.sqlite"))
    with pytest.raises(Rejected, match="a run could not use the registry: qh_smallmicro_loans 2999 is after"):
        intake.apply(data, [NewObservation("cn_bank_npl_ratio", "2026Q4", "1.48", "cn_bank_npl_ratio_2025q4", "repost", "",
                                           Origin("smfcast data add"))])
    check_run_ready(load_registry(REPO / "data"))  # the shipped registry passes


CONTROLS = ["\x00", "\x1b[31m", "\r", "\x7f", "\x85"]


@pytest.mark.parametrize("control", CONTROLS)
def test_control_characters_are_refused_in_every_text_field_over_http(client, data, control):
    before = digests(data)
    source = {"source_id": "qh_test_source", "publisher": "PBoC Xining", "title": "a release", "quote": "the words", "url": ""}
    row = {"series_id": "qh_green_loan_share", "period": "2024Q4", "value": 25.82, "source_id": "qh_test_source",
           "quality": "derived", "note": "a formula"}
    for where, body in (("note", {"rows": [{**row, "note": f"a{control}b"}], "sources": [source]}),
                        ("quote", {"rows": [row], "sources": [{**source, "quote": f"the{control}words"}]}),
                        ("publisher", {"rows": [row], "sources": [{**source, "publisher": f"PB{control}oC"}]})):
        _refused(client.post("/v1/observations", json=body, headers=AUTH), where, "control character U+")
    resp = client.post("/v1/observations", json={"rows": [row], "sources": [source], "reason": f"why{control}"}, headers=AUTH)
    _refused(resp, "reason", "control character U+")
    csv = ("series_id,period,value,source_id,quality,note,publisher,title,url,quote\n"
           f"qh_green_loan_share,2024Q4,25.82,qh_test_source,derived,ok,PBoC,\"a{control}title\",,the words\n").encode()
    _refused(client.post("/v1/observations", data=csv, content_type="text/csv", headers=AUTH), "title", "control character U+")
    assert digests(data) == before


def test_tab_and_newline_are_text(client, data):
    row = {"series_id": "qh_green_loan_share", "period": "2024Q4", "value": 25.82, "source_id": "qh_green_loans_2025h1_rmrb",
           "quality": "derived", "note": "line one\nline two\tand a tab"}
    source = {"source_id": "qh_green_loans_2025h1_rmrb", "publisher": "reportify.ai", "title": "a\ttitle",
              "quote": "first line\nsecond line"}
    resp = client.post("/v1/observations", json={"rows": [row], "sources": [source]}, headers=AUTH)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert [o.note for o in load_registry(data).observations("qh_green_loan_share") if str(o.period) == "2024Q4"] == [row["note"]]


@pytest.mark.parametrize("argv, field", [
    (["data", "add", "qh_green_loan_share", "2024Q4", "25.82", "--source", "qh_green_loan_share_2025q1", "--quality", "derived",
      "--note", "bad\x00note"], "note"),
    (["data", "add", "qh_green_loan_share", "2024Q4", "25.82", "--source", "qh_green_loan_share_2025q1", "--quality", "derived",
      "--note", "fine", "--reason", "bell\x07"], "reason"),
    (["data", "add", "qh_green_loan_share", "2024Q4", "25.82", "--source", "qh_green_loan_share_2025q1", "--quality", "derived",
      "--note", "fine", "--who", "eve\x1b[2J"], "who"),
    (["data", "source", "add", "qh_new_source", "--publisher", "PBoC", "--title", "t\x0bitle", "--quote", "words"], "title"),
    (["data", "series", "add", "qh_gdp", "--title-en", "GDP\x00", "--title-zh", "青海省地区生产总值", "--region", "QH", "--unit",
      "100m_cny", "--frequency", "annual", "--bounds", "0,100000", "--transform", "log"], "title_en"),
])
def test_control_characters_are_refused_through_the_cli_in_one_line(data, capsys, argv, field):
    before = digests(data)
    code = main(["--data", str(data), *argv])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"'{field}'" in err or f"{field} holds" in err, err
    assert "control character U+" in err and digests(data) == before


def test_a_future_figure_is_refused_through_the_cli_in_one_line(data, capsys):
    before = digests(data)
    code = main(["--data", str(data), "data", "add", "qh_smallmicro_loans", "2999", "900", "--source", "report_smallmicro_loans_2022",
                 "--quality", "report"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "2999 is after the current period" in err, err
    assert digests(data) == before
    code = main(["--data", str(data), "data", "add", "qh_smallmicro_loans", "2999", "900", "--source", "report_smallmicro_loans_2022",
                 "--quality", "estimate", "--note", "a projection"])
    assert code == 0, capsys.readouterr().err


def test_the_defaults_the_check_shares_with_the_engine_are_the_engines():
    from smfcast.defaults import MIN_DIRECT_POINTS, UNTIL_YEAR
    from smfcast.engine import provincial
    assert MIN_DIRECT_POINTS == provincial.MIN_DIRECT_POINTS and UNTIL_YEAR == EngineConfig().until_year
    assert EngineConfig().exclude_qualities == ("doubtful", "estimate")


def test_the_source_of_a_row_with_a_control_character_is_named_by_its_row(data):
    src = NewSource("qh_new_source", "PBoC", "a title", "the\x00words", origin=Origin.of_row("upload.xlsx", 3, "sources"))
    with pytest.raises(Rejected) as info:
        intake.apply(data, sources=[src])
    p = info.value.problems[0]
    assert (p.sheet, p.row, p.field) == ("sources", 3, "quote") and "U+0000" in p.message
