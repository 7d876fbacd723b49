"""The HTTP API through Flask's test client: every endpoint, every format, every error shape."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest

from smfcast.defaults import rounded
from smfcast.errors import InvalidInput

PROBLEM = "application/problem+json"


def _ahead(period: str, steps: int) -> str:
    """The quarter `steps` after `period` (such as 2023Q2)."""
    quarter = int(period[-1]) - 1 + steps
    return f"{int(period[:4]) + quarter // 4}Q{quarter % 4 + 1}"


def _csv(resp) -> list[dict]:
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def _problem(resp, status: int, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    body = resp.get_json(force=True)
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert body["errors"][0]["field"] == field, body
    return body


def test_health_names_version_series_and_run(client, small_run):
    body = client.get("/v1/health").get_json()
    assert body["status"] == "ok" and body["series"] >= 30 and body["run_id"] == small_run.run_id


def test_series_index_and_detail_with_sources(client):
    rows = client.get("/v1/series").get_json()["rows"]
    heads = {r["headline"]: r["id"] for r in rows if r["headline"]}
    assert heads["market_size"] == "qh_smallmicro_loans" and heads["npl_ratio (national)"] == "cn_bank_npl_ratio"
    detail = client.get("/v1/series/qh_smallmicro_loans").get_json()
    assert detail["series"]["unit"] == "100m_cny"
    by_period = {r["period"]: r for r in detail["rows"]}
    assert by_period["2022"]["value"] == 786.4 and by_period["2022"]["quality"] == "report" and by_period["2022"]["quote"]
    _problem(client.get("/v1/series/nope"), 404, "series")


def test_levers_and_scenarios(client):
    levers = client.get("/v1/levers").get_json()["rows"]
    assert {r["id"] for r in levers} >= {"risk_compensation_fund", "snow_disaster"}
    names = [r["name"] for r in client.get("/v1/scenarios").get_json()["rows"]]
    assert names[0] == "baseline" and set(names) >= {"policy_targets", "adverse", "policy_targets_adverse"}
    adverse = client.get("/v1/scenarios/adverse").get_json()
    snow = {r["year"]: r["value"] for r in adverse["rows"] if r["lever"] == "snow_disaster"}
    assert snow[2027] == 1.0 and snow[2026] == 0.0
    _problem(client.get("/v1/scenarios/rosy"), 404, "name")


def test_forecast_json_bands_are_the_runs_paths_read_off(client, small_store, small_run):
    for metric in ("market_size", "green_loan_share", "npl_ratio"):
        body = client.get(f"/v1/forecasts?metric={metric}&scenario=adverse").get_json()
        assert body["run_id"] == small_run.run_id
        rows = [r for r in body["rows"] if r["kind"] == "forecast"]
        assert [r["period"] for r in rows][-5:] == ["2026", "2027", "2028", "2029", "2030"]
        natural = small_run.transform(metric).inverse(small_store.paths(small_run.run_id, metric, "ensemble", "adverse"))
        # read off the paths, at the answers' precision (6 significant digits: no float noise)
        assert [r["lo-95"] for r in rows] == [rounded(v) for v in np.percentile(natural, 2.5, axis=0)]
        assert [r["median"] for r in rows] == [rounded(v) for v in np.median(natural, axis=0)]
        assert [r["hi-80"] for r in rows] == [rounded(v) for v in np.percentile(natural, 90, axis=0)]


def test_forecast_levels_and_history(client):
    body = client.get("/v1/forecasts?metric=npl_ratio&level=50&level=90&history=true").get_json()
    assert "lo-50" in body["columns"] and "hi-90" in body["columns"] and "lo-80" not in body["columns"]
    kinds = [r["kind"] for r in body["rows"]]
    assert kinds[0] == "history" and kinds[-1] == "forecast"


def test_forecast_csv_long_wide_and_bom(client):
    resp = client.get("/v1/forecasts?metric=npl_ratio&scenario=adverse&format=csv")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "npl_ratio" in resp.headers["Content-Disposition"] and "adverse" in resp.headers["Content-Disposition"]
    rows = _csv(resp)
    assert {r["period"] for r in rows} >= {"2026", "2030"} and float(rows[-1]["hi-95"]) > float(rows[-1]["lo-95"])
    wide = client.get("/v1/forecasts?metric=npl_ratio&scenario=baseline,adverse&format=csv&layout=wide&bom=1")
    text = wide.get_data(as_text=True)
    assert text.startswith("\ufeff")
    header = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert header[0] == "period" and "adverse-lo-95" in header and "baseline-median" in header
    assert len(_csv(wide)) == len(rows)


def test_forecast_accept_header_negotiates_the_format(client):
    as_csv = client.get("/v1/forecasts?metric=market_size", headers={"Accept": "text/csv"})
    assert as_csv.mimetype == "text/csv" and _csv(as_csv)[0]["series_id"] == "qh_smallmicro_loans"
    as_xlsx = client.get("/v1/forecasts?metric=market_size", headers={"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    assert as_xlsx.mimetype.endswith("spreadsheetml.sheet") and as_xlsx.data[:2] == b"PK"  # the workbook: tests/test_workbook.py


def test_etag_and_not_modified(app, client):
    from smfcast.api import create_app
    first = client.get("/v1/forecasts?metric=npl_ratio")
    etag = first.headers["ETag"]
    assert "max-age" in first.headers["Cache-Control"]
    assert first.headers["Vary"] == "Accept"  # JSON, CSV or XLSX by the Accept header: shared caches key on it
    assert client.get("/v1/forecasts?metric=npl_ratio").headers["Vary"] == "Accept"  # the cached answer too
    again = client.get("/v1/forecasts?metric=npl_ratio", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    other = client.get("/v1/forecasts?metric=npl_ratio&scenario=adverse", headers={"If-None-Match": etag})
    assert other.status_code == 200
    # a proxy that compresses weakens the tag: weak comparison still matches (cached and uncached answers alike)
    weak = "W/" + etag
    assert client.get("/v1/forecasts?metric=npl_ratio", headers={"If-None-Match": weak}).status_code == 304
    # ... and in the view, for an answer this worker has not built yet (another worker's tag)
    cold = create_app(app.config).test_client()
    answer = cold.get("/v1/forecasts?metric=npl_ratio", headers={"If-None-Match": weak})
    assert answer.status_code == 304 and answer.headers["ETag"] == etag


def test_if_none_match_star_only_after_the_query_validated(app, client):
    _problem(client.get("/v1/forecasts?metric=bogus", headers={"If-None-Match": "*"}), 404, "metric")
    _problem(client.get("/v1/forecasts?metric=npl_ratio&level=120", headers={"If-None-Match": "*"}), 422, "level")
    assert client.get("/v1/forecasts?metric=npl_ratio&scenario=adverse", headers={"If-None-Match": "*"}).status_code == 304


def test_etags_cover_the_api_code(client, monkeypatch):
    from smfcast.api import response_cache
    etag = client.get("/v1/forecasts?metric=npl_ratio").headers["ETag"]
    monkeypatch.setattr(response_cache, "api_digest", lambda: "a-new-deploy")
    answer = client.get("/v1/forecasts?metric=npl_ratio", headers={"If-None-Match": etag})
    assert answer.status_code == 200 and answer.headers["ETag"] != etag


def test_etags_cover_the_code_that_writes_answers(tmp_path):
    import shutil

    from smfcast.api.response_cache import api_digest, source_digest
    from tests.conftest import REPO
    for name in ("api", "forecast"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    roots = (tmp_path / "api", tmp_path / "forecast")
    before = source_digest(*roots)
    assert before == api_digest()  # the served tags hash both packages
    tables = tmp_path / "forecast" / "outputs" / "run_tables.py"
    tables.write_text(tables.read_text(encoding="utf-8") + "\n# a presentation change\n", encoding="utf-8")
    assert source_digest(*roots) != before


def test_forecast_errors_name_the_field(client):
    _problem(client.get("/v1/forecasts?metric=size"), 404, "metric")
    _problem(client.get("/v1/forecasts?metric=npl_ratio&scenario=rosy"), 404, "scenario")
    _problem(client.get("/v1/forecasts?metric=npl_ratio&model=lstm"), 404, "model")
    _problem(client.get("/v1/forecasts?metric=npl_ratio&run=0123456789abcdef"), 404, "run")
    _problem(client.get("/v1/forecasts?metric=npl_ratio&level=120"), 422, "level")
    _problem(client.get("/v1/forecasts?metric=npl_ratio&level=abc"), 422, "level")
    _problem(client.get("/v1/forecasts?metric=npl_ratio&colour=red"), 422, "colour")
    _problem(client.get("/v1/forecasts?metric=npl_ratio&format=pdf"), 422, "format")
    _problem(client.get("/v1/forecasts?metric=npl_ratio&layout=tall"), 422, "layout")
    _problem(client.get("/v1/forecasts?metric=npl_ratio&history=maybe"), 422, "history")
    _problem(client.get("/v1/nowhere"), 404)
    _problem(client.delete("/v1/forecasts"), 405)


def test_custom_scenario_post_equals_preset_and_moves_with_levers(client):
    preset = client.get("/v1/forecasts?metric=npl_ratio&scenario=policy_targets").get_json()["rows"]
    levers = {}
    rows = client.get("/v1/scenarios/policy_targets").get_json()["rows"]
    for r in rows:
        levers.setdefault(r["lever"], {})[str(r["year"])] = r["value"]
    custom = client.post("/v1/forecasts", json={"metric": "npl_ratio", "base": "baseline", "levers": levers})
    assert custom.status_code == 200, custom.get_data(as_text=True)
    got = custom.get_json()["rows"]
    assert [r["median"] for r in got] == [r["median"] for r in preset]  # bit-identical to the preset
    more = client.post("/v1/forecasts", json={"metric": "npl_ratio", "base": "policy_targets",
                                              "levers": {"snow_disaster": {"2027": 1.0, "2028": 0.0}}}).get_json()["rows"]
    by = {r["period"]: r for r in more}
    pre = {r["period"]: r for r in preset}
    assert by["2027"]["median"] > pre["2027"]["median"] and by["2026"]["median"] == pre["2026"]["median"]


def test_custom_scenario_errors(client):
    _problem(client.post("/v1/forecasts", data="{not json", content_type="application/json"), 422, "body")
    _problem(client.post("/v1/forecasts", json=[1, 2]), 422, "body")
    body = _problem(client.post("/v1/forecasts", json={"levers": {"snow_disaster": {"2027": 3}}}), 422, "levers.snow_disaster.2027")
    assert "outside its plausible range [0, 1]" in body["detail"]
    _problem(client.post("/v1/forecasts", json={"levers": {"moonshot": 1}}), 404, "levers.moonshot")
    _problem(client.post("/v1/forecasts", json={"base": "rosy"}), 404, "base")
    _problem(client.post("/v1/forecasts", json={"metric": "gdp"}), 404, "metric")
    _problem(client.post("/v1/forecasts", json={"levers": {"snow_disaster": "lots"}}), 422, "levers.snow_disaster")
    _problem(client.post("/v1/forecasts", json={"colour": "red"}), 422, "colour")
    _problem(client.post("/v1/forecasts", data="x" * 100_000, content_type="application/json"), 413)


@pytest.mark.parametrize("body, field", [({"base": ["baseline"]}, "base"), ({"base": {"a": 1}}, "base"), ({"base": 1}, "base"),
                                         ({"name": {"a": 1}}, "name"), ({"title": [1]}, "title"), ({"rationale": 5}, "rationale"),
                                         ({"level": 80.5e3}, "level"), ({"level": True}, "level"), ({"level": 0}, "level"),
                                         ({"level": {"80": 1}}, "level")])
def test_custom_scenario_fields_of_the_wrong_type_are_named_not_a_500(client, body, field):
    _problem(client.post("/v1/forecasts", json={"metric": "npl_ratio", **body}), 422, field)


def test_custom_scenario_level_may_be_one_number(client):
    resp = client.post("/v1/forecasts", json={"metric": "npl_ratio", "level": 90})
    assert resp.status_code == 200 and resp.get_json()["levels"] == [90]


@pytest.mark.parametrize("path, body, field", [
    ("/v1/forecasts", '{"metric": "npl_ratio", "name": "\\ud800"}', "name"),
    ("/v1/forecasts", '{"levers": {"\\udcff": 1}}', "levers"),
    ("/v1/runs", '{"reason": "a\\udc80b"}', "reason"),
    ("/v1/runs/{run}/publish", '{"reason": "\\ud800"}', "reason"),
    ("/v1/observations?check=true", '{"rows": [{"series_id": "qh_green_loan_share", "period": "2031", "value": 1, '
     '"source_id": "qh_green_loan_share_2022q3", "quality": "repost", "note": "\\ud800"}]}', "rows[0].note"),
])
def test_a_json_string_that_is_not_text_is_refused_by_where_it_is(client, small_run, path, body, field):
    """A lone surrogate escape cannot be written, stored or echoed in UTF-8: refused (422), not a 500."""
    resp = client.post(path.format(run=small_run.run_id), data=body, content_type="application/json")
    assert "surrogate" in _problem(resp, 422, field)["detail"]


def test_targets_are_probabilities_matching_a_direct_count(client, small_store, small_run):
    rows = client.get("/v1/targets").get_json()["rows"]
    assert {r["scenario"] for r in rows} == set(small_run.scenarios)
    npl = next(r for r in rows if r["target"] == "npl_below_2_2_by_2026" and r["scenario"] == "baseline")
    z = small_store.paths(small_run.run_id, "npl_ratio", "ensemble", "baseline")
    natural = small_run.transform("npl_ratio").inverse(z)
    j = [p.year for p in small_run.periods("npl_ratio")].index(2026)
    assert npl["probability"] == float(np.mean(natural[:, j] < 2.2))
    csv_rows = _csv(client.get("/v1/targets?format=csv&scenario=adverse"))
    assert {r["scenario"] for r in csv_rows} == {"adverse"}


def test_runs_list_detail_and_chart(client, small_run):
    runs = client.get("/v1/runs").get_json()
    assert runs["rows"][0]["run_id"] == small_run.run_id
    detail = client.get(f"/v1/runs/{small_run.run_id}").get_json()
    assert detail["details"]["market_size"]["method"]["method"] == "ratio_to_national"
    png = client.get("/v1/forecasts/chart.png?metric=npl_ratio")
    assert png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    svg = client.get("/v1/forecasts/chart.svg?metric=market_size&scenario=adverse")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    _problem(client.get("/v1/runs/ffffffffffffffff"), 404, "run")


def _run_queued(app) -> int:
    """What `smfcast worker` does, in this process: run every queued job."""
    from smfcast.store.queue import open_queue
    return open_queue(app.config["SMFCAST_STORE"]).drain()


def test_write_endpoints_need_the_token(small_store):
    from smfcast.api import create_app
    from tests.conftest import DATA
    app = create_app({"SMFCAST_DATA": str(DATA), "SMFCAST_STORE": str(small_store.path), "SMFCAST_API_TOKEN": "s3cret"})
    c = app.test_client()
    _problem(c.post("/v1/runs", json={}), 401, "Authorization")
    _problem(c.post("/v1/runs", json={}, headers={"Authorization": "Bearer wrong"}), 403, "Authorization")
    _problem(c.post("/v1/runs", json={}, headers={"Authorization": "Basic czNjcmV0"}), 401, "Authorization")
    _problem(c.post("/v1/runs", json={"n_paths": 5}, headers={"Authorization": "Bearer s3cret"}), 422, "n_paths")
    _problem(c.post("/v1/backtests", json={}), 401, "Authorization")
    _problem(c.post(f"/v1/runs/{small_store.published_id()}/publish", json={}), 401, "Authorization")
    assert c.get("/v1/forecasts?metric=npl_ratio").status_code == 200  # reads stay open


def test_writes_are_locked_when_no_token_is_configured(small_store, monkeypatch, tmp_path):
    from smfcast.api import create_app
    from tests.conftest import DATA
    for name in ("SMFCAST_API_TOKEN", "SMFCAST_API_TOKENS", "SMFCAST_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    app = create_app({"SMFCAST_DATA": str(DATA), "SMFCAST_STORE": str(small_store.path)})
    c = app.test_client()
    body = _problem(c.post("/v1/runs"), 401, "Authorization")
    assert "no token configured" in body["detail"]
    _problem(c.post("/v1/runs", headers={"Authorization": "Bearer anything"}), 403, "Authorization")


def test_token_comparison_is_constant_time_and_names_the_token(monkeypatch):
    import hmac

    from smfcast.api import tokens
    calls = []
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append((a, b)) or a == b)
    assert tokens.match({"alice": "tok-a", "bob": "tok-b"}, "Bearer tok-b") == "bob"
    assert len(calls) == 2  # every configured token compared, with hmac.compare_digest


def test_named_tokens_from_the_environment_and_the_token_file(tmp_path):
    from smfcast.api.tokens import configured_tokens, create_token_file, token_file
    store = tmp_path / "s.sqlite"
    path = token_file(store, {})
    assert path == tmp_path / "s.tokens"
    token = create_token_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    env = {"SMFCAST_API_TOKENS": "alice=tok-a,bob=tok-b", "SMFCAST_API_TOKEN": "tok-d"}
    assert configured_tokens(store, env) == {"admin": token, "alice": "tok-a", "bob": "tok-b", "default": "tok-d"}
    with pytest.raises(InvalidInput, match="name=token"):
        configured_tokens(store, {"SMFCAST_API_TOKENS": "just-a-token"})


def test_a_cross_site_form_post_changes_nothing(app, client, small_store):
    before = (len(small_store.list()), small_store.published_id())
    bare = app.test_client()  # a browser posting a form from another site cannot add Authorization
    _problem(bare.post("/v1/runs", data={"seed": "1"}), 401, "Authorization")
    _problem(bare.post("/v1/runs", data=""), 401, "Authorization")
    # and even with the token, a form body is refused by its type before anything is read
    _problem(client.post("/v1/runs", data={"seed": "1"}), 415, "Content-Type")
    _problem(client.post("/v1/runs", data="seed=1", content_type="text/plain"), 415, "Content-Type")
    assert _run_queued(app) == 0
    assert (len(small_store.list()), small_store.published_id()) == before


def test_refit_and_backtest_limits(client):
    _problem(client.post("/v1/runs", json={"n_paths": 10_001}), 422, "n_paths")
    _problem(client.post("/v1/runs", json={"seed": 2**32}), 422, "seed")
    _problem(client.post("/v1/runs", json={"seed": -1}), 422, "seed")
    _problem(client.post("/v1/runs", json={"models": ["ets", "ets"]}), 422, "models")
    _problem(client.post("/v1/runs", json={"publish": "yes"}), 422, "publish")
    _problem(client.post("/v1/backtests", json={"seed": 2**40}), 422, "seed")
    _problem(client.post("/v1/backtests", json={"n_paths": 5000}), 422, "n_paths")


def test_post_runs_is_a_queued_job_deduplicated_and_idempotent(app, client, small_run):
    from tests.conftest import SMALL
    body = {"seed": SMALL.seed, "n_paths": SMALL.n_paths, "models": list(SMALL.models), "backtest_paths": SMALL.backtest_paths}
    resp = client.post("/v1/runs", json=body)
    assert resp.status_code == 202 and resp.headers["Location"].startswith("/v1/jobs/")
    job = resp.get_json()
    assert job["status"] == "queued" and job["duplicate"] is False and job["by"] == "tester"
    again = client.post("/v1/runs", json=body).get_json()  # identical, while the first is queued: the same job
    assert again["job_id"] == job["job_id"] and again["duplicate"] is True
    assert _run_queued(app) == 1
    done = client.get(resp.headers["Location"]).get_json()
    assert done["status"] == "succeeded" and done["kind"] == "run" and done["attempts"] == 1
    assert done["progress"]["done"] == done["progress"]["total"] == 3
    assert done["result"]["run_id"] == small_run.run_id  # same inputs, same run: nothing refitted twice
    assert done["result"]["published"] is False


def test_openapi_document_is_valid_and_matches_the_routes(app, client):
    from openapi_spec_validator import validate
    doc = client.get("/v1/openapi.json").get_json()
    validate(doc)
    documented = set(doc["paths"])
    routes = {re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", str(r.rule)) for r in app.url_map.iter_rules() if r.endpoint != "static"}
    assert documented == routes
    assert "smfcast API" in client.get("/v1/docs").get_data(as_text=True)


def test_backtests_rerun_by_post_then_read_by_get(client):
    _problem(client.get("/v1/backtests?metric=gdp"), 404, "metric")
    _problem(client.post("/v1/backtests", json={"h": 99}), 422, "h")
    _problem(client.post("/v1/backtests", json={"models": ["lstm"]}), 422, "models")
    resp = client.post("/v1/backtests", json={"metric": "npl_ratio", "models": ["ets", "theta"], "h": 2, "n_windows": 5, "n_paths": 100})
    assert resp.status_code == 202
    assert _run_queued(client.application) == 1
    job = client.get(resp.headers["Location"]).get_json()
    assert job["status"] == "succeeded", job
    assert job["progress"]["done"] == job["progress"]["total"] == 2
    bt_id = job["result"]["backtest_id"]
    body = client.get(f"/v1/backtests?backtest={bt_id}&metric=npl_ratio").get_json()
    assert body["backtest_id"] == bt_id and {r["model"] for r in body["rows"]} >= {"ets", "ensemble", "ensemble-calibrated"}
    rows = _csv(client.get(f"/v1/backtests?backtest={bt_id}&detail=rows&format=csv"))
    assert {"cutoff", "horizon", "y", "median"} <= set(rows[0])
    # each summary coverage is the percent of its rows whose outcome fell inside the 95% band
    for s in body["rows"]:
        mine = [r for r in rows if r["model"] == s["model"] and r["series_id"] == s["series_id"]]
        inside = [float(r["lo-95"]) <= float(r["y"]) <= float(r["hi-95"]) for r in mine]
        assert s["coverage-95"] == rounded(100 * sum(inside) / len(inside))
    # a window's cutoff is the period of its last training point; y the value as recorded
    from smfcast.registry.series import load_registry
    from tests.conftest import DATA
    recorded = {str(o.period): o.value for o in load_registry(DATA).observations("cn_bank_npl_ratio")}
    national = [r for r in rows if r["series_id"] == "cn_bank_npl_ratio"]
    assert national and all(re.fullmatch(r"\d{4}Q[1-4]", r["cutoff"]) for r in national)
    assert all(float(r["y"]) == recorded[_ahead(r["cutoff"], int(r["horizon"]))] for r in national)


def test_a_broken_token_file_is_the_operators_problem_not_the_clients(small_store, tmp_path, monkeypatch):
    from smfcast.api import create_app
    from tests.conftest import DATA
    broken = tmp_path / "tokens"
    broken.write_text("admin\n", encoding="utf-8")  # a name without a token
    monkeypatch.setenv("SMFCAST_TOKEN_FILE", str(broken))
    app = create_app({"SMFCAST_DATA": str(DATA), "SMFCAST_STORE": str(small_store.path)})
    body = _problem(app.test_client().post("/v1/runs", headers={"Authorization": "Bearer x"}), 503, "Authorization")
    assert str(broken) not in body["detail"]
