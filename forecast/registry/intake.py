"""Adding and revising figures, sources and series: validated whole, written atomically, logged.

Every change goes the same way, whether it is one `smfcast data add`, a spreadsheet of rows or an
API request:

1. The inputs become edits of the registry's files (`texts`): a row appended or replaced in
   `observations.csv`, a table appended to `sources.toml` or `series.toml`.
2. The registry those edits would produce is loaded in memory by the registry's own loader
   (`series.load_registry`) and checked as a run checks it before fitting (`readiness`: nothing
   dated after the current period unless an estimate, a year left to forecast for every headline
   metric and every target, a national series to carry a short provincial one), so exactly the
   rules that guard every run guard every change and no accepted change can make a run fail. Each
   problem is traced back to the input row that caused it (file or sheet, row, field); the edit is
   set aside and the rest loaded again, so one answer lists every bad row. Text with a control
   character other than tab and newline is refused first, naming the field.
3. Only when nothing is wrong are the files replaced (`atomic`), together with the new rows of
   the change log (`changes`), in an order in which every intermediate state is a valid registry.

A value already present is replaced only when the caller says `revise`; the old row stays in the
change log, and `revert` puts the old text back byte for byte.
"""

from __future__ import annotations

import csv
import getpass
import itertools
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from smfcast.errors import DataError, InvalidInput, NotFound, Rejected, RowError, SmfcastError
from smfcast.registry import atomic, changes, readiness, texts
from smfcast.registry.periods import parse_period
from smfcast.registry.series import REGISTRY_FILES, SeriesIdentity, load_registry
from smfcast.registry.texts import OBSERVATIONS, SERIES, SOURCES

MAX_PROBLEMS = 50  # problems listed in one answer; a file with more has a systematic fault
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")  # ids become TOML table names
SOURCE_KEYS = ("publisher", "title", "url", "quote")


class WriteInterrupted(SmfcastError):
    """The disk refused a write part-way. The registry is valid either way (see `atomic`)."""

    status = 503


@dataclass(frozen=True)
class Origin:
    """Where an input came from, for error messages: "qh.xlsx, sheet 'observations', row 5",
    "request body, rows[2]" or "smfcast data add"."""

    where: str
    file: str | None = None
    sheet: str | None = None
    row: int | None = None

    @classmethod
    def of_row(cls, file: str, row: int, sheet: str | None = None) -> "Origin":
        return cls(f"{file}" + (f", sheet '{sheet}'" if sheet else "") + f", row {row}", file, sheet, row)

    def error(self, field_name: str | None, reason: str) -> RowError:
        return RowError(self.where, field_name, reason, file=self.file, sheet=self.sheet, row=self.row)


@dataclass(frozen=True)
class NewObservation:
    series_id: str
    period: str
    value: str  # the number as text, written to the file as given (a spreadsheet's float as its shortest repr)
    source_id: str
    quality: str
    note: str = ""
    origin: Origin = Origin("input")


@dataclass(frozen=True)
class NewSource:
    source_id: str
    publisher: str
    title: str
    quote: str
    url: str = ""
    origin: Origin = Origin("input")

    def fields(self) -> dict:
        return {"publisher": self.publisher, "title": self.title, "url": self.url or None, "quote": self.quote}


@dataclass(frozen=True)
class NewSeries(SeriesIdentity):
    bounds: tuple[float, float]
    transform: str
    national: str | None = None
    definition: str = ""
    headline: str | None = None  # a headline metric this series is to publish
    origin: Origin = Origin("input")
    forecast: bool = False  # every run forecasts it

    def fields(self) -> dict:
        return {"title_en": self.title_en or None, "title_zh": self.title_zh or None, "unit": self.unit or None,
                "frequency": self.frequency or None, "region": self.region or None, "bounds": list(self.bounds),
                "transform": self.transform or None, "national": self.national or None, "definition": self.definition or None,
                "forecast": True if self.forecast else None}


@dataclass
class _Edit:
    file: str
    place: str
    after: str
    origin: Origin
    action: str
    log: dict = field(default_factory=dict)  # series_id, period, old/new value, source_id, quality


@dataclass
class Outcome:
    """What a change did: its id (None when nothing needed changing) and the log rows written."""

    change_id: str | None
    entries: list[dict]
    unchanged: int = 0
    written: bool = True  # False when only checked (`smfcast data import --check`)

    def count(self, action: str) -> int:
        return sum(1 for e in self.entries if e["action"] == action)

    def summary(self) -> str:
        if not self.written:
            would = ", ".join(f"{a} {self.count(a)}" for a in dict.fromkeys(e["action"] for e in self.entries)) or "no edit"
            return f"valid, nothing written: it would {would}" + (f", unchanged {self.unchanged}" if self.unchanged else "")
        if self.change_id is None:
            return f"nothing to change: {self.unchanged} row(s) already recorded as given"
        reverted = {e["reverts"] for e in self.entries if e.get("reverts")}
        if reverted:
            return (f"change {self.change_id}: reverted change {', '.join(sorted(reverted))} ({len(self.entries)} edit(s)); "
                    f"`smfcast data revert {self.change_id}` redoes it")
        counts = {}
        for e in self.entries:
            counts[e["action"]] = counts.get(e["action"], 0) + 1
        done = ", ".join(f"{a} {n}" for a, n in counts.items())
        return (f"change {self.change_id}: {done}" + (f", unchanged {self.unchanged}" if self.unchanged else "")
                + f"; `smfcast data revert {self.change_id}` undoes it")


def default_who() -> str:
    """Who is changing the data: `SMFCAST_USER`, else the login name."""
    try:
        return os.environ.get("SMFCAST_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _read_texts(data_dir: Path) -> dict[str, str]:
    out = {}
    for name in REGISTRY_FILES:
        path = data_dir / name
        if not path.exists():
            raise DataError(path, None, None, "file is missing")
        try:
            out[name] = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(path, None, None, f"not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    return out


def _cells(line: str) -> list[str]:
    return next(csv.reader([line]), []) if line else []


def _same_observation(old_line: str, new: NewObservation) -> bool:
    cells = [c.strip() for c in _cells(old_line)]
    if len(cells) != 6:
        return False
    try:
        same_value = float(cells[2]) == float(new.value)
    except ValueError:
        same_value = cells[2] == new.value
    return same_value and cells[3:] == [new.source_id, new.quality, new.note]


def _render(current: dict[str, str], edits: list[_Edit]) -> dict[str, str]:
    """The files' texts with the edits made: TOML edits one by one, observation rows in one pass."""
    out = dict(current)
    for e in edits:
        if e.file != OBSERVATIONS:
            out[e.file] = texts.put(out[e.file], e.file, e.place, e.after)
    rows = {e.place: e.after for e in edits if e.file == OBSERVATIONS}
    if rows:
        out[OBSERVATIONS] = texts.put_observations(out[OBSERVATIONS], rows)
    return out


def _culprit(rendered: dict[str, str], edits: list[_Edit], err: DataError) -> _Edit | None:
    name = Path(err.path).name
    if err.line is None:
        return None
    index = texts.observation_index(rendered[OBSERVATIONS]) if name == OBSERVATIONS else None
    for e in edits:
        if e.file == name:
            span = texts.span(rendered[name], e.file, e.place, index)
            if span and span[0] <= err.line <= span[1]:
                return e
    return None


def _run_culprit(edits: list[_Edit], problem: readiness.RunProblem) -> _Edit | None:
    """The edit behind a run-readiness problem: the one of its row (series and period) when the
    problem is about a row, else the last one of its series."""
    def period(e: _Edit) -> str | None:
        try:
            return str(parse_period(e.log.get("period", "")))
        except ValueError:
            return None
    mine = [e for e in edits if e.log.get("series_id") == problem.series_id]
    if problem.period is not None:
        mine = [e for e in mine if period(e) == problem.period]
    return mine[-1] if mine else None


def _validate(data_dir: Path, current: dict[str, str], edits: list[_Edit], problems: list[DataError]) -> list[_Edit]:
    """Load the would-be registry and check it as a run would; trace each error to its edit and
    set that edit aside, until the rest passes. Problems are appended to `problems`; returns the
    edits that survived."""
    edits = list(edits)
    while True:
        rendered = _render(current, edits)
        try:
            reg = load_registry(data_dir, rendered)
        except DataError as err:
            culprit = _culprit(rendered, edits, err)
            if culprit is None:
                problems.append(err)  # the registry as it stands (or a removal) is at fault, not one input
                return []
            problems.append(culprit.origin.error(err.field, err.reason))
            edits.remove(culprit)
            if len(problems) >= MAX_PROBLEMS:
                return []
            continue
        unready = readiness.run_problems(reg)
        if not unready:
            return edits
        culprit = _run_culprit(edits, unready[0])
        if culprit is None:  # the registry as it stands already fails a run: only a change that mends it is taken
            err = unready[0]
            problems.append(DataError(err.path, err.line, err.field, f"a run could not use the registry: {err.reason}"))
            return []
        problems.append(culprit.origin.error("period" if unready[0].period else unready[0].field, unready[0].reason))
        edits.remove(culprit)
        if len(problems) >= MAX_PROBLEMS:
            return []


def _text_fields(item) -> dict[str, str]:
    if isinstance(item, NewObservation):
        return {k: getattr(item, k) for k in ("series_id", "period", "value", "source_id", "quality", "note")}
    if isinstance(item, NewSource):
        return {k: getattr(item, k) for k in ("source_id", "publisher", "title", "quote", "url")}
    return {k: getattr(item, k) or "" for k in ("id", "title_en", "title_zh", "unit", "frequency", "region", "transform",
                                                 "national", "definition", "headline")}


def _refuse_controls(items: list, problems: list[DataError]) -> list:
    """The inputs whose every text field is free of control characters (but tab and newline); a
    problem naming the field for each of the others."""
    kept = []
    for item in items:
        bad = [(name, code) for name, text in _text_fields(item).items() if (code := texts.control_character(str(text)))]
        for name, code in bad:
            problems.append(item.origin.error(name, f"holds the control character {code}; text may hold tabs and newlines "
                                                    "but no other control character"))
        if not bad:
            kept.append(item)
    return kept


def refuse_control_characters(**fields: str) -> None:
    """Refuse a change's own text (who, reason) holding a control character, naming the field."""
    for name, text in fields.items():
        if code := texts.control_character(text or ""):
            raise InvalidInput(f"{name} holds the control character {code}; text may hold tabs and newlines but no other "
                               "control character", name)


def rename_order(data_dir: Path, current: dict[str, str], final: dict[str, str]) -> list[str]:
    """An order of the changed registry files in which every intermediate state loads (new sources
    before the rows that cite them; rows before the sources they stop citing)."""
    changed = [n for n in (SERIES, SOURCES, OBSERVATIONS) if final[n] != current[n]]
    for order in itertools.permutations(changed):
        state, ok = dict(current), True
        for name in order[:-1]:
            state[name] = final[name]
            try:
                load_registry(data_dir, state)
            except DataError:
                ok = False
                break
        if ok:
            return list(order)
    return changed


def _commit(data_dir: Path, current: dict[str, str], final: dict[str, str], log_text: str, entries: list[dict]) -> None:
    order = rename_order(data_dir, current, final)
    files = [(name, final[name].encode("utf-8")) for name in order]
    files.append((changes.LOG, changes.appended(log_text, entries).encode("utf-8")))
    try:
        atomic.replace_files(data_dir, files)
    except OSError as exc:
        if atomic.pending(data_dir):
            raise WriteInterrupted(f"writing the change was interrupted ({exc.strerror or exc}); the registry is valid, "
                                   "and the next change (any `smfcast data` write) completes this one") from None
        raise WriteInterrupted(f"nothing was written ({exc.strerror or exc}); the registry is unchanged") from None


def _observation_edits(obs: list[NewObservation], current: str, revise: bool, problems: list[DataError]) -> tuple[list[_Edit], int]:
    edits, seen, unchanged = [], {}, 0
    index = texts.observation_index(current)
    for o in obs:
        key = texts.observation_key(o.series_id, o.period)
        if key in seen:
            problems.append(o.origin.error("period", f"repeats {o.series_id} {o.period} of {seen[key].where}"))
            continue
        seen[key] = o.origin
        old = texts.get(current, OBSERVATIONS, key, index)
        if old and _same_observation(old, o):
            unchanged += 1
            continue
        if old and not revise:
            cells = _cells(old)
            problems.append(o.origin.error("value", f"{o.series_id} {o.period} is already recorded as {cells[2]} "
                                                    f"({cells[4]}, source {cells[3]}); revise it explicitly "
                                                    "(--revise, or revise=true) and the old value stays in the history"))
            continue
        line = texts.csv_line([o.series_id, o.period, o.value, o.source_id, o.quality, o.note])
        old_cells = _cells(old)
        edits.append(_Edit(OBSERVATIONS, key, line, o.origin, "revise" if old else "add",
                           {"series_id": o.series_id, "period": o.period, "old_value": old_cells[2] if old else "",
                            "new_value": o.value, "source_id": o.source_id, "quality": o.quality}))
    return edits, unchanged


def _source_edits(sources: list[NewSource], current: str, problems: list[DataError]) -> list[_Edit]:
    import tomllib
    existing = tomllib.loads(current)
    edits, seen = [], {}
    for s in sources:
        if not _BARE_KEY.match(s.source_id):
            problems.append(s.origin.error("source_id", f"{s.source_id!r} is not a usable id; use letters, digits, '_' and '-'"))
            continue
        if s.url and not re.match(r"^https?://\S+$", s.url):
            problems.append(s.origin.error("url", f"{s.url!r} is not a web address (http:// or https://)"))
            continue
        given = {k: v for k, v in s.fields().items() if v is not None}
        if s.source_id in seen:
            if seen[s.source_id] != given:
                problems.append(s.origin.error("source_id", f"source {s.source_id!r} is given twice with different fields"))
            continue
        seen[s.source_id] = given
        if s.source_id in existing:
            old = existing[s.source_id]
            differs = [k for k in SOURCE_KEYS if (old.get(k) or "") != (given.get(k) or "")]
            if differs:
                problems.append(s.origin.error(differs[0], f"source {s.source_id!r} already exists with a different {differs[0]}; "
                                                           "sources are never rewritten: give the new one its own id"))
            continue
        edits.append(_Edit(SOURCES, s.source_id, texts.toml_table(s.source_id, s.fields()), s.origin, "add source",
                           {"source_id": s.source_id}))
    return edits


def _series_edits(series: list[NewSeries], current: str, problems: list[DataError]) -> list[_Edit]:
    import tomllib
    doc = tomllib.loads(current)
    edits = []
    for s in series:
        if not _BARE_KEY.match(s.id):
            problems.append(s.origin.error("id", f"{s.id!r} is not a usable id; use letters, digits, '_' and '-'"))
            continue
        if s.id in doc.get("series", {}):
            problems.append(s.origin.error("id", f"series {s.id!r} already exists; its definition is edited by hand in series.toml"))
            continue
        if not (len(s.bounds) == 2 and all(isinstance(b, (int, float)) and math.isfinite(b) for b in s.bounds)):
            problems.append(s.origin.error("bounds", "bounds must be two numbers, lower,upper"))
            continue
        edits.append(_Edit(SERIES, f"series.{s.id}", texts.toml_table(f"series.{s.id}", s.fields()), s.origin, "add series",
                           {"series_id": s.id}))
        if s.headline:
            if s.headline not in doc.get("headline", {}):
                problems.append(s.origin.error("headline", f"{s.headline!r} is not a headline metric; choose one of "
                                                           f"{', '.join(doc.get('headline', {}))}"))
                continue
            old = doc["headline"][s.headline].get("series", "")
            edits.append(_Edit(SERIES, f"headline.{s.headline}", f"series = {texts.toml_string(s.id)}", s.origin, "set headline",
                               {"series_id": s.id, "period": "", "old_value": old, "new_value": s.id}))
    return edits


def apply(data_dir: str | Path, observations: list[NewObservation] = (), sources: list[NewSource] = (),
          series: list[NewSeries] = (), *, revise: bool = False, who: str | None = None, reason: str = "",
          check_only: bool = False) -> Outcome:
    """Validate and write one change (series, then sources, then observations); all or nothing.
    Raises `Rejected` listing every problem, each located by its input's file/sheet, row and field.
    `check_only` validates and reports what would change, writing nothing."""
    data_dir = Path(data_dir)
    who = who or default_who()
    refuse_control_characters(who=who, reason=reason)
    with atomic.locked(data_dir):
        atomic.recover(data_dir)
        current = _read_texts(data_dir)
        problems: list[DataError] = []
        series, sources, observations = (_refuse_controls(list(items), problems) for items in (series, sources, observations))
        edits = (_series_edits(series, current[SERIES], problems)
                 + _source_edits(sources, current[SOURCES], problems))
        obs_edits, unchanged = _observation_edits(observations, current[OBSERVATIONS], revise, problems)
        edits = _validate(data_dir, current, edits + obs_edits, problems)
        if problems:
            problems.sort(key=lambda p: (p.path, getattr(p, "sheet", None) or "", p.line or 0))
            raise Rejected(problems)
        if check_only:
            return Outcome(None, [{"action": e.action, **e.log} for e in edits], unchanged, written=False)
        if not edits:
            return Outcome(None, [], unchanged)
        log_text = changes.log_text(data_dir)
        change_id = changes.next_change_id(changes.read_log(data_dir, log_text))
        time, entries, state = _now(), [], dict(current)
        index = texts.observation_index(current[OBSERVATIONS])  # each row is edited at most once per change
        for e in edits:
            if e.file == OBSERVATIONS:
                before = texts.get(current[OBSERVATIONS], OBSERVATIONS, e.place, index)
            else:
                before = texts.get(state[e.file], e.file, e.place)
                state[e.file] = texts.put(state[e.file], e.file, e.place, e.after)
            entries.append({**dict.fromkeys(changes.COLUMNS, ""), "change_id": change_id, "time": time, "who": who,
                            "action": e.action, "reason": reason, **e.log, "file": e.file, "place": e.place,
                            "before": before, "after": e.after})
        _commit(data_dir, current, _render(current, edits), log_text, entries)
        return Outcome(change_id, entries, unchanged)


def _describe(file: str, text: str) -> dict:
    """The log fields of an observation row's text (value, source, grade), for revert entries."""
    cells = [c.strip() for c in _cells(text)] if file == OBSERVATIONS else []
    return {"value": cells[2], "source_id": cells[3], "quality": cells[4]} if len(cells) == 6 else {}


def revert(data_dir: str | Path, change_id: str, *, who: str | None = None, reason: str = "") -> Outcome:
    """Undo one change as a new change: every place it edited gets its old text back, exactly.
    Refused (nothing written) when a later change has since edited one of those places."""
    data_dir = Path(data_dir)
    who = who or default_who()
    refuse_control_characters(who=who, reason=reason)
    change_id = str(change_id).strip()
    with atomic.locked(data_dir):
        atomic.recover(data_dir)
        log_text = changes.log_text(data_dir)
        entries = changes.read_log(data_dir, log_text)
        target = changes.change(entries, change_id)
        if not target:
            raise NotFound(f"no change {change_id!r} in {changes.LOG}; `smfcast data history` lists the changes", "change_id")
        undone = {x["reverts"]: x["change_id"] for x in entries if x["reverts"]}  # change -> the newest change reverting it
        if change_id in undone and undone[change_id] not in undone:
            raise InvalidInput(f"change {change_id} was already reverted by change {undone[change_id]}", "change_id")
        current = _read_texts(data_dir)
        state = dict(current)
        index, rows = texts.observation_index(current[OBSERVATIONS]), {}  # a change edits each row once
        for e in reversed(target):
            if e["file"] == OBSERVATIONS:
                now = texts.get(current[OBSERVATIONS], OBSERVATIONS, e["place"], index)
            else:
                now = texts.get(state[e["file"]], e["file"], e["place"])
            if now != e["after"]:
                later = [x for x in entries if x["file"] == e["file"] and x["place"] == e["place"]
                         and int(x["change_id"]) > int(change_id)]
                what = f"{e['series_id']} {e['period']}".strip() if e["series_id"] else e["place"]
                by = f" by change {later[-1]['change_id']}" if later else " by hand"
                raise InvalidInput(f"{what} was changed again{by} after change {change_id}; "
                                   f"revert that first or make a new change", "change_id")
            if e["file"] == OBSERVATIONS:
                rows[e["place"]] = e["before"]
            else:
                state[e["file"]] = texts.put(state[e["file"]], e["file"], e["place"], e["before"])
        if rows:
            state[OBSERVATIONS] = texts.put_observations(state[OBSERVATIONS], rows)
        try:
            unready = readiness.run_problems(load_registry(data_dir, state))
        except DataError as err:
            raise Rejected([DataError(err.path, err.line, err.field, f"reverting change {change_id} would leave: {err.reason}; "
                                      "revert the changes that rely on it first")]) from None
        if unready:
            err = unready[0]
            raise Rejected([DataError(err.path, err.line, err.field, f"reverting change {change_id} would leave a registry a run "
                                      f"cannot use: {err.reason}")])
        new_id = changes.next_change_id(entries)
        time, out = _now(), []
        for e in reversed(target):
            restored, removed = _describe(e["file"], e["before"]), _describe(e["file"], e["after"])
            shown = restored or removed
            out.append({"change_id": new_id, "time": time, "who": who, "action": "revert", "series_id": e["series_id"],
                        "period": e["period"], "old_value": e["new_value"], "new_value": e["old_value"],
                        "source_id": shown.get("source_id", e["source_id"]), "quality": shown.get("quality", ""),
                        "reason": f"revert of change {change_id}" + (f": {reason}" if reason else ""), "reverts": change_id,
                        "file": e["file"], "place": e["place"], "before": e["after"], "after": e["before"]})
        _commit(data_dir, current, state, log_text, out)
        return Outcome(new_id, out)
