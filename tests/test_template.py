"""The import format: the XLSX template (what it offers, and that a filled copy imports with equal
values), CSV with inline sources, JSON records, and the cells a spreadsheet gets wrong."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from smfcast.errors import Rejected, RowError
from smfcast.registry import intake
from smfcast.registry.intake import NewSeries, Origin
from smfcast.registry.series import QUALITIES, load_registry
from smfcast.registry.template import json_records, read_file, write_template

REPO = Path(__file__).resolve().parent.parent
GDP_CSV = REPO / "docs" / "examples" / "qh_gdp.csv"
GDP_SERIES = NewSeries("qh_gdp", "GDP, Qinghai (current prices)", "青海省地区生产总值(现价)", "100m_cny", "annual", "QH", (0, 100000),
                       "log", origin=Origin("smfcast data series add"))


@pytest.fixture
def data(tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(REPO / "data", target, ignore=shutil.ignore_patterns("changes.csv", ".*"))
    return target


def test_the_template_offers_series_grades_sources_and_an_example(data):
    reg = load_registry(data)
    wb = load_workbook(io.BytesIO(write_template(reg)))
    assert wb.sheetnames == ["observations", "sources", "series", "grades", "example", "lists"]
    obs = wb["observations"]
    assert [c.value for c in obs[1]] == ["series_id", "period", "value", "source_id", "quality", "note"]
    assert obs.max_row == 1  # nothing to delete before filling it in
    validations = {str(v.sqref).split(":")[0]: v for v in obs.data_validations.dataValidation}
    assert validations["E2"].type == "list" and validations["E2"].formula1 == '"' + ",".join(QUALITIES) + '"'
    assert validations["A2"].formula1.startswith("lists!$A$2") and validations["D2"].showErrorMessage is False
    series_ids = [r[0] for r in wb["series"].iter_rows(min_row=2, values_only=True)]
    assert sorted(series_ids) == sorted(reg.series) and series_ids[0] in {h.series for h in reg.headlines.values()}
    assert wb["lists"].sheet_state == "hidden"
    example = [list(r) for r in wb["example"].iter_rows(values_only=True)]
    row, source = dict(zip(example[2], example[3])), dict(zip(example[5], example[6]))
    point = next(o for o in reg.observations(row["series_id"]) if str(o.period) == row["period"])
    assert float(row["value"]) == point.value and source["quote"] == reg.sources[row["source_id"]]["quote"]


def test_a_filled_template_round_trips_with_equal_values(data):
    intake.apply(data, series=[GDP_SERIES])
    rows = list(csv.DictReader(io.StringIO(GDP_CSV.read_text(encoding="utf-8"))))
    wb = load_workbook(io.BytesIO(write_template(load_registry(data))))
    for r in rows:  # numbers as numbers, as a person types them
        wb["observations"].append([r["series_id"], int(r["period"]), float(r["value"]), r["source_id"], r["quality"], r["note"] or None])
        wb["sources"].append([r["source_id"], r["publisher"], r["title"], r["url"], r["quote"]])
    buf = io.BytesIO()
    wb.save(buf)
    out = intake.apply(data, *read_file(buf.getvalue(), "qh_gdp.xlsx"))
    assert out.count("add") == 5 and out.count("add source") == 5
    reg = load_registry(data)
    got = {str(o.period): o for o in reg.observations("qh_gdp")}
    for r in rows:
        o = got[r["period"]]
        assert (o.value, o.source_id, o.quality, o.note) == (float(r["value"]), r["source_id"], r["quality"], r["note"])
        assert {k: reg.sources[r["source_id"]][k] for k in ("publisher", "title", "url", "quote")} == {
            k: r[k] for k in ("publisher", "title", "url", "quote")}


def test_cells_a_spreadsheet_gets_wrong_are_named():
    from datetime import datetime
    wb = Workbook()
    ws = wb.active
    ws.title = "observations"
    ws.append(["series_id", "period", "value", "source_id", "quality", "note"])
    ws.append(["qh_green_loan_share", datetime(2025, 3, 1), 26.5, "s", "repost", None])  # "2025-03" typed into a date cell
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(Rejected) as info:
        read_file(buf.getvalue(), "mine.xlsx")
    assert info.value.problems[0].message.startswith("mine.xlsx, sheet 'observations', row 2, field 'period': a date cell")
    with pytest.raises(RowError, match="mine.csv, row 1, field 'colour': unknown column 'colour'"):
        read_file(b"series_id,period,value,source_id,quality,colour\n", "mine.csv")
    with pytest.raises(RowError, match="looks semicolon-separated: save the file as comma-separated CSV"):
        read_file(b"series_id;period;value;source_id;quality\n", "excel-de.csv")
    with pytest.raises(RowError, match="field 'quality': no 'quality' column"):
        read_file(b"series_id,period,value,source_id\n", "mine.csv")
    with pytest.raises(RowError, match="not an XLSX workbook"):
        read_file(b"PK\x03\x04 not really", "mine.xlsx")


def test_a_csv_saved_by_a_chinese_excel_reads_as_gb18030():
    text = "series_id,period,value,source_id,quality,note\nqh_gdp,2023,3799.06,s,secondary,青海省统计局\n"
    (obs,), _ = read_file(text.encode("gb18030"), "gdp.csv")
    assert (obs.value, obs.note, obs.origin.where) == ("3799.06", "青海省统计局", "gdp.csv, row 2")


def test_json_records_are_located_by_index():
    records = json_records([{"series_id": "x", "period": 2024, "value": 1.5}], "rows", ("series_id", "period", "value"), ())
    assert records[0][1] == {"series_id": "x", "period": "2024", "value": "1.5"} and records[0][0].where == "request body, rows[0]"
    with pytest.raises(Rejected) as info:
        json_records([{"series_id": "x"}, "oops", {"series_id": ["a"]}], "rows", ("series_id", "period"), ("series_id",))
    assert [(p.row, p.field) for p in info.value.problems] == [(1, None), (2, "series_id")]
