"""The data registry: observations, series metadata and sources, loaded and validated together.

Every figure smfcast forecasts from is one row of `observations.csv` with a source and a quality
grade, so every output can say which grades fed it. Validation is strict and located: a bad cell
raises one `DataError` naming the file, the line and the field, because a silently skipped row is
a silently changed forecast.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smfcast.errors import DataError, NotFound
from smfcast.registry import changes
from smfcast.registry.location import default_data_dir
from smfcast.registry.periods import FREQUENCIES, Period, fits_frequency, parse_period
from smfcast.registry.transforms import TRANSFORMS, Transform

ESTIMATE = "estimate"  # a figure not (yet) published: the only grade a period after the current one may have
QUALITIES = ("official", "repost", "secondary", "doubtful", "report", "derived", ESTIMATE)
UNFIT_QUALITIES = ("doubtful", ESTIMATE)  # grades left out of fitting and backtests unless configured otherwise
HEADLINE_METRICS = ("market_size", "green_loan_share", "npl_ratio")
OBSERVATION_COLUMNS = ("series_id", "period", "value", "source_id", "quality", "note")
UNIT_LABELS = {"percent": "%", "100m_cny": "亿元", "trillion_cny": "万亿元"}  # how people write the units
REGISTRY_FILES = ("observations.csv", "series.toml", "sources.toml")
_PLAIN_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")  # what float() reads and a spreadsheet does too
SOURCE_FIELDS = ("publisher", "title", "quote")  # what every source must say: who, which document, the words


@dataclass(frozen=True)
class SeriesIdentity:
    """What names and describes a series: shared by the registry's series and new ones being added."""

    id: str
    title_en: str
    title_zh: str
    unit: str
    frequency: str
    region: str


@dataclass(frozen=True)
class SeriesMeta(SeriesIdentity):
    lower: float
    upper: float
    transform: str
    definition: str = ""
    national: str | None = None
    breaks: tuple[dict, ...] = ()  # definition breaks: {"after": period, "note": what changed}
    forecast: bool = False  # `forecast = true`: every run forecasts it, beside the headline metrics

    @property
    def transformer(self) -> Transform:
        return Transform(self.transform, self.lower, self.upper)


@dataclass(frozen=True)
class Observation:
    series_id: str
    period: Period
    value: float
    source_id: str
    quality: str
    note: str
    line: int


@dataclass(frozen=True)
class Headline:
    """A headline metric: the provincial series it publishes and the national one it leans on."""

    metric: str
    series: str
    national: str
    title_en: str
    title_zh: str
    why: str


@dataclass
class Registry:
    data_dir: Path
    series: dict[str, SeriesMeta]
    sources: dict[str, dict]
    headlines: dict[str, Headline]
    rows: list[Observation] = field(repr=False)
    fingerprint: str = ""
    last_changes: dict[str, dict] = field(default_factory=dict, repr=False)  # series id -> its newest change-log row

    def meta(self, series_id: str) -> SeriesMeta:
        try:
            return self.series[series_id]
        except KeyError:
            raise NotFound(f"unknown series {series_id!r}; `smfcast data check` lists the series", "series") from None

    def headline(self, metric: str) -> Headline:
        try:
            return self.headlines[metric]
        except KeyError:
            raise NotFound(f"unknown metric {metric!r}; choose one of {', '.join(self.headlines)}", "metric") from None

    def observations(self, series_id: str, exclude: tuple[str, ...] = ()) -> list[Observation]:
        """The series' observations in period order, leaving out the grades in `exclude`."""
        self.meta(series_id)
        rows = [o for o in self.rows if o.series_id == series_id and o.quality not in exclude]
        return sorted(rows, key=lambda o: o.period)

    def marked(self) -> list[str]:
        """The series marked to be forecast by every run (`forecast = true`), by id."""
        return sorted(sid for sid, meta in self.series.items() if meta.forecast)

    def roles(self) -> dict[str, str]:
        """series id -> the headline role it plays ("npl_ratio" or "npl_ratio (national)")."""
        roles = {}
        for metric, head in self.headlines.items():
            roles[head.series] = metric
            roles.setdefault(head.national, f"{metric} (national)")
        return roles


def toml_line(text: str, table: str, key: str | None = None) -> int | None:
    """1-based line of `[table]` (or of `key = ` inside it) in a TOML text; tomllib keeps no lines."""
    lines = text.splitlines()
    header = f"[{table}]"
    for i, line in enumerate(lines):
        if line.strip() == header:
            if key is None:
                return i + 1
            for j in range(i + 1, len(lines)):
                stripped = lines[j].strip()
                if stripped.startswith("["):
                    break
                if stripped.split("=")[0].strip() == key:
                    return j + 1
            return i + 1
    return None


def _read(path: Path, texts: Mapping[str, str] | None) -> str:
    """The file's text: from `texts` (by file name) when given there, else from disk."""
    if texts is not None and path.name in texts:
        return texts[path.name]
    if not path.exists():
        raise DataError(path, None, None, "file is missing")
    return path.read_text(encoding="utf-8")


def _load_toml(path: Path, texts: Mapping[str, str] | None = None) -> tuple[dict, str]:
    text = _read(path, texts)
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))  # Python 3.11's tomllib keeps the line only in the text
        raise DataError(path, int(found.group(1)) if found else None, None, f"not valid TOML ({exc})") from None


def _parse_series(path: Path, doc: dict, text: str) -> dict[str, SeriesMeta]:
    out = {}
    for sid, spec in doc.get("series", {}).items():
        table = f"series.{sid}"

        def need(key, table=table, spec=spec):
            if key not in spec:
                raise DataError(path, toml_line(text, table), key, f"series {sid!r} has no {key!r}")
            return spec[key]

        frequency, transform = need("frequency"), need("transform")
        if frequency not in FREQUENCIES:
            raise DataError(path, toml_line(text, table, "frequency"), "frequency", f"{frequency!r} is not one of {', '.join(FREQUENCIES)}")
        if transform not in TRANSFORMS:
            raise DataError(path, toml_line(text, table, "transform"), "transform", f"{transform!r} is not one of {', '.join(TRANSFORMS)}")
        bounds = need("bounds")
        if not (isinstance(bounds, list) and len(bounds) == 2 and all(isinstance(b, (int, float)) for b in bounds) and bounds[0] < bounds[1]):
            raise DataError(path, toml_line(text, table, "bounds"), "bounds", "bounds must be [lower, upper] numbers with lower < upper")
        out[sid] = SeriesMeta(
            id=sid, title_en=need("title_en"), title_zh=need("title_zh"), unit=need("unit"), frequency=frequency,
            region=need("region"), lower=float(bounds[0]), upper=float(bounds[1]), transform=transform,
            definition=spec.get("definition", ""), national=spec.get("national"),
            breaks=_parse_breaks(path, text, table, spec.get("breaks", [])),
            forecast=_parse_flag(path, text, table, spec, "forecast"),
        )
    for sid, meta in out.items():
        if meta.national is not None and meta.national not in out:
            raise DataError(path, toml_line(text, f"series.{sid}", "national"), "national", f"national counterpart {meta.national!r} is not a series in this file")
    return out


def _parse_flag(path: Path, text: str, table: str, spec: dict, key: str) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise DataError(path, toml_line(text, table, key), key, f"{key} must be true or false, got {value!r}")
    return value


def _parse_breaks(path: Path, text: str, table: str, breaks) -> tuple[dict, ...]:
    """Optional `breaks = [{after = "2022Q3", note = "..."}]`: where a series' definition changes."""
    if not isinstance(breaks, list) or not all(isinstance(b, dict) and set(b) == {"after", "note"} for b in breaks):
        raise DataError(path, toml_line(text, table, "breaks"), "breaks", 'breaks must be a list of {after = "PERIOD", note = "..."} tables')
    for b in breaks:
        try:
            parse_period(str(b["after"]))
        except ValueError as exc:
            raise DataError(path, toml_line(text, table, "breaks"), "breaks", f"break after {b['after']!r}: {exc}") from None
    return tuple({"after": str(b["after"]), "note": str(b["note"])} for b in breaks)


def _parse_headlines(path: Path, doc: dict, text: str, series: dict[str, SeriesMeta]) -> dict[str, Headline]:
    heads = doc.get("headline", {})
    out = {}
    for metric in HEADLINE_METRICS:
        spec = heads.get(metric)
        if spec is None:
            raise DataError(path, None, f"headline.{metric}", f"headline metric {metric!r} has no [headline.{metric}] table naming its series")
        sid = spec.get("series")
        if not sid:
            raise DataError(path, toml_line(text, f"headline.{metric}"), "series", f"headline metric {metric!r} has no 'series'")
        if sid not in series:
            raise DataError(path, toml_line(text, f"headline.{metric}", "series"), "series", f"headline metric {metric!r} names unknown series {sid!r}")
        if series[sid].national is None:
            raise DataError(path, toml_line(text, f"series.{sid}"), "national", f"{sid!r} publishes headline metric {metric!r} but names no national counterpart")
        out[metric] = Headline(metric, sid, series[sid].national, spec.get("title_en", metric), spec.get("title_zh", ""), spec.get("why", ""))
    return out


def _parse_sources(path: Path, doc: dict, text: str) -> dict[str, dict]:
    for sid, spec in doc.items():
        if not isinstance(spec, dict):
            raise DataError(path, None, sid, f"{sid!r} must be a [{sid}] table of publisher, title and quote")
        for key in SOURCE_FIELDS:
            if not (isinstance(spec.get(key), str) and spec[key].strip()):
                raise DataError(path, toml_line(text, sid, key), key, f"source {sid!r} needs a non-empty {key!r}")
    return doc


def _parse_observations(path: Path, series: dict[str, SeriesMeta], sources: dict[str, dict],
                        texts: Mapping[str, str] | None = None) -> list[Observation]:
    text = _read(path, texts)
    rows, seen = [], {}
    with io.StringIO(text.removeprefix("\ufeff"), newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != OBSERVATION_COLUMNS:
            raise DataError(path, 1, None, f"header must be {','.join(OBSERVATION_COLUMNS)}")
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(OBSERVATION_COLUMNS):
                raise DataError(path, line, None, f"expected {len(OBSERVATION_COLUMNS)} cells, found {len(cells)}")
            sid, period_text, value_text, source_id, quality, note = (c.strip() for c in cells)
            meta = series.get(sid)
            if meta is None:
                raise DataError(path, line, "series_id", f"unknown series id {sid!r}; add the series first (`smfcast data series add`)")
            try:
                period = parse_period(period_text)
            except ValueError as exc:
                raise DataError(path, line, "period", str(exc)) from None
            if not fits_frequency(period, meta.frequency):
                raise DataError(path, line, "period", f"{period_text!r} is {'an' if period.kind == 'annual' else 'a'} {period.kind} period but {sid!r} is {meta.frequency}")
            try:
                value = float(value_text)
            except ValueError:
                raise DataError(path, line, "value", f"{value_text!r} is not a number") from None
            if not math.isfinite(value):
                raise DataError(path, line, "value", f"{value_text!r} is not a finite number")
            if not _PLAIN_NUMBER.match(value_text):
                raise DataError(path, line, "value", f"{value_text!r} is not written as a plain number; use ASCII digits, "
                                                     "'.' and an optional exponent, e.g. 1234.5")
            if not meta.lower <= value <= meta.upper:
                raise DataError(path, line, "value", f"{value:g} is outside the bounds [{meta.lower:g}, {meta.upper:g}] of {sid!r}")
            if source_id not in sources:
                raise DataError(path, line, "source_id", f"source {source_id!r} is not in sources.toml; add it first (`smfcast data source add`, "
                                                        "or the source columns of an import)")
            if quality not in QUALITIES:
                raise DataError(path, line, "quality", f"{quality!r} is not one of {', '.join(QUALITIES)}")
            if quality == "derived" and not note:
                raise DataError(path, line, "note", "a derived row must give its formula in 'note'")
            if quality == ESTIMATE and not note:
                raise DataError(path, line, "note", "an estimate must say in 'note' how it was made")
            key = (sid, period)
            if key in seen:
                raise DataError(path, line, "period", f"duplicate period {period_text} for {sid!r} (first on line {seen[key]})")
            seen[key] = line
            rows.append(Observation(sid, period, value, source_id, quality, note, line))
    return rows


def registry_texts(data_dir: str | Path) -> dict[str, str]:
    """The text of every file `load_registry` reads (the change log when there is one): what a run
    keeps, so the registry it was made from can be served after the files change."""
    data_dir = Path(data_dir)
    texts = {name: (data_dir / name).read_bytes().decode("utf-8") for name in REGISTRY_FILES}
    log = changes.log_text(data_dir)
    return {**texts, changes.LOG: log} if log else texts


def load_registry(data_dir: str | Path | None = None, texts: Mapping[str, str] | None = None) -> Registry:
    """Load and validate the registry in `data_dir` (default: `default_data_dir()`).

    `texts` (file name -> content) stands in for files on disk, so a change is checked by loading
    the registry it would produce, with these same rules, before anything is written."""
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    series_path, sources_path, obs_path = data_dir / "series.toml", data_dir / "sources.toml", data_dir / "observations.csv"
    series_doc, series_text = _load_toml(series_path, texts)
    series = _parse_series(series_path, series_doc, series_text)
    headlines = _parse_headlines(series_path, series_doc, series_text, series)
    sources = _parse_sources(sources_path, *_load_toml(sources_path, texts))
    rows = _parse_observations(obs_path, series, sources, texts)
    digest = hashlib.sha256()
    for name in REGISTRY_FILES:
        data = texts[name].encode("utf-8") if texts is not None and name in texts else (data_dir / name).read_bytes()
        digest.update(name.encode() + b"\0" + data)
    # Each series' vintage, from the change log beside the files (or in `texts`, a run's snapshot);
    # a would-be registry being checked needs none.
    if texts is None:
        last = changes.last_changes(changes.read_log(data_dir))
    else:
        last = changes.last_changes(changes.read_log(data_dir, texts[changes.LOG])) if changes.LOG in texts else {}
    return Registry(data_dir, series, sources, headlines, rows, digest.hexdigest(), last)
