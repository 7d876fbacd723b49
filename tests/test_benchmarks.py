"""The benchmark scripts run in CI at small sizes and print their budget lines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_bench_scenarios_small_meets_its_budget():
    out = _run("bench_scenarios.py", "--small")
    median = float(re.search(r"median ([\d.]+) ms", out).group(1))
    assert median < 50, out


@pytest.mark.slow
def test_bench_run_small_prints_run_time_fit_times_and_coverage():
    out = _run("bench_run.py", "--small", "--replications", "5")
    seconds = float(re.search(r"median ([\d.]+) s over", out).group(1))
    assert seconds < 30, out
    assert "cn_bank_npl_ratio" in out and re.search(r"ensemble\s+80%:", out)
