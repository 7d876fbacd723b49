"""Replacing several registry files as one step, so that no crash leaves them half-changed.

Each new file is written beside its target as a temporary file and fsynced; then a journal naming
every (temporary, target) pair is put in place (itself by rename, so it is whole or absent); then
the temporaries are renamed over their targets in the given order and the journal is removed. A
crash before the journal exists leaves every target untouched; a crash after it leaves a journal
that `recover` completes (every temporary it names is already complete on disk). Callers order the
renames so that each intermediate state is itself a valid registry (see `intake`), and the change
log goes last, so the log never records a change the data does not hold.

Writers hold `locked(data_dir)`, an exclusive lock on a file in the data directory, so two
commands or API workers never interleave their changes.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

JOURNAL = ".pending-change.json"
LOCK = ".registry.lock"
TEMP_MARK = ".tmp-"  # temporaries are named `.NAME.tmp-TOKEN`: hidden, and never matched by `*.csv` or `*.toml`


@contextmanager
def locked(data_dir: Path) -> Iterator[None]:
    """Hold the data directory's write lock (blocking until other writers are done)."""
    with open(Path(data_dir) / LOCK, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(target: Path, data: bytes) -> Path:
    temp = target.with_name(f".{target.name}{TEMP_MARK}{secrets.token_hex(4)}")
    with open(temp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.chmod(temp, target.stat().st_mode & 0o777)
    except FileNotFoundError:
        pass
    return temp


def replace_files(data_dir: Path, files: list[tuple[str, bytes]]) -> None:
    """Replace each named file of `data_dir` by its bytes, renaming in the order given."""
    data_dir = Path(data_dir)
    temps: list[tuple[Path, Path]] = []
    try:
        for name, data in files:
            target = data_dir / name
            temps.append((_write_temp(target, data), target))
        journal = data_dir / JOURNAL
        body = json.dumps({"renames": [[t.name, target.name] for t, target in temps]}).encode()
        temps.append((_write_temp(journal, body), journal))
        os.replace(temps[-1][0], journal)
        _fsync_dir(data_dir)
    except BaseException:
        for temp, _ in temps:  # nothing has been renamed yet: every target is as it was
            temp.unlink(missing_ok=True)
        (data_dir / JOURNAL).unlink(missing_ok=True)
        raise
    _finish(data_dir)


def _finish(data_dir: Path) -> None:
    journal = data_dir / JOURNAL
    for temp_name, target_name in json.loads(journal.read_text(encoding="utf-8"))["renames"]:
        temp = data_dir / temp_name
        if temp.exists():  # already renamed when a previous attempt got past it
            os.replace(temp, data_dir / target_name)
    _fsync_dir(data_dir)
    journal.unlink()
    _fsync_dir(data_dir)


def pending(data_dir: Path) -> bool:
    """Whether an interrupted replacement is waiting for `recover`."""
    return (Path(data_dir) / JOURNAL).exists()


def recover(data_dir: Path) -> bool:
    """Complete an interrupted replacement and remove stray temporaries; call with the lock held.
    Returns whether a replacement was completed."""
    data_dir = Path(data_dir)
    completed = False
    if pending(data_dir):
        try:
            _finish(data_dir)
            completed = True
        except (ValueError, KeyError):  # an unreadable journal was never put in place by rename; drop it
            (data_dir / JOURNAL).unlink()
    for stray in data_dir.glob(f".*{TEMP_MARK}*"):  # written by a writer that died before its journal
        stray.unlink(missing_ok=True)
    return completed
