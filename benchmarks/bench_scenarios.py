"""Custom-scenario latency: base scenario + lever overrides answered from a stored run's paths.

    .venv/bin/python benchmarks/bench_scenarios.py            # 200 repeats
    .venv/bin/python benchmarks/bench_scenarios.py --small    # CI-sized

Budget (DESIGN.md): median under 50 ms, no refit. To prove there is no refit, model construction
is disabled while the scenarios are timed: any fit would raise.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from forecast.engine import headline as engine
from forecast.engine.headline import EngineConfig
from forecast.outputs.run_tables import forecast_rows, scenario_paths
from forecast.policy.scenarios import parse_custom
from forecast.store.runs import RunStore, create_run

DATA = Path(__file__).resolve().parent.parent / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args()
    repeats = args.repeats or (20 if args.small else 200)
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "s.sqlite")
        run = create_run(DATA, EngineConfig(n_paths=2000), store)

        def no_refit(*_a, **_k):
            raise AssertionError("a custom scenario tried to fit a model")

        engine.make_model = no_refit
        presets, levers = run.presets(), run.levers()
        for metric in run.metrics:  # warm the per-process path cache, as a serving worker is
            store.paths(run.run_id, metric, "ensemble", "baseline")
        times = []
        for i in range(repeats):
            doc = {"base": "policy_targets", "levers": {"risk_compensation_fund": {"2026": 5.3 + (i % 20)},
                                                          "snow_disaster": {"2027": (i % 10) / 10}}}
            started = time.perf_counter()
            custom = parse_custom(doc, presets, levers)
            for metric in run.metrics:
                z = scenario_paths(store, run, metric, "ensemble", custom)
                forecast_rows(store, run, metric, "ensemble", custom.name, paths=z)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(f"custom scenario, 3 metrics, 2,000 paths, ensemble: median {statistics.median(times):.2f} ms, "
          f"p90 {times[int(0.9 * len(times)) - 1]:.2f} ms over {repeats} requests [budget: median < 50 ms], no refit")


if __name__ == "__main__":
    main()
