"""The task queue that carries refits and backtest reruns to a worker process (Huey).

Embedded default: Huey's SQLite storage in a file beside the run store (`<store>.queue.sqlite`),
so nothing needs installing or running besides `smfcast serve`, which starts the worker. Scale-out:
`SMFCAST_QUEUE_URL=redis://HOST:6379/0` keeps the queue in Redis, and workers on several machines
that share the run store's file system consume it (`smfcast worker` on each). A message carries
only a job id, as JSON (never a pickle); the job table (`jobs.py`) holds what was asked, the
state, progress and the lease.

`smfcast worker` runs one job at a time unless `SMFCAST_QUEUE_WORKERS` says more (each then in
a process of its own), at niceness 19 (`SMFCAST_WORKER_NICE`), fitting the metrics one after
another, and computes each job on idle CPU only (`_idle_cpu_only`; `--no-idle` or
`SMFCAST_WORKER_IDLE=0` keeps just the niceness): a refit takes the cycles the HTTP workers leave.
The worker sweeps expired leases when it starts and every lease / 4 seconds after.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import traceback
from functools import lru_cache
from pathlib import Path

from huey import RedisHuey, SqliteHuey
from huey.registry import Message
from huey.serializer import Serializer

from smfcast.errors import InvalidInput, SmfcastError
from smfcast.registry.series import HEADLINE_METRICS, load_registry
from smfcast.store.backtests import backtest_key, run_backtests
from smfcast.store.jobs import Heartbeat, JobTable
from smfcast.store.requests import backtest_request, forecast_request, refit_request
from smfcast.store.runs import RunStore, code_digest, create_run, library_versions, run_id_for

log = logging.getLogger("smfcast.queue")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class QueueUnavailable(SmfcastError):
    """The queue's storage refused a message (Redis unreachable, a full disk): try again later."""

    status = 503


class JsonSerializer(Serializer):
    """Huey messages as JSON: a job id and Huey's bookkeeping, nothing that unpickling could run."""

    def _serialize(self, data) -> bytes:
        doc = {"message": list(data)} if isinstance(data, Message) else {"data": data}
        return json.dumps(doc).encode()

    def _deserialize(self, data: bytes):
        doc = json.loads(data)
        return Message(*doc["message"]) if "message" in doc else doc["data"]


def queue_url() -> str | None:
    """`SMFCAST_QUEUE_URL` (a Redis URL), or None for the embedded SQLite queue."""
    url = os.environ.get("SMFCAST_QUEUE_URL") or None
    if url is not None and not url.startswith(REDIS_SCHEMES):
        raise InvalidInput(f"SMFCAST_QUEUE_URL must be a Redis URL ({', '.join(REDIS_SCHEMES)}...), got {url!r}", "SMFCAST_QUEUE_URL")
    return url


def queue_path(store_path: str | Path) -> Path:
    """Where the embedded queue keeps its messages: beside the run store."""
    p = Path(store_path)
    return p.with_name(p.stem + ".queue.sqlite")


class Queue:
    """One run store's job queue: submit jobs, run them (`consume`, `drain`), sweep their leases."""

    def __init__(self, store_path: str | Path, url: str | None = None):
        self.store_path = Path(store_path)
        self.url = url
        self.idle = False  # `consume` sets it: jobs then compute on idle CPU only
        self.jobs = JobTable(self.store_path)
        if url:
            try:
                self.huey = RedisHuey("smfcast", url=url, results=False, serializer=JsonSerializer())
            except Exception as exc:  # noqa: BLE001 - e.g. the redis client library is missing
                raise SmfcastError(f"cannot use the Redis queue at {url}: {exc}", "SMFCAST_QUEUE_URL") from None
        else:
            self.huey = SqliteHuey("smfcast", filename=str(queue_path(self.store_path)), results=False, serializer=JsonSerializer())
        self._task = self.huey.task(name="run_job")(self._run)

    # -- producers -------------------------------------------------------------------------
    def submit_refit(self, body: dict, by: str, data_dir: str | Path) -> tuple[dict, bool]:
        """Queue a refit (checked by `refit_request`); (job, created)."""
        request = refit_request(body)
        run_id, _ = run_id_for(Path(data_dir), request.config)
        key = f"run:{run_id}:{'publish' if request.publish else 'store'}"
        return self._submit("run", request.params(), key, by, data_dir)

    def submit_backtest(self, body: dict, by: str, data_dir: str | Path) -> tuple[dict, bool]:
        """Queue a backtest rerun (checked by `backtest_request`); (job, created)."""
        request = backtest_request(body)
        backtest_id, _ = backtest_key(load_registry(data_dir), request)
        return self._submit("backtest", request.params(), f"backtest:{backtest_id}", by, data_dir)

    def submit_forecast(self, params: dict, by: str) -> tuple[dict, bool]:
        """Queue an ad-hoc forecast of users' series (checked by `forecast_request`); (job, created).
        Identical requests share a job: the key hashes the request and the engine's code."""
        import hashlib
        request = forecast_request(params)
        key = hashlib.sha256(json.dumps({"params": request.params, "code": code_digest(), "libraries": library_versions()},
                                        sort_keys=True, default=str).encode()).hexdigest()[:16]
        return self._submit("forecast", request.params, f"forecast:{key}", by, self.store_path.parent)

    def _submit(self, kind: str, params: dict, key: str, by: str, data_dir) -> tuple[dict, bool]:
        job, created = self.jobs.submit(kind, params, key, by, str(Path(data_dir).resolve()))
        if created:
            try:
                self._task(job["job_id"])
            except Exception as exc:  # noqa: BLE001 - the queue's storage refused the message
                self.jobs.fail(job["job_id"], f"the queue could not take the job: {type(exc).__name__}: {exc}")
                raise QueueUnavailable(f"the job queue is unavailable ({type(exc).__name__}: {exc}); try again", "queue") from None
        return self.jobs.get(job["job_id"]), created

    def sweep(self, prune: bool = False) -> list[str]:
        """Requeue or fail jobs whose worker died (see `jobs.JobTable.sweep`); put requeued ones back."""
        requeued = self.jobs.sweep(prune)
        for job_id in requeued:
            log.warning("job %s lost its worker; queued again", job_id)
            self._task(job_id)
        return requeued

    # -- the worker side -------------------------------------------------------------------
    def _run(self, job_id: str) -> None:
        """The task: claim the job, run it under a heartbeat, record the outcome."""
        attempt = self.jobs.claim(job_id, f"{socket.gethostname()}:{os.getpid()}")
        if attempt is None:
            log.info("job %s is no longer queued; skipped", job_id)
            return
        kind, params, by, data_dir = self.jobs.work(job_id)
        log.info("job %s (%s) attempt %d started", job_id, kind, attempt)
        with Heartbeat(self.jobs, job_id, attempt) as beat:  # started first: the heartbeat keeps normal scheduling
            if self.idle:
                _idle_cpu_only()
            try:
                result = self._execute(job_id, kind, params, by, data_dir, beat)
                status, error = "succeeded", None
            except SmfcastError as exc:
                status, result, error = "failed", None, exc.message
            except Exception as exc:  # noqa: BLE001 - a job must always end in a recorded state
                log.error("job %s failed: %s", job_id, traceback.format_exc())
                status, result, error = "failed", None, f"{type(exc).__name__}: {exc}"
        if not self.jobs.finish(job_id, attempt, status, result, error):
            log.warning("job %s attempt %d ended after its lease was swept; its outcome is not recorded", job_id, attempt)
        log.info("job %s %s", job_id, status)

    def _execute(self, job_id: str, kind: str, params: dict, by: str, data_dir: str, beat: Heartbeat) -> dict:
        store = RunStore(self.store_path)
        if kind == "run":
            request = refit_request(params)
            total = len(HEADLINE_METRICS)
            done = []

            def progress(metric):
                done.append(metric)
                beat.report(done=len(done), total=total, step=f"fitted {metric}")

            existed = store.exists(run_id_for(Path(data_dir), request.config)[0])
            beat.report(done=0, total=total, step="fitting")
            run = create_run(data_dir, request.config, store, progress=progress)
            beat.report(done=total, total=total, step=f"run {run.run_id} " + ("was already stored" if existed else "stored"))
            out = {"run_id": run.run_id, "url": f"/v1/runs/{run.run_id}", "published": False}
            if request.publish:
                store.publish(run.run_id, by, request.reason or f"refit job {job_id}")
                out["published"] = True
            return out
        if kind == "backtest":
            request = backtest_request(params)
            reg = load_registry(data_dir)
            series = [s for m, head in reg.headlines.items() if request.metric in (None, m) for s in (head.national, head.series)]
            done = []

            def progress(sid):
                done.append(sid)
                beat.report(done=len(done), total=len(series), step=f"backtested {sid}")

            beat.report(done=0, total=len(series), step="backtesting")
            backtest_id, _, _ = run_backtests(reg, request, store, progress=progress)
            beat.report(done=len(series), total=len(series), step=f"backtest {backtest_id} stored")
            return {"backtest_id": backtest_id, "url": f"/v1/backtests?backtest={backtest_id}"}
        if kind == "forecast":
            request = forecast_request(params)
            beat.report(done=0, total=request.n_series, step=f"forecasting {request.n_series} series")
            result = request.answer(engine="local")
            beat.report(done=request.n_series, total=request.n_series, step="forecast")
            return result
        raise InvalidInput(f"unknown job kind {kind!r}", "kind")

    def drain(self) -> int:
        """Run every queued message now, in this process; the number run."""
        n = 0
        while (task := self.huey.dequeue()) is not None:
            self.huey.execute(task)
            n += 1
        return n

    def consume(self, workers: int = 1, nice: int = 19, idle: bool = True) -> None:
        """Run the Huey consumer until SIGTERM/SIGINT, sweeping leases in the background."""
        if nice:
            os.nice(nice)
        self.idle = idle
        self.sweep(prune=True)
        stop = threading.Event()

        def sweeper():
            while not stop.wait(self.jobs.settings.heartbeat):
                try:
                    self.sweep(prune=True)
                except Exception:  # noqa: BLE001 - the next sweep tries again; the consumer must keep running
                    log.exception("sweeping job leases failed")

        close = getattr(self.huey.storage, "close", None)
        if workers > 1 and close is not None:
            close()  # process workers fork next: none may inherit this process's SQLite connection
        threading.Thread(target=sweeper, name="lease-sweeper", daemon=True).start()
        consumer = self.huey.create_consumer(workers=workers, worker_type="thread" if workers == 1 else "process",
                                             periodic=False, initial_delay=0.1, max_delay=1.0, check_worker_health=True)
        log.info("smfcast worker: %d worker(s), queue %s, store %s", workers, self.url or queue_path(self.store_path), self.store_path)
        try:
            consumer.run()
        finally:
            stop.set()


def _idle_cpu_only() -> None:
    """Put the calling thread (the one computing a job) in Linux's SCHED_IDLE class: it runs only on
    CPU time nothing else wants, and any HTTP worker that wakes takes the core at once. A niceness
    alone is not enough: a nice-19 task still finishes its time slice before a waking request
    handler runs (measured: gunicorn's own p99 at 32 connections 1.6x higher during a nice-19
    refit). The heartbeat process, started before, keeps ordinary scheduling, so a refit that
    waits for idle CPU under sustained load keeps its lease."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not permitted: the niceness still applies
        log.info("SCHED_IDLE is not available here; jobs run at the worker's niceness")


@lru_cache(maxsize=8)
def _queue(store_path: str, url: str | None) -> Queue:
    return Queue(store_path, url)


def open_queue(store_path: str | Path) -> Queue:
    """The queue of a run store, as configured (`SMFCAST_QUEUE_URL`), one per process."""
    return _queue(str(Path(store_path).resolve()), queue_url())
