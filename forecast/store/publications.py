"""Publications: which run answers requests that name no run, and the history of that choice.

A spreadsheet's live link names no run, so what it shows must be a decision, not an accident of
insertion order. A run answers unpinned requests only once published; `?run=ID` still pins any
stored run. Each publication is a row (run, time, who, reason) that is never changed or deleted
(triggers refuse it), and the current run is the newest row. The first run stored in an empty
store is published by the store itself, so a fresh install serves something; every later run
waits for `smfcast publish` or `POST /v1/runs/{id}/publish`.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from smfcast.errors import InvalidInput, NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS publications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, published TEXT NOT NULL,
    by TEXT NOT NULL, reason TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS publications_no_update BEFORE UPDATE ON publications
BEGIN SELECT RAISE(ABORT, 'publications are append-only'); END;
CREATE TRIGGER IF NOT EXISTS publications_no_delete BEFORE DELETE ON publications
BEGIN SELECT RAISE(ABORT, 'publications are append-only'); END;
"""
COLUMNS = ["seq", "run_id", "published", "by", "reason", "current"]
FIRST_RUN = ("smfcast", "the first run stored in an empty store")
MAX_REASON = 500


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def current(con: sqlite3.Connection) -> str | None:
    """The published run's id (the newest publication), or None before any run exists."""
    row = con.execute("SELECT run_id FROM publications ORDER BY seq DESC LIMIT 1").fetchone()
    return row[0] if row else None


def ever_published(con: sqlite3.Connection) -> set[str]:
    """Every run that was published at some time: links may pin them, so the quota keeps them."""
    return {r[0] for r in con.execute("SELECT DISTINCT run_id FROM publications")}


def insert(con: sqlite3.Connection, run_id: str, by: str, reason: str) -> dict:
    """Append a publication (inside the caller's transaction; the run must exist)."""
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidInput(f"reason must be text of at most {MAX_REASON} characters", "reason")
    if con.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
        raise NotFound(f"unknown run {run_id!r}; `smfcast runs` lists the stored runs", "run_id")
    published = _now()
    cur = con.execute("INSERT INTO publications (run_id, published, by, reason) VALUES (?, ?, ?, ?)", (run_id, published, by, reason))
    return {"seq": cur.lastrowid, "run_id": run_id, "published": published, "by": by, "reason": reason, "current": True}


def history(con: sqlite3.Connection) -> list[dict]:
    """Every publication, newest first; `current` marks the one that answers unpinned requests."""
    rows = con.execute("SELECT seq, run_id, published, by, reason FROM publications ORDER BY seq DESC").fetchall()
    return [{"seq": seq, "run_id": run_id, "published": published, "by": by, "reason": reason, "current": i == 0}
            for i, (seq, run_id, published, by, reason) in enumerate(rows)]
