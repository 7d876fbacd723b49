"""Where the registry lives: the one a command or the server reads, and the one it writes.

An installed smfcast ships its registry as package data (`smfcast.data`); inside site-packages it
must never be written. So:

* `SMFCAST_DATA` (or `--data`) names a registry folder: it is read and written;
* otherwise the per-user data folder, `$XDG_DATA_HOME/smfcast/data` (by default
  `~/.local/share/smfcast/data`), once it exists;
* otherwise the shipped copy, read only. The first write (`smfcast data add`, `POST
  /v1/observations`, `smfcast serve`) creates the per-user folder from the shipped copy and writes
  there, so reading never creates a file and the shipped registry is never changed.

In a source checkout (an editable install) the shipped copy is the repository's `data/`; to change
that folder itself, name it: `--data data`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

REGISTRY_GLOBS = ("*.csv", "*.toml", "scenarios/*.toml", "NOTES.md")  # what a registry folder holds (package data too)


def shipped_data_dir() -> Path:
    """The registry installed with the package (the repository's `data/` in a source checkout)."""
    from importlib.resources import files
    return Path(str(files("smfcast.data")))


def user_data_dir() -> Path:
    """The per-user registry folder: `$XDG_DATA_HOME/smfcast/data`, or `~/.local/share/smfcast/data`."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "smfcast" / "data"


def configured_data_dir() -> Path | None:
    """`SMFCAST_DATA` when it is set (and not empty)."""
    env = os.environ.get("SMFCAST_DATA", "").strip()
    return Path(env) if env else None


def default_data_dir() -> Path:
    """The registry to read: `SMFCAST_DATA`, else the per-user folder if it exists, else the shipped copy."""
    configured = configured_data_dir()
    if configured is not None:
        return configured
    user = user_data_dir()
    return user if (user / "series.toml").is_file() else shipped_data_dir()


def writable_data_dir(data_dir: str | Path | None = None) -> Path:
    """The registry to write: `data_dir` when given, `SMFCAST_DATA`, else the per-user folder,
    created from the shipped copy when it does not exist yet."""
    if data_dir is not None:
        return Path(data_dir)
    configured = configured_data_dir()
    if configured is not None:
        return configured
    user = user_data_dir()
    if not (user / "series.toml").is_file():
        copy_registry(shipped_data_dir(), user)
    return user


def copy_registry(source: Path, target: Path) -> None:
    """Copy a registry folder's files to `target`, which must not hold a registry yet. Written
    beside it and renamed into place, so a concurrent reader never sees half a folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".smfcast-data-", dir=target.parent))
    try:
        for pattern in REGISTRY_GLOBS:
            for path in source.glob(pattern):
                dest = staging / path.relative_to(source)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "series.toml").is_file():  # another process made it first: use that one
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
