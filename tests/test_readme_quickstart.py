"""The README's "Forecast your own series" lines run as written: the Python block in a fresh
interpreter, the command line with the installed `smfcast`, the curl line against a real server,
each from a scratch folder holding the example file the lines name."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SECTION = "## Forecast your own series"


def section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return text[start:end]


def test_the_section_is_near_the_top_and_short():
    headings = [line for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines() if line.startswith("## ")]
    assert SECTION in headings[:2]
    assert len(section().splitlines()) <= 20


@pytest.fixture
def scratch(tmp_path) -> Path:
    (tmp_path / "docs" / "examples").mkdir(parents=True)
    shutil.copy(REPO / "docs" / "examples" / "npl_ratio.csv", tmp_path / "docs" / "examples")
    return tmp_path


@pytest.mark.slow
def test_the_python_lines_run_as_written(scratch):
    code = re.search(r"```python\n(.*?)```", section(), re.S).group(1)
    done = subprocess.run([sys.executable, "-c", code], cwd=scratch, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "cn_bank_npl_ratio" in done.stdout and "2026-03-31" in done.stdout and "own rolling-origin backtest" in done.stdout
    assert (scratch / "npl_ratio.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _shell_lines() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", section(), re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_the_command_line_runs_as_written(scratch):
    line = next(x for x in _shell_lines() if x.startswith(".venv/bin/smfcast"))
    argv = shlex.split(line)
    argv[0] = str(Path(sys.executable).parent / "smfcast")
    done = subprocess.run(argv, cwd=scratch, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    from openpyxl import load_workbook
    rows = list(load_workbook(scratch / "npl_ratio.xlsx", read_only=True)["forecast"].iter_rows(values_only=True))
    assert rows[0][:5] == ("unique_id", "ds", "model", "mean", "median") and len(rows) == 9
    assert rows[1][1] == "2026-03-31" and rows[-1][1] == "2027-12-31"


@pytest.mark.slow
def test_the_http_line_runs_as_written(scratch, live_server):
    line = next(x for x in _shell_lines() if x.startswith("curl"))
    argv = [a.replace("http://127.0.0.1:8000", live_server) for a in shlex.split(line)]
    done = subprocess.run(argv, cwd=scratch, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert len(body["rows"]) == 8 and body["rows"][0]["ds"] == "2026-03-31" and body["method"]["evidence"] == "own"
