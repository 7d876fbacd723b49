"""The per-client limit of anonymous compute (`api/limits.py`): one client without a write token
cannot take the workers from everyone else, a write token is exempt, cached reads are never limited,
over the limit is 429 problem+json with Retry-After, and the counts live in Redis when the queue does."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from smfcast.api import create_app
from smfcast.errors import InvalidInput
from tests.conftest import DATA, TOKEN

PROBLEM = "application/problem+json"
BODY = {"metric": "npl_ratio", "base": "policy_targets", "levers": {"snow_disaster": {"2027": 1.0}}}
SEEK = {"target": "npl_below_2_2_by_2026", "lever": "risk_model_adoption", "probability": 0.8}


def _app(small_store, limit: str, **config):
    return create_app({"SMFCAST_DATA": str(DATA), "SMFCAST_STORE": str(small_store.path), "TESTING": True,
                       "SMFCAST_API_TOKENS": {"tester": TOKEN}, "SMFCAST_ANONYMOUS_LIMIT": limit, **config})


def _from(app, address: str):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    return c


def test_a_client_over_its_budget_gets_429_problem_with_retry_after_while_others_are_served(small_store):
    app = _app(small_store, "5 per minute")
    greedy, other = _from(app, "10.0.0.1"), _from(app, "10.0.0.2")
    assert [greedy.post("/v1/forecasts", json=BODY).status_code for _ in range(5)] == [200] * 5
    refused = greedy.post("/v1/forecasts", json=BODY)
    assert refused.status_code == 429 and refused.mimetype == PROBLEM
    body = refused.get_json()
    assert body["status"] == 429 and "5 per 1 minute" in body["detail"] and body["errors"][0]["field"] == "client"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert other.post("/v1/forecasts", json=BODY).status_code == 200  # per client
    # stored answers are not limited, and a write token is exempt; a wrong token is only anonymous
    assert greedy.get("/v1/forecasts?metric=npl_ratio").status_code == 200
    assert greedy.post("/v1/forecasts", json=BODY, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert greedy.post("/v1/forecasts", json=BODY, headers={"Authorization": "Bearer not-the-token"}).status_code == 429


def test_charts_goal_seek_and_sensitivity_draw_on_one_budget_by_their_cost(small_store):
    from smfcast.api.limits import CHART_COST, SEEK_COST
    app = _app(small_store, f"{CHART_COST + SEEK_COST + 1} per minute")
    c = _from(app, "10.0.0.3")
    assert c.get("/v1/forecasts/chart.svg?metric=npl_ratio&level=61").status_code == 200
    assert c.post("/v1/goal-seek", json=SEEK).status_code == 200
    assert c.get("/v1/sensitivity?target=npl_below_2_2_by_2026").status_code == 200
    for refused in (c.get("/v1/sensitivity?target=npl_below_2_2_by_2026"), c.get("/v1/forecasts/chart.png?metric=npl_ratio&level=62"),
                    c.post("/v1/goal-seek", json=SEEK), c.post("/v1/forecasts", json=BODY)):
        assert refused.status_code == 429 and refused.mimetype == PROBLEM


def test_a_flood_of_chart_requests_renders_no_more_than_the_budget(small_store, monkeypatch):
    """What starved the other clients: every anonymous chart request was rendered. Now a client's
    renders stop at its budget, and the rest are refused before any rendering."""
    from smfcast.api import forecasts
    from smfcast.api.limits import CHART_COST, DEFAULT_LIMIT
    renders = []
    real = forecasts.fan_chart
    monkeypatch.setattr(forecasts, "fan_chart", lambda *a, **k: renders.append(1) or real(*a, **k))
    app = create_app({"SMFCAST_DATA": str(DATA), "SMFCAST_STORE": str(small_store.path), "TESTING": True,
                      "SMFCAST_API_TOKENS": {"tester": TOKEN}})  # the default limit
    flood = _from(app, "10.0.0.4")
    statuses = [flood.get(f"/v1/forecasts/chart.png?metric=market_size&level={50 + i}").status_code for i in range(40)]
    budget = int(DEFAULT_LIMIT.split()[0]) // CHART_COST  # a new query each time: none answered from the cache
    assert statuses == [200] * budget + [429] * (40 - budget) and len(renders) == budget
    assert _from(app, "10.0.0.5").get("/v1/forecasts/chart.png?metric=market_size&level=99").status_code == 200
    assert flood.get("/v1/forecasts/chart.png?metric=market_size&level=50").status_code == 200  # asked before: from the cache
    assert len(renders) == budget + 1


def test_every_marked_view_is_limited_and_documents_its_429(small_store):
    from smfcast.api.limits import _MARK, COMPUTE_ROUTES
    from smfcast.api.openapi import spec
    app = _app(small_store, "5 per minute")
    marked = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if hasattr(view, _MARK):
            assert getattr(view, "__wrapper-limiter-instance", None) == app.extensions["smfcast_limiter"], (
                f"{rule.endpoint} is marked but was registered after limits.install: it is not limited")
            path = rule.rule.replace("<", "{").replace(">", "}")
            marked |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert marked == set(COMPUTE_ROUTES)
    for path, method in COMPUTE_ROUTES:
        assert "429" in spec()["paths"][path][method]["responses"]


def test_the_limit_setting_is_checked_and_the_storage_follows_the_queue(monkeypatch):
    from smfcast.api.limits import DEFAULT_LIMIT, configured_limit, storage_uri
    assert configured_limit({}) == DEFAULT_LIMIT and configured_limit({"SMFCAST_ANONYMOUS_LIMIT": "3/second"}) == "3/second"
    for bad in ("lots", "10 per fortnight"):
        with pytest.raises(InvalidInput, match="SMFCAST_ANONYMOUS_LIMIT must be rates"):
            configured_limit({"SMFCAST_ANONYMOUS_LIMIT": bad})
    monkeypatch.delenv("SMFCAST_QUEUE_URL", raising=False)
    assert storage_uri() == "memory://"
    monkeypatch.setenv("SMFCAST_QUEUE_URL", "redis://10.1.2.3:6379/2")
    assert storage_uri() == "redis://10.1.2.3:6379/2"
    monkeypatch.setenv("SMFCAST_QUEUE_URL", "unix:///run/redis.sock")
    assert storage_uri() == "redis+unix:///run/redis.sock"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    """A throwaway Redis on a loopback port (Debian's redis-server), or a skip saying why not."""
    pytest.importorskip("redis", reason="the redis client library is not installed (pip install redis)")
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (Debian package redis-server); the shared limit is not tested")
    port = _free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_with_the_queue_in_redis_every_worker_counts_against_one_budget(small_store, redis_url, monkeypatch):
    monkeypatch.setenv("SMFCAST_QUEUE_URL", redis_url)
    one, two = _app(small_store, "4 per minute"), _app(small_store, "4 per minute")  # two gunicorn workers, in effect
    a, b = _from(one, "10.0.0.6"), _from(two, "10.0.0.6")
    assert [c.post("/v1/forecasts", json=BODY).status_code for c in (a, b, a, b)] == [200] * 4
    assert a.post("/v1/forecasts", json=BODY).status_code == 429 and b.post("/v1/forecasts", json=BODY).status_code == 429
    alone = _app(small_store, "4 per minute", SMFCAST_LIMIT_STORAGE="memory://")  # memory: each worker on its own
    assert _from(alone, "10.0.0.6").post("/v1/forecasts", json=BODY).status_code == 200
