"""Full-run wall time, per-model fit time per series, and band coverage of every member on
simulated series.

    .venv/bin/python benchmarks/bench_run.py                 # budget check: full run, 2,000 paths
    .venv/bin/python benchmarks/bench_run.py --small         # CI-sized: fewer repeats and replications

Budget: a full run (3 metrics x all models, 2,000 paths) under 30 s on 2 cores (the service's budget,
README "Measured performance").
Figures are medians over `--repeats` runs, each into a fresh store.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from smfcast.defaults import ENSEMBLE, LEVELS, MEMBERS, N_PATHS
from smfcast.engine.ensemble import mix
from smfcast.engine.executor import executor
from smfcast.engine.headline import EngineConfig
from smfcast.models import make_model
from smfcast.registry.grid import regularize
from smfcast.registry.series import UNFIT_QUALITIES, load_registry
from smfcast.store.runs import RunStore, create_run

DATA = Path(__file__).resolve().parent.parent / "data"


def bench_full_run(repeats: int, n_paths: int) -> list[float]:
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            with executor("local") as ex:  # as `smfcast run` does: the metrics in parallel, both cores busy
                create_run(DATA, EngineConfig(n_paths=n_paths), RunStore(Path(tmp) / "s.sqlite"), executor=ex)
            times.append(time.perf_counter() - started)
    return times


def bench_fits(repeats: int) -> dict[str, dict[str, float]]:
    """Median seconds to fit and sample a run's number of paths, per model and national series."""
    reg = load_registry(DATA)
    out = {}
    for metric, head in reg.headlines.items():
        meta = reg.meta(head.national)
        series = regularize(reg.observations(head.national, UNFIT_QUALITIES), meta.transformer)
        for name in MEMBERS:
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                make_model(name, series.season_length).fit(series.y).sample(20, N_PATHS, np.random.default_rng(0))  # natural values, as runs fit
                times.append(time.perf_counter() - started)
            out.setdefault(head.national, {})[name] = statistics.median(times)
    return out


def bench_coverage(n_rep: int, n: int = 30, h: int = 5) -> dict[str, np.ndarray]:
    """Coverage of the 80/95% bands of every member and their equal-weight mixture on a random
    walk with drift (length n, horizons 1..h). Measured, not asserted: calibration is the backtests' job."""
    rng = np.random.default_rng(2026)
    hits = {name: np.zeros((len(LEVELS), h)) for name in MEMBERS + (ENSEMBLE,)}
    for _ in range(n_rep):
        y = np.cumsum(0.3 + rng.normal(size=n + h))
        paths = {name: make_model(name).fit(y[:n]).sample(h, 500, rng) for name in MEMBERS}
        paths[ENSEMBLE] = mix(paths, None, rng)
        for name, p in paths.items():
            for i, level in enumerate(LEVELS):
                lo, hi = np.percentile(p, [50 - level / 2, 50 + level / 2], axis=0)
                hits[name][i] += (y[n:] >= lo) & (y[n:] <= hi)
    return {k: v / n_rep for k, v in hits.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="CI-sized run")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--replications", type=int, default=None)
    args = ap.parse_args()
    repeats = args.repeats or (1 if args.small else 3)
    reps = args.replications or (20 if args.small else 200)

    times = bench_full_run(repeats, N_PATHS)
    print(f"full run (3 metrics x {len(MEMBERS)} members + backtest-weighted, calibrated ensemble, 4 scenarios, {N_PATHS:,} paths): "
          f"median {statistics.median(times):.2f} s over {repeats} run(s) [budget 30 s]")
    print(f"\nfit + {N_PATHS:,} paths, median seconds per series:")
    fits = bench_fits(repeats)
    print(f"{'series':40s} " + " ".join(f"{m:>8s}" for m in MEMBERS))
    for series, row in fits.items():
        print(f"{series:40s} " + " ".join(f"{row[m]:8.3f}" for m in MEMBERS))
    print(f"\ncoverage on a random walk with drift (n=30, {reps} replications), horizons 1..5:")
    for name, cov in bench_coverage(reps).items():
        print(f"  {name:9s} " + "   ".join(f"{lv}%: " + " ".join(f"{c * 100:5.1f}" for c in row) for lv, row in zip(LEVELS, cov)))


if __name__ == "__main__":
    main()
