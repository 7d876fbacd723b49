"""`smfcast serve` as it runs in production, in real processes on a loopback port: the token file it
creates, gunicorn's limits, writes locked, identical refits computed once, unpinned reads pinned to
the published run while other runs are made, and a job worker killed with SIGKILL mid-refit."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from smfcast.engine.headline import EngineConfig
from smfcast.store.runs import RunStore, create_run
from tests.conftest import DATA, REPO

LEASE = 3.0  # seconds: short, so the fault test ends quickly
FIRST = EngineConfig(n_paths=100, models=("theta",), backtest_windows=0)
# a refit that takes a few seconds (three members, backtests): long enough to be caught running
SLOW_REFIT = {"n_paths": 400, "models": ["arima", "ets", "theta"], "backtest_paths": 200}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra) -> dict:
    env = {"PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""), "OPENBLAS_NUM_THREADS": "1",
           "HOME": os.environ.get("HOME", "/tmp")}
    return {**env, **extra}


def _request(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict | None]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
            return r.status, json.loads(text) if text and r.headers.get_content_type().endswith("json") else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class Server:
    def __init__(self, base: str, proc: subprocess.Popen, store: Path, log: Path):
        self.base, self.proc, self.store, self.log = base, proc, store, log
        self.token = self.token_file.read_text().split()[-1]

    @property
    def token_file(self) -> Path:
        return self.store.with_name(self.store.stem + ".tokens")

    def get(self, path: str):
        return _request(self.base + path)

    def post(self, path: str, body: dict | None = None, token: str | None = "valid", headers: dict | None = None):
        h = {"Content-Type": "application/json", **(headers or {})}
        if token:
            h["Authorization"] = f"Bearer {self.token if token == 'valid' else token}"
        return _request(self.base + path, "POST", json.dumps(body or {}).encode(), h)

    def job_row(self, job_id: str) -> dict:
        con = sqlite3.connect(self.store)
        row = con.execute("SELECT status, attempts, worker FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        con.close()
        return dict(zip(("status", "attempts", "worker"), row))

    def wait_job(self, job_id: str, until, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, job = self.get(f"/v1/jobs/{job_id}")
            if until(job):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not get there within {timeout} s: {job}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`smfcast serve` with 2 gunicorn workers and its job worker, over a store holding one published run.
    Jobs run at the worker's niceness, not on idle CPU only: on a machine busy with other tests an
    idle-class refit could wait for minutes."""
    folder = tmp_path_factory.mktemp("serve")
    store = folder / "live.sqlite"
    create_run(DATA, FIRST, RunStore(store))
    port = _free_port()
    log = folder / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "smfcast.cli", "--store", str(store), "serve", "--port", str(port),
                                 "--workers", "2"], cwd=REPO, env=_env(SMFCAST_JOB_LEASE=str(LEASE), SMFCAST_WORKER_IDLE="0"),
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(base + "/v1/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError("the server exited: " + log.read_text()) from None
                time.sleep(0.1)
        else:
            raise AssertionError("smfcast serve did not answer /v1/health: " + log.read_text())
        yield Server(base, proc, store, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def test_serve_creates_a_private_token_file_and_says_where(server):
    assert server.token_file.stat().st_mode & 0o777 == 0o600
    assert f"created {server.token_file} (mode 0600)" in server.log.read_text()
    assert len(server.token) >= 32


def test_gunicorn_runs_with_explicit_limits_beside_the_worker(server):
    cmdlines = [Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0") for p in _children(server.proc.pid)]
    gunicorn = next(c for c in cmdlines if any(b"gunicorn" in a for a in c))
    for flag in (b"--timeout", b"--graceful-timeout", b"--max-requests", b"--max-requests-jitter"):
        assert flag in gunicorn
    assert any(b"worker" in c for c in cmdlines if not any(b"gunicorn" in a for a in c))


def test_writes_need_the_token(server):
    status, body = server.post("/v1/runs", {"seed": 5}, token=None)
    assert status == 401 and body["errors"][0]["field"] == "Authorization"
    status, body = server.post("/v1/runs", {"seed": 5}, token="not-the-token")
    assert status == 403 and body["errors"][0]["field"] == "Authorization"


def test_a_cross_site_form_post_changes_nothing(server):
    con = sqlite3.connect(server.store)
    before = con.execute("SELECT COUNT(*) FROM jobs").fetchone()[0], con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    # what <form method=post action=http://127.0.0.1:PORT/v1/runs> on another site sends: no Authorization
    for body, ctype in ((b"", "application/x-www-form-urlencoded"), (b"seed=1", "application/x-www-form-urlencoded"),
                        (b"seed=1", "text/plain")):
        status, _ = _request(server.base + "/v1/runs", "POST", body, {"Content-Type": ctype, "Origin": "https://evil.example"})
        assert status == 401
    time.sleep(0.5)
    after = con.execute("SELECT COUNT(*) FROM jobs").fetchone()[0], con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert after == before


def test_identical_refits_compute_once_and_unpinned_reads_stay_on_the_published_run(server):
    _, health = server.get("/v1/health")
    published = health["run_id"]
    seen, stop = set(), threading.Event()

    def read_unpinned():  # a spreadsheet refreshing, paced so the (niced) refit is not starved of CPU
        while not stop.wait(0.05):
            status, body = server.get("/v1/forecasts?metric=npl_ratio&scenario=adverse")
            assert status == 200
            seen.add(body["run_id"])

    readers = [threading.Thread(target=read_unpinned) for _ in range(2)]
    for t in readers:
        t.start()
    body = {**SLOW_REFIT, "seed": 101}
    barrier = threading.Barrier(4)

    def post(_):
        barrier.wait()
        return server.post("/v1/runs", body)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(post, range(4)))
    try:
        assert all(status == 202 for status, _ in answers)
        assert len({a["job_id"] for _, a in answers}) == 1  # four identical requests, one job
        assert sorted(a["duplicate"] for _, a in answers) == [False, True, True, True]
        job = server.wait_job(answers[0][1]["job_id"], lambda j: j["status"] in ("succeeded", "failed"), 120)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert job["status"] == "succeeded" and job["attempts"] == 1 and job["result"]["published"] is False
    con = sqlite3.connect(server.store)
    assert con.execute("SELECT COUNT(*) FROM jobs WHERE params LIKE '%\"seed\": 101,%'").fetchone()[0] == 1
    assert seen == {published}  # while another run was made and stored, live links kept the published one
    assert server.get("/v1/forecasts?metric=npl_ratio")[1]["run_id"] == published
    assert server.get("/v1/health")[1]["newest_run_id"] == job["result"]["run_id"] != published


def _digests(store: Path) -> dict:
    con = sqlite3.connect(store)
    out = {}
    for run_id, metric, model, scenario, data in con.execute("SELECT run_id, metric, model, scenario, data FROM paths"):
        out[(run_id, metric, model, scenario)] = hashlib.sha256(data).hexdigest()
    con.close()
    return out


@pytest.mark.slow
def test_a_worker_killed_mid_refit_ends_the_job_within_the_lease(server):
    earlier = _digests(server.store)
    status, job = server.post("/v1/runs", {**SLOW_REFIT, "seed": 202})
    assert status == 202
    job_id = job["job_id"]
    killed_at = []
    for attempt in (1, 2):
        running = server.wait_job(job_id, lambda j, a=attempt: j["status"] == "running" and j["attempts"] == a, 60)
        assert running["status"] == "running"
        pid = int(server.job_row(job_id)["worker"].rsplit(":", 1)[1])
        os.kill(pid, signal.SIGKILL)
        killed_at.append(time.monotonic())
        if attempt == 1:  # retried once: queued again when the lease runs out
            requeued = server.wait_job(job_id, lambda j: j["attempts"] == 1 and j["status"] == "queued" or j["attempts"] == 2,
                                       LEASE + 5)
            assert "attempt 1 lost its worker" in (requeued["error"] or "")
    failed = server.wait_job(job_id, lambda j: j["status"] in ("failed", "succeeded"), LEASE + 5)
    took = time.monotonic() - killed_at[-1]
    assert failed["status"] == "failed" and "last of 2 attempts" in failed["error"], failed
    assert took <= LEASE + 5
    con = sqlite3.connect(server.store)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert sqlite3.connect(server.store.with_name("live.queue.sqlite")).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    after = _digests(server.store)
    assert {k: after.get(k) for k in earlier} == earlier  # every earlier run intact
    assert server.get("/v1/health")[0] == 200  # and the server still answers; the supervisor restarted the worker
    assert server.proc.poll() is None


def test_serve_refuses_a_public_address_without_an_explicit_token(tmp_path):
    done = subprocess.run([sys.executable, "-m", "smfcast.cli", "--store", str(tmp_path / "s.sqlite"), "serve", "--host", "0.0.0.0",
                           "--port", str(_free_port())], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "refusing to listen on 0.0.0.0" in done.stderr
    assert not (tmp_path / "s.sqlite").exists() or not RunStore(tmp_path / "s.sqlite").list()  # refused before any work
