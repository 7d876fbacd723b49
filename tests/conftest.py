"""Shared fixtures: one small run of the shipped data, computed once per test session (per worker)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from smfcast.engine.headline import EngineConfig
from smfcast.store.runs import RunStore, create_run

# No test may write the per-user registry of whoever runs the suite (`smfcast.registry.location`).
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="smfcast-test-xdg-")
REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
# Fast members and few paths: enough to check behaviour and numbers, cheap enough for every test run.
SMALL = EngineConfig(n_paths=400, models=("arima", "ets", "theta"), backtest_paths=200)


@pytest.fixture(scope="session")
def small_store(tmp_path_factory) -> RunStore:
    store = RunStore(tmp_path_factory.mktemp("store") / "runs.sqlite")
    create_run(DATA, SMALL, store)
    return store


@pytest.fixture(scope="session")
def small_run(small_store):
    return small_store.latest()


TOKEN = "test-token-for-writes"  # the `client` fixture sends it; build a bare test client to send none


@pytest.fixture
def app(small_store):
    from smfcast.api import create_app
    return create_app({"SMFCAST_DATA": str(DATA), "SMFCAST_STORE": str(small_store.path), "TESTING": True,
                       "SMFCAST_API_TOKENS": {"tester": TOKEN}})


@pytest.fixture
def client(app):
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return c


@pytest.fixture(scope="session")
def live_server(small_store):
    """The real server (`smfcast serve`, gunicorn) on a free loopback port over the small run's store."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # An explicit token, so `serve` does not create a token file beside the store other tests share.
    env = {"SMFCAST_STORE": str(small_store.path), "PATH": str(Path(sys.executable).parent), "OPENBLAS_NUM_THREADS": "1",
           "SMFCAST_API_TOKEN": TOKEN, "SMFCAST_DATA": str(DATA)}
    proc = subprocess.Popen([sys.executable, "-m", "smfcast.cli", "serve", "--port", str(port), "--workers", "1"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                with urllib.request.urlopen(base + "/v1/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.2)
        else:
            raise AssertionError("gunicorn did not answer /v1/health")
        if proc.poll() is not None:
            raise AssertionError("the server exited: " + proc.stdout.read().decode(errors="replace"))
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
