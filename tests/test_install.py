"""What `pip install .` (not editable) puts into site-packages works on its own: one package,
`smfcast`, with the registry as package data; nothing named `forecast` or `api`; a run of the
shipped data without SMFCAST_DATA; and a server started in a folder that holds a `forecast.py`
and an `api.py` (a forecasting user's working folder) serves normally."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import DATA, REPO

SHADOWS = {"forecast.py": "raise SystemExit('the working folder shadowed the service')\n",
           "api.py": "raise SystemExit('the working folder shadowed the service')\n"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package as `pip install .` builds it, into a folder of its own (no dependencies: the
    test environment has them)."""
    target = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target",
                           str(target), str(REPO)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def _env(installed: Path, home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMFCAST_", "XDG_"))}
    return {**env, "PYTHONPATH": str(installed), "HOME": str(home), "OPENBLAS_NUM_THREADS": "1", **extra}


@pytest.mark.slow
def test_a_regular_install_is_one_package_that_runs_the_shipped_data(installed, tmp_path):
    top = sorted(p.name for p in installed.iterdir() if p.is_dir() and not p.name.endswith(".dist-info") and p.name != "bin")
    assert top == ["smfcast"]
    assert {"observations.csv", "series.toml", "sources.toml", "levers.toml", "targets.toml"} <= \
        {p.name for p in (installed / "smfcast" / "data").iterdir()}
    assert (installed / "smfcast" / "api" / "templates" / "index.html").is_file()
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    for name, text in SHADOWS.items():
        (work / name).write_text(text, encoding="utf-8")
    env = _env(installed, home, SMFCAST_STORE=str(tmp_path / "runs.sqlite"))
    probe = subprocess.run([sys.executable, "-c", "import smfcast, smfcast.registry.location as l; "
                            "print(smfcast.__version__); print(smfcast.__file__); print(l.default_data_dir())"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    version, where, data = probe.stdout.split()
    assert re.match(r"^\d+\.\d+", version) and Path(where).is_relative_to(installed)
    assert Path(data) == installed / "smfcast" / "data"
    run = subprocess.run([sys.executable, "-m", "smfcast.cli", "run", "--models", "ets,theta", "--paths", "200"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    run_id = re.search(r"^run ([0-9a-f]{16}) ", run.stdout, re.M).group(1)
    from smfcast.engine.config import EngineConfig
    from smfcast.store.runs import run_id_for
    # the shipped headline run: the same id as the repository's data and code give in this checkout
    assert run_id == run_id_for(DATA, EngineConfig(models=("ets", "theta"), n_paths=200))[0]
    assert not (home / ".local").exists()  # reading the shipped registry wrote nothing
    add = subprocess.run([sys.executable, "-m", "smfcast.cli", "data", "source", "add", "my_note", "--publisher", "me", "--title", "t",
                          "--quote", "q"], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert add.returncode == 0, add.stderr
    user = home / ".local" / "share" / "smfcast" / "data"
    assert "my_note" in (user / "sources.toml").read_text(encoding="utf-8")
    assert "my_note" not in (installed / "smfcast" / "data" / "sources.toml").read_text(encoding="utf-8")


@pytest.mark.slow
def test_serve_in_a_folder_holding_forecast_py_and_api_py(installed, tmp_path, small_store):
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    for name, text in SHADOWS.items():
        (work / name).write_text(text, encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = _env(installed, home, SMFCAST_STORE=str(small_store.path), SMFCAST_API_TOKEN="install-test", SMFCAST_DATA=str(DATA),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "smfcast.cli", "serve", "--port", str(port), "--workers", "1"], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=5) as answer:
                    body = answer.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert body is not None, proc.stdout.read().decode(errors="replace") if proc.poll() is not None else "no answer in 180 s"
        assert '"status"' in body
    finally:
        proc.terminate()
        proc.wait(timeout=60)
