"""smfcast engine: data registry, models on sample paths, scenarios, bands, backtests and runs.

Importing it changes no process-wide setting; the entry points limit BLAS threads (`smfcast.blas`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smfcast")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
