"""The change log, `changes.csv` beside the registry: every change ever made through smfcast, kept.

One row per edit; the edits of one change (a whole import, say) share its `change_id`. The columns
a person reads are `time` (UTC), `who`, `action`, `series_id`, `period`, `old_value`, `new_value`,
`source_id`, `quality` and `reason`; `file`, `place`, `before` and `after` hold the exact text the
edit replaced and wrote (see `texts`), which is what lets `smfcast data revert` restore a file
byte for byte. The log is only ever appended to, in the same atomic step as the data it describes,
so the newest row touching a series is that series' data vintage: when it last changed, and on
what source.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

from smfcast.errors import DataError

LOG = "changes.csv"
COLUMNS = ("change_id", "time", "who", "action", "series_id", "period", "old_value", "new_value", "source_id", "quality",
           "reason", "reverts", "file", "place", "before", "after")
HISTORY_COLUMNS = ["change_id", "time", "who", "action", "series_id", "period", "old_value", "new_value", "source_id",
                   "quality", "reason", "reverts"]
# Actions: add / revise / remove (an observation), add source / remove source, add series /
# remove series, set headline, and revert (the edits that undo an earlier change).


def log_text(data_dir: Path) -> str:
    path = Path(data_dir) / LOG
    return path.read_text(encoding="utf-8") if path.exists() else ""


def read_log(data_dir: Path, text: str | None = None) -> list[dict]:
    """Every row of the change log, oldest first (empty when no change was ever made)."""
    text = log_text(data_dir) if text is None else text
    if not text:
        return []
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise DataError(Path(data_dir) / LOG, 1, None, f"header must be {','.join(COLUMNS)}")
    return list(reader)


def appended(text: str, entries: list[dict]) -> str:
    """The log's text with `entries` added at the end; what was there is kept byte for byte."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if not text:
        writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow(["" if entry.get(c) is None else str(entry[c]) for c in COLUMNS])
    if text and not text.endswith("\n"):
        text += "\n"
    return text + buf.getvalue()


def next_change_id(entries: list[dict]) -> str:
    """Change ids count up from 1: `smfcast data revert 7` is easy to type and to read."""
    return str(max((int(e["change_id"]) for e in entries if e["change_id"].isdigit()), default=0) + 1)


def change(entries: list[dict], change_id: str) -> list[dict]:
    """The edits of one change, in the order they were made."""
    return [e for e in entries if e["change_id"] == change_id]


def history(entries: list[dict], series_id: str | None = None) -> list[dict]:
    """The log rows a person reads (newest first), for one series or for all, as every door answers
    them (`HISTORY_COLUMNS`): an observation's `old_value` and `new_value` are numbers, the other
    edits' the text they replaced and wrote (a series id), None where there was none."""
    rows = []
    for e in entries:
        if series_id is None or e["series_id"] == series_id:
            row = {c: e[c] for c in HISTORY_COLUMNS}
            for key in ("old_value", "new_value"):
                row[key] = None if e[key] == "" else _number(e[key]) if e["period"] else e[key]
            rows.append(row)
    return rows[::-1]


def _number(text: str):
    """An observation's value as the log recorded it, as a number (whole numbers stay whole)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def last_changes(entries: list[dict]) -> dict[str, dict]:
    """series id -> the newest log row that changed one of its observations or its definition."""
    out = {}
    for e in entries:
        if e["series_id"] and e["action"] != "set headline":
            out[e["series_id"]] = {"change_id": e["change_id"], "time": e["time"], "action": e["action"],
                                   "period": e["period"], "source_id": e["source_id"]}
    return out


def vintage(data_dir: Path, series_ids: list[str], text: str | None = None) -> dict:
    """What a run records about the data it used: the log's digest and length, and for each series
    its last change (None for a series unchanged since the registry was compiled). `text`: the
    log as the run read it (default: read from `data_dir`)."""
    text = log_text(data_dir) if text is None else text
    entries = read_log(data_dir, text)
    last = last_changes(entries)
    return {"log": LOG, "log_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None,
            "log_rows": len(entries), "last_change_id": entries[-1]["change_id"] if entries else None,
            "series": {sid: last.get(sid) for sid in series_ids}}
