"""Policy targets and the probability that each is met, read off the sample paths.

"NPL below 2.2% by 2026" is a statement about one number in one year; under each scenario the
run holds thousands of simulated values of that number, and the probability is their share that
meets the target. No distributional assumption is added on top of the paths.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forecast.errors import DataError
from forecast.outputs.bands import OPERATORS
from forecast.registry.series import HEADLINE_METRICS, default_data_dir

KINDS = ("level", "growth")


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


def load_targets(data_dir: str | Path | None = None) -> dict[str, Target]:
    path = Path(data_dir or default_data_dir()) / "targets.toml"
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
                raise DataError(path, None, f"targets.{tid}.{key}", f"target {tid!r} has no {key!r}")
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


def target_values(target: Target, natural: np.ndarray, years: list[int], last_observed: float | None) -> np.ndarray:
    """Per-path value the target is judged on: the level in its year, or the growth into it."""
    if target.year not in years:
        raise ValueError(f"target {target.id!r} year {target.year} is not among the forecast years {years[0]}–{years[-1]}")
    j = years.index(target.year)
    if target.kind == "level":
        return natural[:, j]
    previous = natural[:, j - 1] if j > 0 else np.full(natural.shape[0], np.nan if last_observed is None else last_observed)
    return (natural[:, j] / previous - 1.0) * 100.0


def probability_met(target: Target, natural: np.ndarray, years: list[int], last_observed: float | None = None) -> float:
    values = target_values(target, natural, years, last_observed)
    if np.any(np.isnan(values)):
        raise ValueError(f"target {target.id!r} needs the year before {target.year}, which is neither forecast nor observed")
    return float(OPERATORS[target.op](values, target.value).mean())
