"""The benchmark scripts run in CI at small sizes and print their figures and budget lines.

Timings are printed, not asserted: the machine is shared with the other tests here, and budgets
are judged from the documented full runs (README, "Measured performance")."""

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
def test_bench_scenarios_small_prints_its_medians():
    out = _run("bench_scenarios.py", "--small")
    for what, budget in (("custom scenario", "median < 50 ms"), ("goal seek", "median <= 300 ms"), ("sensitivity table", "median <= 1 s")):
        line = re.search(rf"^{what}.*: median ([\d.]+) ms, p90 ([\d.]+) ms over (\d+) requests \[budget: (.*)\]", out, re.M)
        assert line, out
        assert 0 < float(line.group(1)) <= float(line.group(2)) and int(line.group(3)) >= 5 and line.group(4) == budget


@pytest.mark.slow
def test_bench_run_small_prints_run_time_fit_times_and_coverage():
    out = _run("bench_run.py", "--small", "--replications", "5")
    assert re.search(r"median ([\d.]+) s over", out) and "[budget 30 s]" in out, out
    assert "cn_bank_npl_ratio" in out and re.search(r"ensemble\s+80%:", out)


@pytest.mark.slow
def test_bench_http_small_drives_the_real_server():
    out = _run("bench_http.py", "--small", "--requests", "200", "--concurrency", "8")
    get = re.search(r"GET .* x8: (\d+) requests, p50 ([\d.]+) ms, p99 ([\d.]+) ms.*non-200: (\d+)", out)
    post = re.search(r"POST .* x4: (\d+) requests, p50 ([\d.]+) ms, p99 ([\d.]+) ms.*non-200: (\d+)", out)
    assert get and post, out
    assert int(get.group(1)) == 200 and int(get.group(4)) == 0 and int(post.group(4)) == 0
    assert 0 < float(get.group(2)) <= float(get.group(3))


@pytest.mark.slow
def test_bench_http_floor_measures_gets_while_a_refit_runs_against_the_floor():
    out = _run("bench_http.py", "--small", "--floor", "--requests", "200", "--concurrency", "8")
    rounds = re.findall(r"round \d: floor p99 ([\d.]+) ms \| cached GET p99 ([\d.]+) ms \(([\d.]+)x\) \| "
                        r"while the refit runs p99 ([\d.]+) ms \(([\d.]+)x\) \| non-2xx: (\d+)", out)
    assert len(rounds) == 2, out
    for floor, paused, paused_ratio, running, running_ratio, bad in rounds:
        assert int(bad) == 0 and float(floor) > 0
        assert abs(float(paused) / float(floor) - float(paused_ratio)) < 0.01 + 0.01 * float(paused_ratio)
    assert re.search(r"refit job \w+: running in every round", out), out
    for label in ("no refit", "refit running"):  # each GET p99 reported as a ratio to the floor measured in the same run
        assert re.search(rf"cached GET x8, {label}: p99 [\d.]+x the floor \(median of 2 rounds", out), out


@pytest.mark.slow
def test_bench_variants_small_scores_every_modelling_choice():
    out = _run("bench_variants.py", "--limit", "3", "--engine", "serial")
    for dataset in ("m3-yearly", "m3-quarterly"):
        for variant in ("arima raw", "arima log", "arima max_d=2", "ets raw", "theta \\(DOTM\\) raw", "AutoTheta"):
            assert re.search(rf"^{dataset}\s+{variant}\s+3\s+[\d.]+\s+[\d.]+\s*$", out, re.M), f"{dataset} {variant}:\n{out}"


@pytest.mark.slow
def test_bench_forecast_small_prints_one_series_http_and_pooled_figures():
    out = _run("bench_forecast.py", "--small")
    assert re.search(r"one quarterly series of 40 points, h=8, 5 members, evidence own \(8 backtest windows\): median [\d.]+ s.*"
                     r"\[budget <= 3 s\]", out), out
    assert re.search(r"POST /v1/forecast, that series: median [\d.]+ s.*statuses \[200\] \[budget <= 3.5 s\]", out), out
    assert re.search(r"10 quarterly series \([\d,]+ points\), h=8, pooled .* [\d.]+ s wall .*peak memory \d+ MiB", out), out
