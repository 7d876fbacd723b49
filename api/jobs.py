"""Background jobs for long writes (refits, backtest reruns): 202 and a URL to poll.

The work goes through the job queue (`forecast/store/queue.py`) to the worker process that
`smfcast serve` starts beside gunicorn; the job table lives in the run store's SQLite file, so
any HTTP worker answers a poll. A poll also sweeps expired leases, so a job whose worker died
reads `failed` (or `queued` again, once) as soon as its lease has run out, even if no worker is
left to sweep.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, url_for

from smfcast.store.queue import open_queue

from .params import allow, json_body, store
from .tokens import Forbidden, Unauthorized, require_token

__all__ = ["Forbidden", "Unauthorized", "bp", "queue", "require_token", "submit"]

bp = Blueprint("jobs", __name__)


def queue():
    return open_queue(store().path)


def data_dir() -> str:
    return current_app.config["SMFCAST_DATA"]


def submit(kind: str, example: str):
    """A write that becomes a job (`kind`: "refit" or "backtest", the queue's `submit_<kind>`): no query parameters, the token,
    a JSON body (`example` shows one), then 202 with where to poll; `"duplicate": true` when an
    identical job was already queued or running."""
    allow()
    by = require_token()
    body = json_body(example)
    q = queue()
    job, created = getattr(q, f"submit_{kind}")(body, by, data_dir())
    url = url_for("jobs.job", job_id=job["job_id"])
    return jsonify({**job, "url": url, "duplicate": not created}), 202, {"Location": url}


@bp.get("/jobs/<job_id>")
def job(job_id: str):
    allow()
    q = queue()
    q.sweep()
    return jsonify({**q.jobs.get(job_id), "url": url_for("jobs.job", job_id=job_id)})
