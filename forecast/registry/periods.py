"""Reporting periods: year-ends, quarter-ends and month-ends.

Chinese regulators publish balances and ratios *as of* the end of a period, so every period is
placed at its end date. A month-end figure (`2020-10`) is not a quarter-end and is never moved
onto one; alignment onto a regular grid happens explicitly where a model needs one (`grid`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

FREQUENCIES = ("annual", "quarterly", "monthly", "irregular")
STEP_MONTHS = {"annual": 12, "quarterly": 3, "monthly": 1}  # months between consecutive periods of a kind

# ASCII digits only: `\d` alone would also take full-width ２０２４, which the files would then keep.
_ANNUAL = re.compile(r"^(\d{4})$", re.ASCII)
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$", re.ASCII)
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$", re.ASCII)


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period, ordered by its end date."""

    year: int
    month: int  # month of the period end: 12 for years, 3/6/9/12 for quarters
    kind: str  # "annual", "quarterly" or "monthly"

    @property
    def end(self) -> date:
        next_first = date(self.year + (self.month == 12), self.month % 12 + 1, 1)
        return date.fromordinal(next_first.toordinal() - 1)

    @property
    def decimal_year(self) -> float:
        """Time in years at the period end (2022 year-end = 2023.0), for irregular spacing."""
        return self.year + self.month / 12.0

    def __str__(self) -> str:
        if self.kind == "annual":
            return f"{self.year}"
        if self.kind == "quarterly":
            return f"{self.year}Q{self.month // 3}"
        return f"{self.year}-{self.month:02d}"


def parse_period(text: str) -> Period:
    """Parse `2022`, `2023Q2` or `2020-10`; raise ValueError naming the accepted forms."""
    s = str(text).strip()
    if m := _ANNUAL.match(s):
        return Period(int(m.group(1)), 12, "annual")
    if m := _QUARTER.match(s):
        return Period(int(m.group(1)), 3 * int(m.group(2)), "quarterly")
    if m := _MONTH.match(s):
        return Period(int(m.group(1)), int(m.group(2)), "monthly")
    raise ValueError(f"{s!r} is not a period; use YYYY (year-end), YYYYQn (quarter-end) or YYYY-MM (month-end)")


def fits_frequency(period: Period, frequency: str) -> bool:
    """An irregular series accepts any period; the others only their own kind."""
    return frequency == "irregular" or period.kind == frequency


def future_periods(last: Period, until_year: int) -> list[Period]:
    """The periods after `last`, of the same kind, up to and including `until_year`'s end."""
    step = STEP_MONTHS[last.kind]
    out, year, month = [], last.year, last.month
    while True:
        month += step
        if month > 12:
            year, month = year + 1, month - 12
        if year > until_year:
            return out
        out.append(Period(year, month, last.kind))
