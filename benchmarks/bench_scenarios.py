"""Latency of answers read off a stored run's paths: a custom scenario (base + lever overrides),
a goal seek and a full sensitivity table, on the shipped data with 2,000 paths per model.

    .venv/bin/python benchmarks/bench_scenarios.py            # 200 scenarios, 50 goal seeks, 50 tables
    .venv/bin/python benchmarks/bench_scenarios.py --small    # CI-sized

Budgets: custom scenario median under 50 ms; goal seek median at most 300 ms; a sensitivity
table median at most 1 s; no refit. To prove there is no refit, model construction is disabled
while anything is timed: any fit would raise.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from smfcast.defaults import ENSEMBLE
from smfcast.engine import headline as engine
from smfcast.engine.headline import EngineConfig
from smfcast.outputs.decision_tables import seek, tornado
from smfcast.outputs.run_tables import forecast_rows, scenario_paths
from smfcast.policy.scenarios import parse_custom
from smfcast.store.runs import RunStore, create_run

DATA = Path(__file__).resolve().parent.parent / "data"


def _timed(repeats: int, work) -> list[float]:
    """Milliseconds of `work(i)` for i in range(repeats), sorted."""
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        work(i)
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)


def _line(what: str, times: list[float], budget: str) -> str:
    return (f"{what}: median {statistics.median(times):.2f} ms, p90 {times[int(0.9 * len(times)) - 1]:.2f} ms "
            f"over {len(times)} requests [budget: {budget}], no refit")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args()
    repeats = args.repeats or (20 if args.small else 200)
    decisions = max(repeats // 4, 5)
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "s.sqlite")
        run = create_run(DATA, EngineConfig(), store)  # the default run: every member, 2,000 paths

        def no_refit(*_a, **_k):
            raise AssertionError("an answer from stored paths tried to fit a model")

        engine.make_model = no_refit
        presets, levers = run.presets(), run.levers()
        for metric in run.metrics:  # warm the per-process path cache, as a serving worker is
            store.paths(run.run_id, metric, ENSEMBLE, "baseline")

        def custom_scenario(i: int) -> None:
            doc = {"base": "policy_targets", "levers": {"risk_compensation_fund": {"2026": 5.3 + (i % 20)},
                                                          "snow_disaster": {"2027": (i % 10) / 10}}}
            custom = parse_custom(doc, presets, levers)
            for metric in run.metrics:
                z = scenario_paths(store, run, metric, ENSEMBLE, custom)
                forecast_rows(store, run, metric, ENSEMBLE, custom.name, paths=z)

        times = _timed(repeats, custom_scenario)
        # Goal seek: P(NPL < 2.2% in 2026) >= p by risk-model adoption, p spread between the base
        # scenario's probability and the best the lever's range allows (so every answer bisects).
        target, lever = "npl_below_2_2_by_2026", "risk_model_adoption"
        bounds = seek(store, run, lever, target=target, probability=0.5)
        low, high = bounds.base["probability"], bounds.best["probability"]
        goals = [round(low + (high - low) * (k + 0.5) / 10, 4) for k in range(10)]
        seeks = _timed(decisions, lambda i: seek(store, run, lever, target=target, probability=goals[i % 10]))
        # A full sensitivity table: every lever acting on the loan balance (7) at both ends of its
        # range and moved by one unit, for the 2030 median and 80% band, under each preset in turn.
        names = list(run.scenarios)
        tables = _timed(decisions, lambda i: tornado(store, run, metric="market_size", year=2030, base=names[i % len(names)]))
    print(_line("custom scenario, 3 metrics, 2,000 paths, ensemble", times, "median < 50 ms"))
    print(_line(f"goal seek, P({target}) by {lever}, 2,000 paths", seeks, "median <= 300 ms"))
    print(_line("sensitivity table, market_size 2030 median and 80% band, 7 levers, 2,000 paths", tables, "median <= 1 s"))


if __name__ == "__main__":
    main()
