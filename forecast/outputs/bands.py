"""Bands read off sample paths: mean, median, central intervals and threshold probabilities.

A forecast is an array of simulated futures in natural units; every statistic a user sees is read
off that same array, so a band, the median and "P(NPL < 2.2% in 2026)" never disagree.
Long-format columns are named `lo-80`, `hi-80`, ... (statsforecast's names); pick columns by name,
never by position.
"""

from __future__ import annotations

import numpy as np

from smfcast.defaults import LEVELS, rounded
from smfcast.errors import InvalidInput


def parse_levels(levels) -> tuple:
    """Validate band levels (percent, each in [50, 99]); accepts '80,95', [80, 95], 80 or None."""
    if levels is None or levels == "" or levels == []:
        return LEVELS
    if isinstance(levels, bool) or not isinstance(levels, (str, int, float, list, tuple)):
        raise InvalidInput(f"level must be percentages such as 80,95 or [80, 95], got {levels!r}", "level")
    items = levels.split(",") if isinstance(levels, str) else [levels] if isinstance(levels, (int, float)) else list(levels)
    out = []
    for item in items:
        try:
            value = float(str(item).strip())
        except ValueError:
            raise InvalidInput(f"level {item!r} is not a number; give percentages such as 80,95", "level") from None
        if not 50 <= value <= 99:
            raise InvalidInput(f"level {value:g} is outside [50, 99]; give central band levels in percent", "level")
        out.append(int(value) if value.is_integer() else value)
    return tuple(sorted(set(out)))


def level_columns(levels) -> list[str]:
    cols = []
    for lv in sorted(levels):
        cols += [f"lo-{lv}", f"hi-{lv}"]
    return cols


def summarize(paths: np.ndarray, levels=LEVELS) -> dict[str, np.ndarray]:
    """Per-horizon mean, median and band edges of paths shaped (n_paths, h)."""
    paths = np.asarray(paths, dtype=float)
    if paths.ndim != 2:
        raise ValueError(f"paths must be (n_paths, h), got shape {paths.shape}")
    qs = [50.0]
    for lv in levels:
        qs += [50.0 - lv / 2.0, 50.0 + lv / 2.0]
    values = np.percentile(paths, qs, axis=0)
    out = {"mean": paths.mean(axis=0), "median": values[0]}
    for i, lv in enumerate(levels):
        out[f"lo-{lv}"], out[f"hi-{lv}"] = values[1 + 2 * i], values[2 + 2 * i]
    return out


def band_rows(series_id: str, scenario: str, model: str, periods, paths: np.ndarray, levels=LEVELS) -> list[dict]:
    """Long-format forecast rows, one per period; the statistics at `defaults.PRECISION` digits
    (read off a few thousand paths, further digits are noise)."""
    stats = summarize(paths, levels)
    rows = []
    for j, period in enumerate(periods):
        row = {"series_id": series_id, "scenario": scenario, "model": model, "period": str(period), "kind": "forecast"}
        row.update({k: rounded(v[j]) for k, v in stats.items()})
        rows.append(row)
    return rows


def history_rows(series_id: str, history: list[dict], levels=LEVELS, scenario: str = "", model: str = "") -> list[dict]:
    """Observed values (dicts with period, value, quality) in the same long format: every
    statistic equals the observation as recorded, and `quality` says how it was graded."""
    rows = []
    for h in history:
        row = {"series_id": series_id, "scenario": scenario, "model": model, "period": str(h["period"]), "kind": "history",
               "mean": h["value"], "median": h["value"]}
        row.update({c: h["value"] for c in level_columns(levels)})
        row["quality"] = h["quality"]
        rows.append(row)
    return rows

