"""Policy levers, scenario files and the overlay that moves baseline paths.

A scenario is a path of lever values for 2026–2030. Each lever moves one or more metrics by an
elasticity that is itself uncertain (low / mode / high, triangular): the overlay draws one
elasticity per path, so a policy whose effect is poorly known widens the band instead of
pretending to a precise shift. Effects are level effects after the lever's lag:

    effect(t) = elasticity * (lever(t - lag) - lever baseline)

in percent of the balance for `log` metrics (applied as log(1 + effect/100)) and in percentage
points for `logit` metrics (applied in natural units, then mapped back to model space). Years
before 2026 are history: a lever there sits at its baseline. Draws depend on the seed, metric and
lever only (not on the scenario name), so scenarios share random numbers: a custom scenario equal
to a preset gives the preset's numbers bit for bit, and differences between scenarios are the
levers' doing, not noise.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smfcast.errors import DataError, InvalidInput, NotFound
from smfcast.registry.location import default_data_dir
from smfcast.registry.series import HEADLINE_METRICS
from smfcast.registry.transforms import Transform
from smfcast.seeds import rng_for

SCENARIO_YEARS = tuple(range(2026, 2031))
BASES = ("report", "assumption")
PRESETS = ("baseline", "policy_targets", "adverse", "policy_targets_adverse")


@dataclass(frozen=True)
class Elasticity:
    metric: str
    low: float
    mode: float
    high: float
    unit: str  # "percent" of the balance or "pp" of the rate, per unit of the lever

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.high == self.low:
            return np.full(n, self.mode)
        return rng.triangular(self.low, self.mode, self.high, size=n)


@dataclass(frozen=True)
class Lever:
    id: str
    title_en: str
    title_zh: str
    unit: str
    baseline: float
    lower: float
    upper: float
    lag: int
    effects: tuple[Elasticity, ...]
    basis: str  # report | assumption
    quote: str
    why: str
    history: dict

    def as_dict(self) -> dict:
        return {"id": self.id, "title_en": self.title_en, "title_zh": self.title_zh, "unit": self.unit,
                "baseline": self.baseline, "range": [self.lower, self.upper], "lag": self.lag, "basis": self.basis,
                "quote": self.quote, "why": self.why, "history": self.history,
                "effects": [{"metric": e.metric, "low": e.low, "mode": e.mode, "high": e.high, "unit": e.unit} for e in self.effects]}

    @classmethod
    def from_dict(cls, d: dict) -> "Lever":
        effects = tuple(Elasticity(e["metric"], e["low"], e["mode"], e["high"], e["unit"]) for e in d["effects"])
        return cls(d["id"], d["title_en"], d["title_zh"], d["unit"], d["baseline"], d["range"][0], d["range"][1], d["lag"],
                   effects, d["basis"], d["quote"], d["why"], d["history"])


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    rationale: str
    paths: dict[str, dict[int, float]]  # lever -> year -> value (every scenario year, filled)

    def as_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "rationale": self.rationale,
                "levers": {k: {str(y): v for y, v in sorted(p.items())} for k, p in sorted(self.paths.items())}}

    @classmethod
    def from_dict(cls, d: dict) -> "Scenario":
        return cls(d["name"], d["title"], d["rationale"], {k: {int(y): v for y, v in p.items()} for k, p in d["levers"].items()})


def _line(text: str, needle: str) -> int | None:
    for i, line in enumerate(text.splitlines()):
        if line.strip().startswith(needle):
            return i + 1
    return None


def load_levers(data_dir: str | Path | None = None) -> dict[str, Lever]:
    path = Path(data_dir or default_data_dir()) / "levers.toml"
    if not path.exists():
        raise DataError(path, None, None, "file is missing")
    text = path.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(path, None, None, f"not valid TOML ({exc})") from None
    levers = {}
    for lid, spec in doc.get("levers", {}).items():
        where = _line(text, f"[levers.{lid}]")

        def need(key, spec=spec, lid=lid, where=where):
            if key not in spec:
                raise DataError(path, where, key, f"lever {lid!r} has no {key!r}")
            return spec[key]

        lo, hi = need("range")
        baseline = float(need("baseline"))
        if not lo <= baseline <= hi:
            raise DataError(path, where, "baseline", f"lever {lid!r} baseline {baseline:g} is outside its range [{lo:g}, {hi:g}]")
        basis = need("basis")
        if basis not in BASES:
            raise DataError(path, where, "basis", f"lever {lid!r} basis {basis!r} is not one of {', '.join(BASES)}")
        if basis == "report" and not spec.get("quote"):
            raise DataError(path, where, "quote", f"lever {lid!r} rests on the report but quotes nothing")
        if basis == "assumption" and not spec.get("why"):
            raise DataError(path, where, "why", f"lever {lid!r} is an assumption but does not say why this value")
        effects = []
        for metric, e in need("effects").items():
            if metric not in HEADLINE_METRICS:
                raise DataError(path, where, "effects", f"lever {lid!r} moves unknown metric {metric!r}")
            low, mode, high = float(e["low"]), float(e["mode"]), float(e["high"])
            if not low <= mode <= high:
                raise DataError(path, where, "effects", f"lever {lid!r} elasticity on {metric} needs low <= mode <= high")
            effects.append(Elasticity(metric, low, mode, high, e.get("unit", "")))
        levers[lid] = Lever(lid, need("title_en"), need("title_zh"), need("unit"), baseline, float(lo), float(hi),
                            int(spec.get("lag", 0)), tuple(effects), basis, spec.get("quote", ""), spec.get("why", ""),
                            {str(k): v for k, v in spec.get("history", {}).items()})
    return levers


def resolve_paths(levers: dict[str, Lever], raw: dict, base: dict[str, dict[int, float]] | None = None,
                  source: str = "scenario") -> dict[str, dict[int, float]]:
    """Lever paths for every scenario year from a document's `levers` table, validated.

    A number holds for every year; a table of years holds each value until the next given year
    (a policy, once set, stays); years before the first given one keep the base path (the lever's
    baseline unless a base scenario is given).
    """
    if not isinstance(raw, dict):
        raise InvalidInput(f"{source}: 'levers' must be a table of lever -> value or year -> value", "levers")
    out = {lid: dict(base[lid]) if base and lid in base else {y: lv.baseline for y in SCENARIO_YEARS} for lid, lv in levers.items()}
    for lid, spec in raw.items():
        if lid not in levers:
            raise NotFound(f"{source}: unknown lever {lid!r}; choose from {', '.join(sorted(levers))}", f"levers.{lid}")
        lever = levers[lid]
        if isinstance(spec, bool) or not isinstance(spec, (int, float, dict)):
            raise InvalidInput(f"{source}: lever {lid!r} must be a number or a table of year -> number", f"levers.{lid}")
        given = {y: spec for y in SCENARIO_YEARS} if not isinstance(spec, dict) else {}
        if isinstance(spec, dict):
            for year_text, value in spec.items():
                try:
                    year = int(year_text)
                except (TypeError, ValueError):
                    raise InvalidInput(f"{source}: lever {lid!r} year {year_text!r} is not a year", f"levers.{lid}") from None
                if year not in SCENARIO_YEARS:
                    raise InvalidInput(f"{source}: lever {lid!r} year {year} is outside {SCENARIO_YEARS[0]}–{SCENARIO_YEARS[-1]}", f"levers.{lid}.{year}")
                given[year] = value
        current = None
        for year in SCENARIO_YEARS:
            if year in given:
                value = given[year]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                    raise InvalidInput(f"{source}: lever {lid!r} value for {year} must be a finite number, got {value!r}", f"levers.{lid}.{year}")
                if not lever.lower <= value <= lever.upper:
                    raise InvalidInput(f"{source}: lever {lid!r} in {year} is {value:g} {lever.unit}, outside its plausible range "
                                       f"[{lever.lower:g}, {lever.upper:g}]", f"levers.{lid}.{year}")
                current = float(value)
            if current is not None:
                out[lid][year] = current
    return out


def load_scenarios(data_dir: str | Path | None = None, levers: dict[str, Lever] | None = None) -> dict[str, Scenario]:
    data_dir = Path(data_dir or default_data_dir())
    levers = levers if levers is not None else load_levers(data_dir)
    out = {}
    for path in sorted((data_dir / "scenarios").glob("*.toml")):
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise DataError(path, None, None, f"not valid TOML ({exc})") from None
        for key in ("title", "rationale"):
            if not doc.get(key):
                raise DataError(path, None, key, f"scenario {path.stem!r} has no {key!r}")
        try:
            paths = resolve_paths(levers, doc.get("levers", {}), source=str(path))
        except (InvalidInput, NotFound) as exc:
            raise DataError(path, None, exc.field, exc.message) from None
        out[path.stem] = Scenario(path.stem, doc["title"], doc["rationale"], paths)
    missing = [p for p in PRESETS if p not in out]
    if missing:
        raise DataError(data_dir / "scenarios", None, None, f"preset scenario(s) missing: {', '.join(missing)}")
    return out


def parse_custom(document: dict, scenarios: dict[str, Scenario], levers: dict[str, Lever]) -> Scenario:
    """A custom scenario: `{"base": "baseline", "levers": {...}, "name": optional}`, validated."""
    if not isinstance(document, dict):
        raise InvalidInput("a custom scenario must be an object with 'base' and 'levers'", "body")
    unknown = set(document) - {"base", "levers", "name", "title", "rationale"}
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidInput(f"unknown field {field!r} in the custom scenario; use base, levers, name", field)
    for key in ("base", "name", "title", "rationale"):
        if document.get(key) is not None and not isinstance(document[key], str):
            raise InvalidInput(f"{key} must be a string, got {type(document[key]).__name__}", key)
    base_name = document.get("base") or "baseline"
    if base_name not in scenarios:
        raise NotFound(f"unknown base scenario {base_name!r}; choose one of {', '.join(scenarios)}", "base")
    paths = resolve_paths(levers, document.get("levers", {}), scenarios[base_name].paths, source="custom scenario")
    name = document.get("name") or "custom"
    return Scenario(name, document.get("title") or f"{base_name} with overrides", document.get("rationale") or "", paths)


def lever_deltas(lever: Lever, path: dict[int, float], years: list[int]) -> np.ndarray:
    """lever(t - lag) - baseline for each forecast year (zero before the scenario years)."""
    return np.array([path.get(y - lever.lag, lever.baseline) - lever.baseline for y in years])


def apply(z: np.ndarray, metric: str, years: list[int], transform: Transform, scenario: Scenario,
          levers: dict[str, Lever], seed: int) -> np.ndarray:
    """Scenario-adjusted model-space paths; `z` is (n_paths, len(years)) and is not modified."""
    n = z.shape[0]
    pct = np.zeros_like(z)  # percent change of a balance, summed over levers
    pp = np.zeros_like(z)  # percentage-point change of a rate
    for lid in sorted(levers):
        lever = levers[lid]
        deltas = lever_deltas(lever, scenario.paths[lid], years)
        for eff in lever.effects:
            if eff.metric != metric:
                continue
            if not np.any(deltas):
                continue
            draws = eff.draw(n, rng_for(seed, "elasticity", metric, lid))
            if transform.kind == "log":
                pct += draws[:, None] * deltas[None, :]
            else:
                pp += draws[:, None] * deltas[None, :]
    if transform.kind == "log":
        return z + np.log(np.maximum(1.0 + pct / 100.0, 1e-6))
    out = z.copy()
    moved = pp != 0  # only values a lever moves go through the round trip (it is exact nowhere else)
    if moved.any():
        natural = transform.inverse(z[moved]) + pp[moved]
        eps = 1e-6 * (transform.upper - transform.lower)
        out[moved] = transform.forward(np.clip(natural, transform.lower + eps, transform.upper - eps))
    return out


LEVER_COLUMNS = ["id", "title_en", "title_zh", "unit", "baseline", "low_range", "high_range", "lag", "metric",
                 "elasticity_low", "elasticity_mode", "elasticity_high", "elasticity_unit", "basis", "why", "quote"]


def lever_rows(levers: dict[str, Lever]) -> list[dict]:
    """One row per lever and metric it moves, with the elasticity's low / mode / high (`LEVER_COLUMNS`)."""
    return [{"id": lever.id, "title_en": lever.title_en, "title_zh": lever.title_zh, "unit": lever.unit,
             "baseline": lever.baseline, "low_range": lever.lower, "high_range": lever.upper, "lag": lever.lag,
             "metric": e.metric, "elasticity_low": e.low, "elasticity_mode": e.mode, "elasticity_high": e.high,
             "elasticity_unit": e.unit, "basis": lever.basis, "why": lever.why, "quote": lever.quote}
            for lever in levers.values() for e in lever.effects]
