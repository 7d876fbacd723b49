"""The analyst's workbook and CSV exports: numbers read back equal the JSON answer, a real
spreadsheet application (LibreOffice) reads the same numbers, and no text cell can run as a formula."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from smfcast.cli import main
from smfcast.engine.headline import EngineConfig
from smfcast.outputs.workbook import HEADER_ROW
from smfcast.store.runs import RunStore, create_run
from tests.conftest import DATA

XLSX_URL = "/v1/forecasts?metric=market_size&format=xlsx"
JSON_URL = "/v1/forecasts?metric=market_size&history=true"


def _expected(client, url: str) -> tuple[dict, dict]:
    """(period, column) -> number from the JSON answer, with column names as in the wide layout."""
    js = client.get(url).get_json()
    expected = {}
    for r in js["rows"]:
        if r["kind"] == "history":
            expected[(r["period"], "observed")] = r["median"]
        else:
            for stat in ("mean", "median", "lo-80", "hi-80", "lo-95", "hi-95"):
                expected[(r["period"], f"{r['scenario']}-{stat}")] = r[stat]
    return expected, js


def _sheet_numbers(rows: list[list], header_index: int) -> dict:
    header = rows[header_index]
    out = {}
    for row in rows[header_index + 1:]:
        if not row or row[0] in (None, ""):
            continue
        for name, value in zip(header, row):
            if name not in ("period", "kind", "quality") and value not in (None, ""):
                out[(str(row[0]), name)] = value
    return out


def test_xlsx_numbers_read_back_equal_the_json(client, small_run):
    expected, js = _expected(client, JSON_URL)
    resp = client.get(XLSX_URL)
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    assert f"_{small_run.run_id}.xlsx" in resp.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(resp.data))
    assert wb.sheetnames == ["market_size", "targets", "assumptions", "sources", "run"]
    ws = wb["market_size"]
    got = _sheet_numbers([list(r) for r in ws.iter_rows(values_only=True)], HEADER_ROW)
    assert set(got) == set(expected) and len(got) >= 8 * 6 + 2
    for key, value in expected.items():
        assert isinstance(got[key], float), key
        assert got[key] == pytest.approx(value, rel=1e-15, abs=0), key  # stored at full double precision
    # presentation: Chinese title beside the English one, unit number format, frozen header, a native chart
    assert ws["A1"].value.startswith("青海省小微企业贷款余额") and "Market size" in ws["A1"].value
    assert ws.freeze_panes == f"B{HEADER_ROW + 2}"
    header = [c.value for c in ws[HEADER_ROW + 1]]
    median_cell = ws.cell(row=HEADER_ROW + 2 + 2, column=header.index("baseline-median") + 1)  # first forecast row
    assert "亿元" in median_cell.number_format
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        chart = z.read("xl/charts/chart1.xml").decode()
    assert "<c:lineChart>" in chart and "market_size!$F$" in chart


def test_workbook_targets_assumptions_sources_and_run_sheets(client, small_run):
    wb = load_workbook(io.BytesIO(client.get("/v1/forecasts?metric=npl_ratio&scenario=all&format=xlsx").data))
    targets = client.get("/v1/targets").get_json()["rows"]

    def table(name, header_row=HEADER_ROW):
        rows = [list(r) for r in wb[name].iter_rows(values_only=True)]
        header = rows[header_row]
        return [dict(zip(header, r)) for r in rows[header_row + 1:] if r[0] is not None and r[0] != ""]

    sheet = {(r["target"], r["scenario"]): r["probability"] for r in table("targets")}
    assert sheet == {(t["target"], t["scenario"]): pytest.approx(t["probability"], abs=0) for t in targets}
    levers = client.get("/v1/levers").get_json()["rows"]
    assumption_rows = table("assumptions")
    assert [r for r in assumption_rows if r["metric"]] == levers  # the same rows as GET /v1/levers
    snow = next(r for r in assumption_rows if r["id"] == "snow_disaster" and r["metric"] == "npl_ratio")
    assert snow["high_range"] == 1 and snow["elasticity_low"] <= snow["elasticity_mode"] <= snow["elasticity_high"]
    sources = table("sources")
    qh = [r for r in sources if r["series_id"] == "qh_smallmicro_npl_ratio"]
    assert [r["period"] for r in qh] == [h["period"] for h in small_run.metric_info("npl_ratio")["history"]]
    assert all(r["source_id"] and r["title"] for r in qh)
    assert any(r["role"] == "national counterpart" and r["series_id"] == "cn_bank_npl_ratio" for r in sources)
    run_rows = {r["key"]: r["value"] for r in table("run", 2)}
    assert run_rows["run_id"] == small_run.run_id and run_rows["config.seed"] == small_run.config["seed"]
    assert run_rows["library.statsmodels"].startswith("0.15")


def test_formula_like_source_title_is_neutralised_in_csv_and_xlsx(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    text = (data / "sources.toml").read_text(encoding="utf-8")
    evil = '=HYPERLINK(""http://evil.example"",""click"")'
    text = text.replace('[report_smallmicro_npl_2022]\npublisher = "industry report"\ntitle = "',
                        '[report_smallmicro_npl_2022]\npublisher = "industry report"\ntitle = "' + evil.replace('""', '\\"') + ' ', 1)
    (data / "sources.toml").write_text(text, encoding="utf-8")
    from smfcast.api import create_app
    store = RunStore(tmp_path / "s.sqlite")
    create_run(data, EngineConfig(n_paths=100, models=("ets", "theta"), backtest_windows=0), store)
    client = create_app({"SMFCAST_DATA": str(data), "SMFCAST_STORE": str(store.path), "TESTING": True}).test_client()
    rows = list(csv.DictReader(io.StringIO(client.get("/v1/series/qh_smallmicro_npl_ratio?format=csv").get_data(as_text=True))))
    title = next(r["title"] for r in rows if r["source_id"] == "report_smallmicro_npl_2022")
    assert title.startswith("'=HYPERLINK(")
    wb = load_workbook(io.BytesIO(client.get("/v1/forecasts?metric=npl_ratio&format=xlsx").data))
    cells = [c for row in wb["sources"].iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells and all(c.data_type == "s" and c.value.startswith("'=") for c in cells)
    for fmt in ("xlsx",):
        simple = load_workbook(io.BytesIO(client.get(f"/v1/series/qh_smallmicro_npl_ratio?format={fmt}").data)).active
        found = [c for row in simple.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
        assert found and all(c.data_type == "s" and c.value.startswith("'=") for c in found)


def test_export_command_writes_the_workbook_and_a_long_csv(small_store, small_run, tmp_path, capsys):
    out = tmp_path / "smfcast.xlsx"
    assert main(["--store", str(small_store.path), "export", "-o", str(out)]) == 0
    assert load_workbook(out).sheetnames == ["market_size", "green_loan_share", "npl_ratio", "targets", "assumptions", "sources", "run"]
    csv_out = tmp_path / "smfcast.csv"
    assert main(["--store", str(small_store.path), "export", "--format", "csv", "--bom", "--metric", "npl_ratio", "-o", str(csv_out)]) == 0
    raw = csv_out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {r["scenario"] for r in rows if r["kind"] == "forecast"} == set(small_run.scenarios)
    capsys.readouterr()
    assert main(["--store", str(small_store.path), "export", "--scenario", "rosy", "-o", str(out)]) == 2
    assert "unknown scenario 'rosy'" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_to_a_path_it_cannot_write_is_one_line(small_store, tmp_path, capsys, fmt):
    folder = tmp_path / f"smfcast.{fmt}"
    folder.mkdir()  # a directory where the file should go
    assert main(["--store", str(small_store.path), "export", "--format", fmt, "-o", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err == f"smfcast: error: cannot write {folder}: Is a directory\n"


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.slow
def test_libreoffice_reads_the_same_numbers_as_the_json(client, tmp_path):
    soffice = _soffice()
    if soffice is None:
        reason = "LibreOffice (soffice) is not installed; .ci/run installs Debian's libreoffice-calc when it can"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    expected, _ = _expected(client, JSON_URL)
    book = tmp_path / "market.xlsx"
    book.write_bytes(client.get(XLSX_URL).data)
    # every sheet to its own CSV (token 12 = -1), UTF-8, values at full precision rather than as displayed
    filt = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    proc = subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo-profile", "--convert-to", filt,
                           "--outdir", str(tmp_path), str(book)], capture_output=True, text=True, timeout=180)
    sheet = tmp_path / "market-market_size.csv"
    assert sheet.exists(), proc.stdout + proc.stderr
    rows = list(csv.reader(io.StringIO(sheet.read_text(encoding="utf-8"))))
    got = _sheet_numbers(rows, HEADER_ROW)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert float(got[key]) == pytest.approx(value, rel=1e-13, abs=0), key  # LibreOffice writes 15 significant digits
    assert Path(tmp_path / "market-run.csv").exists()
