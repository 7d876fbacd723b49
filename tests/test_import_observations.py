"""`data/import_observations.py`: a compiled observations file graded into the registry, every row
it did not write kept, and the result checked before anything is written.

The shipped rows are checked against the importer by rebuilding the compilation they came from
(each generated source is one compiled figure) and importing it again: nothing may change."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from smfcast.cli import main as smfcast
from smfcast.registry.series import load_registry

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "data" / "import_observations.py"
_spec = importlib.util.spec_from_file_location("import_observations", SCRIPT)
importer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(importer)


@pytest.fixture
def data(tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(REPO / "data", target, ignore=shutil.ignore_patterns("changes.csv", ".*", "*.py", "*.md"))
    return target


def digests(data_dir: Path) -> dict:
    return {n: hashlib.sha256((data_dir / n).read_bytes()).hexdigest() for n in ("observations.csv", "sources.toml")}


def compilation(data_dir: Path) -> list[dict]:
    """The compiled file the shipped rows were imported from: one row per generated source."""
    sources_text = (data_dir / "sources.toml").read_text(encoding="utf-8")
    start, end = sources_text.index(importer.BEGIN), sources_text.index(importer.END)
    generated = tomllib.loads(sources_text[start:end])
    series = tomllib.loads((data_dir / "series.toml").read_text(encoding="utf-8"))["series"]
    out = []
    for row in csv.DictReader(open(data_dir / "observations.csv", encoding="utf-8")):
        src = generated.get(row["source_id"])
        if src is None or row["quality"] == "derived":
            continue
        meta = series[row["series_id"]]
        out.append({"series_id": row["series_id"], "region": meta["region"], "period": row["period"], "value": row["value"],
                    "unit": meta["unit"], "definition": src["title"], "source_url": src.get("url", src["publisher"]),
                    "source_quote": src["quote"]})
    return out


def write_compilation(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=importer.COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = importer.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_shipped_rows_are_what_the_importer_makes_of_their_compilation(data, tmp_path, capsys):
    rows = compilation(data)
    assert len(rows) == 225
    compiled = write_compilation(tmp_path / "compiled.csv", rows)
    before = digests(data)
    code, out, _ = run(capsys, compiled, "--data", data)
    assert code == 0 and "0 added, 0 revised, 0 removed" in out and out.rstrip().endswith("changed: nothing"), out
    assert digests(data) == before


def test_rows_made_with_smfcast_data_are_kept_on_a_rerun(data, tmp_path, capsys):
    compiled = write_compilation(tmp_path / "compiled.csv", compilation(data))
    # a new figure citing a compiled source, and a revision of a compiled figure
    assert smfcast(["--data", str(data), "data", "add", "qh_green_loan_share", "2024Q4", "25.82", "--source",
                    "qh_green_loan_share_2025q2", "--quality", "derived", "--note", "(2131.1 - 99.36) / (7945.4 - 77.2) x 100"]) == 0
    assert smfcast(["--data", str(data), "data", "add", "cn_bank_npl_ratio", "2015Q1", "1.4", "--source",
                    "cn_bank_npl_ratio_2015q1", "--quality", "repost", "--revise"]) == 0
    capsys.readouterr()
    before = digests(data)
    code, out, _ = run(capsys, compiled, "--data", data)
    assert code == 0 and "left as smfcast data made them (changes.csv): cn_bank_npl_ratio,2015Q1" in out, out
    assert digests(data) == before
    reg = load_registry(data)
    assert {str(o.period): o.value for o in reg.observations("qh_green_loan_share")}["2024Q4"] == 25.82
    assert {str(o.period): o.value for o in reg.observations("cn_bank_npl_ratio")}["2015Q1"] == 1.4
    assert "cn_bank_npl_ratio_2015q1" in reg.sources and len([o for o in reg.rows if o.quality == "report"]) == 7


def test_a_changed_compilation_adds_revises_and_removes_only_its_own_rows(data, tmp_path, capsys):
    rows = compilation(data)
    dropped = next(r for r in rows if (r["series_id"], r["period"]) == ("qh_total_deposits", "2025Q1"))
    revised = next(r for r in rows if (r["series_id"], r["period"]) == ("cn_bank_npl_ratio", "2025Q4"))
    rows.remove(dropped)
    revised["value"] = "1.51"
    rows.append({**revised, "period": "2026Q1", "value": "1.49", "source_url": "https://www.gov.cn/xinwen/example.htm",
                 "source_quote": "2026年一季度末,商业银行不良贷款率1.49%"})
    compiled = write_compilation(tmp_path / "compiled.csv", rows)
    report_lines = [line for line in (data / "observations.csv").read_text(encoding="utf-8").splitlines() if ",report_" in line]
    code, out, _ = run(capsys, compiled, "--data", data, "--check")
    assert code == 0 and "1 added, 1 revised, 1 removed" in out and "would change: " in out, out
    assert set(out.split("would change: ")[1].strip().split(", ")) == {"observations.csv", "sources.toml"}
    before = digests(data)
    assert run(capsys, compiled, "--data", data)[0] == 0
    assert digests(data) != before
    reg = load_registry(data)
    npl = {str(o.period): o for o in reg.observations("cn_bank_npl_ratio")}
    assert (npl["2025Q4"].value, npl["2026Q1"].value, npl["2026Q1"].quality) == (1.51, 1.49, "official")
    assert reg.sources["cn_bank_npl_ratio_2026q1"]["grading"] == "government release or its gov.cn mirror"
    assert "2025Q1" not in {str(o.period) for o in reg.observations("qh_total_deposits")}
    assert "qh_total_deposits_2025q1" not in reg.sources
    assert all(line in (data / "observations.csv").read_text(encoding="utf-8") for line in report_lines)


def test_derived_rows_need_their_inputs(data, tmp_path, capsys):
    rows = [r for r in compilation(data) if r["series_id"] not in ("cn_green_loans", "cn_rmb_loans")]
    compiled = write_compilation(tmp_path / "compiled.csv", rows)
    code, out, _ = run(capsys, compiled, "--data", data)
    assert code == 0 and "derived rows left out (their inputs are not in compiled.csv): 7" in out, out
    shares = {str(o.period): o.quality for o in load_registry(data).observations("cn_green_loan_share")}
    assert shares == {"2020Q4": "repost"}  # the one published share stays; the seven computed ones went with their inputs


@pytest.mark.parametrize("content, message", [
    ("series_id,period,value\ncn_bank_npl_ratio,2015Q1,1.39\n",
     "missing column(s) region, unit, definition, source_url, source_quote; a compiled file has"),
    ("series_id,region,period,value,unit,definition,source_url,source_quote\ncn_bank_npl_ratio,CN,2015Q1,,percent,d,https://www.gov.cn/x,q\n",
     "row 2, field 'value': empty"),
    ("series_id,region,period,value,unit,definition,source_url,source_quote\nno_such_series,CN,2015Q1,1.0,percent,d,https://www.gov.cn/x,q\n",
     "nothing was written: the imported registry would not load:"),
])
def test_bad_input_is_one_line_and_writes_nothing(data, tmp_path, capsys, content, message):
    compiled = tmp_path / "bad.csv"
    compiled.write_text(content, encoding="utf-8")
    before = digests(data)
    code, out, err = run(capsys, compiled, "--data", data)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err, err
    assert err.startswith("import_observations.py: error: ")
    assert digests(data) == before


def test_missing_file_and_wrong_directory_are_named(data, tmp_path, capsys):
    code, _, err = run(capsys, tmp_path / "nope.csv", "--data", data)
    assert code == 2 and "cannot read" in err and "nope.csv" in err
    code, _, err = run(capsys, tmp_path / "nope.csv", "--data", tmp_path)
    assert code == 2 and "holds no series.toml; --data must be a registry directory" in err


def test_help_says_what_it_reads_and_writes():
    done = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "COMPILED.csv" in done.stdout and "source_quote" in done.stdout
    assert "smfcast data" in done.stdout and "--check" in done.stdout
    assert io.StringIO(done.stderr).read() == ""
