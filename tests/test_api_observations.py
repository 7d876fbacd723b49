"""`POST /v1/observations` and `GET /v1/series/{id}/history`: the same rules and change log as the
command line, problem+json naming each bad row and field with nothing written, a token for writes;
and the data vintage on /v1/series, the page and the workbook's sources sheet."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from smfcast.engine.headline import EngineConfig
from smfcast.outputs.workbook import HEADER_ROW
from smfcast.registry import changes
from smfcast.registry.series import load_registry
from smfcast.registry.template import write_template
from smfcast.store.runs import RunStore, create_run

REPO = Path(__file__).resolve().parent.parent
FILES = ("observations.csv", "series.toml", "sources.toml", "changes.csv")
TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GREEN_ROW = {"series_id": "qh_green_loan_share", "period": "2024Q4", "value": 25.82, "source_id": "qh_green_loans_2025h1_rmrb",
             "quality": "derived", "note": "(2131.1 - 99.36) / (7945.4 - 77.2) x 100: end-June green loans and loans less their H1 increase"}
GREEN_SOURCE = {"source_id": "qh_green_loans_2025h1_rmrb", "publisher": "reportify.ai (English summary of 人民日报, 2025-09-22)",
                "title": "青海省绿色贷款余额及比年初增加额, 2025年上半年 (PBoC 2025 definition)",
                "url": "https://reportify.ai/news/1167485877702758400",
                "quote": "As of the end of Q2, the balance of green loans in Qinghai Province exceeded 213.1 billion yuan, accounting "
                         "for 26.82% of total loans, with an increase of 9.936 billion yuan since the beginning of the year"}
TINY = EngineConfig(n_paths=100, models=("theta",), backtest_windows=0)


@pytest.fixture
def data(tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(REPO / "data", target, ignore=shutil.ignore_patterns("changes.csv", ".*"))
    return target


def make_client(data: Path, store_path: Path):
    from smfcast.api import create_app
    return create_app({"SMFCAST_DATA": str(data), "SMFCAST_STORE": str(store_path), "TESTING": True, "SMFCAST_API_TOKEN": TOKEN}).test_client()


@pytest.fixture
def client(data, tmp_path):
    return make_client(data, tmp_path / "runs.sqlite")


def digests(data_dir: Path) -> dict:
    return {n: hashlib.sha256((data_dir / n).read_bytes()).hexdigest() if (data_dir / n).exists() else None for n in FILES}


def test_json_rows_with_their_source_are_added_and_logged(client, data):
    resp = client.post("/v1/observations", json={"rows": [GREEN_ROW], "sources": [GREEN_SOURCE], "reason": "H1-2025 release"}, headers=AUTH)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["change_id"], body["added"], body["sources_added"], body["written"]) == ("1", 1, 1, True)
    assert body["history"] == ["/v1/series/qh_green_loan_share/history"]
    point = next(o for o in load_registry(data).observations("qh_green_loan_share") if str(o.period) == "2024Q4")
    assert (point.value, point.quality) == (25.82, "derived")
    history = client.get("/v1/series/qh_green_loan_share/history").get_json()
    assert [(r["change_id"], r["action"], r["new_value"], r["reason"]) for r in history["rows"]] == [("1", "add", 25.82, "H1-2025 release")]
    assert history["rows"][0]["who"].startswith("api")  # and the token's name where tokens are named
    again = client.post("/v1/observations", json={"rows": [GREEN_ROW], "sources": [GREEN_SOURCE]}, headers=AUTH)
    assert again.status_code == 200 and again.get_json()["unchanged"] == 1 and again.get_json()["change_id"] is None


def test_a_revision_needs_revise_and_keeps_the_old_value(client, data):
    row = {**GREEN_ROW, "series_id": "qh_smallmicro_npl_ratio", "period": "2022", "value": 2.65, "source_id": "report_smallmicro_npl_2022",
           "quality": "report", "note": ""}
    before = digests(data)
    resp = client.post("/v1/observations", json={"rows": [row]}, headers=AUTH)
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert resp.get_json()["errors"][0]["field"] == "value" and "already recorded as 2.7" in resp.get_json()["detail"]
    assert digests(data) == before
    resp = client.post("/v1/observations?revise=true&reason=restated", json={"rows": [row]}, headers=AUTH)
    assert resp.status_code == 201 and resp.get_json()["revised"] == 1
    (entry,) = client.get("/v1/series/qh_smallmicro_npl_ratio/history?format=json").get_json()["rows"]
    assert (entry["action"], entry["old_value"], entry["new_value"], entry["reason"]) == ("revise", 2.7, 2.65, "restated")


def test_a_bad_csv_upload_names_each_row_and_field_and_writes_nothing(client, data):
    before = digests(data)
    csv_body = ("series_id,period,value,source_id,quality,note\n"
                "qh_smallmicro_loans,2023,850,report_smallmicro_loans_2022,report,\n"
                "qh_smallmicro_loans,2024,lots,report_smallmicro_loans_2022,report,\n"
                "qh_smallmicro_loans,2025,900,report_smallmicro_loans_2022,guess,\n")
    resp = client.post("/v1/observations", data=csv_body.encode(), content_type="text/csv", headers=AUTH)
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    errors = resp.get_json()["errors"]
    assert [(e["file"], e["row"], e["field"]) for e in errors] == [("upload.csv", 3, "value"), ("upload.csv", 4, "quality")]
    assert errors[0]["message"] == "upload.csv, row 3, field 'value': 'lots' is not a number"
    upload = client.post("/v1/observations", data={"file": (io.BytesIO(csv_body.encode()), "mine.csv")},
                         content_type="multipart/form-data", headers=AUTH)
    assert upload.status_code == 422 and upload.get_json()["errors"][0]["file"] == "mine.csv"
    assert digests(data) == before


def test_the_filled_template_uploads_and_its_values_read_back_equal(client, data):
    client.post("/v1/observations", json={"rows": [GREEN_ROW], "sources": [GREEN_SOURCE]}, headers=AUTH)
    wb = load_workbook(io.BytesIO(write_template(load_registry(data))))
    rows = [["qh_total_loans", "2024Q4", 7868.2, "qh_loans_2025h1_xnwbw", "derived", "7945.4 - 77.2: end-June loans less the H1 increase"],
            ["qh_green_loans", "2024Q4", 2031.74, "qh_green_loans_2025h1_rmrb", "derived", "2131.1 - 99.36: end-June less the H1 increase"]]
    for r in rows:
        wb["observations"].append(r)
    wb["sources"].append(["qh_loans_2025h1_xnwbw", "西宁晚报 (www.xnwbw.com), 2025-08-08", "青海省金融运行情况, 2025年上半年",
                          "http://www.xnwbw.com/html/2025-08/08/content_335767.htm",
                          "青海省本外币各项贷款余额7945.4亿元,同比增长1.2%,上半年新增77.2亿元"])
    buf = io.BytesIO()
    wb.save(buf)
    resp = client.post("/v1/observations", data=buf.getvalue(), content_type=XLSX, headers=AUTH)
    assert resp.status_code == 201, resp.get_json()
    reg = load_registry(data)
    for sid, period, value, source, quality, note in rows:
        o = next(o for o in reg.observations(sid) if str(o.period) == period)
        assert (o.value, o.source_id, o.quality, o.note) == (value, source, quality, note)
    assert reg.sources["qh_loans_2025h1_xnwbw"]["quote"].endswith("上半年新增77.2亿元")


def test_writes_need_the_token_and_a_known_body(client, data):
    before = digests(data)
    assert client.post("/v1/observations", json={"rows": [GREEN_ROW]}).status_code == 401
    assert client.post("/v1/observations", json={"rows": [GREEN_ROW]}, headers={"Authorization": "Bearer nope"}).status_code == 403
    resp = client.post("/v1/observations", json={"rows": [GREEN_ROW], "when": "now"}, headers=AUTH)
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "when"
    resp = client.post("/v1/observations", json={"rows": [{**GREEN_ROW, "colour": "red"}]}, headers=AUTH)
    assert resp.status_code == 422 and resp.get_json()["errors"][0] == {
        "field": "colour", "message": "request body, rows[0], field 'colour': unknown field; the fields are series_id, period, value, "
                                      "source_id, quality, note, publisher, title, url, quote",
        "file": "request body", "sheet": "rows", "row": 0}
    assert client.post("/v1/observations", data="a,b", content_type="text/plain", headers=AUTH).status_code == 415
    resp = client.post("/v1/observations?check=true", json={"rows": [GREEN_ROW], "sources": [GREEN_SOURCE]}, headers=AUTH)
    assert resp.status_code == 200 and resp.get_json()["written"] is False and resp.get_json()["added"] == 1
    assert client.get("/v1/series/nope/history").status_code == 404
    assert digests(data) == before


def test_series_page_and_workbook_show_the_data_vintage_of_a_run_made_after_the_change(data, tmp_path):
    writer = make_client(data, tmp_path / "unused.sqlite")
    assert writer.post("/v1/observations", json={"rows": [GREEN_ROW], "sources": [GREEN_SOURCE]}, headers=AUTH).status_code == 201
    when = changes.read_log(data)[-1]["time"]
    store = RunStore(tmp_path / "runs.sqlite")
    run = create_run(data, TINY, store)
    assert run.vintage["series"]["qh_green_loan_share"]["change_id"] == "1"
    client = make_client(data, store.path)
    rows = {r["id"]: r for r in client.get("/v1/series").get_json()["rows"]}
    assert (rows["qh_green_loan_share"]["last_change"], rows["qh_green_loan_share"]["last_change_source"]) == (
        when, "qh_green_loans_2025h1_rmrb")
    assert rows["qh_smallmicro_loans"]["last_change"] is None
    page = client.get("/?metric=green_loan_share").get_data(as_text=True)
    vintage = page[page.index('id="data-vintage"'):]
    vintage = vintage[:vintage.index("</p>")]
    assert f"last changed {when[:10]} (change 1: add 2024Q4" in vintage and "cn_green_loan_share</code> as compiled" in vintage
    wb = load_workbook(io.BytesIO(client.get(f"/v1/forecasts?metric=green_loan_share&run={run.run_id}&format=xlsx").data))
    table = [list(r) for r in wb["sources"].iter_rows(values_only=True)]
    header = table[HEADER_ROW]
    sheet = [dict(zip(header, r)) for r in table[HEADER_ROW + 1:] if r[0]]
    qh = [r for r in sheet if r["series_id"] == "qh_green_loan_share"]
    assert {(r["last_change"], r["last_change_source"]) for r in qh} == {(when[:10], "qh_green_loans_2025h1_rmrb")}
    assert "2024Q4" in [r["period"] for r in qh]
    assert {r["last_change"] for r in sheet if r["series_id"] == "cn_green_loan_share"} == {"as compiled"}
