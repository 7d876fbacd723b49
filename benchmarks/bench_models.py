"""What each member costs on the M3 data: fit plus 500 sample paths per series, on one core.

    .venv/bin/python benchmarks/bench_models.py              # 100 yearly and 100 quarterly series
    .venv/bin/python benchmarks/bench_models.py --limit 0    # every series: 645 yearly, 756 quarterly
    .venv/bin/python benchmarks/bench_models.py --limit 4    # CI-sized

The M3 series come with the `validation` extra (`.venv/bin/pip install -e '.[validation]'`). Each
member is fitted on a series' training part (raw values, the competition's split: h = 6 yearly,
8 quarterly) and draws its paths for the test horizon, in this one process with a single BLAS
thread, so a figure is the cost on one core. The sample is spread evenly over each dataset; every
member sees the same series. Each member's first fit is a warm-up and is not timed (statsforecast
compiles its models on first use). A fit that fails is counted, not timed. Printed: median, 90th
percentile and largest milliseconds per series, per dataset and member, and the total.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from smfcast.blas import single_threaded
from smfcast.defaults import MEMBERS, SEED, members_for
from smfcast.errors import SmfcastError
from smfcast.outputs.tables import render
from smfcast.seeds import rng_for

DATASETS = ("m3-yearly", "m3-quarterly")  # the members that fit each (`members_for`)
COLUMNS = ["dataset", "member", "series", "median ms", "p90 ms", "max ms", "total s", "failed"]


def sample(series: list, limit: int) -> list:
    """`limit` series spread evenly over the dataset (all of them for 0 or more than there are)."""
    if limit <= 0 or limit >= len(series):
        return series
    return [series[i] for i in np.linspace(0, len(series) - 1, limit).round().astype(int)]


def time_member(name: str, series: list, n_paths: int) -> dict:
    """Milliseconds to fit `name` and draw `n_paths` paths, per series; and the failures."""
    from smfcast.models import make_model
    first = series[0]
    try:  # warm-up, untimed
        make_model(name, first.season_length).fit(first.train).sample(len(first.test), n_paths, rng_for(SEED, "warm-up", name))
    except (ValueError, RuntimeError, np.linalg.LinAlgError):
        pass
    times, failed = [], 0
    for s in series:
        rng = rng_for(SEED, s.id, name)
        started = time.perf_counter()
        try:
            make_model(name, s.season_length).fit(s.train).sample(len(s.test), n_paths, rng)
        except (ValueError, RuntimeError, np.linalg.LinAlgError):
            failed += 1
            continue
        times.append((time.perf_counter() - started) * 1000)
    return {"times": sorted(times), "failed": failed}


def row(dataset: str, member: str, result: dict) -> dict:
    times = result["times"]
    if not times:
        return {"dataset": dataset, "member": member, "series": 0, "failed": result["failed"]}
    return {"dataset": dataset, "member": member, "series": len(times), "median ms": round(statistics.median(times), 1),
            "p90 ms": round(times[max(0, int(np.ceil(0.9 * len(times))) - 1)], 1), "max ms": round(times[-1], 1),
            "total s": round(sum(times) / 1000, 2), "failed": result["failed"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=100, help="series per dataset, spread evenly (0: all; default 100)")
    ap.add_argument("--members", default=",".join(MEMBERS), help=f"comma-separated (default {','.join(MEMBERS)})")
    ap.add_argument("--datasets", default=",".join(DATASETS), help=f"comma-separated (default {','.join(DATASETS)})")
    ap.add_argument("--paths", type=int, default=500, help="sample paths per fit (default 500)")
    args = ap.parse_args(argv)
    members = [m.strip() for m in args.members.split(",") if m.strip()]
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [m for m in members if m not in MEMBERS] + [d for d in datasets if d not in DATASETS]
    if unknown or not members or not datasets or args.paths < 1:
        ap.error(f"--members from {', '.join(MEMBERS)}, --datasets from {', '.join(DATASETS)}, --paths >= 1"
                 + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    single_threaded()
    from smfcast.engine.datasets import load_dataset
    rows = []
    try:
        for dataset in datasets:
            series = sample(load_dataset(dataset), args.limit)
            for member in members_for(tuple(members), series[0].season_length):
                rows.append(row(dataset, member, time_member(member, series, args.paths)))
    except SmfcastError as exc:
        print(f"bench_models: error: {exc.message}", file=sys.stderr)
        return 2
    print(f"fit + {args.paths} paths per series, one core (one BLAS thread), milliseconds per series:")
    print(render(rows, COLUMNS, "table"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
