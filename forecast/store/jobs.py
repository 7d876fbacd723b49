"""The job table: refits and backtest reruns as rows with a state, progress and a lease.

The queue (`queue.py`) carries job ids; this table, in the run store's SQLite file, is the record
of each job: what was asked and by whom, its state (queued → running → succeeded | failed), its
progress, and its result or error. Any process can read it, so any HTTP worker answers a poll.

* One job per identical request: a request's key (the run or backtest id it will produce, which
  hashes data, settings and code) is unique among queued and running jobs (a partial unique
  index), so an identical request from any process gets the existing job.
* Leases: a running job holds a lease that its worker renews every lease / 4 seconds
  (`Heartbeat`, a small process beside the computation). A job whose lease ran out lost its worker (a deploy, an OOM kill, SIGKILL):
  `sweep` queues it again once and fails it the second time, saying why. A job therefore ends, or
  is retried, within one lease plus one sweep interval of its worker's death.
* Pruning: `sweep(prune=True)` deletes finished jobs older than the retention.

`SMFCAST_JOB_LEASE` (seconds, default 60), `SMFCAST_JOB_ATTEMPTS` (default 2: retried once) and
`SMFCAST_JOB_RETENTION_DAYS` (default 30) change these.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from smfcast.defaults import env_number
from smfcast.errors import NotFound

STATES = ("queued", "running", "succeeded", "failed")
_COLUMNS = {  # name -> declaration; stores made before the queue have only the first eight
    "job_id": "TEXT PRIMARY KEY", "kind": "TEXT NOT NULL", "status": "TEXT NOT NULL", "created": "TEXT NOT NULL",
    "finished": "TEXT", "params": "TEXT NOT NULL", "result": "TEXT", "error": "TEXT",
    "key": "TEXT", "by_name": "TEXT", "data_dir": "TEXT", "started": "TEXT", "attempts": "INTEGER NOT NULL DEFAULT 0",
    "lease_until": "REAL", "worker": "TEXT", "progress": "TEXT",
}
_SHOWN = ["job_id", "kind", "status", "created", "started", "finished", "attempts", "progress", "params", "result", "error", "by_name"]


def _iso(t: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if t is None else t, timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class JobSettings:
    lease: float = 60.0  # seconds without a heartbeat before a running job counts as orphaned
    attempts: int = 2  # runs of one job before it fails for good (2: retried once)
    retention_days: float = 30.0

    @classmethod
    def from_env(cls) -> "JobSettings":
        d = cls()
        return cls(env_number("SMFCAST_JOB_LEASE", d.lease, 1.0), env_number("SMFCAST_JOB_ATTEMPTS", d.attempts, 1, whole=True),
                   env_number("SMFCAST_JOB_RETENTION_DAYS", d.retention_days, 0.0))

    @property
    def heartbeat(self) -> float:
        return self.lease / 4


class JobTable:
    """The `jobs` table of one run store. Connections are per thread and per process (a forked
    queue worker opens its own)."""

    def __init__(self, store_path: str | Path, settings: JobSettings | None = None):
        self.path = Path(store_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.settings = settings or JobSettings.from_env()
        self._local = threading.local()
        self._migrate()

    def _connect(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None or self._local.pid != os.getpid():
            con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA busy_timeout=60000")
            self._local.con, self._local.pid = con, os.getpid()
        return con

    def _migrate(self) -> None:
        con = self._connect()
        con.execute("CREATE TABLE IF NOT EXISTS jobs (" + ", ".join(f"{k} {v}" for k, v in _COLUMNS.items()) + ")")
        if {r[1] for r in con.execute("PRAGMA table_info(jobs)")} < set(_COLUMNS):
            with _transaction(con):  # a store from before the queue: add the new columns once
                have = {r[1] for r in con.execute("PRAGMA table_info(jobs)")}
                for name, decl in _COLUMNS.items():
                    if name not in have:
                        con.execute(f"ALTER TABLE jobs ADD COLUMN {name} {decl}")
        con.execute("CREATE UNIQUE INDEX IF NOT EXISTS jobs_active_key ON jobs (key) WHERE status IN ('queued', 'running')")
        con.execute("CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status)")

    def submit(self, kind: str, params: dict, key: str, by: str, data_dir: str) -> tuple[dict, bool]:
        """(job, created): a new queued job, or the queued or running job with the same key."""
        con = self._connect()
        with _transaction(con):
            row = con.execute("SELECT job_id FROM jobs WHERE key = ? AND status IN ('queued', 'running')", (key,)).fetchone()
            if row is not None:
                job_id, created = row[0], False
            else:
                job_id, created = uuid.uuid4().hex[:16], True
                con.execute("INSERT INTO jobs (job_id, kind, status, created, params, key, by_name, data_dir, attempts) "
                            "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, 0)", (job_id, kind, _iso(), json.dumps(params), key, by, data_dir))
        return self.get(job_id), created

    def get(self, job_id: str) -> dict:
        row = self._connect().execute(f"SELECT {', '.join(_SHOWN)} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"unknown job {job_id!r}", "job_id")
        out = dict(zip(_SHOWN, row))
        out["by"] = out.pop("by_name")
        for name in ("params", "result", "progress"):
            out[name] = json.loads(out[name]) if out[name] else None
        return out

    def work(self, job_id: str) -> tuple[str, dict, str, str]:
        """(kind, params, requester, data directory) of a job, for the worker that runs it."""
        row = self._connect().execute("SELECT kind, params, by_name, data_dir FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"unknown job {job_id!r}", "job_id")
        return row[0], json.loads(row[1]), row[2], row[3]

    def claim(self, job_id: str, worker: str) -> int | None:
        """Take a queued job: running, one more attempt, a fresh lease. The attempt number, or None
        when the job is not queued (another worker took it, or it ended)."""
        con = self._connect()
        now = time.time()
        with _transaction(con):
            cur = con.execute("UPDATE jobs SET status = 'running', attempts = attempts + 1, started = ?, lease_until = ?, worker = ? "
                              "WHERE job_id = ? AND status = 'queued'", (_iso(now), now + self.settings.lease, worker, job_id))
            if cur.rowcount != 1:
                return None
            return con.execute("SELECT attempts FROM jobs WHERE job_id = ?", (job_id,)).fetchone()[0]

    def renew(self, job_id: str, attempt: int, progress: dict | None = None) -> bool:
        """Extend the lease (and record progress); False when this attempt no longer owns the job."""
        sets, args = "lease_until = ?", [time.time() + self.settings.lease]
        if progress is not None:
            sets, args = sets + ", progress = ?", args + [json.dumps(progress)]
        cur = self._connect().execute(f"UPDATE jobs SET {sets} WHERE job_id = ? AND status = 'running' AND attempts = ?",
                                      (*args, job_id, attempt))
        return cur.rowcount == 1

    def finish(self, job_id: str, attempt: int, status: str, result: dict | None = None, error: str | None = None) -> bool:
        """Record the end of an attempt that still owns the job (a swept attempt's late answer is dropped)."""
        assert status in ("succeeded", "failed")
        cur = self._connect().execute(
            "UPDATE jobs SET status = ?, finished = ?, result = ?, error = ?, lease_until = NULL "
            "WHERE job_id = ? AND status = 'running' AND attempts = ?",
            (status, _iso(), json.dumps(result) if result is not None else None, error, job_id, attempt))
        return cur.rowcount == 1

    def fail(self, job_id: str, error: str) -> None:
        """End a job that never ran (e.g. the queue refused it)."""
        self._connect().execute("UPDATE jobs SET status = 'failed', finished = ?, error = ? WHERE job_id = ? AND status = 'queued'",
                                (_iso(), error, job_id))

    def sweep(self, prune: bool = False) -> list[str]:
        """End or requeue running jobs whose lease ran out; with `prune`, delete old finished jobs.
        Returns the ids queued again (the caller puts them back on the queue)."""
        con = self._connect()
        now = time.time()
        expired = "status = 'running' AND (lease_until IS NULL OR lease_until < ?)"
        if not prune and con.execute(f"SELECT 1 FROM jobs WHERE {expired} LIMIT 1", (now,)).fetchone() is None:
            return []
        requeued = []
        lease, attempts = self.settings.lease, self.settings.attempts
        with _transaction(con):
            rows = con.execute(f"SELECT job_id, attempts, key, lease_until FROM jobs WHERE {expired}", (now,)).fetchall()
            for job_id, attempt, key, lease_until in rows:
                lost = (f"attempt {attempt} lost its worker (no heartbeat for {lease:g} s: the worker process stopped)"
                        if lease_until is not None else "the server process running it stopped (the job held no lease)")
                if key is not None and attempt < attempts:
                    con.execute("UPDATE jobs SET status = 'queued', lease_until = NULL, worker = NULL, error = ? WHERE job_id = ?",
                                (f"{lost}; queued again", job_id))
                    requeued.append(job_id)
                else:
                    con.execute("UPDATE jobs SET status = 'failed', finished = ?, lease_until = NULL, error = ? WHERE job_id = ?",
                                (_iso(now), f"{lost}; that was the last of {attempts} attempts; send the request again to retry",
                                 job_id))
            if prune:
                cutoff = _iso(now - timedelta(days=self.settings.retention_days).total_seconds())
                con.execute("DELETE FROM jobs WHERE status IN ('succeeded', 'failed') AND finished < ?", (cutoff,))
        return requeued


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error."""

    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def __enter__(self):
        self.con.execute("BEGIN IMMEDIATE")
        return self.con

    def __exit__(self, kind, exc, tb):
        self.con.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


class Heartbeat:
    """Renews one attempt's lease every `settings.heartbeat` seconds from a small process of its own,
    so a computation that holds the GIL for seconds (numba compiling, a long C fit) cannot starve it.
    The beat stops when the attempt ends, when the job is no longer this attempt's, or when the
    worker dies (its parent process changes), and then the lease runs out. `report` records progress."""

    def __init__(self, table: JobTable, job_id: str, attempt: int):
        self.table, self.job_id, self.attempt = table, job_id, attempt
        self._proc: subprocess.Popen | None = None

    def report(self, **progress) -> None:
        self.table.renew(self.job_id, self.attempt, progress)

    def __enter__(self) -> "Heartbeat":
        s = self.table.settings
        self._proc = subprocess.Popen([sys.executable, "-m", "smfcast.store.jobs", str(self.table.path), self.job_id, str(self.attempt),
                                       str(s.lease), str(s.heartbeat), str(os.getpid())])
        return self

    def __exit__(self, *exc) -> bool:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait()
        return False


def _beat(path: str, job_id: str, attempt: str, lease: str, interval: str, parent: str) -> None:
    """The heartbeat process: renew until the attempt no longer owns the job or its worker is gone."""
    table = JobTable(path, JobSettings(lease=float(lease)))
    while os.getppid() == int(parent) and table.renew(job_id, int(attempt)):
        time.sleep(float(interval))


if __name__ == "__main__":
    _beat(*sys.argv[1:7])
