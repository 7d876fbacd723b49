"""Changing the registry: validated whole with the loader's own rules, located errors, nothing
written on a bad input, revisions kept in the change log, byte-exact reverts, interrupted writes."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from smfcast.errors import InvalidInput, NotFound, Rejected
from smfcast.registry import atomic, changes, intake, texts
from smfcast.registry.intake import NewObservation, NewSeries, NewSource, Origin
from smfcast.registry.series import load_registry
from smfcast.registry.template import read_file

REPO = Path(__file__).resolve().parent.parent
GDP_CSV = REPO / "docs" / "examples" / "qh_gdp.csv"
FILES = ("observations.csv", "series.toml", "sources.toml", "changes.csv")
CLI = Origin("smfcast data add")

# A Qinghai figure not in the shipped data: the end-2024 green-loan share, derived from the H1-2025
# release (green loans 2131.1 亿元 at end-June, 99.36 亿元 more than at the start of the year;
# loans 7945.4 亿元, 77.2 亿元 more).
GREEN_SOURCE = NewSource(
    "qh_green_loans_2025h1_rmrb", "reportify.ai (English summary of 人民日报, 2025-09-22)",
    "青海省绿色贷款余额及比年初增加额, 2025年上半年 (PBoC 2025 definition)",
    "As of the end of Q2, the balance of green loans in Qinghai Province exceeded 213.1 billion yuan, accounting for "
    "26.82% of total loans, with an increase of 9.936 billion yuan since the beginning of the year",
    "https://reportify.ai/news/1167485877702758400", CLI)
GREEN_2024 = NewObservation("qh_green_loan_share", "2024Q4", "25.82", "qh_green_loans_2025h1_rmrb", "derived",
                            "(2131.1 - 99.36) / (7945.4 - 77.2) x 100: end-June green loans and loans less their H1 increase", CLI)
GDP_SERIES = NewSeries("qh_gdp", "GDP, Qinghai (current prices)", "青海省地区生产总值(现价)", "100m_cny", "annual", "QH",
                       (0, 100000), "log", definition="calendar-year GDP as the statistical communiqué states it",
                       origin=Origin("smfcast data series add"))


@pytest.fixture
def data(tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(REPO / "data", target, ignore=shutil.ignore_patterns("changes.csv", ".*"))
    return target


def digests(data_dir: Path) -> dict[str, str | None]:
    return {n: hashlib.sha256((data_dir / n).read_bytes()).hexdigest() if (data_dir / n).exists() else None for n in FILES}


def test_add_a_sourced_figure_logs_it_and_the_loader_sees_it(data):
    out = intake.apply(data, [GREEN_2024], [GREEN_SOURCE], who="analyst", reason="H1-2025 release")
    assert out.change_id == "1" and [e["action"] for e in out.entries] == ["add source", "add"]
    reg = load_registry(data)
    point = next(o for o in reg.observations("qh_green_loan_share") if str(o.period) == "2024Q4")
    assert (point.value, point.source_id, point.quality) == (25.82, "qh_green_loans_2025h1_rmrb", "derived")
    assert reg.sources["qh_green_loans_2025h1_rmrb"]["quote"].startswith("As of the end of Q2")
    log = changes.read_log(data)
    assert [(e["change_id"], e["who"], e["action"], e["series_id"], e["period"], e["new_value"], e["reason"]) for e in log] == [
        ("1", "analyst", "add source", "", "", "", "H1-2025 release"),
        ("1", "analyst", "add", "qh_green_loan_share", "2024Q4", "25.82", "H1-2025 release")]
    assert changes.last_changes(log)["qh_green_loan_share"]["source_id"] == "qh_green_loans_2025h1_rmrb"
    # the same figure again changes nothing and logs nothing
    again = intake.apply(data, [GREEN_2024], [GREEN_SOURCE])
    assert again.change_id is None and again.unchanged == 1 and len(changes.read_log(data)) == 2


BAD_ROWS = [
    # (CSV line, field, reason)
    ("xx_unknown,2024,1.0,report_smallmicro_loans_2022,report,", "series_id", "unknown series id 'xx_unknown'"),
    ("qh_smallmicro_npl_ratio,2024,140,report_smallmicro_npl_2022,report,", "value",
     "140 is outside the bounds [0, 100] of 'qh_smallmicro_npl_ratio'"),
    ("qh_smallmicro_npl_ratio,2024,2.6%,report_smallmicro_npl_2022,report,", "value", "'2.6%' is not a number"),
    ("qh_smallmicro_npl_ratio,2024Q2,2.5,report_smallmicro_npl_2022,report,", "period",
     "'2024Q2' is a quarterly period but 'qh_smallmicro_npl_ratio' is annual"),
    ("qh_smallmicro_npl_ratio,24,2.5,report_smallmicro_npl_2022,report,", "period", "'24' is not a period"),
    ("qh_smallmicro_npl_ratio,2024,2.5,no_such_source,report,", "source_id", "source 'no_such_source' is not in sources.toml"),
    ("qh_smallmicro_npl_ratio,2024,2.5,report_smallmicro_npl_2022,rumour,", "quality", "'rumour' is not one of"),
    ("qh_smallmicro_npl_ratio,2024,2.5,report_smallmicro_npl_2022,derived,", "note", "a derived row must give its formula"),
    ("qh_smallmicro_npl_ratio,2022,2.6,report_smallmicro_npl_2022,report,", "value",
     "qh_smallmicro_npl_ratio 2022 is already recorded as 2.7"),
]
GOOD_ROW = "qh_smallmicro_loans,2023,850.0,report_smallmicro_loans_2022,report,"


@pytest.mark.parametrize("line, field, reason", BAD_ROWS)
def test_each_bad_csv_row_is_located_and_changes_nothing(data, line, field, reason):
    before = digests(data)
    body = ("series_id,period,value,source_id,quality,note\n" + GOOD_ROW + "\n" + line + "\n").encode()
    obs, src = read_file(body, "mine.csv")
    with pytest.raises(Rejected) as info:
        intake.apply(data, obs, src)
    (problem,) = info.value.problems
    assert (problem.file, problem.sheet, problem.row, problem.field) == ("mine.csv", None, 3, field)
    assert problem.message.startswith(f"mine.csv, row 3, field '{field}': ") and reason in problem.message
    assert digests(data) == before  # the good row on line 2 was not written either


@pytest.mark.parametrize("line, field, reason", BAD_ROWS)
def test_each_bad_xlsx_row_is_located_by_sheet_and_changes_nothing(data, line, field, reason):
    import csv
    import io

    from openpyxl import load_workbook

    from smfcast.registry.template import write_template
    wb = load_workbook(io.BytesIO(write_template(load_registry(data))))
    for cells in csv.reader([GOOD_ROW, line]):
        wb["observations"].append([float(c) if i == 2 and c.replace(".", "", 1).isdigit() else c for i, c in enumerate(cells)])
    buf = io.BytesIO()
    wb.save(buf)
    before = digests(data)
    obs, src = read_file(buf.getvalue(), "mine.xlsx")
    with pytest.raises(Rejected) as info:
        intake.apply(data, obs, src)
    (problem,) = info.value.problems
    assert (problem.file, problem.sheet, problem.row, problem.field) == ("mine.xlsx", "observations", 3, field)
    assert problem.message.startswith(f"mine.xlsx, sheet 'observations', row 3, field '{field}': ") and reason in problem.message
    assert digests(data) == before


def test_every_problem_of_a_file_is_listed_at_once(data):
    body = "\n".join(["series_id,period,value,source_id,quality,note", GOOD_ROW, BAD_ROWS[1][0], GOOD_ROW.replace("2023", "2019"),
                      BAD_ROWS[5][0].replace("2024", "2025"), GOOD_ROW]).encode()
    before = digests(data)
    with pytest.raises(Rejected) as info:
        intake.apply(data, *read_file(body, "many.csv"))
    assert [(p.row, p.field) for p in info.value.problems] == [(3, "value"), (5, "source_id"), (6, "period")]
    assert "repeats qh_smallmicro_loans 2023 of many.csv, row 2" in info.value.problems[2].message
    assert str(info.value).startswith("nothing was changed: many.csv, row 3, field 'value': ")
    assert digests(data) == before


def test_new_source_with_missing_quote_is_located_on_its_row(data):
    import csv
    import io
    rows = list(csv.reader(io.StringIO(GDP_CSV.read_text(encoding="utf-8"))))
    rows[2][rows[0].index("quote")] = ""  # 2022's source, on row 3, loses its quote
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    intake.apply(data, series=[GDP_SERIES])
    before = digests(data)
    with pytest.raises(Rejected) as info:
        intake.apply(data, *read_file(buf.getvalue().encode(), "qh_gdp.csv"))
    problems = [(p.row, p.field) for p in info.value.problems]
    assert (3, "quote") in problems  # the source's rule, from the loader, on the row that carried it
    assert (3, "source_id") in problems  # and so the row cannot cite it
    assert digests(data) == before


def test_import_of_a_new_series_with_inline_sources(data):
    out = intake.apply(data, series=[GDP_SERIES])
    assert out.entries[0]["action"] == "add series"
    obs, src = read_file(GDP_CSV.read_bytes(), GDP_CSV.name)
    out = intake.apply(data, obs, src, reason="first-release GDP")
    assert out.count("add") == 5 and out.count("add source") == 5
    reg = load_registry(data)
    assert [(str(o.period), o.value, o.quality) for o in reg.observations("qh_gdp")] == [
        ("2021", 3346.63, "secondary"), ("2022", 3610.07, "secondary"), ("2023", 3799.06, "secondary"),
        ("2024", 3821.5, "doubtful"), ("2025", 4121.84, "secondary")]
    assert reg.sources["qh_gdp_2024_scraper_check"]["quote"] == '"青海省":     (  3821.5, "2024年青海省地区生产总值"),'


def test_a_revision_needs_revise_keeps_the_old_value_and_revert_restores_every_byte(data):
    original = digests(data)
    revised = NewObservation("qh_smallmicro_npl_ratio", "2022", "2.65", "report_smallmicro_npl_2022", "report",
                             "restated in a later release", CLI)
    with pytest.raises(Rejected, match="already recorded as 2.7"):
        intake.apply(data, [revised])
    assert digests(data) == original
    out = intake.apply(data, [revised], revise=True, reason="restated")
    assert load_registry(data).observations("qh_smallmicro_npl_ratio")[-1].value == 2.65
    (entry,) = changes.history(changes.read_log(data), "qh_smallmicro_npl_ratio")
    assert (entry["action"], entry["old_value"], entry["new_value"], entry["reason"]) == ("revise", 2.7, 2.65, "restated")
    undo = intake.revert(data, out.change_id, reason="the restatement was withdrawn")
    assert undo.entries[0]["reverts"] == out.change_id
    after = digests(data)
    assert {n: after[n] for n in FILES[:3]} == {n: original[n] for n in FILES[:3]}  # byte for byte
    history = changes.history(changes.read_log(data), "qh_smallmicro_npl_ratio")
    assert [(h["action"], h["old_value"], h["new_value"]) for h in history] == [("revert", 2.65, 2.7), ("revise", 2.7, 2.65)]
    with pytest.raises(InvalidInput, match=f"change {out.change_id} was already reverted by change {undo.change_id}"):
        intake.revert(data, out.change_id)


def test_revert_of_an_import_removes_its_rows_and_sources_exactly(data):
    original = digests(data)
    first = intake.apply(data, series=[GDP_SERIES])
    second = intake.apply(data, *read_file(GDP_CSV.read_bytes(), GDP_CSV.name))
    with pytest.raises(Rejected, match="revert the changes that rely on it first"):
        intake.revert(data, first.change_id)  # the series still has rows
    intake.revert(data, second.change_id)
    intake.revert(data, first.change_id)
    after = digests(data)
    assert {n: after[n] for n in FILES[:3]} == {n: original[n] for n in FILES[:3]}
    assert len(changes.read_log(data)) == 1 + 10 + 10 + 1  # nothing is ever removed from the log


def test_revert_is_refused_when_a_later_change_touched_the_same_row(data):
    intake.apply(data, [GREEN_2024], [GREEN_SOURCE])
    later = NewObservation(*[getattr(GREEN_2024, f) for f in ("series_id", "period")], "25.9", GREEN_2024.source_id, "derived",
                           GREEN_2024.note, CLI)
    intake.apply(data, [later], revise=True)
    before = digests(data)
    with pytest.raises(InvalidInput, match="changed again by change 2 after change 1"):
        intake.revert(data, "1")
    with pytest.raises(NotFound, match="no change '9'"):
        intake.revert(data, "9")
    assert digests(data) == before


def test_series_add_errors_come_from_the_loader_and_name_the_field(data):
    bad = NewSeries("qh_gdp", "GDP", "生产总值", "100m_cny", "yearly", "QH", (0, 1e5), "log", origin=Origin("smfcast data series add"))
    with pytest.raises(Rejected) as info:
        intake.apply(data, series=[bad])
    assert info.value.problems[0].message == ("smfcast data series add, field 'frequency': "
                                              "'yearly' is not one of annual, quarterly, monthly, irregular")
    headline = NewSeries(**{**GDP_SERIES.__dict__, "headline": "market_size"})
    with pytest.raises(Rejected, match="field 'national': 'qh_gdp' publishes headline metric 'market_size' but names no national"):
        intake.apply(data, series=[headline])
    assert not (data / "changes.csv").exists()


def test_headline_role_moves_to_a_new_series_and_back(data):
    original = digests(data)
    alt = NewSeries("qh_smallmicro_loans_alt", "Small and micro loans, Qinghai (alternative)", "青海省小微企业贷款余额(另一口径)",
                    "100m_cny", "annual", "QH", (0, 100000), "log", national="cn_inclusive_smallmicro_loans_cbirc",
                    headline="market_size", origin=Origin("smfcast data series add"))
    # alone, the new series would leave market_size with nothing to fit: every run would fail
    with pytest.raises(Rejected, match="'qh_smallmicro_loans_alt' has no observation a run fits"):
        intake.apply(data, series=[alt])
    assert digests(data) == original
    rows = [NewObservation("qh_smallmicro_loans_alt", year, value, "report_smallmicro_loans_2022", "report", "", CLI)
            for year, value in (("2021", "701.2"), ("2022", "786.4"))]
    out = intake.apply(data, rows, series=[alt])
    assert load_registry(data).headline("market_size").series == "qh_smallmicro_loans_alt"
    assert [(e["action"], e["old_value"], e["new_value"]) for e in out.entries] == [
        ("add series", "", ""), ("set headline", "qh_smallmicro_loans", "qh_smallmicro_loans_alt"),
        ("add", "", "701.2"), ("add", "", "786.4")]
    intake.revert(data, out.change_id)
    assert {k: v for k, v in digests(data).items() if k != "changes.csv"} == {k: v for k, v in original.items() if k != "changes.csv"}


def test_source_ids_are_never_rewritten(data):
    taken = NewSource("report_smallmicro_npl_2022", "someone", "another title", "另一句话", origin=Origin.of_row("s.xlsx", 2, "sources"))
    with pytest.raises(Rejected, match="already exists with a different publisher"):
        intake.apply(data, sources=[taken])
    with pytest.raises(Rejected, match="is not a usable id"):
        intake.apply(data, sources=[NewSource("my source", "p", "t", "q", origin=CLI)])
    with pytest.raises(Rejected, match="field 'url': 'ftp://x' is not a web address"):
        intake.apply(data, sources=[NewSource("mine", "p", "t", "q", "ftp://x", CLI)])


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_an_interrupted_write_leaves_a_valid_registry_and_the_next_write_completes_it(data, monkeypatch, fail_at):
    """The import writes sources.toml, observations.csv and changes.csv; os.replace fails on its
    `fail_at`-th call (1: the journal itself, so nothing is renamed; 2: after the journal, before
    any data file; 3: after sources.toml, before observations.csv)."""
    before = digests(data)
    real, calls = os.replace, []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", flaky)
    with pytest.raises(intake.WriteInterrupted):
        intake.apply(data, [GREEN_2024], [GREEN_SOURCE])
    monkeypatch.setattr(atomic.os, "replace", real)
    load_registry(data)  # valid whatever was renamed
    if fail_at == 1:
        assert digests(data) == before and not atomic.pending(data)
        assert not list(data.glob(".*.tmp-*"))
        return
    assert atomic.pending(data)
    assert digests(data)["changes.csv"] is None  # the log goes last: it never claims what the data lacks
    intake.apply(data, [])  # any later write first completes the interrupted one
    assert not atomic.pending(data)
    reg = load_registry(data)
    assert any(str(o.period) == "2024Q4" for o in reg.observations("qh_green_loan_share"))
    assert [e["action"] for e in changes.read_log(data)] == ["add source", "add"]


def test_texts_put_and_get_are_inverse_byte_for_byte(data):
    for name, place, new in (("observations.csv", "qh_smallmicro_loans,2022", "qh_smallmicro_loans,2022,1,x,report,"),
                             ("sources.toml", "brand_new", '[brand_new]\npublisher = "p"'),
                             ("series.toml", "headline.npl_ratio", 'series = "qh_other"')):
        text = (data / name).read_text(encoding="utf-8")
        old = texts.get(text, name, place)
        changed = texts.put(text, name, place, new)
        assert texts.get(changed, name, place) == new and changed != text
        assert texts.put(changed, name, place, old) == text


def test_a_large_import_is_one_change_and_its_revert_gives_back_every_byte(data):
    original = digests(data)
    rows = [NewObservation("qh_total_loans", f"{y}Q{q}", f"{1000 + y + q / 10:g}", "qh_total_loans_2025q2", "repost",
                           origin=Origin.of_row("big.csv", 2 + 4 * (y - 1900) + q - 1)) for y in range(1900, 2000) for q in range(1, 5)]
    out = intake.apply(data, rows)
    assert out.count("add") == 400 and {e["change_id"] for e in out.entries} == {"1"}
    loaded = load_registry(data).observations("qh_total_loans")
    assert [(str(o.period), o.value) for o in loaded[:2]] == [("1900Q1", 2900.1), ("1900Q2", 2900.2)] and len(loaded) == 401
    text = (data / "observations.csv").read_text(encoding="utf-8").splitlines()
    assert text[-400] == "qh_total_loans,1900Q1,2900.1,qh_total_loans_2025q2,repost," and text[-1].startswith("qh_total_loans,1999Q4,")
    intake.revert(data, "1")
    after = digests(data)
    assert {n: after[n] for n in FILES[:3]} == {n: original[n] for n in FILES[:3]}


def test_concurrent_writers_take_turns(data):
    from concurrent.futures import ThreadPoolExecutor
    rows = [NewObservation("qh_total_loans", f"2024Q{q}", f"{7800 + q}", "qh_total_loans_2025q2", "repost", origin=CLI) for q in (1, 3, 4)]
    rows.append(NewObservation("qh_total_loans", "2023Q4", "7700", "qh_total_loans_2025q2", "repost", origin=CLI))
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda r: intake.apply(data, [r]), rows))
    assert sorted(o.change_id for o in outcomes) == ["1", "2", "3", "4"]
    assert len(changes.read_log(data)) == 4
    assert {str(o.period) for o in load_registry(data).observations("qh_total_loans")} >= {"2023Q4", "2024Q1", "2024Q3", "2024Q4"}
