"""smfcast engine: data registry, models on sample paths, scenarios, bands, backtests and runs."""

import os
from importlib.metadata import PackageNotFoundError, version

# Our matrices are tiny: multi-threaded BLAS only adds spin-waiting, and with several processes
# (gunicorn workers, test workers, the local executor) it oversubscribes the cores badly
# (measured: a small run took 66 s instead of 5 s with two pytest workers). Set before numpy loads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

try:
    __version__ = version("smfcast")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
