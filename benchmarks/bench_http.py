"""HTTP latency and throughput of the real server: a cached forecast GET and a custom-scenario POST.

    .venv/bin/python benchmarks/bench_http.py            # GET at 32 and 2 connections, POST at 4 and 32
    .venv/bin/python benchmarks/bench_http.py --small    # CI-sized: a small run, 400 requests each
    .venv/bin/python benchmarks/bench_http.py --floor    # ... gunicorn's own floor, and GETs while a refit runs

Starts `smfcast serve` (gunicorn, the `make serve` setup) on a free loopback port over a fresh store,
warms every worker, then drives it from another process: an asyncio client holding `--concurrency`
connections open at once, each sending its next request as soon as the previous answer arrived
(closed-loop load, so the server is never asked for more than it can queue). Every request opens a
new TCP connection, as a spreadsheet's IMPORTDATA does. Latency is measured from connect to the last
byte; p50/p99 are over all timed requests, and non-200 answers are counted and reported.

Budgets: cached forecast GET p99 under 10 ms at 32 concurrent connections; custom-scenario POST
median under 50 ms. Forecast GETs are answered from a per-worker cache of whole responses (keyed
like the ETag: run id, query, Accept), so the GET figures measure the server, not numpy.

`--floor` also measures gunicorn's own floor in the same run (the same gunicorn settings serving a
WSGI app that only answers 3 KB), then the cached GET at `--concurrency` connections while a
refit runs in the job worker (a full default refit with another seed; `--small`: a small one),
and reports each GET p99 as a ratio to the floor's p99 (target: within 1.5x). It says whether the
refit was still running when the measurement ended. wrk (Debian's C load generator) is used where
installed, else the asyncio client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GET_PATH = "/v1/forecasts?metric=npl_ratio&scenario=adverse"
POST_PATH = "/v1/forecasts"
POST_BODY = {"metric": "npl_ratio", "base": "policy_targets", "levers": {"snow_disaster": {"2027": 1.0, "2028": 0.0}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _one(port: int, raw: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    data = await reader.read()  # the request says Connection: close; read to EOF
    writer.close()
    elapsed = time.perf_counter() - started
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return elapsed, status


async def _drive(port: int, raw: bytes, concurrency: int, total: int) -> tuple[list[float], list[int], float]:
    latencies, statuses = [], []
    remaining = total

    async def worker():
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            elapsed, status = await _one(port, raw)
            latencies.append(elapsed)
            statuses.append(status)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses, time.perf_counter() - started


def _client(port: int, raw: bytes, concurrency: int, total: int, queue) -> None:
    queue.put(asyncio.run(_drive(port, raw, concurrency, total)))


def request_bytes(method: str, path: str, body: dict | None = None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAccept: application/json\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return head.encode() + b"\r\n" + payload


def load(port: int, raw: bytes, concurrency: int, total: int) -> tuple[np.ndarray, list[int], float]:
    """Run the client in another process (so it does not share the server's interpreter)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_client, args=(port, raw, concurrency, total, queue))
    proc.start()
    latencies, statuses, wall = queue.get()
    proc.join()
    return np.asarray(latencies), statuses, wall


def start_server(store: Path, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "SMFCAST_STORE": str(store)}
    cmd = [str(Path(sys.executable).with_name("smfcast")), "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600  # a fresh store computes its first run before serving
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not answer /v1/health within 600 s")


def floor_app(environ, start_response):
    """A WSGI app that does nothing but answer 3 KB: gunicorn's own cost per request, for `--floor`."""
    body = b"x" * 3000
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _ms(text: str) -> float:
    """wrk's '850.00us', '20.90ms' or '1.02s' in milliseconds."""
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def wrk(url: str, connections: int, seconds: int) -> dict | None:
    """p50 and p99 (ms), requests per second and non-2xx answers from Debian's `wrk`, when installed."""
    if shutil.which("wrk") is None:
        return None
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url], capture_output=True, text=True).stdout
    p50, p99 = (re.search(rf"{k}\s+([\d.]+\w+)", out) for k in ("50%", "99%"))
    rps, bad = re.search(r"Requests/sec:\s+([\d.]+)", out), re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if not (p50 and p99 and rps):
        raise SystemExit(f"could not read wrk's output:\n{out}")
    return {"p50": _ms(p50.group(1)), "p99": _ms(p99.group(1)), "rps": float(rps.group(1)), "bad": int(bad.group(1)) if bad else 0}


def wrk_line(w: dict) -> str:
    return f"p50 {w['p50']:.2f} ms, p99 {w['p99']:.2f} ms, {w['rps']:.0f} requests/s, non-2xx: {w['bad']}"


def report(label: str, lat: np.ndarray, statuses: list[int], wall: float, budget: str) -> float:
    """Print one asyncio measurement; return its p99 in ms."""
    bad = sum(1 for s in statuses if s != 200)
    p50, p99 = np.percentile(lat * 1000, [50, 99])
    print(f"{label}: {len(lat)} requests, p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {lat.max() * 1000:.1f} ms, "
          f"{len(lat) / wall:.0f} requests/s, non-200: {bad}   [{budget}]")
    return float(p99)


def measure_floor(workers: int, concurrency: int, total: int, seconds: int) -> tuple[float | None, float]:
    """gunicorn with the settings `smfcast serve` uses, serving an app that does nothing: (wrk p99, asyncio p99)."""
    from api.server import gunicorn_argv
    port = free_port()
    argv = gunicorn_argv(str(Path(sys.executable).with_name("gunicorn")), "127.0.0.1", port, workers)
    argv = argv[:-1] + ["--chdir", str(ROOT / "benchmarks"), "bench_http:floor_app"]
    floor = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        w = wrk(f"http://127.0.0.1:{port}/", concurrency, seconds)
        print(f"floor: gunicorn, {workers} workers, a WSGI app that only answers 3 KB, wrk x{concurrency}, {seconds} s: "
              + (wrk_line(w) if w else "needs wrk (Debian package)"))
        p99 = report(f"floor x{concurrency} (asyncio client)", *load(port, request_bytes("GET", "/"), concurrency, total), "gunicorn's own cost")
    finally:
        floor.terminate()
        floor.wait(timeout=30)
    return (w["p99"] if w else None), p99


def _post_json(url: str, body: dict, token: str) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def _job(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def ratio_line(label: str, p99: float, floor: float | None) -> str:
    if floor is None:
        return f"{label}: p99 {p99:.2f} ms (no floor measured with this client)"
    verdict = "within" if p99 <= 1.5 * floor else "NOT within"
    return f"{label}: p99 {p99:.2f} ms = {p99 / floor:.2f}x the floor's {floor:.2f} ms  [target 1.5x: {verdict}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="CI-sized: a small run and fewer requests")
    ap.add_argument("--requests", type=int, default=None, help="timed requests per endpoint")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (make serve's default)")
    ap.add_argument("--floor", action="store_true", help="also measure gunicorn alone (a WSGI app that does nothing)")
    ap.add_argument("--post-concurrency", type=int, default=4, help="connections for the custom-scenario POST (a few analysts)")
    args = ap.parse_args()
    total = args.requests or (400 if args.small else 4000)
    seconds = 3 if args.small else 10
    floor_wrk = floor_async = None
    if args.floor:
        floor_wrk, floor_async = measure_floor(args.workers, args.concurrency, total, seconds)

    from forecast.engine.headline import EngineConfig
    from forecast.store.runs import RunStore, create_run

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "s.sqlite"
        config = EngineConfig(n_paths=400, models=("ets", "theta"), backtest_paths=100) if args.small else EngineConfig()
        started = time.perf_counter()
        create_run(ROOT / "data", config, RunStore(store))
        print(f"run computed in {time.perf_counter() - started:.1f} s ({config.n_paths} paths, models {', '.join(config.models)})")
        port = free_port()
        server = start_server(store, port, args.workers)
        try:
            get_raw, post_raw = request_bytes("GET", GET_PATH), request_bytes("POST", POST_PATH, POST_BODY)
            for raw in (get_raw, post_raw):  # warm every worker's path cache
                load(port, raw, args.concurrency, 8 * args.concurrency)
            print(f"gunicorn, {args.workers} workers, a new connection per request")
            get_p99 = report(f"GET  {GET_PATH} x{args.concurrency}", *load(port, get_raw, args.concurrency, total), "budget: p99 < 10 ms")
            report(f"GET  {GET_PATH} x{args.workers}", *load(port, get_raw, args.workers, total // 4),
                   "one connection per worker: no queueing")
            report(f"POST {POST_PATH} (custom scenario) x{args.post_concurrency}",
                   *load(port, post_raw, args.post_concurrency, total // 4), "budget: p50 < 50 ms")
            report(f"POST {POST_PATH} (custom scenario) x{args.concurrency}", *load(port, post_raw, args.concurrency, total // 4),
                   "for comparison")
            url = f"http://127.0.0.1:{port}{GET_PATH}"
            w = wrk(url, args.concurrency, seconds)
            if w:
                print(f"wrk GET  {GET_PATH} x{args.concurrency}, {seconds} s: {wrk_line(w)}")
            if args.floor:
                print(ratio_line(f"cached GET x{args.concurrency}, no refit (asyncio)", get_p99, floor_async))
                if w:
                    print(ratio_line(f"cached GET x{args.concurrency}, no refit (wrk)", w["p99"], floor_wrk))
                during_refit(port, store, args, seconds, total, get_raw, floor_wrk, floor_async)
        finally:
            server.terminate()
            server.wait(timeout=30)


def during_refit(port: int, store: Path, args, seconds: int, total: int, get_raw: bytes, floor_wrk, floor_async) -> None:
    """The cached GET at `--concurrency` connections while the job worker refits (another seed)."""
    token = store.with_name(store.stem + ".tokens").read_text().split()[-1]  # `smfcast serve` made it
    body = {"seed": 7, "n_paths": 400, "models": ["ets", "theta"], "backtest_paths": 100} if args.small else {"seed": 7}
    base = f"http://127.0.0.1:{port}"
    job = _post_json(base + "/v1/runs", body, token)
    started = time.perf_counter()
    while (state := _job(base + job["url"]))["status"] == "queued" and time.perf_counter() - started < 60:
        time.sleep(0.1)
    if state["status"] != "running":
        print(f"refit job {job['job_id']} did not start running (status {state['status']}): no figure while a refit runs")
        return
    w = wrk(base + GET_PATH, args.concurrency, seconds)
    p99 = report(f"GET  {GET_PATH} x{args.concurrency} while a refit runs", *load(port, get_raw, args.concurrency, total),
                 "target: p99 within 1.5x of the floor")
    state = _job(base + job["url"])
    when = f"{time.perf_counter() - started:.0f} s after it started"
    if state["status"] == "running":
        print(f"refit job {job['job_id']}: still running at the end of the measurement ({when})")
    else:
        print(f"refit job {job['job_id']}: {state['status']} before the measurement ended ({when}): the figures cover part of it")
    if w:
        print(f"wrk GET  {GET_PATH} x{args.concurrency} while a refit runs, {seconds} s: {wrk_line(w)}")
    print(ratio_line(f"cached GET x{args.concurrency}, refit running (asyncio)", p99, floor_async))
    if w:
        print(ratio_line(f"cached GET x{args.concurrency}, refit running (wrk)", w["p99"], floor_wrk))


if __name__ == "__main__":
    main()
