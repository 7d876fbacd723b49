"""The store quota: how many runs, and how many bytes of sample paths, a run store keeps.

Every distinct seed or configuration is a new run (about 10 MB at 2,000 paths, 50 MB at the
10,000-path maximum), so a store that only grows fills the disk. After each new run the store
prunes runs oldest first until it holds at most `max_runs` runs and `max_bytes` of paths. Runs
that were ever published are never pruned (a link may pin them, and a publication must stay
reversible), nor is the run just stored; when those alone exceed the quota, the store keeps them
and says so in the log. Backtests are kept to the newest `max_backtests`.

`SMFCAST_STORE_MAX_RUNS`, `SMFCAST_STORE_MAX_MB` and `SMFCAST_STORE_MAX_BACKTESTS` change the limits.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

from smfcast.defaults import env_number
from smfcast.store.publications import ever_published

log = logging.getLogger("smfcast.store")


@dataclass(frozen=True)
class Quota:
    max_runs: int = 50
    max_bytes: int = 2000 * 10**6
    max_backtests: int = 50

    @classmethod
    def from_env(cls) -> "Quota":
        d = cls()
        return cls(env_number("SMFCAST_STORE_MAX_RUNS", d.max_runs, 1, whole=True),
                   env_number("SMFCAST_STORE_MAX_MB", d.max_bytes // 10**6, 1, whole=True) * 10**6,
                   env_number("SMFCAST_STORE_MAX_BACKTESTS", d.max_backtests, 1, whole=True))


def prune(con: sqlite3.Connection, quota: Quota, keep: str) -> list[str]:
    """Delete unpublished runs, oldest first, until the store is within `quota`; never `keep`.
    Runs inside the caller's transaction. Returns the pruned run ids."""
    sizes = con.execute("SELECT r.run_id, COALESCE(SUM(LENGTH(p.data)), 0) FROM runs r LEFT JOIN paths p ON p.run_id = r.run_id "
                        "GROUP BY r.run_id ORDER BY r.rowid").fetchall()
    protected = ever_published(con) | {keep}
    count, total = len(sizes), sum(size for _, size in sizes)
    pruned = []
    for run_id, size in sizes:
        if count <= quota.max_runs and total <= quota.max_bytes:
            break
        if run_id in protected:
            continue
        con.execute("DELETE FROM paths WHERE run_id = ?", (run_id,))
        con.execute("DELETE FROM run_files WHERE run_id = ?", (run_id,))
        con.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        pruned.append(run_id)
        count, total = count - 1, total - size
    if count > quota.max_runs or total > quota.max_bytes:
        log.warning("the run store holds %d runs and %.0f MB, over its quota (%d runs, %.0f MB): the rest are published or new",
                    count, total / 1e6, quota.max_runs, quota.max_bytes / 1e6)
    if pruned:
        log.info("store quota: pruned runs %s", ", ".join(pruned))
    con.execute("DELETE FROM backtests WHERE rowid NOT IN (SELECT rowid FROM backtests ORDER BY rowid DESC LIMIT ?)",
                (quota.max_backtests,))
    return pruned
