"""`smfcast.plot`: a user's history and forecast as a matplotlib Figure, one panel per series.

A Figure object, not a pyplot window: it shows in a notebook, saves with `fig.savefig(...)`, and
never touches pyplot's global state, so it works on a machine with no display.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

MAX_PANELS = 12


def _levels(forecast: pd.DataFrame) -> list:
    found = []
    for column in forecast.columns:
        if isinstance(column, str) and column.startswith("lo-"):
            try:
                found.append(float(column[3:]))
            except ValueError:
                continue
    return sorted(found, reverse=True)  # widest first: drawn palest, underneath


def _level_name(level: float) -> str:
    return str(int(level)) if float(level).is_integer() else str(level)


def _x(values: pd.Series):
    return values.dt.to_timestamp(how="end") if isinstance(values.dtype, pd.PeriodDtype) else pd.to_datetime(values)


def plot(df: pd.DataFrame, forecast: pd.DataFrame, unique_ids=None, max_panels: int = MAX_PANELS, *, id_col: str = "unique_id",
         time_col: str = "ds", target_col: str = "y", model: str = "ensemble"):
    """History (`df`), median and bands (`forecast`, as `smfcast.forecast` returns it) of each
    series, the line continuing from the last observation; `unique_ids` picks the series (default:
    the first `max_panels` in the forecast), `model` the member drawn when the forecast has a
    `model` column. Returns a matplotlib Figure."""
    from matplotlib.figure import Figure

    for name, frame, needed in (("df", df, (id_col, time_col, target_col)), ("forecast", forecast, (id_col, time_col, "median"))):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} has no column {', '.join(map(repr, missing))}")
    if "model" in forecast.columns:
        forecast = forecast[forecast["model"] == model]
        if forecast.empty:
            raise ValueError(f"the forecast has no rows of model {model!r}")
    ids = list(dict.fromkeys(forecast[id_col])) if unique_ids is None else list(unique_ids)
    unknown = [u for u in ids if u not in set(forecast[id_col])]
    if unknown:
        raise ValueError(f"no forecast for unique_id {unknown[0]!r}")
    ids = ids[:max_panels]
    cols = min(len(ids), 3)
    rows = math.ceil(len(ids) / cols)
    fig = Figure(figsize=(5.2 * cols, 3.4 * rows), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    levels = _levels(forecast)
    for ax, uid in zip(axes, ids):
        hist = df[df[id_col] == uid].sort_values(time_col)
        fc = forecast[forecast[id_col] == uid].sort_values(time_col)
        hx, fx = _x(hist[time_col]), _x(fc[time_col])
        ax.plot(hx, hist[target_col], color="black", lw=1.2, label="observed")
        joint_x = pd.concat([hx.iloc[-1:], fx]) if len(hist) else fx  # the forecast starts at the last observation
        for alpha, level in zip(np.linspace(0.15, 0.35, len(levels)), levels):
            name = _level_name(level)
            last = hist[target_col].iloc[-1:] if len(hist) else pd.Series(dtype=float)
            lo = pd.concat([last, fc[f"lo-{name}"]])
            hi = pd.concat([last, fc[f"hi-{name}"]])
            ax.fill_between(joint_x, lo, hi, color="#1f77b4", alpha=alpha, lw=0, label=f"{name}% band")
        med = pd.concat([hist[target_col].iloc[-1:], fc["median"]]) if len(hist) else fc["median"]
        ax.plot(joint_x, med, color="#1f77b4", lw=2, label="median")
        ax.set_title(str(uid), fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[len(ids):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8, loc="best")
    return fig
