"""What `smfcast serve` runs: gunicorn (the API) and the job worker, started and watched together.

* Tokens first: with none configured, a token file is created beside the run store (mode 0600)
  and its path printed; a non-loopback address is refused unless a token was configured
  explicitly (`tokens.py`).
* gunicorn with explicit limits: `--timeout` (no request holds a worker longer), a
  `--graceful-timeout` for restarts, and `--max-requests` with `--max-requests-jitter` (workers
  are recycled, not all at once).
* The job worker (`smfcast worker`) is restarted whenever it exits, after 1 s, doubling to 30 s
  while it keeps failing; a job it was running is retried or failed when its lease runs out.
* SIGTERM or SIGINT stops both. If gunicorn exits, the worker is stopped and serve exits with
  gunicorn's code.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from smfcast import __version__
from smfcast.errors import SmfcastError

from .tokens import configured_tokens, create_token_file, explicit, token_file

TIMEOUT, GRACEFUL_TIMEOUT = 60, 30  # seconds
MAX_REQUESTS, MAX_REQUESTS_JITTER = 100_000, 10_000  # per worker; the jitter staggers the recycling


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refuse_exposed(host: str) -> None:
    """A non-loopback address needs a token configured on purpose, not one serve made up."""
    if not is_loopback(host) and not explicit():
        raise SmfcastError(f"refusing to listen on {host} without an explicit write token: set SMFCAST_API_TOKEN (or "
                           f"SMFCAST_API_TOKENS, or SMFCAST_TOKEN_FILE), or serve on 127.0.0.1 behind a proxy", "host")


def prepare_tokens(host: str, store_path: Path, out=sys.stdout) -> None:
    """Refuse an exposed address without an explicit token; create the token file when none exists."""
    refuse_exposed(host)
    tokens = configured_tokens(store_path)
    if tokens:
        print(f"smfcast: writes need one of {len(tokens)} token(s) ({', '.join(sorted(tokens))}), "
              f"from {'the environment' if not token_file(store_path).exists() else token_file(store_path)}", file=out, flush=True)
        return
    path = token_file(store_path)
    create_token_file(path)
    print(f"smfcast: no write token was configured; created {path} (mode 0600) with a token named 'admin'. "
          f"Writes need 'Authorization: Bearer <the token in that file>'", file=out, flush=True)


def gunicorn_argv(gunicorn: str, host: str, port: int, workers: int) -> list[str]:
    return [gunicorn, "--bind", f"{host}:{port}", "--workers", str(workers), "--timeout", str(TIMEOUT),
            "--graceful-timeout", str(GRACEFUL_TIMEOUT), "--max-requests", str(MAX_REQUESTS),
            "--max-requests-jitter", str(MAX_REQUESTS_JITTER), "--access-logfile", "-", "smfcast.api.wsgi:app"]


def _die_with_parent() -> None:
    """In the child: get SIGTERM if serve itself dies (Linux), so no orphan keeps the port."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(host: str, port: int, workers: int, store_path: Path) -> int:
    """Start gunicorn and the job worker and watch them until a signal or gunicorn's exit."""
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if gunicorn is None:
        raise SmfcastError("gunicorn is not installed in this environment; run `make serve`")
    prepare_tokens(host, store_path)
    print(f"smfcast {__version__}: serving on http://{host}:{port}/v1/health, with the job worker", flush=True)
    env = {**os.environ, "SMFCAST_STORE": str(store_path)}
    worker_argv = [sys.executable, "-m", "smfcast.cli", "--store", str(store_path), "worker"]
    api = subprocess.Popen(gunicorn_argv(gunicorn, host, port, workers), env=env, preexec_fn=_die_with_parent)
    worker = subprocess.Popen(worker_argv, env=env, preexec_fn=_die_with_parent)
    stopping: list[int] = []

    def on_signal(signum, _frame):
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    delay, restart_at, started = 1.0, None, time.monotonic()
    code = 0
    try:
        while not stopping:
            time.sleep(0.2)
            if api.poll() is not None:
                code = api.returncode
                print(f"smfcast: gunicorn exited with code {code}; stopping the job worker", file=sys.stderr, flush=True)
                break
            if worker.poll() is None:
                if time.monotonic() - started > 60:
                    delay = 1.0  # a minute up: the next failure starts the backoff afresh
                continue
            if restart_at is None:
                restart_at = time.monotonic() + delay
                print(f"smfcast: the job worker exited with code {worker.returncode}; restarting it in {delay:g} s",
                      file=sys.stderr, flush=True)
            elif time.monotonic() >= restart_at:
                worker = subprocess.Popen(worker_argv, env=env, preexec_fn=_die_with_parent)
                restart_at, started, delay = None, time.monotonic(), min(delay * 2, 30.0)
    finally:
        for proc in (api, worker):
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + GRACEFUL_TIMEOUT
        for proc in (api, worker):
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code
