"""`benchmarks/bench_http.py --fairness` runs at CI size and prints, per round, the victim's idle and
under-attack p99 with their ratio and what the limit did to the attacker, then the median ratio.
Timings are printed, not asserted (the machine is shared); the limit's effect is asserted: in a
round (shorter than the limit's 10-second window) the attacker computes no more than its budget in
each of the two workers, however fast the machine, and the victim's cached GETs are all answered
(the benchmark stops otherwise)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_http.py"


@pytest.mark.slow
def test_bench_http_fairness_prints_the_ratio_and_the_attackers_refusals():
    done = subprocess.run([sys.executable, str(BENCH), "--small", "--requests", "200", "--concurrency", "8", "--fairness"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    rounds = re.findall(r"round \d: victim cached GET p99 idle ([\d.]+) ms \(\d+ requests\) \| under attack ([\d.]+) ms .*\| "
                        r"ratio ([\d.]+)x \| attacker in [\d.]+ s: chart\.png (\d+) computed / (\d+) refused \(429\) / (\d+) other, "
                        r"POST (\d+) computed / (\d+) refused \(429\) / (\d+) other", out)
    assert len(rounds) == 2, out
    from smfcast.api.limits import CHART_COST, DEFAULT_LIMIT
    budget = 2 * int(DEFAULT_LIMIT.split()[0])  # units per 10 s, in each of `make serve`'s two workers
    for idle, busy, ratio, charts, charts_refused, charts_other, posts, posts_refused, posts_other in rounds:
        assert abs(float(busy) / float(idle) - float(ratio)) < 0.01 + 0.01 * float(ratio)
        assert CHART_COST * int(charts) + int(posts) <= budget and int(charts_other) == int(posts_other) == 0
    assert re.search(r"fairness: the victim's cached GET p99 under attack is [\d.]+x its idle p99 \(median of 2 rounds", out), out
