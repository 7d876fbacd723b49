"""HTTP latency and throughput of the real server: a cached forecast GET and a custom-scenario POST.

    .venv/bin/python benchmarks/bench_http.py            # GET at 32 and 2 connections, POST at 4 and 32
    .venv/bin/python benchmarks/bench_http.py --small    # CI-sized: a small run, 400 requests each
    .venv/bin/python benchmarks/bench_http.py --floor    # ... gunicorn's own floor, and GETs while a refit runs
    .venv/bin/python benchmarks/bench_http.py --fairness # ... and one client's cached GETs while another floods compute

Starts `smfcast serve` (gunicorn, the `make serve` setup) on a free loopback port over a fresh store,
warms every worker, then drives it from another process: an asyncio client holding `--concurrency`
connections open at once, each sending its next request as soon as the previous answer arrived
(closed-loop load, so the server is never asked for more than it can queue). Every request opens a
new TCP connection, as a spreadsheet's IMPORTDATA does. Latency is measured from connect to the last
byte; p50/p99 are over all timed requests, and non-200 answers are counted and reported.

Budgets: cached forecast GET p99 under 10 ms at 32 concurrent connections; custom-scenario POST
median under 50 ms. Forecast GETs are answered from a per-worker cache of whole responses (keyed
like the ETag: run id, query, Accept), so the GET figures measure the server, not numpy.

`--floor` then measures, in the same run, gunicorn's own floor (the same gunicorn settings serving
a WSGI app that only answers 3 KB) and the cached GET at `--concurrency` connections without and
while a refit runs in the job worker (the heaviest refit the API allows: another seed, 10,000
paths; `--small`: a small one), and reports each GET p99 as a ratio to the floor's p99 (target: within 1.5x). Other work on
a shared machine comes and goes, so the three are measured back to back in paired rounds (the
refit paused with SIGSTOP for the first two, resumed for the third) and the median ratio over the
rounds is reported, with each round's. A fourth measurement per round, the floor itself while the
refit runs, shows what the refit's share of the cores costs any server. It says whether the refit ran in every round, and the
gunicorn workers' CPU time per request, which other load barely moves. wrk (Debian's C load
generator) is used where installed, else the asyncio client.

`--fairness` then measures, in paired rounds, one client's cached GET (one connection, from
127.0.0.3) alone and while another client (from 127.0.0.2, no token) runs 8 concurrent loops on
`chart.png` (a new query each time, so that no chart is answered from the cache) and 8 on
custom-scenario POSTs, and prints each round's p99 under attack as a ratio to
the idle p99 beside it (target: within 3x; the median over rounds is the figure), with how many of
the attacker's requests were computed and how many refused (429) by the per-client limit of
anonymous compute (`api/limits.py`). The other measurements send the write token, which that limit
exempts, so they measure the server, not the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import shutil
import signal
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


def request_bytes(method: str, path: str, body: dict | None = None, token: str | None = None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAccept: application/json\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
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


def children(pid: int) -> list[int]:
    """The direct child processes of `pid` (Linux /proc; none when it is gone)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def gunicorn_workers(pid: int) -> list[int]:
    """The gunicorn worker processes under `pid` (gunicorn's master, or `smfcast serve` above it; Linux /proc)."""
    try:
        is_gunicorn = b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    if is_gunicorn:
        return children(pid)
    return [w for c in children(pid) for w in gunicorn_workers(c)]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wrk(url: str, connections: int, seconds: int, workers: list[int] | None = None) -> dict | None:
    """p50 and p99 (ms), requests per second and non-2xx answers from Debian's `wrk`, when installed; with
    `workers`, also the CPU those processes spent per request (ms), a figure other load on the machine barely moves."""
    if shutil.which("wrk") is None:
        return None
    before = cpu_seconds(workers or [])
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url], capture_output=True, text=True).stdout
    spent = cpu_seconds(workers or []) - before
    p50, p99 = (re.search(rf"{k}\s+([\d.]+\w+)", out) for k in ("50%", "99%"))
    rps, bad = re.search(r"Requests/sec:\s+([\d.]+)", out), re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    count = re.search(r"(\d+) requests in", out)
    if not (p50 and p99 and rps and count):
        raise SystemExit(f"could not read wrk's output:\n{out}")
    return {"p50": _ms(p50.group(1)), "p99": _ms(p99.group(1)), "rps": float(rps.group(1)), "bad": int(bad.group(1)) if bad else 0,
            "cpu_ms": 1000 * spent / int(count.group(1)) if workers else None}


def wrk_line(w: dict) -> str:
    cpu = f", gunicorn workers' CPU {w['cpu_ms']:.3f} ms/request" if w.get("cpu_ms") else ""
    return f"p50 {w['p50']:.2f} ms, p99 {w['p99']:.2f} ms, {w['rps']:.0f} requests/s, non-2xx: {w['bad']}{cpu}"


def report(label: str, lat: np.ndarray, statuses: list[int], wall: float, budget: str) -> None:
    """Print one asyncio measurement."""
    bad = sum(1 for s in statuses if s != 200)
    p50, p99 = np.percentile(lat * 1000, [50, 99])
    print(f"{label}: {len(lat)} requests, p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {lat.max() * 1000:.1f} ms, "
          f"{len(lat) / wall:.0f} requests/s, non-200: {bad}   [{budget}]")


def start_floor(workers: int) -> tuple[subprocess.Popen, int]:
    """gunicorn with the settings `smfcast serve` uses, serving an app that does nothing: its own floor."""
    from smfcast.api.server import gunicorn_argv
    port = free_port()
    argv = gunicorn_argv(str(Path(sys.executable).with_name("gunicorn")), "127.0.0.1", port, workers)
    argv = argv[:-1] + ["--chdir", str(ROOT / "benchmarks"), "bench_http:floor_app"]
    floor = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    return floor, port


def descendants(pid: int) -> list[int]:
    kids = children(pid)
    return kids + [d for k in kids for d in descendants(k)]


def job_worker(server_pid: int) -> list[int]:
    """The job worker under `smfcast serve` and its children (Prophet's sampler), to pause and resume."""
    for pid in descendants(server_pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"worker" in argv and b"gunicorn" not in b" ".join(argv):
            return [pid] + descendants(pid)
    return []


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _post_json(url: str, body: dict, token: str) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def _job(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="CI-sized: a small run and fewer requests")
    ap.add_argument("--requests", type=int, default=None, help="timed requests per endpoint")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (make serve's default)")
    ap.add_argument("--floor", action="store_true", help="also measure gunicorn alone (a WSGI app that does nothing), and GETs "
                    "with and while a refit runs, as ratios to it")
    ap.add_argument("--rounds", type=int, default=None, help="--floor: paired rounds (default 5; --small: 2)")
    ap.add_argument("--post-concurrency", type=int, default=4, help="connections for the custom-scenario POST (a few analysts)")
    ap.add_argument("--fairness", action="store_true", help="also measure one client's cached GETs while another client "
                    "floods chart.png and custom-scenario POSTs without a token, as a ratio to its idle p99")
    args = ap.parse_args()
    total = args.requests or (400 if args.small else 4000)
    seconds = 3 if args.small else 10

    from smfcast.engine.headline import EngineConfig
    from smfcast.store.runs import RunStore, create_run

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "s.sqlite"
        config = EngineConfig(n_paths=400, models=("ets", "theta"), backtest_paths=100) if args.small else EngineConfig()
        started = time.perf_counter()
        create_run(ROOT / "data", config, RunStore(store))
        print(f"run computed in {time.perf_counter() - started:.1f} s ({config.n_paths} paths, models {', '.join(config.models)})")
        port = free_port()
        server = start_server(store, port, args.workers)
        try:
            token = store.with_name(store.stem + ".tokens").read_text().split()[-1]  # `smfcast serve` made it
            get_raw, post_raw = request_bytes("GET", GET_PATH), request_bytes("POST", POST_PATH, POST_BODY, token)
            for raw in (get_raw, post_raw):  # warm every worker's path cache
                load(port, raw, args.concurrency, 8 * args.concurrency)
            print(f"gunicorn, {args.workers} workers, a new connection per request")
            report(f"GET  {GET_PATH} x{args.concurrency}", *load(port, get_raw, args.concurrency, total), "budget: p99 < 10 ms")
            report(f"GET  {GET_PATH} x{args.workers}", *load(port, get_raw, args.workers, total // 4),
                   "one connection per worker: no queueing")
            report(f"POST {POST_PATH} (custom scenario) x{args.post_concurrency}",
                   *load(port, post_raw, args.post_concurrency, total // 4), "budget: p50 < 50 ms")
            report(f"POST {POST_PATH} (custom scenario) x{args.concurrency}", *load(port, post_raw, args.concurrency, total // 4),
                   "for comparison")
            url = f"http://127.0.0.1:{port}{GET_PATH}"
            w = wrk(url, args.concurrency, seconds, gunicorn_workers(server.pid))
            if w:
                print(f"wrk GET  {GET_PATH} x{args.concurrency}, {seconds} s: {wrk_line(w)}")
            if args.floor:
                against_the_floor(server, port, store, args, total)
            if args.fairness:
                fairness(port, args)
        finally:
            server.terminate()
            server.wait(timeout=30)


def against_the_floor(server: subprocess.Popen, port: int, store: Path, args, total: int) -> None:
    """Paired rounds, each of three back-to-back measurements at `--concurrency` connections: gunicorn's
    floor, the cached GET with the refit paused (SIGSTOP), and the cached GET with the refit running.
    The machine is shared, so load from elsewhere comes and goes; measured side by side, each round's
    ratios see the same load, and the median over rounds is reported."""
    token = store.with_name(store.stem + ".tokens").read_text().split()[-1]  # `smfcast serve` made it
    # the heaviest refit the API allows (10,000 paths, 5,000 per backtest window), so it outlasts the rounds
    body = ({"seed": 7, "n_paths": 2000, "models": ["arima", "ets", "theta"], "backtest_paths": 2000} if args.small
            else {"seed": 7, "n_paths": 10_000, "backtest_paths": 5_000})
    base = f"http://127.0.0.1:{port}"
    rounds = args.rounds or (2 if args.small else 5)
    seconds = 2 if args.small else 5
    use_wrk = shutil.which("wrk") is not None
    client = f"wrk, {seconds} s each" if use_wrk else f"asyncio client, {total // 2} requests each (wrk is not installed)"
    floor, floor_port = start_floor(args.workers)
    try:
        job = _post_json(base + "/v1/runs", body, token)
        started = time.perf_counter()
        while (state := _job(base + job["url"]))["status"] == "queued" and time.perf_counter() - started < 60:
            time.sleep(0.1)
        worker = job_worker(server.pid)
        if state["status"] != "running" or not worker:
            print(f"refit job {job['job_id']} did not start running (status {state['status']}): no figures against the floor")
            return
        print(f"against the floor: {rounds} rounds of gunicorn's floor (a WSGI app that only answers 3 KB), the cached GET with "
              f"refit job {job['job_id']} paused, and the cached GET with it running; x{args.concurrency}, {client}")
        get_raw, floor_raw = request_bytes("GET", GET_PATH), request_bytes("GET", "/")
        apps, floors = gunicorn_workers(server.pid), gunicorn_workers(floor.pid)

        def p99(url_port: int, path: str, raw: bytes, workers: list[int]) -> dict:
            if use_wrk:
                return wrk(f"http://127.0.0.1:{url_port}{path}", args.concurrency, seconds, workers)
            lat, statuses, wall = load(url_port, raw, args.concurrency, total // 2)
            return {"p99": float(np.percentile(lat * 1000, 99)), "bad": sum(s != 200 for s in statuses), "cpu_ms": None}

        still_running = True
        p99s = {"floor": [], "paused": [], "running": [], "floor_running": []}  # per round, ms
        cpu = {"floor": [], "paused": [], "running": []}
        for r in range(1, rounds + 1):
            signal_all(worker, signal.SIGSTOP)
            try:
                f = p99(floor_port, "/", floor_raw, floors)
                paused = p99(port, GET_PATH, get_raw, apps)
            finally:
                signal_all(worker, signal.SIGCONT)
            time.sleep(0.5)
            running = p99(port, GET_PATH, get_raw, apps)
            floor_running = p99(floor_port, "/", floor_raw, floors)
            if _job(base + job["url"])["status"] != "running":
                still_running = False
                print(f"  round {r}: the refit ended during the round; this round and later ones are not counted")
                break
            for name, m in (("floor", f), ("paused", paused), ("running", running), ("floor_running", floor_running)):
                p99s[name].append(m["p99"])
                if m.get("cpu_ms") and name in cpu:
                    cpu[name].append(m["cpu_ms"])
            bad = paused["bad"] + running["bad"]
            print(f"  round {r}: floor p99 {f['p99']:.2f} ms | cached GET p99 {paused['p99']:.2f} ms ({paused['p99'] / f['p99']:.2f}x) | "
                  f"while the refit runs p99 {running['p99']:.2f} ms ({running['p99'] / f['p99']:.2f}x) | non-2xx: {bad} | "
                  f"the floor itself while the refit runs: p99 {floor_running['p99']:.2f} ms ({floor_running['p99'] / f['p99']:.2f}x)")
        state = _job(base + job["url"])
        when = f"{time.perf_counter() - started:.0f} s after it started, {state['progress']}"
        counted = len(p99s["floor"])
        print(f"refit job {job['job_id']}: " + ("running in every round" if still_running else f"running in {counted} rounds")
              + f"; now {state['status']} ({when})")
        if not counted:
            return
        ratios = {name: np.array(p99s[name]) / np.array(p99s["floor"]) for name in ("paused", "running", "floor_running")}
        for name, label in (("paused", "no refit"), ("running", "refit running")):
            median = float(np.median(ratios[name]))
            verdict = "within" if median <= 1.5 else "NOT within"
            print(f"cached GET x{args.concurrency}, {label}: p99 {median:.2f}x the floor (median of {counted} rounds; median p99 "
                  f"{np.median(p99s[name]):.2f} ms, floor {np.median(p99s['floor']):.2f} ms)  [target 1.5x: {verdict}]")
        print(f"gunicorn's floor itself while the refit runs: p99 {np.median(ratios['floor_running']):.2f}x the floor (median): "
              f"what the refit's share of the two cores costs any server, the app or none")
        if all(cpu.values()):
            print("gunicorn workers' CPU per request (other load on the machine barely moves it): "
                  + ", ".join(f"{label} {np.median(cpu[name]):.3f} ms" for name, label in
                              (("floor", "floor"), ("paused", "cached GET"), ("running", "cached GET while the refit runs"))))
    finally:
        floor.terminate()
        floor.wait(timeout=30)


ATTACKER, VICTIM = "127.0.0.2", "127.0.0.3"  # two clients by address (Linux answers on all of 127/8)
CHART_PATH = "/v1/forecasts/chart.png?metric={metric}&scenario={scenario}&level={level}"  # a new query each time: no cache hit
CHART_QUERIES = [{"metric": m, "scenario": s, "level": f"{lv / 100:.2f}"} for lv in range(5000, 9900)
                 for s in ("baseline", "adverse", "policy_targets", "policy_targets_adverse")
                 for m in ("market_size", "npl_ratio", "green_loan_share")]  # 58,800: none asked twice in a benchmark


async def _timed_from(port: int, raw: bytes, local: str) -> tuple[float, int]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
    writer.write(raw)
    await writer.drain()
    data = await reader.read()
    writer.close()
    return time.perf_counter() - started, int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


async def _loops(port: int, jobs: list[tuple[str, list[bytes], int]], local: str, seconds: float, start: int = 0) -> dict:
    """Closed loops for `seconds`: for each (label, requests, n), n connections each sending the next
    of the requests (in turn from `start`, shared by the n) as soon as the answer arrived. Returns
    label -> {"latencies": [...], "statuses": [...]}."""
    out = {label: {"latencies": [], "statuses": []} for label, _, _ in jobs}
    turn = {label: start for label, _, _ in jobs}
    stop = time.perf_counter() + seconds

    async def loop(label: str, raws: list[bytes]):
        while time.perf_counter() < stop:
            raw = raws[turn[label] % len(raws)]
            turn[label] += 1
            elapsed, status = await _timed_from(port, raw, local)
            out[label]["latencies"].append(elapsed)
            out[label]["statuses"].append(status)

    await asyncio.gather(*(loop(label, raws) for label, raws, n in jobs for _ in range(n)))
    return out


def _loops_client(port: int, jobs, local: str, seconds: float, start: int, queue) -> None:
    queue.put("started")
    queue.put(asyncio.run(_loops(port, jobs, local, seconds, start)))


def fairness(port: int, args) -> None:
    """Paired rounds: the victim's cached GET alone, then while the attacker floods compute (module
    docstring). Both clients run in their own processes."""
    from smfcast.api.limits import configured_limit
    rounds = args.rounds or (2 if args.small else 5)
    seconds = 2.0 if args.small else 8.0
    loops = 8
    get_raw = request_bytes("GET", GET_PATH)
    charts = [request_bytes("GET", CHART_PATH.format(**q)) for q in CHART_QUERIES]
    attack = [("chart.png", charts, loops), ("POST", [request_bytes("POST", POST_PATH, POST_BODY)], loops)]
    ctx = multiprocessing.get_context("spawn")
    print(f"fairness: {rounds} rounds of {seconds:g} s; the attacker ({ATTACKER}, no token) runs {loops} loops on chart.png "
          f"(a new query each time, from {len(charts):,}: none answered from the cache) and {loops} on POST {POST_PATH}; the victim "
          f"({VICTIM}) one connection of cached GET {GET_PATH}; "
          f"the limit of anonymous compute: {configured_limit()} per client and worker")

    def victim() -> np.ndarray:
        lat = asyncio.run(_loops(port, [("GET", [get_raw], 1)], VICTIM, seconds))["GET"]
        bad = sum(1 for st in lat["statuses"] if st != 200)
        if bad:
            raise SystemExit(f"the victim's cached GET got {bad} non-200 answers")
        return np.asarray(lat["latencies"]) * 1000

    ratios = []
    for r in range(1, rounds + 1):
        idle = victim()
        queue = ctx.Queue()
        start = (r - 1) * len(CHART_QUERIES) // rounds  # each round's charts new: none cached by an earlier round
        attacker = ctx.Process(target=_loops_client, args=(port, attack, ATTACKER, seconds + 2.0, start, queue))
        attacker.start()
        queue.get()
        time.sleep(1.0)  # the attack under way, its budget spent
        busy = victim()
        flood = queue.get()
        attacker.join()
        idle_p99, busy_p99 = float(np.percentile(idle, 99)), float(np.percentile(busy, 99))
        ratios.append(busy_p99 / idle_p99)
        spent = seconds + 2.0
        counts = ", ".join(f"{label} {sum(st == 200 for st in v['statuses'])} computed / {sum(st == 429 for st in v['statuses'])} "
                           f"refused (429) / {sum(st not in (200, 429) for st in v['statuses'])} other"
                           for label, v in flood.items())
        print(f"  round {r}: victim cached GET p99 idle {idle_p99:.2f} ms ({len(idle)} requests) | under attack {busy_p99:.2f} ms "
              f"({len(busy)} requests, max {busy.max():.1f} ms) | ratio {ratios[-1]:.2f}x | attacker in {spent:g} s: {counts}")
    median = float(np.median(ratios))
    print(f"fairness: the victim's cached GET p99 under attack is {median:.2f}x its idle p99 (median of {rounds} rounds; "
          f"rounds {', '.join(f'{x:.2f}' for x in ratios)})  [target 3x: {'within' if median <= 3 else 'NOT within'}]")


if __name__ == "__main__":
    main()
