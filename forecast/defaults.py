"""The defaults every layer shares, defined once: the members, the ensemble's name, band levels,
the seed, the number of sample paths and the shape of a backtest rerun. The CLI, the API, the
engine, the benchmarks and the notebooks all read them from here. `env_number` reads the
settings an operator may override in the environment (SMFCAST_...), with one error for a bad one."""

import os

from smfcast.errors import InvalidInput

MEMBERS = ("arima", "prophet", "ets", "theta", "classic_theta", "drift")  # the forecasting models every run fits
# Members for non-seasonal (annual) series only: a random walk with drift ignores a season. On
# annual data it steadies the combination: with it, the equal-weight median of the members scored
# better on yearly M3, M1 and tourism data alike (README, "On data the engine was not tuned on").
NON_SEASONAL_ONLY = ("drift",)
ENSEMBLE = "ensemble"  # the name under which the combination of the members is stored and served
LEVELS = (80, 95)  # central band levels (percent) served unless a request asks for others
SEED = 20260101  # the default random seed of runs, backtests and validations
N_PATHS = 2000  # sample paths per model in a run
MAX_N_PATHS = 10_000  # the most a refit may ask for (a run stores n_paths x years x models x scenarios floats)
UNTIL_YEAR = 2030  # the last year a run forecasts by default
# A provincial annual series with fewer usable points than this is carried by its national series
# (engine/provincial.py); the registry's run-readiness check (registry/readiness.py) needs it too.
MIN_DIRECT_POINTS = 10
# A backtest rerun (`smfcast backtest`, `POST /v1/backtests`): h steps ahead from each of n_windows
# origins step_size apart (4 steps: a year of quarters), with n_paths sample paths per model.
BACKTEST = {"h": 4, "n_windows": 8, "step_size": 1, "n_paths": 500}
# Every answer (CLI, HTTP, exports) rounds computed values (band edges, means, scores) to this many
# significant digits: a quantile read off a few thousand paths has a Monte Carlo error far larger,
# and longer numbers are float noise (27.400000000000002). Observed values stay as recorded.
PRECISION = 6


def rounded(value):
    """A computed number at `PRECISION` significant digits; None for None, NaN or an infinity."""
    if value is None:
        return None
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return float(f"{value:.{PRECISION}g}")


def env_number(name: str, default: float, minimum: float, whole: bool = False) -> float:
    """The number in environment variable `name` (`default` when unset or empty); a value that is
    not a number, not whole where `whole`, or below `minimum` is refused naming the variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise InvalidInput(f"{name} must be {kind}, got {raw!r}", name) from None
    if value < minimum:
        raise InvalidInput(f"{name} must be at least {minimum:g}, got {raw}", name)
    return value


def members_for(models: tuple[str, ...], season_length: int) -> tuple[str, ...]:
    """The members among `models` that fit a series of this season length."""
    return tuple(m for m in models if season_length == 1 or m not in NON_SEASONAL_ONLY)
