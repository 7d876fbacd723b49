"""Put a published series on the regular grid a model needs, saying what was filled in.

Regulators skip releases and compilers miss some: a quarterly series may lack a quarter or two.
Models need a gap-free grid, so internal gaps are filled by linear interpolation *in model space*
(log or logit), and the number filled is reported with the forecast. Nothing is extrapolated, and
filled points are marked (`observed`): backtests never score a model against a straight line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smfcast.registry.periods import STEP_MONTHS, Period
from smfcast.registry.series import Observation
from smfcast.registry.transforms import Transform


@dataclass(frozen=True)
class RegularSeries:
    periods: list[Period]
    z: np.ndarray  # transformed values on the grid
    filled: int  # how many grid points were interpolated
    observed: np.ndarray | None = None  # True where the grid point was published, False where filled
    transform: Transform | None = None
    values: np.ndarray | None = None  # the natural values as given, where known (a log and back is not exact)

    @property
    def y(self) -> np.ndarray:
        """Natural values on the grid (filled points included)."""
        if self.values is not None:
            return self.values
        return self.transform.inverse(self.z) if self.transform is not None else self.z

    @property
    def truth(self) -> np.ndarray:
        """Natural values where observed, NaN where filled: what backtests may score against."""
        return np.where(self.observed, self.y, np.nan) if self.observed is not None else self.y

    @property
    def coverage(self) -> float:
        """Share of grid points that were published."""
        return 1.0 - self.filled / len(self.periods)

    @property
    def season_length(self) -> int:
        return {"annual": 1, "quarterly": 4, "monthly": 12}[self.periods[0].kind]


def _index(p: Period) -> int:
    return p.year * 12 + p.month


def regularize(observations: list[Observation], transform: Transform) -> RegularSeries:
    """The observations of one kind of period on a gap-free grid from the first to the last."""
    if not observations:
        raise ValueError("no observations to put on a grid")
    kinds = {o.period.kind for o in observations}
    if len(kinds) != 1:
        raise ValueError(f"cannot put mixed periods ({', '.join(sorted(kinds))}) on one grid")
    kind = kinds.pop()
    step = STEP_MONTHS[kind]
    obs = sorted(observations, key=lambda o: o.period)
    first, last = _index(obs[0].period), _index(obs[-1].period)
    grid = list(range(first, last + 1, step))
    known_x = np.array([_index(o.period) for o in obs], dtype=float)
    known_z = transform.forward([o.value for o in obs])
    z = np.interp(np.array(grid, dtype=float), known_x, known_z)
    periods = [Period((i - 1) // 12, (i - 1) % 12 + 1, kind) for i in grid]
    observed = np.isin(np.array(grid), known_x.astype(int))
    return RegularSeries(periods, z, len(grid) - len(obs), observed, transform)


def interpolate_at(series: RegularSeries, t: float) -> float | None:
    """Model-space value at decimal time `t`, or None outside the observed span."""
    times = np.array([p.decimal_year for p in series.periods])
    if t < times[0] - 1e-9 or t > times[-1] + 1e-9:
        return None
    return float(np.interp(t, times, series.z))
