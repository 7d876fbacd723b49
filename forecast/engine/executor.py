"""One seam for batch work: where backtests and validations run.

`local` (default) uses a process pool with one worker per core; `serial` runs in-process (for
debugging and small jobs); `dask` sends the same tasks to a Dask distributed scheduler, for users
with many regions or series who outgrow one machine. Every task is a pure function of its
arguments, so all three give the same numbers.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

from smfcast.blas import single_threaded
from smfcast.errors import InvalidInput

ENGINES = ("local", "serial", "dask")


class _Serial:
    def map(self, fn, items):
        return map(fn, items)


class _Dask:
    def __init__(self, client):
        self.client = client

    def map(self, fn, items):
        items = list(items)
        futures = self.client.map(fn, items, pure=False)
        return self.client.gather(futures)


@contextmanager
def executor(engine: str = "local", address: str | None = None, workers: int | None = None):
    """Yield an object with `.map(fn, items)` returning results in order."""
    if engine not in ENGINES:
        raise InvalidInput(f"engine {engine!r} is not one of {', '.join(ENGINES)}", "engine")
    if engine == "serial":
        yield _Serial()
    elif engine == "local":
        n = workers or os.cpu_count() or 1
        # forkserver: workers fork from a clean single-threaded server that has imported the engine
        # once, which is safe from a threaded parent (a gunicorn worker) and starts fast.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["smfcast.engine.headline"])
        # One BLAS thread per worker (`smfcast.blas`): a worker per core, each with a BLAS thread
        # per core, would oversubscribe the cores on these small matrices.
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=single_threaded) as pool:
            yield pool
    else:
        if not address:
            raise InvalidInput("--engine dask needs --address tcp://HOST:PORT of a Dask scheduler", "address")
        try:
            from dask.distributed import Client
        except ImportError:
            raise InvalidInput("the dask engine needs `pip install 'dask[distributed]'`", "engine") from None
        with Client(address, timeout="20s") as client:
            yield _Dask(client)
