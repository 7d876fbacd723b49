"""Background jobs for long writes (refits, backtest reruns): 202 + a URL to poll.

Jobs live in the run store's SQLite file, so any gunicorn worker can answer a poll for a job
another worker started. The work runs in a thread of the worker that accepted it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import traceback
import uuid
from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify, request, url_for

from forecast.errors import NotFound, SmfcastError

from .params import allow, store

bp = Blueprint("jobs", __name__)

_SCHEMA = """CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, created TEXT NOT NULL,
    finished TEXT, params TEXT NOT NULL, result TEXT, error TEXT)"""


def _db() -> sqlite3.Connection:
    con = sqlite3.connect(store().path, timeout=60, isolation_level=None)
    con.execute("PRAGMA busy_timeout=60000")
    con.execute(_SCHEMA)
    return con


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def start_job(kind: str, params: dict, work) -> tuple[dict, int, dict]:
    """Record a job, run `work()` in a thread, and answer 202 with where to poll."""
    job_id = uuid.uuid4().hex[:16]
    path = store().path
    with _db() as con:
        con.execute("INSERT INTO jobs VALUES (?, ?, 'running', ?, NULL, ?, NULL, NULL)", (job_id, kind, _now(), json.dumps(params)))
    app = current_app._get_current_object()

    def runner():
        with app.app_context():
            status, result, error = "succeeded", None, None
            try:
                result = json.dumps(work())
            except SmfcastError as exc:
                status, error = "failed", exc.message
            except Exception as exc:  # noqa: BLE001 - a job must always end in a recorded state
                app.logger.error("job %s failed: %s", job_id, traceback.format_exc())
                status, error = "failed", f"{type(exc).__name__}: {exc}"
            con = sqlite3.connect(path, timeout=60, isolation_level=None)
            con.execute("UPDATE jobs SET status = ?, finished = ?, result = ?, error = ? WHERE job_id = ?",
                        (status, _now(), result, error, job_id))
            con.close()

    threading.Thread(target=runner, name=f"job-{job_id}", daemon=True).start()
    url = url_for("jobs.job", job_id=job_id)
    return {"job_id": job_id, "kind": kind, "status": "running", "url": url}, 202, {"Location": url}


def require_token() -> None:
    """Writes need `Authorization: Bearer <token>` when SMFCAST_API_TOKEN is set."""
    token = current_app.config.get("SMFCAST_API_TOKEN")
    if not token:
        return
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthorized("this endpoint needs 'Authorization: Bearer <token>'", "Authorization")
    if header != f"Bearer {token}":
        raise Forbidden("the bearer token is not valid for this server", "Authorization")


class Unauthorized(SmfcastError):
    status = 401


class Forbidden(SmfcastError):
    status = 403


@bp.get("/jobs/<job_id>")
def job(job_id: str):
    allow()
    with _db() as con:
        row = con.execute("SELECT job_id, kind, status, created, finished, params, result, error FROM jobs WHERE job_id = ?",
                          (job_id,)).fetchone()
    if row is None:
        raise NotFound(f"unknown job {job_id!r}", "job_id")
    keys = ["job_id", "kind", "status", "created", "finished", "params", "result", "error"]
    out = dict(zip(keys, row))
    out["params"] = json.loads(out["params"])
    out["result"] = json.loads(out["result"]) if out["result"] else None
    return jsonify(out)
