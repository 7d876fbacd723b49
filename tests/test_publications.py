"""What unpinned requests get is decided on purpose: published runs and their history, run and
backtest identity (library versions, engine code), the store quota, and targets checked at load."""

from __future__ import annotations

import dataclasses
import io
import shutil
import sqlite3

import pytest
from openpyxl import load_workbook

from smfcast.cli import main
from smfcast.engine.headline import EngineConfig
from smfcast.errors import DataError, NotFound
from smfcast.store.quota import Quota
from smfcast.store.runs import RunStore, create_run, library_versions, run_id_for
from tests.conftest import DATA, SMALL

CHEAP = EngineConfig(n_paths=100, models=("theta",), backtest_windows=0)  # a run in tens of milliseconds
TOKEN = "publisher-token"


def _cheap(seed: int) -> EngineConfig:
    return dataclasses.replace(CHEAP, seed=seed)


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "runs.sqlite")


@pytest.fixture
def api(store, tmp_path):
    from smfcast.api import create_app
    app = create_app({"SMFCAST_DATA": str(DATA), "SMFCAST_STORE": str(store.path), "TESTING": True,
                      "SMFCAST_API_TOKENS": {"analyst-li": TOKEN}})
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return c


def test_first_run_is_published_later_runs_wait_for_publish(store):
    first = create_run(DATA, _cheap(1), store)
    assert store.published_id() == first.run_id
    second = create_run(DATA, _cheap(2), store)  # a non-default seed: stored, not served
    assert store.get().run_id == first.run_id and store.latest().run_id == second.run_id
    store.publish(second.run_id, "cli:wang", "seed 2 reviewed")
    assert store.get().run_id == second.run_id
    store.publish(first.run_id, "cli:wang", "back to seed 1")  # switching back is one publication away
    assert store.get().run_id == first.run_id
    history = store.publication_history()
    assert [(p["run_id"], p["by"], p["reason"], p["current"]) for p in history] == [
        (first.run_id, "cli:wang", "back to seed 1", True), (second.run_id, "cli:wang", "seed 2 reviewed", False),
        (first.run_id, "smfcast", "the first run stored in an empty store", False)]
    with pytest.raises(NotFound, match="unknown run"):
        store.publish("0000000000000000", "cli:wang")


def test_publications_are_append_only(store):
    create_run(DATA, _cheap(1), store)
    con = sqlite3.connect(store.path)
    for sql in ("UPDATE publications SET run_id = 'x'", "DELETE FROM publications"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(sql)


def test_a_store_from_before_publications_keeps_serving_its_newest_run(store):
    create_run(DATA, _cheap(1), store)
    newest = create_run(DATA, _cheap(2), store)
    con = sqlite3.connect(store.path)
    con.executescript("DROP TABLE publications")  # as the store was before publications existed
    con.close()
    again = RunStore(store.path)
    assert again.published_id() == newest.run_id
    assert "before publications" in again.publication_history()[0]["reason"]


def test_publish_by_api_records_the_token_name_and_unpinned_gets_follow(store, api):
    first = create_run(DATA, _cheap(1), store)
    second = create_run(DATA, _cheap(2), store)
    body = api.get("/v1/forecasts?metric=npl_ratio").get_json()
    assert body["run_id"] == first.run_id
    assert api.get(f"/v1/forecasts?metric=npl_ratio&run={second.run_id}").get_json()["run_id"] == second.run_id  # pins
    resp = api.post(f"/v1/runs/{second.run_id}/publish", json={"reason": "Q3 data"})
    assert resp.status_code == 200 and resp.get_json()["by"] == "analyst-li"
    assert api.get("/v1/forecasts?metric=npl_ratio").get_json()["run_id"] == second.run_id  # the cached answer did not stick
    assert api.get("/v1/health").get_json()["run_id"] == second.run_id
    pubs = api.get("/v1/publications").get_json()
    assert pubs["run_id"] == second.run_id
    assert [(r["run_id"], r["by"], r["reason"]) for r in pubs["rows"]][0] == (second.run_id, "analyst-li", "Q3 data")
    runs = {r["run_id"]: r for r in api.get("/v1/runs").get_json()["rows"]}
    assert runs[second.run_id]["published"] and runs[first.run_id]["published"]
    assert api.post("/v1/runs/ffffffffffffffff/publish").status_code == 404
    assert api.post(f"/v1/runs/{first.run_id}/publish", json={"why": "x"}).status_code == 422


def test_refit_publishes_only_when_asked(store, api):
    from smfcast.store.queue import open_queue
    first = create_run(DATA, _cheap(1), store)
    quiet = api.post("/v1/runs", json={"seed": 7, "n_paths": 100, "models": ["theta"], "backtest_windows": 0}).get_json()
    loud = api.post("/v1/runs", json={"seed": 8, "n_paths": 100, "models": ["theta"], "backtest_windows": 0,
                                      "publish": True, "reason": "reviewed"}).get_json()
    assert open_queue(store.path).drain() == 2
    quiet, loud = (api.get(j["url"]).get_json() for j in (quiet, loud))
    assert quiet["result"]["published"] is False and loud["result"]["published"] is True
    assert store.published_id() == loud["result"]["run_id"] != first.run_id
    assert store.publication_history()[0]["by"] == "analyst-li" and store.publication_history()[0]["reason"] == "reviewed"


def test_cli_publish_and_runs_show_the_history(store, capsys):
    first = create_run(DATA, _cheap(1), store)
    second = create_run(DATA, _cheap(2), store)
    assert main(["--store", str(store.path), "publish", second.run_id, "--reason", "checked"]) == 0
    assert f"published {second.run_id}" in capsys.readouterr().out
    assert main(["--store", str(store.path), "runs"]) == 0
    out = capsys.readouterr().out
    assert "current, " in out and "checked" in out and first.run_id in out
    assert main(["--store", str(store.path), "publish", "0000000000000000"]) == 2
    assert "unknown run" in capsys.readouterr().err


def test_cli_run_says_whether_it_published(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    args = ["--store", store, "run", "--paths", "100", "--models", "theta", "--engine", "serial"]
    assert main(args) == 0
    assert "published: " in capsys.readouterr().out  # the first run of an empty store
    assert main(args[:-4] + ["--seed", "3"] + args[-4:]) == 0
    assert "not published" in capsys.readouterr().out
    assert main(args[:-4] + ["--seed", "4", "--publish"] + args[-4:]) == 0
    assert "published: " in capsys.readouterr().out
    assert main(["--store", store, "run", "--paths", "50000"]) == 2
    assert "--paths must be an integer in [100, 10000]" in capsys.readouterr().err


SIX = {"numpy", "pandas", "scipy", "statsmodels", "prophet", "statsforecast"}


def test_run_id_hashes_library_versions_and_the_run_stores_them(monkeypatch, small_run):
    assert small_run.libraries == library_versions() and set(small_run.libraries) == SIX
    assert small_run.header()["libraries"] == small_run.libraries
    before = run_id_for(DATA, SMALL)[0]
    for lib in sorted(SIX):  # an upgrade of any one of them gives another run
        upgraded = {**library_versions(), lib: "99.0.0"}
        monkeypatch.setattr("smfcast.store.runs.library_versions", lambda u=upgraded: u)
        assert run_id_for(DATA, SMALL)[0] != before, lib


def test_the_workbook_and_json_print_the_runs_own_library_versions(tmp_path, monkeypatch):
    from smfcast.api import create_app
    from smfcast.outputs.workbook import build_workbook
    older = {**library_versions(), "statsforecast": "1.7.0", "pandas": "1.5.3"}
    monkeypatch.setattr("smfcast.store.runs.library_versions", lambda: older)
    store = RunStore(tmp_path / "old.sqlite")
    run = create_run(DATA, CHEAP, store)  # a run made with other versions than this process has
    monkeypatch.undo()
    assert run.libraries == older != library_versions()
    client = create_app({"SMFCAST_DATA": str(DATA), "SMFCAST_STORE": str(store.path), "TESTING": True}).test_client()
    assert client.get(f"/v1/runs/{run.run_id}").get_json()["libraries"] == older
    wb = load_workbook(io.BytesIO(build_workbook(store, run, metrics=["npl_ratio"])))
    rows = {r[0]: r[1] for r in wb["run"].iter_rows(values_only=True) if r and r[0]}
    assert rows["library.statsforecast"] == "1.7.0" and rows["library.pandas"] == "1.5.3"  # the run's, not the exporter's


def test_backtest_ids_include_the_engine_code(monkeypatch):
    from smfcast.registry.series import load_registry
    from smfcast.store.backtests import backtest_key
    from smfcast.store.requests import backtest_request
    reg, request = load_registry(DATA), backtest_request({})
    before = backtest_key(reg, request)[0]
    monkeypatch.setattr("smfcast.store.backtests.code_digest", lambda: "changed-engine")
    assert backtest_key(reg, request)[0] != before


def test_quota_prunes_unpublished_runs_oldest_first_never_published(tmp_path):
    store = RunStore(tmp_path / "q.sqlite", Quota(max_runs=3))
    runs = [create_run(DATA, _cheap(seed), store) for seed in (1, 2, 3)]
    store.publish(runs[1].run_id, "t", "")
    kept = runs[2]
    for seed in (4, 5):
        create_run(DATA, _cheap(seed), store)
    ids = [r.run_id for r in store.list()]  # newest first
    assert len(ids) == 3 and runs[0].run_id in ids and runs[1].run_id in ids  # both were published once
    assert kept.run_id not in ids  # the oldest never-published run went first
    con = sqlite3.connect(store.path)
    for table in ("paths", "run_files"):
        assert con.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", (kept.run_id,)).fetchone()[0] == 0
    assert con.execute("SELECT COUNT(DISTINCT run_id) FROM run_files").fetchone()[0] == 3  # the kept runs keep theirs
    tiny = RunStore(tmp_path / "b.sqlite", Quota(max_runs=50, max_bytes=1))
    a, b = create_run(DATA, _cheap(1), tiny), create_run(DATA, _cheap(2), tiny)
    c = create_run(DATA, _cheap(3), tiny)
    assert [r.run_id for r in tiny.list()] == [c.run_id, a.run_id] and b.run_id not in [r.run_id for r in tiny.list()]


def test_quota_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("SMFCAST_STORE_MAX_RUNS", "7")
    monkeypatch.setenv("SMFCAST_STORE_MAX_MB", "12")
    assert Quota.from_env() == Quota(max_runs=7, max_bytes=12_000_000)
    monkeypatch.setenv("SMFCAST_STORE_MAX_RUNS", "lots")
    with pytest.raises(Exception, match="SMFCAST_STORE_MAX_RUNS must be a whole number"):
        Quota.from_env()


def _data_with_target_year(tmp_path, year: int):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    path = data / "targets.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("year = 2026", f"year = {year}", 1), encoding="utf-8")
    line = next(n for n, l in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if l.strip() == f"year = {year}")
    return data, line


def test_a_target_outside_the_forecast_years_is_refused_where_targets_load(tmp_path, capsys, monkeypatch):
    def no_fitting(*args):
        raise AssertionError("the targets must be refused before anything is fitted")
    monkeypatch.setattr("smfcast.store.runs._forecast_task", no_fitting)
    late, late_line = _data_with_target_year(tmp_path, 2031)
    with pytest.raises(DataError) as info:
        create_run(late, CHEAP, RunStore(tmp_path / "a.sqlite"))
    assert info.value.line == late_line and info.value.field == "targets.npl_below_2_2_by_2026.year"
    assert "after the last forecast year 2030" in info.value.message
    early, early_line = _data_with_target_year(tmp_path / "early", 2019)
    with pytest.raises(DataError, match="npl_ratio is forecast for 20[0-9]{2}–2030 only") as info:
        create_run(early, CHEAP, RunStore(tmp_path / "b.sqlite"))
    assert info.value.line == early_line
    code = main(["--data", str(late), "--store", str(tmp_path / "c.sqlite"), "run", "--paths", "100", "--models", "theta"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"targets.toml, line {late_line}, field 'targets." in err


def test_a_stored_target_outside_the_years_is_a_problem_not_a_500(small_store, small_run):
    from smfcast.errors import InvalidInput
    from smfcast.outputs.run_tables import target_rows
    bad = dict(small_run.summary["targets"])
    first = next(iter(bad))
    bad[first] = {**bad[first], "year": 2031}
    odd = dataclasses.replace(small_run, summary={**small_run.summary, "targets": bad})
    with pytest.raises(InvalidInput, match="not among the forecast years"):
        target_rows(small_store, odd, ["baseline"])


def test_workers_reload_the_registry_when_the_published_runs_data_changes(tmp_path):
    from smfcast.api import create_app
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    store = RunStore(tmp_path / "r.sqlite")
    create_run(data, CHEAP, store)
    app = create_app({"SMFCAST_DATA": str(data), "SMFCAST_STORE": str(store.path), "TESTING": True})
    c = app.test_client()

    def value_2022():
        rows = c.get("/v1/series/qh_smallmicro_loans").get_json()["rows"]
        return next(r["value"] for r in rows if r["period"] == "2022")

    assert value_2022() == 786.4
    obs = data / "observations.csv"
    obs.write_text(obs.read_text(encoding="utf-8").replace("qh_smallmicro_loans,2022,786.4,", "qh_smallmicro_loans,2022,790.0,"),
                   encoding="utf-8")
    new = create_run(data, CHEAP, store)
    assert value_2022() == 786.4  # the published run still reads the data it was made from
    # a worker started (or recycled) after the files changed serves the same: the run's own files
    fresh = create_app({"SMFCAST_DATA": str(data), "SMFCAST_STORE": str(store.path), "TESTING": True}).test_client()
    rows = fresh.get("/v1/series/qh_smallmicro_loans").get_json()["rows"]
    assert next(r["value"] for r in rows if r["period"] == "2022") == 786.4
    store.publish(new.run_id, "t", "revised 2022")
    assert value_2022() == 790.0
    rows = fresh.get("/v1/series/qh_smallmicro_loans").get_json()["rows"]
    assert next(r["value"] for r in rows if r["period"] == "2022") == 790.0
    assert store.registry_files(new.run_id)["observations.csv"] == obs.read_text(encoding="utf-8")


def test_the_forecast_years_known_before_fitting_are_the_years_fitted(small_run):
    from smfcast.engine.headline import forecast_years
    from smfcast.registry.series import load_registry
    reg = load_registry(DATA)
    for metric in small_run.metrics:
        assert forecast_years(reg, metric, SMALL) == [p.year for p in small_run.periods(metric)]
