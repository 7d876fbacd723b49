"""Immutable runs and the SQLite run store.

A run is every headline metric fitted with every model, every preset scenario applied, and the
resulting sample paths kept. Its id is a hash of everything that changes the numbers (data files,
configuration, package version, engine source, seed, and the versions of the numerical libraries),
so the same inputs give the same id and the same numbers, and a changed observation or an upgraded
library gives a new run while old runs stay readable: a spreadsheet can pin one. Paths are stored
as `.npy` bytes (never pickles) and are served without refitting. Which run answers requests that
name none is decided by publishing it (`publications.py`); the store keeps to a quota (`quota.py`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from smfcast import __version__
from smfcast.defaults import ENSEMBLE
from smfcast.engine.config import EngineConfig
from smfcast.engine.headline import MARKED, MetricForecast, forecast_marked, forecast_metric, forecast_years
from smfcast.engine.records import Failure, Method
from smfcast.errors import InvalidInput, NotFound, SmfcastError
from smfcast.policy.scenarios import (
    Lever,
    Scenario,
    apply,
    load_levers,
    load_scenarios,
)
from smfcast.policy.targets import Target, check_target_years, load_targets
from smfcast.registry import changes
from smfcast.registry.location import default_data_dir
from smfcast.registry.periods import parse_period
from smfcast.registry.readiness import check_run_ready
from smfcast.registry.series import HEADLINE_METRICS, load_registry, registry_texts
from smfcast.registry.transforms import Transform
from smfcast.store import publications
from smfcast.store.quota import Quota, prune

BASELINE = "baseline"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, created TEXT NOT NULL, version TEXT NOT NULL,
    config TEXT NOT NULL, inputs TEXT NOT NULL, summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS backtests (
    backtest_id TEXT PRIMARY KEY, created TEXT NOT NULL, spec TEXT NOT NULL, result TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS paths (
    run_id TEXT NOT NULL REFERENCES runs(run_id), metric TEXT NOT NULL, model TEXT NOT NULL,
    scenario TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (run_id, metric, model, scenario)
);
-- the registry files a run was made from (zlib-compressed UTF-8), so what is served with it agrees
CREATE TABLE IF NOT EXISTS run_files (
    run_id TEXT NOT NULL REFERENCES runs(run_id), name TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
);
""" + publications.SCHEMA
# The libraries whose versions change the numbers (statsforecast's ETS simulation, statsmodels'
# ARIMA, Prophet's sampler, numpy's generators): hashed into the run id and stored with the run.
LIBRARIES = ("numpy", "pandas", "scipy", "statsmodels", "prophet", "statsforecast")


def default_store_path() -> Path:
    """`SMFCAST_STORE` if set, else `var/smfcast.sqlite` in the working directory."""
    return Path(os.environ.get("SMFCAST_STORE", "var/smfcast.sqlite"))


def input_files(data_dir: Path) -> list[Path]:
    """The data files whose bytes change the numbers: every CSV and TOML of the registry."""
    files = list(data_dir.glob("*.csv")) + list(data_dir.glob("*.toml")) + list(data_dir.glob("scenarios/*.toml"))
    return sorted(files, key=lambda p: p.relative_to(data_dir).as_posix())


@lru_cache(maxsize=1)
def code_digest() -> str:
    """Hash of the engine's source: between releases the version string stays put while the code
    (and so the numbers) can change, and a run id must never name two different sets of numbers."""
    root = Path(__file__).resolve().parents[1]  # the smfcast package: the engine and its doors, not the API
    digest = hashlib.sha256()
    for path in sorted(engine_sources(root)):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """The installed versions of `LIBRARIES` (read once per process: a process keeps the
    libraries it loaded)."""
    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "not installed"
    return out


def engine_sources(root: Path) -> list[Path]:
    """The Python files of the package at `root` that make the numbers: all but the HTTP layer and
    the shipped data (which an installed copy holds inside the package, a source checkout beside
    it), so an editable and a regular install of the same code give the same run ids."""
    return [p for p in root.rglob("*.py") if p.relative_to(root).parts[0] not in ("api", "data")]


def run_id_for(data_dir: Path, config: EngineConfig) -> tuple[str, dict]:
    """(run id, input digests): sha256 over data bytes, config (with the seed), package version,
    engine source and library versions."""
    inputs = {p.relative_to(data_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in input_files(data_dir)}
    payload = json.dumps({"inputs": inputs, "config": config.to_dict(), "version": __version__, "code": code_digest(),
                          "libraries": library_versions()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16], inputs


def _to_blob(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a, dtype=np.float64), allow_pickle=False)
    return buf.getvalue()


def _from_blob(b: bytes) -> np.ndarray:
    a = np.load(io.BytesIO(b), allow_pickle=False)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class Run:
    run_id: str
    created: str
    version: str
    config: dict
    inputs: dict
    summary: dict  # per metric: series, unit, transform, periods, method, members, failures, grades, history

    @property
    def metrics(self) -> list[str]:
        return list(self.summary["metrics"])

    @property
    def scenarios(self) -> list[str]:
        return list(self.summary["scenarios"])

    def metric_info(self, metric: str) -> dict:
        try:
            return self.summary["metrics"][metric]
        except KeyError:
            raise NotFound(f"unknown metric {metric!r}; choose one of {', '.join(self.metrics)}", "metric") from None

    def models(self, metric: str) -> list[str]:
        return list(self.metric_info(metric)["models"])

    @property
    def series_ids(self) -> list[str]:
        """The marked series this run forecast (`forecast = true` in series.toml), by id."""
        return sorted(self.summary.get("series", {}))

    @property
    def series_failures(self) -> dict[str, str]:
        """Marked series the run could not forecast, and why."""
        return dict(self.summary.get("series_failures", {}))

    def series_info(self, series_id: str) -> dict:
        """What the run keeps of a marked series' forecast (the shape of `metric_info`)."""
        try:
            return self.summary.get("series", {})[series_id]
        except KeyError:
            why = self.series_failures.get(series_id)
            if why:
                raise NotFound(f"run {self.run_id} could not forecast series {series_id!r}: {why}", "series") from None
            known = ", ".join(self.series_ids) or "none: mark one with `smfcast data series add ... --forecast`"
            raise NotFound(f"series {series_id!r} is not forecast by run {self.run_id}; the series it forecasts: {known}",
                           "series") from None

    def method(self, metric: str) -> Method:
        """How the metric was forecast (the typed record; older runs read with defaults)."""
        return Method.from_dict(self.metric_info(metric).get("method"))

    def failures(self, metric: str) -> list[Failure]:
        """Members not used for the metric, and why."""
        return Failure.from_dict(self.metric_info(metric).get("failures"))

    def transform(self, metric: str) -> Transform:
        t = self.metric_info(metric)["transform"]
        return Transform(t["kind"], t["lower"], t["upper"])

    def periods(self, metric: str):
        return [parse_period(p) for p in self.metric_info(metric)["periods"]]

    def levers(self) -> dict[str, Lever]:
        return {k: Lever.from_dict(v) for k, v in self.summary["levers"].items()}

    def scenario(self, name: str) -> Scenario:
        try:
            return Scenario.from_dict(self.summary["scenario_defs"][name])
        except KeyError:
            raise NotFound(f"unknown scenario {name!r}; choose one of {', '.join(self.scenarios)}", "scenario") from None

    def presets(self) -> dict[str, Scenario]:
        return {k: Scenario.from_dict(v) for k, v in self.summary["scenario_defs"].items()}

    def targets(self) -> dict[str, Target]:
        return {k: Target(**v) for k, v in self.summary["targets"].items()}

    @property
    def libraries(self) -> dict[str, str]:
        """The library versions the run was computed with (empty for runs stored before they were recorded)."""
        return dict(self.summary.get("libraries", {}))

    @property
    def vintage(self) -> dict | None:
        """The data vintage the run used: the change log's digest and each series' last change
        (`registry.changes.vintage`); None for runs stored before it was recorded."""
        return self.summary.get("vintage")

    def header(self) -> dict:
        return {"run_id": self.run_id, "created": self.created, "version": self.version, "config": self.config,
                "vintage": self.vintage,
                "inputs": self.inputs, "libraries": self.libraries, "scenarios": self.scenarios, "metrics": self.metrics}


class RunStore:
    """SQLite store of immutable runs. Safe for several processes: writes are single transactions
    and a run id that already exists is never rewritten."""

    def __init__(self, path: str | Path | None = None, quota: Quota | None = None, create: bool = True):
        """Open the store at `path` (default `default_store_path()`). `create`: make the file (and
        its folder) if missing, as writers do; readers pass False, so reading a store that does not
        exist is the one-line "no run in the store yet" and leaves no file behind."""
        self.path = Path(path) if path is not None else default_store_path()
        self.quota = quota or Quota.from_env()
        self._local = threading.local()
        if not create and not self.path.exists():
            raise NotFound(f"no run in the store yet: {self.path} does not exist; run `smfcast run` first (or give --store, "
                           "SMFCAST_STORE, the store a run was saved in)", "store")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = self._connect()
            con.executescript(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise InvalidInput(f"cannot open the run store {self.path}: {reason}; give --store (or SMFCAST_STORE) "
                               "a new file or a store `smfcast run` made", "store") from None
        if self.latest() is not None and publications.current(con) is None:
            # A store from before publications: its newest run was what unpinned requests saw, so it stays so.
            con.execute("BEGIN IMMEDIATE")
            try:
                newest = con.execute("SELECT run_id FROM runs ORDER BY rowid DESC LIMIT 1").fetchone()
                if publications.current(con) is None:
                    publications.insert(con, newest[0], "smfcast", "the newest run of a store made before publications")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def _connect(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA busy_timeout=60000")
            self._local.con = con
        return con

    def exists(self, run_id: str) -> bool:
        return self._connect().execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is not None

    def save(self, run: Run, arrays: dict[tuple[str, str, str], np.ndarray], files: dict[str, str] | None = None) -> None:
        """Store a run with its sample paths and the registry files it was made from (`files`)."""
        con = self._connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            if con.execute("SELECT 1 FROM runs WHERE run_id = ?", (run.run_id,)).fetchone() is None:
                con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)", (
                    run.run_id, run.created, run.version, json.dumps(run.config, sort_keys=True),
                    json.dumps(run.inputs, sort_keys=True), json.dumps(run.summary, sort_keys=True, ensure_ascii=False)))
                con.executemany("INSERT INTO paths VALUES (?, ?, ?, ?, ?)", [
                    (run.run_id, metric, model, scenario, _to_blob(a)) for (metric, model, scenario), a in arrays.items()])
                con.executemany("INSERT INTO run_files VALUES (?, ?, ?)", [
                    (run.run_id, name, zlib.compress(text.encode("utf-8"))) for name, text in (files or {}).items()])
                if publications.current(con) is None:
                    publications.insert(con, run.run_id, *publications.FIRST_RUN)
                prune(con, self.quota, keep=run.run_id)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def registry_files(self, run_id: str) -> dict[str, str] | None:
        """The registry files the run was made from; None for a run stored before they were kept."""
        rows = self._connect().execute("SELECT name, data FROM run_files WHERE run_id = ?", (run_id,)).fetchall()
        return {name: zlib.decompress(data).decode("utf-8") for name, data in rows} or None

    def registry_for(self, run_id: str | None, data_dir: str | Path | None = None):
        """The registry the run was made from: the files it keeps (loaded once per process, as runs
        never change), or the data folder for no run or a run stored before runs kept them."""
        if run_id is None:
            return load_registry(data_dir)
        return _cached_registry(str(self.path), run_id, str(data_dir) if data_dir is not None else None, self)

    def sources_for(self, run_ids: list[str], data_dir: str | Path | None = None) -> dict:
        """The sources of several runs' registries together (a later run's entry wins): what a
        comparison of runs cites, for observations removed as well as added."""
        out = {}
        for run_id in run_ids:
            out.update(self.registry_for(run_id, data_dir).sources)
        return out

    def save_backtest(self, backtest_id: str, spec: dict, result: dict) -> None:
        """Backtest results are immutable too: the first result stored under an id stays."""
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._connect().execute("INSERT OR IGNORE INTO backtests VALUES (?, ?, ?, ?)",
                                (backtest_id, created, json.dumps(spec, sort_keys=True), json.dumps(result, ensure_ascii=False)))

    def backtest(self, backtest_id: str | None = None) -> dict:
        """A stored backtest (the newest when no id is given) with its spec and result."""
        query = "SELECT backtest_id, created, spec, result FROM backtests "
        row = self._connect().execute(query + ("WHERE backtest_id = ?" if backtest_id else "ORDER BY rowid DESC LIMIT 1"),
                                      (backtest_id,) if backtest_id else ()).fetchone()
        if row is None:
            raise NotFound("no backtest in the store yet; run `smfcast backtest` first" if backtest_id is None
                           else f"unknown backtest {backtest_id!r}", "backtest")
        return {"backtest_id": row[0], "created": row[1], "spec": json.loads(row[2]), **json.loads(row[3])}

    def list(self) -> list[Run]:
        rows = self._connect().execute("SELECT run_id, created, version, config, inputs, summary FROM runs ORDER BY rowid DESC").fetchall()
        return [_run_from_row(r) for r in rows]

    def latest(self) -> Run | None:
        """The newest run stored (published or not), or None in an empty store."""
        row = self._connect().execute("SELECT run_id FROM runs ORDER BY rowid DESC LIMIT 1").fetchone()
        return _cached_run(str(self.path), row[0], self) if row else None

    def published_id(self) -> str | None:
        """The id of the run that answers unpinned requests (one indexed read, no run loaded)."""
        return publications.current(self._connect())

    def published(self) -> Run | None:
        # Only the id is read per call; the run itself comes from the in-memory cache (runs never change).
        run_id = self.published_id()
        return _cached_run(str(self.path), run_id, self) if run_id else None

    def publish(self, run_id: str, by: str, reason: str = "") -> dict:
        """Make `run_id` the run unpinned requests get; the publication is appended to the history."""
        con = self._connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            record = publications.insert(con, run_id, by, reason)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return record

    def publication_history(self) -> list[dict]:
        """Every publication, newest first."""
        return publications.history(self._connect())

    def get(self, run_id: str | None = None) -> Run:
        """The named run, or the published one when `run_id` is None."""
        if run_id is None:
            run = self.published()
            if run is None:
                raise NotFound("no run in the store yet; run `smfcast run` first", "run")
            return run
        return _cached_run(str(self.path), run_id, self)

    def paths(self, run_id: str, metric: str, model: str, scenario: str) -> np.ndarray:
        """Model-space paths (n_paths, len(periods)); cached in memory: runs never change."""
        return _cached_paths(str(self.path), run_id, metric, model, scenario, self)


def _run_from_row(row) -> Run:
    run_id, created, version, config, inputs, summary = row
    return Run(run_id, created, version, json.loads(config), json.loads(inputs), json.loads(summary))


@lru_cache(maxsize=8)
def _cached_registry(_path: str, run_id: str, data_dir: str | None, store: RunStore):
    files = store.registry_files(run_id)
    return load_registry(data_dir, files) if files else load_registry(data_dir)


@lru_cache(maxsize=64)
def _cached_run(_path: str, run_id: str, store: RunStore) -> Run:
    row = store._connect().execute(
        "SELECT run_id, created, version, config, inputs, summary FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        raise NotFound(f"unknown run {run_id!r}; `smfcast runs` lists the stored runs", "run")
    return _run_from_row(row)


@lru_cache(maxsize=512)
def _cached_paths(_path: str, run_id: str, metric: str, model: str, scenario: str, store: RunStore) -> np.ndarray:
    row = store._connect().execute(
        "SELECT data FROM paths WHERE run_id = ? AND metric = ? AND model = ? AND scenario = ?",
        (run_id, metric, model, scenario)).fetchone()
    if row is None:
        run = store.get(run_id)
        if model not in run.models(metric):
            raise NotFound(f"unknown model {model!r} for {metric}; choose one of {', '.join(run.models(metric))}", "model")
        raise NotFound(f"unknown scenario {scenario!r}; choose one of {', '.join(run.scenarios)}", "scenario")
    return _from_blob(row[0])


def _history(observations) -> list[dict]:
    return [{"period": str(o.period), "value": o.value, "quality": o.quality, "source_id": o.source_id} for o in observations]


def _observations_used(reg, metric: str, method: Method, config: EngineConfig) -> list[dict]:
    """Every observation the metric's fit read (the grades the configuration keeps): the provincial
    series and, when the method leans on it, the national counterpart. Comparing two runs lists
    what was added, removed or revised from these."""
    head = reg.headline(metric)
    series = [("provincial", head.series)] + ([("national", method.national)] if method.national else [])
    return [{"role": role, "series_id": sid, **row} for role, sid in series
            for row in _history(reg.observations(sid, config.exclude_qualities))]


def _forecast_task(task) -> MetricForecast | str:
    """One metric or marked series (a process of its own under the local executor). A marked
    series that cannot be forecast comes back as the reason, for the run's failures: a user's
    series never fails the run."""
    reg, kind, key, config = task
    if kind == "metric":
        return forecast_metric(reg, key, config)
    try:
        return forecast_marked(reg, key, config)
    except SmfcastError as exc:
        return exc.message


def _forecast_info(reg, fc: MetricForecast, config: EngineConfig, title_en: str, title_zh: str, observations: list[dict]) -> dict:
    """What a run keeps of one forecast besides its paths."""
    return {"series_id": fc.series_id, "unit": fc.unit, "title_en": title_en, "title_zh": title_zh,
            "transform": {"kind": fc.transform.kind, "lower": fc.transform.lower, "upper": fc.transform.upper},
            "periods": [str(p) for p in fc.periods], "models": [m for m in config.models if m in fc.paths] + [ENSEMBLE],
            "method": fc.method.to_dict(), "members": fc.members, "failures": fc.failures, "grades": fc.grades,
            "history": _history(fc.history), "observations": observations}


def create_run(data_dir: str | Path | None = None, config: EngineConfig | None = None, store: RunStore | None = None,
               progress=None, executor=None) -> Run:
    """Fit everything, apply every preset scenario, and store the run; return the stored run if
    these inputs were run before. Ensemble weights and band calibration come from each metric's
    own backtest (see `engine.EngineConfig`). `executor` (see `executor.py`) fits the metrics in
    parallel; the numbers do not depend on it.

    The run keeps its levers and scenario definitions, so a custom scenario asked of an old run
    is computed with that run's assumptions, not today's files.
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    config = config or EngineConfig()
    store = store or RunStore()
    run_id, inputs = run_id_for(data_dir, config)
    if store.exists(run_id):
        return store.get(run_id)
    files = registry_texts(data_dir)
    reg = load_registry(data_dir, files)
    check_run_ready(reg, config.until_year, config.exclude_qualities, config.min_direct_points)  # the check every data change passed
    levers = load_levers(data_dir)
    presets = load_scenarios(data_dir, levers)
    targets = load_targets(data_dir, until_year=config.until_year)
    # a target its metric will not forecast is refused here, before minutes of fitting
    check_target_years(targets, {m: forecast_years(reg, m, config) for m in HEADLINE_METRICS}, data_dir)
    arrays, metrics, marked, marked_failures = {}, {}, {}, {}
    tasks = [(reg, "metric", metric, config) for metric in HEADLINE_METRICS] + [(reg, "series", sid, config) for sid in reg.marked()]
    for (_, kind, key, _), fc in zip(tasks, (executor.map if executor else map)(_forecast_task, tasks)):
        if progress:
            progress(key if kind == "metric" else MARKED + key)
        if kind == "series":
            if isinstance(fc, str):
                marked_failures[key] = fc
                continue
            for model, z in fc.paths.items():
                arrays[(MARKED + key, model, BASELINE)] = z
            meta = reg.meta(key)
            marked[key] = _forecast_info(reg, fc, config, meta.title_en, meta.title_zh,
                                         [{"role": "series", "series_id": key, **row}
                                          for row in _history(reg.observations(key, config.exclude_qualities))])
            continue
        years = [p.year for p in fc.periods]
        for model, z in fc.paths.items():
            for name, scenario in presets.items():
                arrays[(key, model, name)] = apply(z, key, years, fc.transform, scenario, levers, config.seed)
        head = reg.headline(key)
        metrics[key] = _forecast_info(reg, fc, config, head.title_en, head.title_zh,
                                      _observations_used(reg, key, fc.method, config))
    summary = {"metrics": metrics, "series": marked, "series_failures": marked_failures, "scenarios": [BASELINE] + sorted(s for s in presets if s != BASELINE),
               "scenario_defs": {k: v.as_dict() for k, v in presets.items()},
               "levers": {k: v.as_dict() for k, v in levers.items()},
               "targets": {k: v.as_dict() for k, v in targets.items()}, "libraries": library_versions(),
               "code": code_digest()}
    summary["vintage"] = changes.vintage(data_dir, sorted({s for h in reg.headlines.values() for s in (h.series, h.national)}
                                                          | set(reg.marked())),
                                 files.get(changes.LOG, ""))  # the log as this run read it, once
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run = Run(run_id, created, __version__, config.to_dict(), inputs, summary)
    store.save(run, arrays, files)
    return store.get(run_id)
