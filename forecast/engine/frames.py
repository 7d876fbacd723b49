"""The engine's public face on long DataFrames: `smfcast.forecast` and `smfcast.cross_validation`.

In the conventions of statsforecast and TimeGPT: a long frame with `unique_id`, `ds` and `y`
(other names through `id_col`, `time_col`, `target_col`); `ds` as Timestamps (at period ends,
period starts or any fixed day of the month) or Periods; annual, quarterly or monthly data, the
frequency inferred or given as `freq`. The answer is a long frame with `mean`, `median` and a
`lo-L` / `hi-L` pair per level, `ds` in the input's convention.

The engine below stays on arrays: this module checks the frame, turns each series into arrays for
`forecaster.forecast_many` (the entry every door uses), and turns the paths back into a frame.
Every series that cannot be forecast is named with its reason in one `InvalidSeries` (a
ValueError): before anything is fitted for a bad frame, after fitting for a series on which every
member failed (unless `failed="drop"`). Nothing half-computed is returned.
"""

from __future__ import annotations

import functools
import sys
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from smfcast.defaults import ENSEMBLE, LEVELS, MAX_N_PATHS, MEMBERS, N_PATHS, SEED, members_for, rounded
from smfcast.engine import metrics
from smfcast.engine.config import EngineConfig
from smfcast.engine.executor import executor as open_executor
from smfcast.engine.forecaster import KINDS, POOLED_N_PATHS, Forecasts, SeriesInput, evidence_for, forecast_many, min_points
from smfcast.engine.records import Calibration, ForecastMethod, SeriesMethod
from smfcast.errors import InvalidArgument, InvalidInput, InvalidSeries
from smfcast.registry.grid import RegularSeries
from smfcast.registry.periods import Period
from smfcast.registry.transforms import Transform

STEP = {"annual": 12, "quarterly": 3, "monthly": 1}  # months between periods
PROGRESS_MIN_SERIES = 10  # a progress bar from this many series on (unless quiet)


class ForecastFrame(pd.DataFrame):
    """A forecast as a long DataFrame, with `method` (the typed record of how it was made,
    `records.ForecastMethod`) and `paths` (with `paths=True`: unique_id -> model -> natural-unit
    sample paths, shaped (n_paths, h)) carried along."""

    _metadata = ["method", "paths"]
    method = None
    paths = None

    @property
    def _constructor(self):
        return ForecastFrame


@dataclass
class _Series:
    """One series of the input: its id as given, its months on a regular grid, its values, and how
    its dates are written (so the forecast's are written alike)."""

    uid: object
    months: np.ndarray  # year * 12 + month - 1 of each point's (period's last) month, increasing
    y: np.ndarray
    day: str  # "end", "start", "period" (Periods of `period_freq`) or the day of the month to repeat
    period_freq: object = None


_OFFSETS = ((("YearEnd", "YearBegin", "BYearEnd", "BYearBegin"), "annual"),
            (("QuarterEnd", "QuarterBegin", "BQuarterEnd", "BQuarterBegin"), "quarterly"),
            (("MonthEnd", "MonthBegin", "BusinessMonthEnd", "BusinessMonthBegin"), "monthly"))


def frequency_of(freq) -> str:
    """'annual', 'quarterly' or 'monthly' from a pandas alias or offset ('Y', 'YE', 'A', 'Q', 'QE',
    'QS', 'M', 'ME', 'MS', with anchors) or the word; anything else is refused naming the field."""
    if isinstance(freq, str) and freq.strip().lower() in ("annual", "yearly", "quarterly", "monthly"):
        word = freq.strip().lower()
        return "annual" if word == "yearly" else word
    try:
        with warnings.catch_warnings():  # pandas warns of deprecated aliases it still reads; the refusal below says enough
            warnings.simplefilter("ignore")
            offset = pd.tseries.frequencies.to_offset(freq)
    except (ValueError, TypeError):
        raise InvalidInput(f"freq {freq!r} is not a frequency; give 'Y', 'Q' or 'M' (or annual, quarterly, monthly)", "freq") from None
    for names, kind in _OFFSETS:
        if type(offset).__name__ in names and offset.n == 1:
            return kind
    raise InvalidInput(f"freq {freq!r}: smfcast forecasts annual, quarterly and monthly series, not {offset.freqstr}", "freq")


def _columns(df, id_col: str, time_col: str, target_col: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InvalidInput(f"df must be a pandas DataFrame with columns {id_col}, {time_col}, {target_col}, "
                           f"not {type(df).__name__}", "df")
    missing = [c for c in (id_col, time_col, target_col) if c not in df.columns]
    if missing:
        raise InvalidInput(f"df has no column {', '.join(map(repr, missing))}; it needs {id_col}, {time_col} and {target_col} "
                           "(a long frame, one row per series and period)", missing[0])
    if df.empty:
        raise InvalidInput("df has no rows: there is no series to forecast", "df")


def _months(ds: pd.Series) -> tuple[pd.Series, str | None, str, object]:
    """(month numbers, the frequency of Periods or None, the day convention, the Periods'
    frequency) of a `ds` column."""
    if isinstance(ds.dtype, pd.PeriodDtype):
        kind = frequency_of(ds.dtype.freq)
        try:
            end = ds.dt.end_time
        except (OverflowError, pd.errors.OutOfBoundsDatetime):
            raise InvalidInput(f"ds holds Periods outside the years {YEARS[0]}-{YEARS[1]}", "ds") from None
        return end.dt.year * 12 + end.dt.month - 1, kind, "period", ds.dtype.freq
    try:
        stamps = pd.to_datetime(ds, format="ISO8601") if not pd.api.types.is_datetime64_any_dtype(ds) else ds
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        raise InvalidInput("ds must hold dates (Timestamps at period ends, or ISO dates such as 2015-03-31) or Periods", "ds") from None
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    stamps = stamps.dt.normalize()
    if stamps.isna().any():
        raise InvalidInput("ds has missing dates", "ds")
    if bool(stamps.dt.is_month_end.all()):
        day = "end"
    elif bool((stamps.dt.day == 1).all()):
        day = "start"
    else:
        days = stamps.dt.day.unique()
        day = str(int(days[0])) if len(days) == 1 else "end"
    return stamps.dt.year * 12 + stamps.dt.month - 1, None, day, None


def _split(df: pd.DataFrame, id_col: str, time_col: str, target_col: str) -> tuple[list[_Series], str | None, list]:
    """The series of the frame in the order they first appear, and the problems found in them."""
    if df[id_col].isna().any():
        raise InvalidInput(f"{id_col} has missing values: every row must name its series", id_col)
    months, kind, day, period_freq = _months(df[time_col])
    values = pd.to_numeric(df[target_col], errors="coerce").to_numpy(dtype=float)
    raw = df[target_col].to_numpy()
    frame = pd.DataFrame({"uid": df[id_col].to_numpy(), "m": months.to_numpy(dtype=np.int64), "y": values,
                          "bad": ~np.isfinite(values), "stamp": df[time_col].astype(str).to_numpy()})
    problems, out = [], []
    for uid, part in frame.groupby("uid", sort=False):
        if part["bad"].any():
            first = part.index[part["bad"].to_numpy()][0]
            problems.append((uid, f"y is not a finite number at {df[time_col].iloc[first]} ({raw[first]!r})"))
            continue
        part = part.sort_values("m", kind="stable")
        m = part["m"].to_numpy()
        dup = m[1:][np.diff(m) == 0]
        if len(dup) and part["stamp"].nunique() > len(np.unique(m)):
            problems.append((uid, "several dates in one month (daily or weekly data): smfcast forecasts annual, quarterly "
                                  "and monthly series"))
            continue
        if len(dup):
            problems.append((uid, f"{len(dup)} duplicate period(s), the first {_label(int(dup[0]), day, period_freq)}"))
            continue
        out.append(_Series(uid, m, part["y"].to_numpy(), day, period_freq))
    return out, kind, problems


def _label(month: int, day: str, period_freq=None) -> str:
    """A month as the input writes its periods (for errors)."""
    year, m = divmod(month, 12)
    if day == "period":
        return str(pd.Period(year=year, month=m + 1, freq="M").asfreq(period_freq))
    return f"{year}-{m + 1:02d}"


def _infer(series: list[_Series], given: str | None, kind: str | None, problems: list) -> str:
    """The frequency: given, from Periods, or the smallest step between points (one per call)."""
    if given is not None:
        freq = frequency_of(given)
        if kind is not None and kind != freq:
            raise InvalidInput(f"freq {given!r} is {freq} but ds holds {kind} Periods", "freq")
        return freq
    if kind is not None:
        return kind
    steps = {s.uid: int(np.min(np.diff(s.months))) for s in series if len(s.months) > 1}
    if not steps:
        raise InvalidSeries([(s.uid, "one point: nothing to infer a frequency from or to fit") for s in series] + problems)
    found = {}
    for uid, step in steps.items():
        kind_of = {12: "annual", 3: "quarterly", 1: "monthly"}.get(step)
        if step == 0 or kind_of is None and step < 12 and 12 % step != 0:
            problems.append((uid, "dates less than a month apart or irregular: smfcast forecasts annual, quarterly and "
                                  "monthly series"))
        elif kind_of is None:
            problems.append((uid, f"points {step} months apart: give freq, or annual, quarterly or monthly data"))
        else:
            found.setdefault(kind_of, []).append(uid)
    if len(found) > 1:
        counts = ", ".join(f"{len(v)} {k} (such as {v[0]!r})" for k, v in found.items())
        raise InvalidInput(f"the series mix frequencies ({counts}); forecast one frequency per call", "freq")
    if not found:
        raise InvalidSeries(problems)
    return next(iter(found))


def prepare(df: pd.DataFrame, freq=None, bounds=None, *, id_col: str = "unique_id", time_col: str = "ds",
            target_col: str = "y", min_length: int | None = None) -> tuple[list[SeriesInput], list[_Series], str]:
    """The frame's series as the engine's inputs, checked: every series with gaps, values that are
    not finite, duplicate periods, too few points or a frequency it cannot handle is named in one
    `InvalidSeries`. A series' model space is logs (and a floor at 0) when all its values are
    positive, raw values otherwise, as validated on the competition data; `bounds=(lower,
    upper)` instead bounds every series (logit between them, truncation at them)."""
    _columns(df, id_col, time_col, target_col)
    series, kind, problems = _split(df, id_col, time_col, target_col)
    freq = _infer(series, freq, kind, problems)
    step, need = STEP[freq], min_length or min_points(freq)
    usable = []
    for s in series:
        gaps = np.flatnonzero(np.diff(s.months) != step)
        if len(gaps):
            off = [d for d in np.diff(s.months) if d % step]
            if off:
                problems.append((s.uid, f"points {int(off[0])} months apart in {freq} data"))
                continue
            missing = [_label(int(m), s.day, s.period_freq) for g in gaps for m in range(s.months[g] + step, s.months[g + 1], step)]
            problems.append((s.uid, f"gaps: no value for {', '.join(missing[:5])}{' and more' if len(missing) > 5 else ''} "
                                    "(fill them or forecast the part after the last gap)"))
            continue
        if len(s.y) < need:
            problems.append((s.uid, f"{len(s.y)} points; {freq} series need at least {need}"))
            continue
        usable.append(s)
    if problems:
        raise InvalidSeries(problems)
    return [_engine_input(s, freq, bounds) for s in usable], usable, freq


def model_space(y: np.ndarray, bounds=None) -> tuple[Transform, float, float]:
    """(model space, lower, upper) of a series: logs with a floor at 0 when every value is positive,
    raw and unbounded otherwise (the rule validated on the competition data: docs/anchors.md);
    with `bounds`, logit between finite bounds the values lie strictly inside."""
    if bounds is not None:
        lower, upper = (float(b) for b in bounds)
        if not lower < upper:
            raise InvalidInput(f"bounds must be (lower, upper) with lower < upper, got {bounds!r}", "bounds")
        outside = (y < lower) | (y > upper)
        if outside.any():
            raise InvalidInput(f"a value {y[outside][0]:g} lies outside bounds ({lower:g}, {upper:g})", "bounds")
        inside = bool(np.all((y > lower) & (y < upper)))
        finite = np.isfinite(lower) and np.isfinite(upper)
        kind = "logit" if finite and inside else ("log" if lower == 0 and np.all(y > 0) else "none")
        return Transform(kind, lower if kind == "logit" else 0.0, upper if kind == "logit" else 100.0), lower, upper
    if np.all(y > 0):
        return Transform("log"), 0.0, np.inf
    return Transform("none"), -np.inf, np.inf


def _engine_input(s: _Series, freq: str, bounds) -> SeriesInput:
    space, lower, upper = model_space(s.y, bounds)
    periods = [Period(int(m) // 12, int(m) % 12 + 1, freq) for m in s.months]
    regular = RegularSeries(periods, space.forward(s.y), 0, np.ones(len(s.y), dtype=bool), space, s.y)
    return SeriesInput(str(s.uid), regular, lower, upper)


def _future(s: _Series, freq: str, h: int, first: int = 1) -> list:
    """The dates (or Periods) of steps first .. first + h - 1 after the series' last point, in the
    convention of its input."""
    months = s.months[-1] + STEP[freq] * np.arange(first, first + h)
    try:
        return [_date(int(m), s) for m in months]
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        raise InvalidInput(f"h={h} reaches past the dates pandas can hold (the year 2262)", "h") from None


def _date(month: int, s: _Series):
    """The date (or Period) of a month in the series' convention."""
    year, m = divmod(month, 12)
    day = s.day
    if day == "period":
        return pd.Period(year=year, month=m + 1, freq="M").asfreq(s.period_freq)
    start = pd.Timestamp(year=year, month=m + 1, day=1)
    if day == "start":
        return start
    if day == "end":
        return start + pd.offsets.MonthEnd(0)
    return start + pd.Timedelta(days=min(int(day), start.days_in_month) - 1)


def _rows(uid, dates: list, model: str, paths: np.ndarray, levels, extra: dict | None = None) -> dict:
    """The long rows of one model's natural-unit paths, as columns."""
    out = {"unique_id": [uid] * len(dates), "ds": dates, **({} if extra is None else extra), "model": [model] * len(dates),
           "mean": paths.mean(axis=0), "median": np.median(paths, axis=0)}
    for lv in levels:
        out[f"lo-{lv}"], out[f"hi-{lv}"] = metrics.quantile_band(paths, lv)
    return out


def check_levels(level) -> tuple:
    """Band levels in percent, each in [50, 99] (a number or a list), sorted; LEVELS when None."""
    try:
        items = [level] if isinstance(level, (int, float, str)) and not isinstance(level, bool) else list(level or LEVELS)
    except TypeError:
        items = [level]
    out = []
    for lv in items:
        if isinstance(lv, str):
            try:
                lv = float(lv.strip())
            except ValueError:
                pass
        if isinstance(lv, bool) or not isinstance(lv, (int, float, np.integer, np.floating)) or not 50 <= float(lv) <= 99:
            raise InvalidInput(f"level {lv!r} is not a band level; give percentages in [50, 99] such as (80, 95)", "level")
        out.append(int(lv) if float(lv).is_integer() else float(lv))
    return tuple(sorted(set(out)))


def _config(h, models, n_paths, seed, evidence: str, n_series: int) -> EngineConfig:
    """The engine's settings for a call, checked (each refusal names its argument)."""
    if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1:
        raise InvalidInput(f"h must be a whole number of steps ahead, at least 1, got {h!r}", "h")
    try:
        names = tuple(models) if models is not None else MEMBERS
    except TypeError:
        names = ()
    if isinstance(models, str) or not names or any(m not in MEMBERS for m in names) or len(set(names)) != len(names):
        raise InvalidInput(f"models must be a list of distinct names drawn from {', '.join(MEMBERS)}, got {models!r}", "models")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InvalidInput(f"seed must be a whole number in [0, 2^32), got {seed!r}", "seed")
    chosen, _ = evidence_for(n_series, evidence)
    if n_paths is None:
        n_paths = POOLED_N_PATHS if chosen == "pooled" else N_PATHS
    if isinstance(n_paths, bool) or not isinstance(n_paths, (int, np.integer)) or not 100 <= n_paths <= MAX_N_PATHS:
        raise InvalidInput(f"n_paths must be a whole number in [100, {MAX_N_PATHS}], got {n_paths!r}", "n_paths")
    return EngineConfig(seed=int(seed), n_paths=int(n_paths), models=names)


def _run(items: list[SeriesInput], h: int, config: EngineConfig, evidence: str, quiet: bool, engine: str,
         address: str | None) -> Forecasts:
    from tqdm import tqdm
    bar = tqdm(total=len(items), desc="forecast", unit="series", file=sys.stderr,
               disable=quiet or len(items) < PROGRESS_MIN_SERIES)
    try:
        if len(items) == 1 or engine == "serial":
            return forecast_many(items, h, config, evidence, None, bar.update)
        with open_executor(engine, address) as ex:
            return forecast_many(items, h, config, evidence, ex, bar.update)
    finally:
        bar.close()


def _method(found: Forecasts, uids: dict[str, object], freq: str, h: int, levels, config: EngineConfig) -> ForecastMethod:
    series = {}
    for sid, fit in found.fits.items():
        rec = fit.record
        series[sid] = SeriesMethod(
            str(uids[sid]), sorted(fit.members), dict(fit.failures), dict(rec.get("scale") or {}),
            dict(fit.weights), list(rec.get("pool") or sorted(fit.members)), rec.get("point_rule", ""),
            rec.get("combination", ""), list(rec.get("factors_by_step") or [None] * h),
            list(rec.get("labels_by_step") or ["uncalibrated"] * h), rec.get("status", ""),
            Calibration.from_dict(rec) if found.evidence == "own" else None, {k: round(v, 4) for k, v in fit.seconds.items()})
    return ForecastMethod(found.evidence, found.why, freq, KINDS[freq], h, tuple(levels),
                          tuple(members_for(config.models, KINDS[freq])), config.n_paths, config.seed, series,
                          found.pooled,
                          {str(uids[k]): v for k, v in found.failed.items()})


def _dates(values: list) -> pd.Index:
    """Periods as a PeriodIndex, dates as a DatetimeIndex."""
    if values and isinstance(values[0], pd.Period):
        return pd.PeriodIndex(values)
    return pd.DatetimeIndex(values)


def _frame(parts: list[dict], id_col: str, time_col: str, with_model: bool, levels, extra: tuple[str, ...] = ()) -> ForecastFrame:
    """The long frame of `_rows` parts: id, date, `extra` (cutoff, y), model (if asked), statistics."""
    stats = ["mean", "median"] + [f"{s}-{lv}" for lv in levels for s in ("lo", "hi")]
    columns = ["unique_id", "ds", *extra] + (["model"] if with_model else []) + stats
    table = {}
    for c in columns:
        values = [v for p in parts for v in p[c]]
        if c in ("ds", "cutoff"):
            table[c] = _dates(values)
        elif c in stats or c == "y":
            table[c] = np.asarray(values, dtype=float)
        else:
            table[c] = values
    out = ForecastFrame({c: (np.asarray(v) if isinstance(v, pd.Index) else v) for c, v in table.items()}, columns=columns)
    for c in ("ds", "cutoff"):
        if c in out.columns and isinstance(table[c], pd.PeriodIndex):
            out[c] = pd.Series(table[c], index=out.index)
    return out.rename(columns={"unique_id": id_col, "ds": time_col})


def _value_errors(fn):
    """Every refusal of the public face is a ValueError (and keeps its field for the doors)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InvalidInput as exc:
            if isinstance(exc, ValueError):
                raise
            raise InvalidArgument(exc.message, exc.field) from None
    return wrapper


@_value_errors
def forecast(df: pd.DataFrame, h: int, level=LEVELS, freq=None, models=None, n_paths: int | None = None, seed: int = SEED, *,
             evidence: str = "auto", members: bool = False, paths: bool = False, bounds=None, failed: str = "raise",
             quiet: bool = False, engine: str = "local", address: str | None = None, id_col: str = "unique_id",
             time_col: str = "ds", target_col: str = "y") -> ForecastFrame:
    """Forecast every series of a long frame h steps ahead, with bands at every `level`.

    The engine runs exactly as it does for the service's own metrics: members on sample paths, the
    fitting scale, pool, weights, combination and calibration. `evidence`: "auto" pools held-back
    forecasts across the series from 10 series on and uses each series' own rolling-origin
    backtest below; "pooled" or "own" force one (`fc.method.evidence` says which happened).
    `models`: members to fit (default all: arima, prophet, ets, theta, classic_theta, and drift on
    annual data). `n_paths`: sample paths per member (default 2,000 on own evidence, 500 pooled,
    as runs and the validation use). `members=True` adds every member's rows (a `model` column);
    `paths=True` keeps the sample paths in `fc.paths`. `bounds=(lower, upper)` bounds every series
    (default: positive series stay positive). `failed="drop"` leaves out, and lists in
    `fc.method.failed`, a series on which every member failed, instead of raising. `engine`:
    "local" processes (default), "serial", or "dask" with `address` (a scheduler); the numbers do
    not depend on it. A progress bar shows from 10 series on unless `quiet`.
    """
    levels = check_levels(level)
    if failed not in ("raise", "drop"):
        raise InvalidInput(f"failed must be 'raise' or 'drop', got {failed!r}", "failed")
    items, series, freq = prepare(df, freq, bounds, id_col=id_col, time_col=time_col, target_col=target_col)
    config = _config(h, models, n_paths, seed, evidence, len(items))
    future = {item.id: _future(s, freq, int(h)) for s, item in zip(series, items)}  # checked before anything is fitted
    found = _run(items, int(h), config, evidence, quiet, engine, address)
    uids = {str(s.uid): s.uid for s in series}
    if found.failed and failed == "raise":
        raise InvalidSeries([(uids[k], v) for k, v in found.failed.items()])
    parts, kept = [], {}
    for s, item in zip(series, items):
        fit = found.fits.get(item.id)
        if fit is None:
            continue
        dates = future[item.id]
        space = item.series.transform
        natural = {ENSEMBLE: space.inverse(fit.paths[ENSEMBLE]), **fit.natural}
        for name in [ENSEMBLE] + ([m for m in members_for(config.models, KINDS[freq]) if m in fit.natural] if members else []):
            parts.append(_rows(s.uid, dates, name, natural[name], levels))
        if paths:
            kept[s.uid] = natural
    out = _frame(parts, id_col, time_col, members, levels)
    out.method = _method(found, uids, freq, int(h), levels, config)
    out.paths = kept if paths else None
    return out


@_value_errors
def cross_validation(df: pd.DataFrame, h: int, n_windows: int = 1, step_size: int = 1, level=LEVELS, freq=None, models=None,
                     n_paths: int | None = None, seed: int = SEED, *, evidence: str = "auto", members: bool = False,
                     bounds=None, quiet: bool = False, engine: str = "local", address: str | None = None,
                     id_col: str = "unique_id", time_col: str = "ds", target_col: str = "y") -> ForecastFrame:
    """Rolling-origin evaluation of `forecast`: from each of `n_windows` cutoffs `step_size`
    periods apart (the last leaves h points to score), every series is forecast exactly as
    `forecast` does it from the data up to the cutoff (its evidence too: a window's own backtest
    sees nothing after its cutoff), and the rows carry `cutoff` (the last date used) and `y` (what
    happened). `fc.method` holds one record per window, the earliest first."""
    levels = check_levels(level)
    for name, value, least in (("n_windows", n_windows, 1), ("step_size", step_size, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise InvalidInput(f"{name} must be a whole number, at least {least}, got {value!r}", name)
    if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1:
        raise InvalidInput(f"h must be a whole number of steps ahead, at least 1, got {h!r}", "h")
    items, series, freq = prepare(df, freq, bounds, id_col=id_col, time_col=time_col, target_col=target_col)
    need = min_points(freq) + h + (n_windows - 1) * step_size
    short = [(s.uid, f"{len(s.y)} points; {n_windows} window(s) of h={h}, {step_size} apart, need at least {need}")
             for s in series if len(s.y) < need]
    if short:
        raise InvalidSeries(short)
    config = _config(h, models, n_paths, seed, evidence, len(items))
    parts, methods = [], []
    uids = {str(s.uid): s.uid for s in series}
    for back in range(n_windows - 1, -1, -1):
        cut = {s.uid: len(s.y) - h - back * step_size for s in series}
        window = [SeriesInput(item.id, _head(item.series, cut[s.uid]), item.lower, item.upper) for s, item in zip(series, items)]
        found = _run(window, int(h), config, evidence, quiet, engine, address)
        if found.failed:
            raise InvalidSeries([(uids[k], f"window with cutoff after {cut[uids[k]]} points: {v}") for k, v in found.failed.items()])
        for s, item in zip(series, window):
            fit, n = found.fits[item.id], cut[s.uid]
            head = _Series(s.uid, s.months[:n], s.y[:n], s.day, s.period_freq)
            dates, cutoff = _future(head, freq, int(h)), _date(int(s.months[n - 1]), s)
            space = item.series.transform
            natural = {ENSEMBLE: space.inverse(fit.paths[ENSEMBLE]), **fit.natural}
            extra = {"cutoff": [cutoff] * h, "y": s.y[n:n + h]}
            for name in [ENSEMBLE] + ([m for m in members_for(config.models, KINDS[freq]) if m in fit.natural] if members else []):
                parts.append(_rows(s.uid, dates, name, natural[name], levels, extra))
        methods.append(_method(found, uids, freq, int(h), levels, config))
    out = _frame(parts, id_col, time_col, members, levels, ("cutoff", "y"))
    out.method = methods
    return out


def _head(series: RegularSeries, n: int) -> RegularSeries:
    """The first n points of a regular series."""
    observed = series.observed[:n] if series.observed is not None else None
    values = series.values[:n] if series.values is not None else None
    return RegularSeries(series.periods[:n], series.z[:n], 0, observed, series.transform, values)


ID_COLUMNS, TIME_COLUMNS, VALUE_COLUMNS = ("unique_id", "series_id"), ("ds", "period"), ("y", "value")


YEARS = (1700, 2200)  # the dates pandas holds as Timestamps, with room for a forecast


def _period_or_date(text: str):
    """A Period for `2015`, `2015Q1`, `2015-03`; a Timestamp for an ISO date; None otherwise (or
    for a year outside `YEARS`)."""
    from smfcast.registry.periods import parse_period
    try:
        p = parse_period(text)
    except ValueError:
        try:
            stamp = pd.Timestamp(text) if len(text) >= 10 and text[4] == "-" else None
        except (ValueError, OverflowError):
            return None
        return stamp if stamp is not None and YEARS[0] <= stamp.year <= YEARS[1] else None
    if not YEARS[0] <= p.year <= YEARS[1]:
        return None
    return pd.Period(year=p.year, month=p.month, freq="M").asfreq({"annual": "Y", "quarterly": "Q", "monthly": "M"}[p.kind])


def long_frame(records: list[dict], where: str = "data") -> pd.DataFrame:
    """A long frame (`unique_id`, `ds`, `y`) from text records, as a CSV file or a JSON body gives
    them: the id in `unique_id` or `series_id`, the date in `ds` or `period` (2015, 2015Q1,
    2015-03, or an ISO date such as 2015-03-31), the value in `y` or `value`. A bad cell is
    refused naming its row (counted from 1) and field."""
    if not records:
        raise InvalidInput(f"{where} has no rows: give one row per series and period", where)
    columns = {}
    for names, role in ((ID_COLUMNS, "unique_id"), (TIME_COLUMNS, "ds"), (VALUE_COLUMNS, "y")):
        found = [n for n in names if n in records[0]]
        if len(found) != 1:
            raise InvalidInput(f"{where}: give the {role} column once, as {' or '.join(names)} (found {found or 'none'})", names[0])
        columns[role] = found[0]
    ids, dates, values = [], [], []
    for i, record in enumerate(records, start=1):
        uid, stamp, value = (record.get(columns[k]) for k in ("unique_id", "ds", "y"))
        if uid is None or str(uid).strip() == "":
            raise InvalidInput(f"{where}, row {i}, field '{columns['unique_id']}': the series id is missing", columns["unique_id"])
        date = _period_or_date(str(stamp).strip()) if stamp is not None else None
        if date is None:
            raise InvalidInput(f"{where}, row {i}, field '{columns['ds']}': {stamp!r} is not a period (2015, 2015Q1, 2015-03) "
                               f"or a date (2015-03-31) between {YEARS[0]} and {YEARS[1]}", columns["ds"])
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise InvalidInput(f"{where}, row {i}, field '{columns['y']}': {value!r} is not a number", columns["y"])
        try:
            number = float(value)
        except ValueError:
            raise InvalidInput(f"{where}, row {i}, field '{columns['y']}': {value!r} is not a number", columns["y"]) from None
        if not np.isfinite(number):
            raise InvalidInput(f"{where}, row {i}, field '{columns['y']}': {value!r} is not a finite number", columns["y"])
        ids.append(str(uid).strip())
        dates.append(date)
        values.append(number)
    kinds = {(type(d), d.freqstr if isinstance(d, pd.Period) else "") for d in dates}
    if len(kinds) > 1:
        raise InvalidInput(f"{where}: the {columns['ds']} column mixes periods and dates, or periods of several kinds; "
                           "write one kind throughout", columns["ds"])
    ds = pd.PeriodIndex(dates) if isinstance(dates[0], pd.Period) else pd.DatetimeIndex(dates)
    return pd.DataFrame({"unique_id": ids, "ds": ds, "y": values})


def ds_text(value) -> str:
    """A forecast date as text: a Period as the registry writes it (2017, 2017Q1, 2017-03), a
    Timestamp as an ISO date."""
    if isinstance(value, pd.Period):
        return str(value)
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def answer_columns(levels) -> list[str]:
    """The columns of a forecast as the doors answer it (command line, HTTP, files)."""
    return ["unique_id", "ds", "model", "mean", "median"] + [f"{s}-{lv}" for lv in sorted(levels) for s in ("lo", "hi")]


def answer_rows(fc: pd.DataFrame, levels) -> list[dict]:
    """A forecast frame as the doors' rows: `unique_id, ds, model, mean, median, lo-L, hi-L`, `ds`
    as the input wrote it (`ds_text`), a `model` column even when only the ensemble was asked
    for (one shape for every answer), computed values at `defaults.PRECISION` digits."""
    names = answer_columns(levels)
    out = []
    for record in fc.to_dict("records"):
        row = {"unique_id": record["unique_id"], "ds": ds_text(record["ds"]), "model": record.get("model", ENSEMBLE)}
        row.update({c: rounded(record[c]) for c in names[3:]})
        out.append(row)
    return out


def answer_meta(fc: pd.DataFrame, h: int, levels) -> dict:
    """What a forecast answer carries beside its rows (`POST /v1/forecast`, `smfcast forecast --csv
    --format json`): the horizon, the levels, the evidence and the method record."""
    return {"h": h, "levels": list(levels), "evidence": fc.method.evidence, "method": fc.method.to_dict()}
