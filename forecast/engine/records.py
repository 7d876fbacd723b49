"""The records of how forecasts were made, as typed objects: those a run keeps of each metric
(with a schema version), and those `smfcast.forecast` returns with a user's series.

A run stores them as JSON (`to_dict`); everything that shows them (the API, the page, the workbook,
the CLI, run comparisons) reads them back through `Method.from_dict`, the one place that knows the
stored shape, including that of runs stored before the schema was versioned (schema 1: the same
keys without `schema`, some missing). Keys a record does not model are kept in `extra`, so nothing
stored is lost on the way through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from smfcast.engine.cross_learning import PooledLearning

SCHEMA = 2


def _read(cls, d: dict, nested: dict):
    """An instance of record class `cls` from a stored dict: its fields (the `nested` ones parsed by
    their own readers), and every other key kept in `extra`."""
    names = {f.name for f in fields(cls)} - {"extra"}
    known = {k: v for k, v in d.items() if k in names}
    for name, reader in nested.items():
        known[name] = reader(known.get(name))
    return cls(**known, extra={k: v for k, v in d.items() if k not in names})


def _write(record, nested: tuple[str, ...]) -> dict:
    """The stored dict of a record: `extra` first, then its fields, the `nested` ones written by their own `to_dict`."""
    out = {f.name: getattr(record, f.name) for f in fields(record) if f.name != "extra" and f.name not in nested}
    return {**record.extra, **out, **{name: getattr(record, name).to_dict() for name in nested}}


@dataclass(frozen=True)
class Interval:
    """A 95% band's record on backtest windows: coverage (share), mean width and interval score
    in natural units, MSIS (scaled by the naive error), and how many points were scored."""

    coverage_95: float | None = None
    width_95: float | None = None
    interval_score_95: float | None = None
    msis: float | None = None
    coverage_80: float | None = None
    points: int = 0

    @classmethod
    def from_dict(cls, d: dict | None) -> Interval | None:
        if not d:
            return None
        return cls(d.get("coverage-95"), d.get("width-95"), d.get("interval_score-95"), d.get("msis"), d.get("coverage-80"),
                   int(d.get("points", 0)))

    def to_dict(self) -> dict:
        return {"coverage-95": self.coverage_95, "width-95": self.width_95, "interval_score-95": self.interval_score_95,
                "msis": self.msis, "coverage-80": self.coverage_80, "points": self.points}


@dataclass(frozen=True)
class AgainstRandomWalk:
    """The served band, the raw ensemble band and a random walk with drift on the same windows."""

    served: Interval | None = None
    raw: Interval | None = None
    random_walk: Interval | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        """"beats", "matches" or "worse" by interval score; "not measured" without both."""
        if not self.served or not self.random_walk or self.served.interval_score_95 is None or self.random_walk.interval_score_95 is None:
            return "not measured"
        a, b = self.served.interval_score_95, self.random_walk.interval_score_95
        return "matches" if abs(a - b) <= 1e-9 * max(abs(b), 1.0) else ("beats" if a < b else "worse")

    @classmethod
    def from_dict(cls, d: dict | None) -> AgainstRandomWalk:
        d = d or {}
        return cls(Interval.from_dict(d.get("ensemble_served")), Interval.from_dict(d.get("ensemble_raw")),
                   Interval.from_dict(d.get("random_walk_with_drift")), d.get("note", ""))

    def to_dict(self) -> dict:
        out = {"ensemble_served": self.served.to_dict() if self.served else None,
               "ensemble_raw": self.raw.to_dict() if self.raw else None,
               "random_walk_with_drift": self.random_walk.to_dict() if self.random_walk else None}
        return {**out, "note": self.note} if self.note else out


@dataclass(frozen=True)
class Calibration:
    """How the ensemble was learned from the series' own backtest: scale, weighting, combination,
    per-horizon calibration factors (estimated and applied), labels per forecast step
    ("calibrated", "extrapolated", "uncalibrated"), coverage and the random-walk comparison."""

    status: str = "not recorded"
    weighting: str = ""
    combination: str = ""
    scale: dict = field(default_factory=dict)
    h: int | None = None
    n_windows: int = 0
    horizons: list = field(default_factory=list)
    factors_applied: list = field(default_factory=list)
    labels_by_step: list = field(default_factory=list)
    coverage_raw: dict = field(default_factory=dict)
    coverage_calibrated_out_of_sample: dict = field(default_factory=dict)
    against_random_walk: AgainstRandomWalk = field(default_factory=AgainstRandomWalk)
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict | None) -> Calibration:
        return _read(cls, dict(d or {}), {"against_random_walk": AgainstRandomWalk.from_dict})

    def to_dict(self) -> dict:
        return _write(self, ("against_random_walk",))


@dataclass(frozen=True)
class Method:
    """How one metric was forecast: direct or through its national counterpart, the scale, the
    ensemble weights and the calibration record; definition breaks of the series involved."""

    method: str = "not recorded"
    series: str = ""
    national: str | None = None
    national_fit: str | None = None
    scale: dict | None = None
    ensemble_weights: dict = field(default_factory=dict)
    ensemble_weighting: str = ""
    calibration: Calibration = field(default_factory=Calibration)
    relation: dict | None = None
    breaks: list = field(default_factory=list)
    why: str = ""
    schema: int = SCHEMA
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict | None) -> Method:
        return _read(cls, {"schema": 1, **(d or {})}, {"calibration": Calibration.from_dict})  # schema 1: stored before versions

    def to_dict(self) -> dict:
        return _write(self, ("calibration",))


@dataclass(frozen=True)
class Failure:
    """A member that was not used, and why (its error, or why it was not fitted)."""

    model: str
    reason: str

    @staticmethod
    def from_dict(d: dict | None) -> list[Failure]:
        return [Failure(k, str(v)) for k, v in sorted((d or {}).items())]


def _json(value):
    """A record value as JSON takes it: numpy scalars as Python numbers, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


@dataclass(frozen=True)
class SeriesMethod:
    """How one series of a `smfcast.forecast` call was forecast: the members fitted (and why the
    others were not), the scale, the ensemble's weights, pool, point rule and combination, the
    calibration factor applied at each forecast step with its label ("calibrated",
    "extrapolated", "uncalibrated"), and, on its own evidence, the backtest record (coverage
    before and after calibration, the comparison with a random walk)."""

    unique_id: str
    members: list[str]
    failures: dict[str, str]
    scale: dict
    weights: dict[str, float]
    pool: list[str]
    point_rule: str
    combination: str
    factors: list
    labels: list[str]
    status: str
    backtest: Calibration | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "backtest"}
        out["backtest"] = self.backtest.to_dict() if self.backtest is not None else None
        return _json(out)


@dataclass(frozen=True)
class ForecastMethod:
    """How a `smfcast.forecast` call was made: which evidence decided (each series' own backtest,
    or held-back forecasts pooled across the series) and why, the settings, what pooling learned
    (None on own evidence), each series' record, and the series that could not be forecast."""

    evidence: str
    why: str
    freq: str
    season_length: int
    h: int
    levels: tuple
    models: tuple[str, ...]
    n_paths: int
    seed: int
    series: dict[str, SeriesMethod]
    pooled: PooledLearning | None = None
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("series", "pooled")}
        out["pooled"] = self.pooled.to_dict() if self.pooled is not None else None
        out["series"] = {k: v.to_dict() for k, v in self.series.items()}
        return _json(out)


__all__ = ["SCHEMA", "AgainstRandomWalk", "Calibration", "Failure", "ForecastMethod", "Interval", "Method", "SeriesMethod"]
