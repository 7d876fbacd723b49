"""One BLAS and OpenMP thread per process, set where a process starts, never on import.

smfcast's matrices are tiny (ARIMA, ETS and Theta on series of tens of points): a multi-threaded
BLAS only spins waiting for work, and with several processes at once (gunicorn workers, the process
pool of the local executor, test workers) it oversubscribes the cores. Measured: a small run took
66 s instead of 5 s with two pytest workers on 2 cores when each process's BLAS used every core.

So the entry points call `single_threaded()`: the command line (`smfcast.cli.main`), the
gunicorn app (`smfcast.api.wsgi`) and each worker of the process pool (`smfcast.engine.executor`).
Importing `forecast` changes nothing: a notebook or another program keeps its own settings.
"""

from __future__ import annotations

import os
import sys

VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def single_threaded() -> None:
    """Limit this process (and the processes it starts) to one BLAS/OpenMP thread, unless the
    environment already asks for a number.

    The variables reach libraries loaded from now on and child processes; a library already loaded
    (numpy imported earlier) read them at load time, so its thread pool is limited directly
    through threadpoolctl."""
    for name in VARIABLES:
        os.environ.setdefault(name, "1")
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits={"blas": _threads("OPENBLAS_NUM_THREADS"), "openmp": _threads("OMP_NUM_THREADS")})


def _threads(name: str) -> int:
    try:
        return max(1, int(os.environ[name]))
    except ValueError:
        return 1
