"""Policy targets and the probability that each is met, read off the sample paths.

"NPL below 2.2% by 2026" is a statement about one number in one year; under each scenario the
run holds thousands of simulated values of that number, and the probability is their share that
meets the target. No distributional assumption is added on top of the paths.

A target must fall in the years a run forecasts: one whose year is outside them is refused where
the targets load (`load_targets` with the last forecast year, `check_target_years` once the
forecast years are known), as a `DataError` naming the file, line and field, never at read time.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smfcast.errors import DataError, InvalidInput
from smfcast.registry.location import default_data_dir
from smfcast.registry.series import HEADLINE_METRICS

KINDS = ("level", "growth")
OPERATORS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}  # a target's `op`


@dataclass(frozen=True)
class Target:
    id: str
    metric: str
    year: int
    kind: str
    op: str
    value: float
    title_en: str
    title_zh: str
    quote: str

    def as_dict(self) -> dict:
        return {"id": self.id, "metric": self.metric, "year": self.year, "kind": self.kind, "op": self.op,
                "value": self.value, "title_en": self.title_en, "title_zh": self.title_zh, "quote": self.quote}


def targets_path(data_dir: str | Path | None = None) -> Path:
    return Path(data_dir or default_data_dir()) / "targets.toml"


def _line(path: Path, tid: str, key: str) -> int | None:
    """The line of `key` in the table `[targets.<tid>]` of the targets file (or of the table)."""
    table = None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if text.startswith("["):
            if table is not None:
                return table
            if text.replace(" ", "") in (f"[targets.{tid}]", f'[targets."{tid}"]'):
                table = n
        elif table is not None and text.split("=", 1)[0].strip() == key:
            return n
    return table


def load_targets(data_dir: str | Path | None = None, until_year: int | None = None) -> dict[str, Target]:
    """The targets file; with `until_year`, a target after the last forecast year is refused."""
    path = targets_path(data_dir)
    if not path.exists():
        raise DataError(path, None, None, "file is missing")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DataError(path, None, None, f"not valid TOML ({exc})") from None
    out = {}
    for tid, spec in doc.get("targets", {}).items():
        for key in ("metric", "year", "op", "value", "quote"):
            if key not in spec:
                raise DataError(path, _line(path, tid, key), f"targets.{tid}.{key}", f"target {tid!r} has no {key!r}")
        if isinstance(spec["year"], bool) or not isinstance(spec["year"], int):
            raise DataError(path, _line(path, tid, "year"), f"targets.{tid}.year", f"target {tid!r} year must be a whole year")
        if until_year is not None and spec["year"] > until_year:
            raise DataError(path, _line(path, tid, "year"), f"targets.{tid}.year",
                            f"target {tid!r} is for {spec['year']}, after the last forecast year {until_year}")
        if spec["metric"] not in HEADLINE_METRICS:
            raise DataError(path, None, f"targets.{tid}.metric", f"target {tid!r} names unknown metric {spec['metric']!r}")
        if spec["op"] not in OPERATORS:
            raise DataError(path, None, f"targets.{tid}.op", f"target {tid!r} operator {spec['op']!r} is not one of {', '.join(OPERATORS)}")
        kind = spec.get("kind", "level")
        if kind not in KINDS:
            raise DataError(path, None, f"targets.{tid}.kind", f"target {tid!r} kind {kind!r} is not one of {', '.join(KINDS)}")
        out[tid] = Target(tid, spec["metric"], int(spec["year"]), kind, spec["op"], float(spec["value"]),
                          spec.get("title_en", tid), spec.get("title_zh", ""), spec["quote"])
    return out


def check_target_years(targets: dict[str, Target], years: dict[str, list[int]], data_dir: str | Path | None = None) -> None:
    """Refuse a target whose year its metric does not forecast (`years`: metric -> forecast years)."""
    path = targets_path(data_dir)
    for t in targets.values():
        span = years.get(t.metric)
        if span and t.year not in span:
            raise DataError(path, _line(path, t.id, "year") if path.exists() else None, f"targets.{t.id}.year",
                            f"target {t.id!r} is for {t.year}, but {t.metric} is forecast for {span[0]}–{span[-1]} only")


def target_values(target: Target, natural: np.ndarray, years: list[int], last_observed: float | None) -> np.ndarray:
    """Per-path value the target is judged on: the level in its year, or the growth into it."""
    if target.year not in years:
        raise InvalidInput(f"target {target.id!r} year {target.year} is not among the forecast years {years[0]}–{years[-1]}", "target")
    j = years.index(target.year)
    if target.kind == "level":
        return natural[:, j]
    previous = natural[:, j - 1] if j > 0 else np.full(natural.shape[0], np.nan if last_observed is None else last_observed)
    return (natural[:, j] / previous - 1.0) * 100.0


def probability_met(target: Target, natural: np.ndarray, years: list[int], last_observed: float | None = None) -> float:
    values = target_values(target, natural, years, last_observed)
    if np.any(np.isnan(values)):
        raise InvalidInput(f"target {target.id!r} needs the year before {target.year}, which is neither forecast nor observed", "target")
    return float(OPERATORS[target.op](values, target.value).mean())
