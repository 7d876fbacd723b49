"""smfcast: forecasts with calibrated bands for any annual, quarterly or monthly series, and the
service built on them for small and micro-enterprise finance in Qinghai.

The public face, in the conventions of statsforecast and TimeGPT (a long frame with `unique_id`,
`ds`, `y`):

    import smfcast
    fc = smfcast.forecast(df, h=8, level=[80, 95])      # unique_id, ds, mean, median, lo-80, ...
    cv = smfcast.cross_validation(df, h=8, n_windows=3)  # ... with cutoff and y
    fig = smfcast.plot(df, fc)                           # a matplotlib Figure

They load on first use (`import smfcast` stays light). Importing changes no process-wide setting;
the command line and the server limit BLAS threads themselves (`smfcast.blas`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smfcast")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__", "cross_validation", "forecast", "plot"]


def __getattr__(name: str):
    if name in ("forecast", "cross_validation"):
        from smfcast.engine import frames
        return getattr(frames, name)
    if name == "plot":
        from smfcast.outputs.plots import plot
        return plot
    raise AttributeError(f"module 'smfcast' has no attribute {name!r}")
