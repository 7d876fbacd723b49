"""The job queue: jobs deduplicated by what they will produce, leases that end a job whose worker
died, JSON messages, pruning, the shared validation of refit and backtest requests, and Redis."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import time

import pytest

from smfcast.errors import InvalidInput
from smfcast.store.jobs import Heartbeat, JobSettings, JobTable
from smfcast.store.queue import Queue, queue_path
from smfcast.store.requests import backtest_request, refit_request
from smfcast.store.runs import RunStore, create_run
from tests.conftest import DATA

CHEAP = {"seed": 11, "n_paths": 100, "models": ["theta"], "backtest_windows": 0}


def test_an_orphaned_job_is_queued_again_once_then_failed(tmp_path):
    table = JobTable(tmp_path / "s.sqlite", JobSettings(lease=0.2, attempts=2))
    job, _ = table.submit("run", {}, "key-1", "tester", str(DATA))
    first = table.claim(job["job_id"], "host:1")
    assert first == 1 and table.get(job["job_id"])["status"] == "running"
    assert table.sweep() == []  # the lease holds
    time.sleep(0.3)  # the worker died: no heartbeat
    assert table.sweep() == [job["job_id"]]
    again = table.get(job["job_id"])
    assert again["status"] == "queued" and "attempt 1 lost its worker" in again["error"]
    second = table.claim(job["job_id"], "host:2")
    assert second == 2
    assert table.finish(job["job_id"], first, "succeeded", {"late": True}) is False  # the swept attempt's answer is dropped
    time.sleep(0.3)
    assert table.sweep() == []
    failed = table.get(job["job_id"])
    assert failed["status"] == "failed" and "last of 2 attempts" in failed["error"] and failed["finished"]


def test_a_heartbeat_keeps_the_lease_even_while_the_gil_is_held(tmp_path):
    import re
    table = JobTable(tmp_path / "s.sqlite", JobSettings(lease=1.0))
    job, _ = table.submit("run", {}, "key-1", "tester", str(DATA))
    attempt = table.claim(job["job_id"], "host:1")
    with Heartbeat(table, job["job_id"], attempt) as beat:
        beat.report(done=1, total=3, step="fitted market_size")
        started = time.monotonic()
        re.match(r"(a+)+b", "a" * 27)  # one C call that holds the GIL for seconds, as numba compiling does
        assert time.monotonic() - started > 1.0  # longer than the lease
        assert table.sweep() == [] and table.get(job["job_id"])["status"] == "running"
    assert table.get(job["job_id"])["progress"] == {"done": 1, "total": 3, "step": "fitted market_size"}
    time.sleep(1.2)  # the attempt ended without finishing (as a killed worker would): the lease runs out
    assert table.sweep() == [job["job_id"]]


def test_identical_requests_share_one_active_job_across_connections(tmp_path):
    a, b = JobTable(tmp_path / "s.sqlite"), JobTable(tmp_path / "s.sqlite")
    job, created = a.submit("run", {"x": 1}, "run:abc:store", "tester", str(DATA))
    same, again = b.submit("run", {"x": 1}, "run:abc:store", "other", str(DATA))
    assert created and not again and same["job_id"] == job["job_id"]
    con = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    with pytest.raises(sqlite3.IntegrityError):  # the database itself refuses a second active job for the key
        con.execute("INSERT INTO jobs (job_id, kind, status, created, params, key) VALUES ('x', 'run', 'queued', 'now', '{}', 'run:abc:store')")
    attempt = a.claim(job["job_id"], "w")
    a.finish(job["job_id"], attempt, "succeeded", {})
    fresh, created = b.submit("run", {"x": 1}, "run:abc:store", "tester", str(DATA))
    assert created and fresh["job_id"] != job["job_id"]  # a finished job is not reused


def test_finished_jobs_are_pruned_after_the_retention(tmp_path):
    table = JobTable(tmp_path / "s.sqlite", JobSettings(retention_days=0))
    job, _ = table.submit("run", {}, "k", "t", str(DATA))
    table.finish(job["job_id"], table.claim(job["job_id"], "w"), "succeeded", {})
    keep, _ = table.submit("run", {}, "k2", "t", str(DATA))
    time.sleep(1.1)  # finished times have one-second resolution
    table.sweep(prune=True)
    with pytest.raises(Exception, match="unknown job"):
        table.get(job["job_id"])
    assert table.get(keep["job_id"])["status"] == "queued"  # never an unfinished one


def test_a_jobs_table_from_before_the_queue_is_migrated_and_its_orphans_failed(tmp_path):
    path = tmp_path / "s.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE jobs (job_id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, created TEXT NOT NULL, "
                "finished TEXT, params TEXT NOT NULL, result TEXT, error TEXT)")
    con.execute("INSERT INTO jobs VALUES ('old', 'run', 'running', '2026-01-01T00:00:00+00:00', NULL, '{}', NULL, NULL)")
    con.commit()
    table = JobTable(path)
    table.sweep()
    old = table.get("old")
    assert old["status"] == "failed" and "stopped" in old["error"]


def test_queue_messages_are_json_and_jobs_run_to_a_stored_run(tmp_path):
    store = RunStore(tmp_path / "s.sqlite")
    queue = Queue(store.path)
    job, created = queue.submit_refit(CHEAP, "tester", DATA)
    assert created and job["status"] == "queued"
    raw = sqlite3.connect(queue_path(store.path)).execute("SELECT data FROM task").fetchone()[0]
    message = json.loads(raw)["message"]  # no pickle: a job id and Huey's bookkeeping
    assert message[1].endswith("run_job") and message[6] == [job["job_id"]]
    assert queue.drain() == 1
    done = queue.jobs.get(job["job_id"])
    assert done["status"] == "succeeded" and store.get(done["result"]["run_id"]).config["seed"] == 11


def test_a_failing_job_records_its_error(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    queue = Queue(tmp_path / "s.sqlite")
    job, _ = queue.submit_refit(CHEAP, "tester", data)
    (data / "targets.toml").write_text("[targets.x]\nmetric = 'gdp'\n", encoding="utf-8")  # broken after the request
    queue.drain()
    failed = queue.jobs.get(job["job_id"])
    assert failed["status"] == "failed" and "targets.toml" in failed["error"]


def test_one_validation_for_cli_and_api():
    request = refit_request({"seed": 3, "n_paths": 500, "models": ["ets", "theta"], "publish": True})
    assert request.config.seed == 3 and request.config.models == ("ets", "theta") and request.publish
    assert refit_request(request.params()) == request  # what a job records reads back the same
    with pytest.raises(InvalidInput, match=r"--paths must be an integer in \[100, 10000\], got 20000"):
        refit_request({"n_paths": 20000}, {"n_paths": "--paths"})
    with pytest.raises(InvalidInput, match="lists 'ets' twice"):
        refit_request({"models": ["ets", "ets"]})
    with pytest.raises(InvalidInput, match="unknown field 'colour'"):
        refit_request({"colour": "red"})
    bt = backtest_request({"h": 2, "metric": "npl_ratio"})
    assert bt.spec.h == 2 and bt.metrics == ["npl_ratio"] and backtest_request(bt.params()) == bt
    for bad, field in (({"seed": 2**32}, "seed"), ({"n_windows": 0}, "n_windows"), ({"step_size": 9}, "step_size")):
        with pytest.raises(InvalidInput) as info:
            backtest_request(bad)
        assert info.value.field == field


def test_cli_backtest_uses_the_same_checks(capsys):
    from smfcast.cli import main
    assert main(["backtest", "--seed", str(2**33), "--quiet"]) == 2
    assert "--seed must be an integer in [0, 4294967295]" in capsys.readouterr().err
    assert main(["backtest", "--models", "ets,ets", "--quiet"]) == 2
    assert "--models lists 'ets' twice" in capsys.readouterr().err


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
        pytest.skip("redis-server is not installed (Debian package redis-server); the Redis queue is not tested")
    port = _free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_redis_queue_runs_jobs_too(tmp_path, redis_url):
    store = RunStore(tmp_path / "s.sqlite")
    create_run(DATA, refit_request(CHEAP).config, store)
    queue = Queue(store.path, redis_url)
    job, created = queue.submit_refit({**CHEAP, "seed": 12}, "tester", DATA)
    assert created and not queue_path(store.path).exists()  # the messages are in Redis, not beside the store
    assert queue.drain() == 1
    assert queue.jobs.get(job["job_id"])["status"] == "succeeded"


def test_a_queue_url_that_is_not_redis_is_refused(monkeypatch, tmp_path):
    from smfcast.store.queue import open_queue
    monkeypatch.setenv("SMFCAST_QUEUE_URL", "amqp://localhost")
    with pytest.raises(InvalidInput, match="SMFCAST_QUEUE_URL must be a Redis URL"):
        open_queue(tmp_path / "s.sqlite")


def test_an_unreachable_queue_is_a_503_and_the_job_ends_failed(tmp_path):
    pytest.importorskip("redis", reason="the redis client library is not installed (pip install redis)")
    from smfcast.store.queue import QueueUnavailable
    queue = Queue(tmp_path / "s.sqlite", f"redis://127.0.0.1:{_free_port()}/0")  # nothing listens there
    with pytest.raises(QueueUnavailable) as info:
        queue.submit_refit(CHEAP, "tester", DATA)
    assert info.value.status == 503 and "unavailable" in info.value.message
    con = sqlite3.connect(tmp_path / "s.sqlite")
    assert con.execute("SELECT status, error FROM jobs").fetchall()[0][0] == "failed"


def test_jobs_compute_on_idle_cpu_while_their_heartbeat_keeps_ordinary_scheduling(tmp_path, monkeypatch):
    import os
    import threading
    if not hasattr(os, "SCHED_IDLE"):
        pytest.skip("SCHED_IDLE is Linux-only")
    queue = Queue(tmp_path / "s.sqlite")
    queue.idle = True  # as `smfcast worker` runs it
    seen = {}

    def execute(job_id, kind, params, by, data_dir, beat):
        seen["job"], seen["heartbeat"] = os.sched_getscheduler(0), os.sched_getscheduler(beat._proc.pid)
        return {}

    monkeypatch.setattr(queue, "_execute", execute)
    queue.submit_refit(CHEAP, "tester", DATA)
    worker = threading.Thread(target=queue.drain)  # a thread of its own, as Huey's worker: the policy is per thread
    worker.start()
    worker.join()
    assert seen == {"job": os.SCHED_IDLE, "heartbeat": os.SCHED_OTHER}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # this thread untouched


def test_one_job_at_a_time_unless_configured(tmp_path, monkeypatch):
    """`smfcast worker` (which `smfcast serve` starts) runs one Huey worker thread by default;
    SMFCAST_QUEUE_WORKERS=N runs N, each in a process of its own."""
    from smfcast.cli import main
    created = []

    class Stop(Exception):
        pass

    def create_consumer(self, **kwargs):
        created.append((kwargs["workers"], kwargs["worker_type"]))
        raise Stop  # the consumer would run until a signal

    monkeypatch.setattr("huey.api.Huey.create_consumer", create_consumer)
    monkeypatch.setattr("os.nice", lambda n: 0)
    store = str(tmp_path / "s.sqlite")
    for setting, expected in ((None, (1, "thread")), ("3", (3, "process"))):
        if setting is not None:
            monkeypatch.setenv("SMFCAST_QUEUE_WORKERS", setting)
        with pytest.raises(Stop):
            main(["--store", store, "worker"])
        assert created[-1] == expected
