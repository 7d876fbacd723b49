"""Shared fixtures: one small run of the shipped data, computed once per test session (per worker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecast.engine import EngineConfig
from forecast.runs import RunStore, create_run

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


@pytest.fixture
def app(small_store):
    from api import create_app
    return create_app({"SMFCAST_DATA": str(DATA), "SMFCAST_STORE": str(small_store.path), "TESTING": True,
                       "SMFCAST_API_TOKEN": None})


@pytest.fixture
def client(app):
    return app.test_client()
