"""What a run needs of the registry, decided in one place: by `intake` before a change is written
(so no accepted change can make a run fail) and by `store.runs.create_run` before anything is fitted.

A registry is ready for a run forecasting through `until_year`, leaving the grades `exclude` out of
fitting, when:

* no observation is dated after the current period (the period of its kind that holds today's
  date, UTC: on 2026-12-04 that is 2026, 2026Q4 or 2026-12) unless it is graded `estimate`. A
  figure for a period not yet over can only be an estimate, and estimates are never fitted
  (`series.UNFIT_QUALITIES`): runs show them in a series' history with their grade;
* every headline metric's provincial series has a usable (fitted) observation, and its last one
  leaves a year to forecast: the engine forecasts the year-ends after it through `until_year`;
* every year a target is judged in (`targets.toml`) is among those years;
* a provincial series too short to be fitted directly (fewer than `min_direct_points` usable annual
  points) is carried by its national series: that needs at least 3 usable national points of one
  kind of period, and at least one usable provincial point from the national series' first period
  on (the relation between the two is fitted where both exist, the national one extended by its
  forecast).

Each problem names the series (and the period, when one row is the cause), so a refused change
can point at the input row behind it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from datetime import date, datetime, timezone
from pathlib import Path

from smfcast.defaults import MIN_DIRECT_POINTS, UNTIL_YEAR
from smfcast.errors import DataError
from smfcast.registry.periods import STEP_MONTHS, Period
from smfcast.registry.series import ESTIMATE, UNFIT_QUALITIES, Registry, toml_line

MIN_NATIONAL_POINTS = 3  # the fewest a national series is fitted on (a random walk on native dates needs 3)


class RunProblem(DataError):
    """Why a run could not use the registry, with the series (and period) it is about."""

    def __init__(self, path, line: int | None, field: str | None, reason: str, series_id: str, period: str | None = None):
        super().__init__(path, line, field, reason)
        self.series_id, self.period = series_id, period


def today_utc() -> date:
    return datetime.now(timezone.utc).date()


def is_after_current_period(period: Period, today: date) -> bool:
    """Whether the period starts after `today`: it is later than the period of its kind holding today."""
    months = STEP_MONTHS.get(period.kind, 1)
    start_month = period.month - months + 1
    return date(period.year, start_month, 1) > today


def current_period(kind: str, today: date) -> Period:
    months = STEP_MONTHS.get(kind, 1)
    return Period(today.year, ((today.month - 1) // months + 1) * months, kind)


def target_years(data_dir: str | Path) -> dict[str, list[tuple[str, int, int | None]]]:
    """metric -> (target id, the year it is judged in, that year's line in `targets.toml`) of each
    target beside the registry. Entries without a metric or a whole year are left to the targets'
    own loader (`policy.targets`), which refuses them."""
    path = Path(data_dir) / "targets.toml"
    try:
        text = path.read_text(encoding="utf-8")
        doc = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    out: dict[str, list[tuple[str, int, int | None]]] = {}
    for tid, spec in doc.get("targets", {}).items():
        if isinstance(spec, dict) and isinstance(spec.get("metric"), str) and type(spec.get("year")) is int:
            out.setdefault(spec["metric"], []).append((tid, spec["year"], toml_line(text, f"targets.{tid}", "year")))
    return out


def forecast_start(last: Period) -> int:
    """The first year-end the engine forecasts after the last usable provincial point."""
    return last.year + 1 if last.month == 12 else last.year


def run_problems(reg: Registry, until_year: int = UNTIL_YEAR, exclude: Iterable[str] = UNFIT_QUALITIES,
                 min_direct_points: int = MIN_DIRECT_POINTS, today: date | None = None) -> list[RunProblem]:
    """Every reason a run (through `until_year`, fitting without the grades `exclude`) could not
    use this registry, in the order of the module docstring; empty when it can."""
    today = today or today_utc()
    exclude = tuple(exclude)
    obs_path, series_path, targets_path = (reg.data_dir / n for n in ("observations.csv", "series.toml", "targets.toml"))
    problems: list[RunProblem] = []
    for o in reg.rows:
        if o.quality != ESTIMATE and is_after_current_period(o.period, today):
            problems.append(RunProblem(obs_path, o.line, "period",
                                       f"{o.series_id} {o.period} is after the current period ({current_period(o.period.kind, today)}, "
                                       f"today {today.isoformat()} UTC): a figure for a period not yet over can only be an estimate; "
                                       f"grade it {ESTIMATE!r} and say in 'note' how it was made", o.series_id, str(o.period)))
    targets = target_years(reg.data_dir)
    for metric, head in reg.headlines.items():
        prov = reg.observations(head.series, exclude)
        if not prov:
            problems.append(RunProblem(series_path, None, "series", f"headline metric {metric!r}: {head.series!r} has no "
                                       f"observation a run fits (grades left out: {', '.join(exclude)})", head.series))
            continue
        last, start = prov[-1], forecast_start(prov[-1].period)
        if start > until_year:
            problems.append(RunProblem(obs_path, last.line, "period", f"{head.series} is observed through {last.period}: a run "
                                       f"forecasts the years after its last fitted point through {until_year}, so {metric} has "
                                       "no year to forecast", last.series_id, str(last.period)))
            continue
        for tid, year, line in targets.get(metric, ()):
            if year < start:
                problems.append(RunProblem(targets_path, line, f"targets.{tid}.year",
                                           f"{metric} is forecast for {start}–{until_year} only ({head.series} is observed through "
                                           f"{last.period}), but target {tid!r} is judged in {year}; retire or move that target "
                                           "first", last.series_id, str(last.period)))
        meta = reg.meta(head.series)
        if meta.frequency == "annual" and len(prov) >= min_direct_points:
            continue
        national = reg.observations(head.national, exclude)
        kinds = sorted({o.period.kind for o in national})
        if len(national) < MIN_NATIONAL_POINTS:
            problems.append(RunProblem(series_path, None, "national", f"headline metric {metric!r} is carried by its national "
                                       f"series {head.national!r} ({len(prov)} usable provincial points < {min_direct_points} for a "
                                       f"direct fit), which has {len(national)} observation(s) a run fits; it needs at least "
                                       f"{MIN_NATIONAL_POINTS}", head.national))
        elif len(kinds) > 1:
            problems.append(RunProblem(series_path, None, "period", f"national series {head.national!r} mixes periods "
                                       f"({', '.join(kinds)}) and could not be put on one grid", head.national))
        elif not any(o.period.decimal_year >= national[0].period.decimal_year - 1e-9 for o in prov):
            problems.append(RunProblem(series_path, None, "period", f"every fitted point of {head.series!r} comes before "
                                       f"its national series {head.national!r} starts ({national[0].period}), so the "
                                       "provincial/national relation could not be fitted", head.series))
    return problems


def check_run_ready(reg: Registry, until_year: int = UNTIL_YEAR, exclude: Iterable[str] = UNFIT_QUALITIES,
                    min_direct_points: int = MIN_DIRECT_POINTS, today: date | None = None) -> None:
    """Raise the first of `run_problems` (a located `DataError`), before minutes of fitting."""
    problems = run_problems(reg, until_year, exclude, min_direct_points, today)
    if problems:
        raise problems[0]
