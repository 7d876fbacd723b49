"""`smfcast data add | source add | series add | import | template | history | revert`: one line
per outcome, one located line and exit code 2 per refusal with every data file untouched, and a
figure added on the command line used by the next `smfcast run`."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

from smfcast.cli import main
from smfcast.registry.series import load_registry
from smfcast.store.runs import RunStore

REPO = Path(__file__).resolve().parent.parent
FILES = ("observations.csv", "series.toml", "sources.toml", "changes.csv")
GREEN_SOURCE = ["data", "source", "add", "qh_green_loans_2025h1_rmrb",
                "--publisher", "reportify.ai (English summary of 人民日报, 2025-09-22)",
                "--title", "青海省绿色贷款余额及比年初增加额, 2025年上半年 (PBoC 2025 definition)",
                "--url", "https://reportify.ai/news/1167485877702758400",
                "--quote", "As of the end of Q2, the balance of green loans in Qinghai Province exceeded 213.1 billion yuan, "
                           "accounting for 26.82% of total loans, with an increase of 9.936 billion yuan since the beginning of the year"]
GREEN_2024 = ["data", "add", "qh_green_loan_share", "2024Q4", "25.82", "--source", "qh_green_loans_2025h1_rmrb", "--quality", "derived",
              "--note", "(2131.1 - 99.36) / (7945.4 - 77.2) x 100: end-June green loans and loans less their H1 increase",
              "--reason", "H1-2025 release"]
GDP_SERIES = ["data", "series", "add", "qh_gdp", "--title-en", "GDP, Qinghai (current prices)", "--title-zh", "青海省地区生产总值(现价)",
              "--region", "QH", "--unit", "100m_cny", "--frequency", "annual", "--bounds", "0,100000", "--transform", "log"]


@pytest.fixture
def data(tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(REPO / "data", target, ignore=shutil.ignore_patterns("changes.csv", ".*"))
    return target


def digests(data_dir: Path) -> dict:
    return {n: hashlib.sha256((data_dir / n).read_bytes()).hexdigest() if (data_dir / n).exists() else None for n in FILES}


def smfcast(capsys, data: Path, *argv) -> tuple[int, str, str]:
    code = main(["--data", str(data), *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, field, reason", [
    (["data", "add", "qh_smallmicro_npl_ratio", "2024", "140", "--source", "report_smallmicro_npl_2022", "--quality", "report"],
     "value", "140 is outside the bounds [0, 100] of 'qh_smallmicro_npl_ratio'"),
    (["data", "add", "qh_smallmicro_npl_ratio", "2024Q1", "2.6", "--source", "report_smallmicro_npl_2022", "--quality", "report"],
     "period", "'2024Q1' is a quarterly period but 'qh_smallmicro_npl_ratio' is annual"),
    (["data", "add", "qh_smallmicro_npl_ratio", "2024", "2.6", "--source", "nowhere", "--quality", "report"],
     "source_id", "source 'nowhere' is not in sources.toml"),
    (["data", "add", "qh_smallmicro_npl_ratio", "2022", "2.6", "--source", "report_smallmicro_npl_2022", "--quality", "report"],
     "value", "is already recorded as 2.7 (report, source report_smallmicro_npl_2022); revise it explicitly"),
    (["data", "source", "add", "x1", "--publisher", "p", "--title", "t", "--quote", " "], "quote", "source 'x1' needs a non-empty 'quote'"),
    (GDP_SERIES[:-2] + ["--transform", "square"], "transform", "'square' is not one of"),
    (GDP_SERIES[:-4] + ["--bounds", "0-100", "--transform", "log"], None, "--bounds '0-100' must be two numbers"),
    # bytes that are not UTF-8 (a GBK terminal) arrive as surrogate escapes: refused by name, not a traceback
    (GREEN_2024[:-4] + ["--note", "\udcc7\udce0\udcba\udca3"], None, "note is not UTF-8 text (byte 0xc7)"),
    (GREEN_2024[:-2] + ["--reason", "H1 \udcff"], None, "reason is not UTF-8 text (byte 0xff)"),
    (GREEN_SOURCE[:5] + ["\udcc7\udce0"] + GREEN_SOURCE[6:], None, "publisher is not UTF-8 text (byte 0xc7)"),
])
def test_a_refused_change_is_one_located_line_and_changes_nothing(data, capsys, argv, field, reason):
    before = digests(data)
    code, out, err = smfcast(capsys, data, *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("smfcast: error: ") and reason in err
    if field:
        assert f"field '{field}'" in err
    assert digests(data) == before


def test_add_history_revise_and_revert_on_the_command_line(data, capsys):
    original = digests(data)
    assert smfcast(capsys, data, *GREEN_SOURCE)[0] == 0
    code, out, _ = smfcast(capsys, data, *GREEN_2024)
    assert code == 0 and out.strip() == "change 2: add 1; `smfcast data revert 2` undoes it"
    code, out, _ = smfcast(capsys, data, "data", "add", "qh_green_loan_share", "2024Q4", "25.9", "--source", "qh_green_loans_2025h1_rmrb",
                           "--quality", "derived", "--note", "recomputed", "--revise", "--who", "analyst", "--reason", "recomputed")
    assert code == 0 and out.startswith("change 3: revise 1")
    code, out, _ = smfcast(capsys, data, "data", "history", "qh_green_loan_share", "--format", "csv")
    lines = out.splitlines()
    assert lines[0] == "change_id,time,who,action,series_id,period,old_value,new_value,source_id,quality,reason,reverts"
    assert [line.split(",")[i] for line in lines[1:] for i in (0, 2, 3, 6, 7)] == [
        "3", "analyst", "revise", "25.82", "25.9", "2", lines[2].split(",")[2], "add", "", "25.82"]
    code, out, _ = smfcast(capsys, data, "data", "check")
    row = next(line for line in out.splitlines() if line.startswith("qh_green_loan_share "))
    assert re.match(r"qh_green_loan_share +green_loan_share .* \d{4}-\d\d-\d\d$", row)  # the date of its last change
    code, out, _ = smfcast(capsys, data, "data", "check", "--wide")
    row = next(line for line in out.splitlines() if line.startswith("qh_green_loan_share "))
    assert "qh_green_loans_2025h1_rmrb" in row  # and, whole, the source of that change
    for change in ("3", "2", "1"):
        assert smfcast(capsys, data, "data", "revert", change)[0] == 0
    after = digests(data)
    assert {n: after[n] for n in FILES[:3]} == {n: original[n] for n in FILES[:3]}
    code, _, err = smfcast(capsys, data, "data", "revert", "3")
    assert code == 2 and "change 3 was already reverted by change 4" in err


def test_import_check_then_import_a_csv_and_the_template(data, capsys, tmp_path):
    assert smfcast(capsys, data, *GDP_SERIES)[0] == 0
    before = digests(data)
    gdp = REPO / "docs" / "examples" / "qh_gdp.csv"
    code, out, _ = smfcast(capsys, data, "data", "import", str(gdp), "--check")
    assert code == 0 and "valid, nothing written: it would add source 5, add 5" in out and digests(data) == before
    code, out, _ = smfcast(capsys, data, "data", "import", str(gdp))
    assert code == 0 and out.startswith("qh_gdp.csv: 5 row(s), 5 source row(s); change 2: add source 5, add 5")
    assert [o.value for o in load_registry(data).observations("qh_gdp")] == [3346.63, 3610.07, 3799.06, 3821.5, 4121.84]
    code, out, _ = smfcast(capsys, data, "data", "import", str(gdp))
    assert code == 0 and "nothing to change: 5 row(s) already recorded as given" in out
    template = tmp_path / "template.xlsx"
    code, out, _ = smfcast(capsys, data, "data", "template", "-o", str(template))
    assert code == 0 and template.exists()
    (tmp_path / "folder.xlsx").mkdir()
    code, out, err = smfcast(capsys, data, "data", "template", "-o", str(tmp_path / "folder.xlsx"))
    assert code == 2 and out == "" and err == f"smfcast: error: cannot write {tmp_path / 'folder.xlsx'}: Is a directory\n"
    from openpyxl import load_workbook
    wb = load_workbook(template)
    wb["observations"].append(["qh_gdp", "2020", 3009.81, "qh_gdp_2020_example", "secondary", ""])
    wb["sources"].append(["qh_gdp_2020_example", "an example publisher", "an example title", "https://example.org/gdp", "3009.81亿元"])
    wb.save(template)
    code, out, _ = smfcast(capsys, data, "data", "import", str(template))
    assert code == 0 and "change 3: add source 1, add 1" in out
    assert load_registry(data).observations("qh_gdp")[0].value == 3009.81
    code, _, err = smfcast(capsys, data, "data", "import", str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read" in err
    (tmp_path / "notes.txt").write_text("x")
    code, _, err = smfcast(capsys, data, "data", "import", str(tmp_path / "notes.txt"))
    assert code == 2 and "import files are .csv or .xlsx" in err


def test_a_qinghai_figure_added_on_the_command_line_is_used_by_the_next_run(data, capsys, tmp_path):
    store = tmp_path / "runs.sqlite"
    run = ["--store", str(store), "run", "--models", "theta", "--paths", "200", "--engine", "serial"]
    assert smfcast(capsys, data, *run)[0] == 0
    before = RunStore(store).list()[0]
    assert smfcast(capsys, data, *GREEN_SOURCE)[0] == 0 and smfcast(capsys, data, *GREEN_2024)[0] == 0
    code, out, _ = smfcast(capsys, data, *run)
    assert code == 0
    after = RunStore(store).list()[0]
    assert after.run_id != before.run_id
    old, new = before.metric_info("green_loan_share"), after.metric_info("green_loan_share")
    assert new["method"]["method"] == "spread_to_national"
    assert new["method"]["relation"]["points"] == old["method"]["relation"]["points"] + 1 == 5
    assert ("2024Q4", 25.82, "derived") in [(h["period"], h["value"], h["quality"]) for h in new["history"]]
    assert ("2024Q4", 25.82, "derived") not in [(h["period"], h["value"], h["quality"]) for h in old["history"]]
    assert new["grades"]["derived"] == old["grades"]["derived"] + 1
    # the run records the data vintage it used; the older run read the data as compiled
    assert after.summary["vintage"]["series"]["qh_green_loan_share"]["change_id"] == "2"
    assert after.summary["vintage"]["series"]["qh_green_loan_share"]["source_id"] == "qh_green_loans_2025h1_rmrb"
    assert before.summary["vintage"]["series"]["qh_green_loan_share"] is None
    assert before.summary["vintage"]["log_sha256"] is None and after.summary["vintage"]["log_rows"] == 2
    line = next(x for x in out.splitlines() if x.startswith("green_loan_share"))
    assert "spread_to_national  5 " in line and "(change 2)" in line
