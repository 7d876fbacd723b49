"""The OpenAPI 3 document and a human docs page, kept beside the routes they describe.

Each operation (a route and a method) is one `Operation` in `operations()`: its parameters,
request body, answers with their schemas, and an example of the request and of its answer. An
endpoint is documented by adding one entry there (and the schemas it names to `SCHEMAS`).
`tests/test_openapi.py` checks the document against the app both ways (every route and method
has an operation, every operation a route), sends every operation's example request to the app
and validates the answer against the schema documented for its status and content type.

Tables answer JSON by default (no `format=`, no Accept header, or `*/*`); CSV and XLSX when
`format=` or the Accept header names them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Blueprint, jsonify, render_template_string

from smfcast import __version__
from smfcast.defaults import ENSEMBLE, LEVELS, MEMBERS
from smfcast.engine.frames import answer_columns
from smfcast.outputs.decision_tables import SEEK_COLUMNS, SEEK_MEDIAN_COLUMNS
from smfcast.outputs.registry_tables import OBSERVATION_COLUMNS as OBS_COLUMNS
from smfcast.outputs.registry_tables import SERIES_COLUMNS
from smfcast.outputs.revisions import FORECAST_COLUMNS, OBSERVATION_COLUMNS, SETTING_COLUMNS
from smfcast.outputs.revisions import TARGET_COLUMNS as CHANGED_TARGET_COLUMNS
from smfcast.outputs.run_tables import RUN_COLUMNS, TARGET_COLUMNS, table_columns
from smfcast.policy.scenarios import LEVER_COLUMNS
from smfcast.registry.changes import HISTORY_COLUMNS
from smfcast.registry.series import HEADLINE_METRICS
from smfcast.store.backtests import ROW_COLUMNS as BACKTEST_ROWS
from smfcast.store.backtests import SUMMARY_COLUMNS as BACKTEST_SUMMARY
from smfcast.store.publications import COLUMNS as PUBLICATION_COLUMNS
from smfcast.store.publications import MAX_REASON
from smfcast.store.requests import BACKTEST_LIMITS, FORECAST_LIMITS, REFIT_LIMITS, SYNC_POINTS, SYNC_SERIES

from .formats import FORMATS, XLSX_MIME
from .limits import COMPUTE_ROUTES
from .params import allow, store

bp = Blueprint("openapi", __name__)

EXAMPLE_RUN = "f2ebad2fb7ac5d5d"  # replaced by the published run's id when the document is served
EXAMPLE_JOB = "3f9c2a7e1b0d4c58"
FLAGS = ["true", "false", "1", "0", "yes", "no"]  # what `formats.flag` reads, in any case


# --- the types of table cells, by column name: a table's row schema is made from its columns ---

_TEXT, _NUMBER, _INTEGER, _BOOLEAN = ({"type": t, "nullable": True} for t in ("string", "number", "integer", "boolean"))
_TEXT_COLUMNS = {
    "id", "title_en", "title_zh", "region", "unit", "frequency", "transform", "national", "first", "last", "headline", "last_change",
    "last_change_id", "last_change_source", "series_id", "period", "quality", "note", "source_id", "publisher", "title", "url",
    "quote", "name", "rationale", "lever", "metric", "elasticity_unit", "basis", "why", "scenario", "model", "kind", "run_id",
    "target", "condition", "created", "version", "scenarios", "metrics", "published", "by", "reason", "change_id", "time", "who",
    "action", "reverts", "change", "role", "quality_a", "quality_b", "source_a", "source_b", "what", "a", "b",
    "lever_unit", "move", "status", "goal", "direction", "table", "outcome", "unique_id", "ds"}
_INTEGER_COLUMNS = {"year", "lag", "count", "seed", "n_paths", "seq", "windows", "points", "horizon", "from_year"}
_BOOLEAN_COLUMNS = {"current", "monotone"}
_NUMBER_COLUMNS = {
    "value", "baseline", "low_range", "high_range", "elasticity_low", "elasticity_mode", "elasticity_high", "mean", "median",
    "probability", "y", "mae", "rmse", "mape", "smape", "mase", "msis", "crps", "value_a", "value_b", "probability_a",
    "probability_b", "probability_change", "median_a", "median_b", "base_value", "delta_probability", "delta_median", "swing",
    "base_probability", "base_median", "best_value", "best_probability", "best_median"}
_MEASURE = re.compile(r"^((lo|hi)-\d{2}|coverage-\d{2}|width-\d{2}|winkler-\d{2})(_(a|b|change))?$|^(median|mean)_(a|b|change)$")


_COVERAGE = re.compile(r"^coverage-(\d{2})(_(a|b|change))?$")


def cell(column: str) -> dict:
    """The schema of one table column's cells (null where a row has no value)."""
    if column == "cutoff":  # a backtest window's origin: the period of its last training point (a position in backtests stored before)
        return {"oneOf": [{"type": "string"}, {"type": "integer"}],
                "description": "The period of the window's last training point, such as 2023Q2"}
    if column in ("old_value", "new_value"):  # an observation's value, or the text another edit replaced
        return {"oneOf": [{"type": "number", "nullable": True}, {"type": "string"}],
                "description": "An observation's value as a number (null: none); the text of other edits"}
    coverage = _COVERAGE.match(column)
    if coverage:
        return {**_NUMBER, "description": f"Percent of the scored points inside the central {coverage.group(1)}% band "
                                          f"(nominal: {coverage.group(1)})"}
    for names, schema in ((_TEXT_COLUMNS, _TEXT), (_INTEGER_COLUMNS, _INTEGER), (_BOOLEAN_COLUMNS, _BOOLEAN), (_NUMBER_COLUMNS, _NUMBER)):
        if column in names:
            return schema
    if _MEASURE.match(column):
        return _NUMBER
    raise KeyError(f"column {column!r} has no type in api/openapi.py: add it to the column types there")


def table(columns: list[str], meta: dict | None = None, required: tuple[str, ...] = (), wide: bool = False, example: dict | None = None) -> dict:
    """The JSON answer of a table: `columns`, `rows` (objects with those keys) and `meta` beside
    them. `wide`: `layout=wide` may add a column per scenario x statistic (numbers)."""
    row = {"type": "object", "properties": {c: cell(c) for c in columns}}
    if wide:
        row["additionalProperties"] = _NUMBER
    out = {"type": "object", "required": ["columns", "rows", *required], "properties": {
        **(meta or {}), "columns": {"type": "array", "items": {"type": "string"}}, "rows": {"type": "array", "items": row}}}
    if example is not None:
        out["example"] = example
    return out


def _string(**extra) -> dict:
    return {"type": "string", **extra}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


RUN_ID = _string(pattern="^[0-9a-f]{16}$", example=EXAMPLE_RUN)
_RUN_META = {"run_id": RUN_ID}


# --- the schemas answers and bodies name (`components.schemas`) ---

def _schemas() -> dict:
    interval = {"type": "object", "nullable": True, "additionalProperties": {"type": "number", "nullable": True},
                "description": "A band's backtest record: coverage-80 and coverage-95 in percent of the points inside, width-95 and "
                               "interval_score-95 in the series' unit, msis, points"}
    method = {"type": "object", "required": ["method"], "description": "How the metric was forecast (the run's method record)",
              "properties": {"method": _string(), "series": _string(), "national": _string(nullable=True),
                             "national_fit": _string(nullable=True), "scale": {"type": "object", "nullable": True},
                             "ensemble_weights": {"type": "object", "additionalProperties": {"type": "number"}},
                             "ensemble_weighting": _string(), "relation": {"type": "object", "nullable": True},
                             "breaks": {"type": "array", "items": {"type": "object"}},
                             "calibration": {"type": "object", "properties": {
                                 "status": _string(), "weighting": _string(), "combination": _string(),
                                 "h": {"type": "integer", "nullable": True}, "n_windows": {"type": "integer"},
                                 "factors_applied": {"type": "array", "items": {"type": "number"}},
                                 "coverage_raw": {"type": "object", "additionalProperties": {"type": "number", "nullable": True},
                                                  "description": "Level -> percent of backtest points inside the raw band"},
                                 "coverage_calibrated_out_of_sample": {
                                     "type": "object", "additionalProperties": {"type": "number", "nullable": True},
                                     "description": "Level -> percent inside the calibrated band (factors from the other windows)"},
                                 "against_random_walk": {"type": "object", "properties": {
                                     "ensemble_served": interval, "ensemble_raw": interval, "random_walk_with_drift": interval,
                                     "note": _string()}}}}}}
    text_map = {"type": "object", "additionalProperties": {"type": "string"}}
    return {
        "Problem": {"type": "object", "required": ["type", "title", "status", "detail", "errors"], "properties": {
            "type": _string(), "title": _string(), "status": {"type": "integer", "minimum": 400, "maximum": 599}, "detail": _string(),
            "errors": {"type": "array", "items": {"type": "object", "required": ["message"], "properties": {
                "field": _string(nullable=True), "message": _string(), "file": _string(), "sheet": _string(),
                "row": {"type": "integer"}, "line": {"type": "integer"}}}}},
            "example": {"type": "about:blank", "title": "InvalidInput", "status": 422, "detail": "level 120 is outside [50, 99]",
                        "errors": [{"field": "level", "message": "level 120 is outside [50, 99]"}]}},
        "Health": {"type": "object", "additionalProperties": False,
                   "required": ["status", "version", "series", "observations", "run_id", "newest_run_id"], "properties": {
                       "status": _string(enum=["ok"]), "version": _string(), "series": {"type": "integer", "minimum": 0},
                       "observations": {"type": "integer", "minimum": 0}, "run_id": {**RUN_ID, "nullable": True},
                       "newest_run_id": {**RUN_ID, "nullable": True}},
                   "example": {"status": "ok", "version": __version__, "series": 37, "observations": 245, "run_id": EXAMPLE_RUN,
                               "newest_run_id": EXAMPLE_RUN}},
        "Run": {"type": "object", "required": ["run_id", "created", "version", "config", "inputs", "libraries", "scenarios", "metrics",
                                               "published", "details", "levers", "targets"], "properties": {
            "run_id": RUN_ID, "created": _string(format="date-time"), "version": _string(),
            "config": {"type": "object", "description": "The engine settings the run was made with", "required": ["seed", "n_paths", "models"],
                       "properties": {"seed": {"type": "integer"}, "n_paths": {"type": "integer"},
                                      "models": {"type": "array", "items": _string(enum=list(MEMBERS))}}},
            "vintage": {"type": "object", "nullable": True, "description": "The data change log the run was made from"},
            "inputs": {**text_map, "description": "Input file -> SHA-256"}, "libraries": {**text_map, "description": "Library -> version"},
            "scenarios": {"type": "array", "items": _string()}, "metrics": {"type": "array", "items": _string(enum=list(HEADLINE_METRICS))},
            "published": {"type": "boolean", "description": "Whether unpinned requests get this run now"},
            "details": {"type": "object", "description": "Per metric", "additionalProperties": {
                "type": "object", "required": ["series_id", "unit", "periods", "models", "method", "failures"], "properties": {
                    "series_id": _string(), "unit": _string(), "periods": {"type": "array", "items": _string()},
                    "models": {"type": "array", "items": _string()}, "grades": {"type": "object"}, "members": {"type": "object"},
                    "method": method, "failures": {**text_map, "description": "Model -> why it failed"}}}},
            "levers": {"type": "object", "additionalProperties": {"type": "object"}},
            "targets": {"type": "object", "additionalProperties": {"type": "object"}}},
            "example": {"run_id": EXAMPLE_RUN, "created": "2026-11-29T08:00:00+00:00", "version": __version__,
                        "config": {"seed": 20260101, "n_paths": 2000, "models": list(MEMBERS)}, "inputs": {"observations.csv": "3e2f…"},
                        "libraries": {"numpy": "2.4.6"}, "scenarios": ["baseline", "adverse"], "metrics": ["npl_ratio"], "published": True,
                        "details": {"npl_ratio": {"series_id": "qh_smallmicro_npl_ratio", "unit": "percent", "periods": ["2026"],
                                                  "models": ["ensemble"], "method": {"method": "ratio_to_national"}, "failures": {}}},
                        "levers": {}, "targets": {}}},
        "Job": {"type": "object", "required": ["job_id", "kind", "status", "attempts", "params", "url"], "properties": {
            "job_id": _string(), "kind": _string(enum=["run", "backtest", "forecast"]),
            "status": _string(enum=["queued", "running", "succeeded", "failed"]),
            "created": _string(nullable=True), "started": _string(nullable=True), "finished": _string(nullable=True),
            "attempts": {"type": "integer", "minimum": 0},
            "progress": {"type": "object", "nullable": True, "properties": {"done": {"type": "integer"}, "total": {"type": "integer"}}},
            "params": {"type": "object"}, "result": {"type": "object", "nullable": True}, "error": _string(nullable=True),
            "by": _string(nullable=True), "duplicate": {"type": "boolean", "description": "An identical job was already queued or running"},
            "url": _string()},
            "example": {"job_id": EXAMPLE_JOB, "kind": "run", "status": "queued", "created": "2026-11-29T08:00:00+00:00", "started": None,
                        "finished": None, "attempts": 0, "progress": None, "params": {"seed": 7, "publish": True}, "result": None,
                        "error": None, "by": "admin", "duplicate": False, "url": f"/v1/jobs/{EXAMPLE_JOB}"}},
        "Publication": {"type": "object", "required": ["seq", "run_id", "published", "by", "reason", "current"], "properties": {
            "seq": {"type": "integer"}, "run_id": RUN_ID, "published": _string(format="date-time"), "by": _string(),
            "reason": _string(), "current": {"type": "boolean"}},
            "example": {"seq": 2, "run_id": EXAMPLE_RUN, "published": "2026-11-29T08:00:00+00:00", "by": "admin",
                        "reason": "Q3 data reviewed", "current": True}},
        "SeriesTable": table(SERIES_COLUMNS, example={"columns": ["id", "unit"], "rows": [{"id": "qh_smallmicro_loans", "unit": "100m_cny"}]}),
        "ObservationTable": table(OBS_COLUMNS, {"series": {"type": "object", "required": ["id", "unit"], "properties": {
            "id": _string(), "title_en": _string(), "title_zh": _string(), "unit": _string(), "frequency": _string(), "region": _string(),
            "definition": _string(nullable=True), "national": _string(nullable=True), "transform": _string(),
            "bounds": {"type": "array", "items": {"type": "number", "nullable": True}}}}}, ("series",),
            example={"series": {"id": "qh_smallmicro_loans", "unit": "100m_cny"}, "columns": ["period", "value"],
                     "rows": [{"period": "2022", "value": 786.4}]}),
        "ChangeLogTable": table(HISTORY_COLUMNS, {"series_id": _string(), "log": _string()}, ("series_id",),
                                example={"series_id": "qh_total_loans", "log": "changes.csv", "columns": ["change_id", "action"],
                                         "rows": [{"change_id": "1", "action": "add"}]}),
        "LeverTable": table(LEVER_COLUMNS, _RUN_META, ("run_id",), example={"run_id": EXAMPLE_RUN, "columns": ["id", "metric"],
                                                                             "rows": [{"id": "snow_disaster", "metric": "npl_ratio"}]}),
        "ScenarioTable": table(["name", "title", "rationale"], _RUN_META, ("run_id",),
                               example={"run_id": EXAMPLE_RUN, "columns": ["name", "title", "rationale"],
                                        "rows": [{"name": "baseline", "title": "Baseline", "rationale": "Every lever at its baseline"}]}),
        "ScenarioPathTable": table(["lever", "year", "value", "baseline", "unit"],
                                   {**_RUN_META, "name": _string(), "title": _string(), "rationale": _string()}, ("run_id", "name"),
                                   example={"run_id": EXAMPLE_RUN, "name": "adverse", "title": "Adverse", "rationale": "...",
                                            "columns": ["lever", "year", "value"], "rows": [{"lever": "snow_disaster", "year": 2027, "value": 1.0}]}),
        "UserForecastTable": table(answer_columns(LEVELS), {
            "h": {"type": "integer"}, "levels": {"type": "array", "items": {"type": "number"}},
            "evidence": _string(enum=["own", "pooled"]), "method": {"type": "object", "required": ["evidence", "series"],
                                                                     "description": "How it was forecast (smfcast.forecast's method record)"}},
            ("h", "levels", "evidence", "method"),
            example={"h": 2, "levels": [80, 95], "evidence": "own", "method": {"evidence": "own", "series": {}},
                     "columns": ["unique_id", "ds", "model", "median", "lo-80", "hi-80"],
                     "rows": [{"unique_id": "a", "ds": "2024", "model": "ensemble", "median": 2.31, "lo-80": 2.1, "hi-80": 2.5}]}),
        "ForecastTable": table(table_columns(LEVELS), {
            **_RUN_META, "metrics": {"type": "array", "items": _string(enum=list(HEADLINE_METRICS))},
            "series": {"type": "array", "items": _string(), "description": "Marked series answered (forecast = true in series.toml)"},
            "scenarios": {"type": "array", "items": _string()}, "model": _string(),
            "levels": {"type": "array", "items": {"type": "integer", "minimum": 50, "maximum": 99}}}, ("run_id", "model", "levels"), wide=True,
            example={"run_id": EXAMPLE_RUN, "metrics": ["npl_ratio"], "scenarios": ["baseline"], "model": ENSEMBLE, "levels": [80, 95],
                     "columns": ["metric", "scenario", "period", "kind", "median", "lo-80", "hi-80"],
                     "rows": [{"metric": "npl_ratio", "scenario": "baseline", "period": "2026", "kind": "forecast", "median": 2.44,
                               "lo-80": 2.05, "hi-80": 2.93}]}),
        "CustomForecastTable": table(table_columns(LEVELS), {
            **_RUN_META, "scenario": {"type": "object", "description": "The custom scenario as it was read: name, title, lever paths"},
            "model": _string(), "levels": {"type": "array", "items": {"type": "integer"}}}, ("run_id", "scenario"), wide=True,
            example={"run_id": EXAMPLE_RUN, "scenario": {"name": "custom"}, "model": ENSEMBLE, "levels": [80, 95],
                     "columns": ["period", "median"], "rows": [{"period": "2026", "median": 2.31}]}),
        "TargetTable": table(TARGET_COLUMNS, _RUN_META, ("run_id",),
                             example={"run_id": EXAMPLE_RUN, "columns": ["target", "scenario", "probability"],
                                      "rows": [{"target": "npl_below_2_2_by_2026", "scenario": "baseline", "probability": 0.31}]}),
        "BacktestTable": table(list(dict.fromkeys(BACKTEST_SUMMARY + BACKTEST_ROWS)), {
            "backtest_id": _string(), "created": _string(), "spec": {"type": "object"}, "notes": {"type": "object", "additionalProperties": _string()},
            "calibration": {"type": "object"}}, ("backtest_id", "spec"),
            example={"backtest_id": "b1", "created": "2026-11-29T08:00:00+00:00", "spec": {"h": 4}, "notes": {}, "calibration": {},
                     "columns": ["series_id", "model", "coverage-95"], "rows": [{"series_id": "qh_smallmicro_npl_ratio", "model": "ets",
                                                                                "coverage-95": 95.0}]}),
        "RunTable": table(RUN_COLUMNS, {"run_id": {**RUN_ID, "nullable": True}}, example={
            "run_id": EXAMPLE_RUN, "columns": ["run_id", "published"], "rows": [{"run_id": EXAMPLE_RUN, "published": "2026-11-29T08:00:00+00:00"}]}),
        "PublicationTable": table(PUBLICATION_COLUMNS, {"run_id": {**RUN_ID, "nullable": True}}, example={
            "run_id": EXAMPLE_RUN, "columns": ["seq", "run_id", "current"], "rows": [{"seq": 1, "run_id": EXAMPLE_RUN, "current": True}]}),
        "Comparison": {"type": "object", "required": ["run_a", "run_b", "forecasts", "targets", "observations", "settings"], "properties": {
            "run_a": {"type": "object", "required": ["run_id"], "properties": {"run_id": RUN_ID, "created": _string()}},
            "run_b": {"type": "object", "required": ["run_id"], "properties": {"run_id": RUN_ID, "created": _string()}},
            "metrics": {"type": "array", "items": _string()},
            "forecasts": {"type": "array", "items": table(FORECAST_COLUMNS)["properties"]["rows"]["items"]},
            "targets": {"type": "array", "items": table(CHANGED_TARGET_COLUMNS)["properties"]["rows"]["items"]},
            "observations": {"type": "array", "items": table(OBSERVATION_COLUMNS)["properties"]["rows"]["items"]},
            "observation_notes": {"type": "array", "items": _string()},
            "settings": {"type": "array", "items": table(SETTING_COLUMNS)["properties"]["rows"]["items"]}},
            "example": {"run_a": {"run_id": EXAMPLE_RUN}, "run_b": {"run_id": EXAMPLE_RUN}, "metrics": ["npl_ratio"], "forecasts": [],
                        "targets": [], "observations": [], "observation_notes": [], "settings": []}},
        "ComparisonTable": table(sorted(set(FORECAST_COLUMNS + CHANGED_TARGET_COLUMNS + OBSERVATION_COLUMNS + SETTING_COLUMNS)),
                                 {**_RUN_META, "run_a": RUN_ID, "run_b": RUN_ID}, ("run_a", "run_b"),
                                 example={"run_id": EXAMPLE_RUN, "run_a": EXAMPLE_RUN, "run_b": EXAMPLE_RUN, "columns": ["target"], "rows": []}),
        "GoalSeekAnswer": {"type": "object", "required": ["run_id", "status", "lever", "value", "curve"], "properties": {
            "run_id": RUN_ID, **{c: cell(c) for c in SEEK_COLUMNS + SEEK_MEDIAN_COLUMNS}, "outcome": _string(), "lever_unit": _string(), "note": _string(),
            "curve": {"type": "array", "items": {"type": "object", "required": ["value"], "properties": {
                "value": {"type": "number"}, "probability": {"type": "number"}, "median": {"type": "number"}}}}},
            "example": {"run_id": EXAMPLE_RUN, "status": "reached", "lever": "risk_model_adoption", "value": 71.251, "probability": 0.5,
                        "curve": [{"value": 0.0, "probability": 0.21}]}},
        "Sensitivity": {"type": "object", "required": ["run_id", "outcome", "base", "columns", "rows", "unit_columns", "per_unit"], "properties": {
            "run_id": RUN_ID, "outcome": _string(), "metric": _string(), "base_scenario": _string(),
            "base": {"type": "object", "additionalProperties": {"type": "number"}}, "quiet": {"type": "array", "items": _string()},
            "columns": {"type": "array", "items": _string()}, "rows": {"type": "array", "items": {
                "type": "object", "properties": {c: cell(c) for c in ("lever", "title_en", "lever_unit", "base_value", "move", "value",
                                                                       "probability", "median", "delta_probability", "delta_median", "swing")}}},
            "unit_columns": {"type": "array", "items": _string()},
            "per_unit": {"type": "array", "items": {"type": "object", "properties": {c: cell(c) for c in (
                "lever", "title_en", "lever_unit", "base_value", "move", "value", "probability", "median", "delta_probability",
                "delta_median")}}}},
            "example": {"run_id": EXAMPLE_RUN, "outcome": "P(npl_below_2_2_by_2026)", "base": {"probability": 0.31}, "columns": ["lever", "swing"],
                        "rows": [{"lever": "risk_model_adoption", "swing": 0.4}], "unit_columns": ["lever"], "per_unit": []}},
        "ObservationsWritten": {"type": "object", "required": ["change_id", "written", "summary", "added", "revised", "sources_added",
                                                               "unchanged", "history", "changes"], "properties": {
            "change_id": _string(nullable=True), "written": {"type": "boolean"}, "summary": _string(),
            "added": {"type": "integer"}, "revised": {"type": "integer"}, "sources_added": {"type": "integer"},
            "series_added": {"type": "integer"}, "unchanged": {"type": "integer"}, "history": {"type": "array", "items": _string()},
            "changes": {"type": "array", "items": {"type": "object", "properties": {c: cell(c) for c in (
                "action", "series_id", "period", "old_value", "new_value", "source_id", "quality")}}}, "next": _string()},
            "example": {"change_id": "1", "written": True, "summary": "1 added", "added": 1, "revised": 0, "sources_added": 0, "unchanged": 0,
                        "history": ["/v1/series/qh_green_loan_share/history"], "changes": [{"action": "add", "series_id": "qh_green_loan_share",
                                                                                           "period": "2024Q4", "new_value": "25.82"}]}},
    }


# --- parameters ---

def query(name: str, schema: dict, description: str = "", example=None, required: bool = False) -> dict:
    out = {"name": name, "in": "query", "schema": schema, "required": required}
    if description:
        out["description"] = description
    if example is not None:
        out["example"] = example
    return out


def path_param(name: str, description: str, example) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": _string(), "description": description, "example": example}


_FORMAT = query("format", _string(enum=list(FORMATS), default="json"),
                "Answer format: JSON unless asked (no Accept header or `*/*` gets JSON); also by Accept: text/csv or the XLSX type.")
_LAYOUT = query("layout", _string(enum=["long", "wide"], default="long"),
                "CSV layout: long (a row per period and scenario) or wide (a column per scenario x statistic).")
_LONG_ONLY = query("layout", _string(enum=["long"]), "Only the long layout is offered for this table.")
_BOM = query("bom", _string(enum=FLAGS), "Prefix CSV with a UTF-8 byte-order mark so Excel reads Chinese text correctly.")
_RUN = query("run", RUN_ID, "Pin a run id (default: the published run).")
_SCENARIO = query("scenario", _string(), "Scenario name(s), comma-separated or repeated; `all` for every preset.")
_MODEL = query("model", _string(enum=[ENSEMBLE, *MEMBERS], default=ENSEMBLE))
_LEVEL = query("level", _string(pattern=r"^(5\d|[6-8]\d|9\d)(,(5\d|[6-8]\d|9\d))*$"),
               "Central band levels in percent, each in [50, 99], e.g. 80,95 (default 80,95).")
_HISTORY = query("history", _string(enum=FLAGS, default="false"), "Put the observed history before the forecast rows.")
_TABLE = [_FORMAT, _LONG_ONLY, _BOM]
_FORECAST_TABLE = [_FORMAT, _LAYOUT, _BOM]


def _metric(default: str | None = None, example: str | None = None) -> dict:
    schema = _string(enum=list(HEADLINE_METRICS), **({"default": default} if default else {}))
    return query("metric", schema, example=example)


# --- answers ---

def problem() -> dict:
    return {"description": "Problem details (RFC 9457) naming the field", "content": {"application/problem+json": {"schema": _ref("Problem")}}}


def json_answer(schema: str, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def table_answer(schema: str) -> dict:
    return {"description": "A table: JSON (the default) with `columns` and `rows`, CSV or XLSX when asked",
            "content": {"application/json": {"schema": _ref(schema)}, "text/csv": {"schema": _string()},
                        XLSX_MIME: {"schema": _string(format="binary")}}}


def html_answer(description: str) -> dict:
    return {"description": description, "content": {"text/html": {"schema": _string()}}}


def image_answer() -> dict:
    return {"description": "A fan chart", "content": {mime: {"schema": _string(format="binary")} for mime in ("image/png", "image/svg+xml")}}


NOT_MODIFIED = {"description": "Not modified: the ETag in If-None-Match still names this answer"}
_JOB = {"description": "Accepted: poll the job URL (also in the Location header)", "content": {"application/json": {"schema": _ref("Job")}}}


def json_body(schema: dict, example: dict, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema, "example": example}}}


@dataclass(frozen=True)
class Operation:
    """One route and method: what it takes, what it answers, and an example of both."""

    method: str
    path: str
    operation_id: str
    summary: str
    answers: dict  # status -> response object (the first is the example request's answer)
    errors: tuple[int, ...] = (400, 404, 422)
    parameters: list = field(default_factory=list)
    body: dict | None = None
    token: bool = False

    def document(self) -> dict:
        out = {"operationId": self.operation_id, "summary": self.summary, "parameters": self.parameters,
               "responses": {**{str(k): v for k, v in self.answers.items()}, **{str(code): problem() for code in self.errors}}}
        if self.body is not None:
            out["requestBody"] = self.body
        if self.token:
            out["security"] = [{"bearer": []}]
        return out


def operations() -> list[Operation]:
    """Every operation of the API, one entry each; the order is the document's."""
    levers_body = {"type": "object", "additionalProperties": {"oneOf": [
        {"type": "number"}, {"type": "object", "additionalProperties": {"type": "number"}}]}}
    custom = {"type": "object", "additionalProperties": False, "properties": {
        "metric": _string(enum=list(HEADLINE_METRICS)), "model": _string(enum=[ENSEMBLE, *MEMBERS], default=ENSEMBLE),
        "base": _string(default="baseline"), "name": _string(), "title": _string(), "rationale": _string(), "history": {"type": "boolean"},
        "level": {"oneOf": [{"type": "integer", "minimum": 50, "maximum": 99},
                            {"type": "array", "items": {"type": "integer", "minimum": 50, "maximum": 99}}]},
        "levers": levers_body}}
    seek_common = {"lever": _string(minLength=1), "base": _string(default="baseline"),
                   "from_year": {"type": "integer", "minimum": 2026, "maximum": 2030}, "run": _string()}
    goal_seek = {"oneOf": [
        {"type": "object", "additionalProperties": False, "required": ["target", "lever", "probability"],
         "description": "P(target met) reaching a probability", "properties": {
             "target": _string(), "probability": {"type": "number", "minimum": 0, "maximum": 1, "exclusiveMinimum": True,
                                                  "exclusiveMaximum": True}, **seek_common}},
        {"type": "object", "additionalProperties": False, "required": ["metric", "year", "lever", "median"],
         "description": "the median of a metric in a year reaching a value", "properties": {
             "metric": _string(enum=list(HEADLINE_METRICS)), "year": {"type": "integer", "minimum": 2026, "maximum": 2030},
             "median": {"type": "number"}, **seek_common}}]}
    cell_value = {"oneOf": [_string(), {"type": "number"}]}
    observation = {"type": "object", "additionalProperties": False, "required": ["series_id", "period", "value", "source_id", "quality"],
                   "properties": {k: cell_value for k in ("series_id", "period", "value", "source_id", "quality", "note", "publisher",
                                                           "title", "url", "quote")}}
    source = {"type": "object", "additionalProperties": False, "required": ["source_id", "publisher", "title", "quote"],
              "properties": {k: _string() for k in ("source_id", "publisher", "title", "url", "quote")}}
    new_series = {"type": "object", "additionalProperties": False, "description": "A new series (as `smfcast data series add`); "
                  "forecast: true has every run forecast it",
                  "required": ["series_id", "title_en", "title_zh", "unit", "frequency", "region", "bounds", "transform"],
                  "properties": {**{k: _string() for k in ("series_id", "title_en", "title_zh", "unit", "region", "national",
                                                           "definition", "headline")},
                                 "frequency": _string(enum=["annual", "quarterly", "monthly", "irregular"]),
                                 "transform": _string(enum=["none", "log", "logit"]),
                                 "bounds": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                                 "forecast": {"type": "boolean"}}}
    observations_body = {"type": "object", "additionalProperties": False, "properties": {
        "rows": {"type": "array", "minItems": 1, "items": observation}, "sources": {"type": "array", "minItems": 1, "items": source},
        "series": {"type": "array", "minItems": 1, "items": new_series},
        "revise": {"type": "boolean"}, "reason": _string(), "check": {"type": "boolean"}},
        "anyOf": [{"required": ["rows"]}, {"required": ["sources"]}, {"required": ["series"]}]}
    write_flags = [query("revise", _string(enum=FLAGS), "Let rows replace values already recorded (the old ones stay in the change log)."),
                   query("check", _string(enum=FLAGS), "Validate only; write nothing."),
                   query("reason", _string(), "Why (kept in the change log).")]
    refit = {"type": "object", "additionalProperties": False, "properties": {
        **_integers(REFIT_LIMITS), "models": {"type": "array", "minItems": 1, "uniqueItems": True, "items": _string(enum=list(MEMBERS))},
        "publish": {"type": "boolean", "default": False}, "reason": _string(maxLength=MAX_REASON)}}
    backtest = {"type": "object", "additionalProperties": False, "properties": {
        "metric": _string(enum=list(HEADLINE_METRICS)), "models": {"type": "array", "minItems": 1, "items": _string(enum=list(MEMBERS))},
        **_integers(BACKTEST_LIMITS)}}
    user_forecast = {"type": "object", "additionalProperties": False, "required": ["h", "data"], "properties": {
        "h": {"type": "integer", "minimum": FORECAST_LIMITS["h"][0], "maximum": FORECAST_LIMITS["h"][1]},
        "level": {"type": "array", "items": {"type": "number", "minimum": 50, "maximum": 99}},
        "freq": _string(), "models": {"type": "array", "uniqueItems": True, "items": _string(enum=list(MEMBERS))},
        "n_paths": {"type": "integer", "minimum": FORECAST_LIMITS["n_paths"][0], "maximum": FORECAST_LIMITS["n_paths"][1]},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}, "evidence": _string(enum=["auto", "own", "pooled"]),
        "members": {"type": "boolean"}, "bounds": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
        "data": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["unique_id", "ds", "y"], "properties": {
            "unique_id": _string(minLength=1),
            "ds": _string(pattern=r"^\d{4}(Q[1-4]|-(0[1-9]|1[0-2])(-[0-3]\d)?)?$",
                          description="A period (2015, 2015Q1, 2015-03) or a date (2015-03-31)"),
            "y": {"type": "number"}}}}}}
    chart_params = [_metric("market_size", "npl_ratio"), query("scenario", _string(default="baseline"),
                    "Scenario name(s), comma-separated or repeated; `all` for every preset, drawn as small multiples", "baseline"),
                    _MODEL, _LEVEL, _RUN, query("history", _string(enum=FLAGS, default="true"), "Draw the observed history")]
    series = path_param("series_id", "A series id (GET /v1/series lists them)", "qh_smallmicro_loans")
    run_path = path_param("run_id", "A stored run's id (GET /v1/runs lists them)", EXAMPLE_RUN)
    page_params = [_metric("market_size", "npl_ratio"), query("scenario", _string(), example="baseline"),
                   query("lever", _string()), query("value", _string()), query("year", _string()), _RUN,
                   query("gs_target", _string()), query("gs_lever", _string()), query("gs_probability", _string()), query("gs_year", _string())]
    return [
        Operation("get", "/v1/health", "getHealth", "Service status, version, series loaded, the published and the newest run",
                  {200: json_answer("Health")}, errors=(400,)),
        Operation("get", "/v1/series", "listSeries", "Every series with its unit, frequency, span and last logged change",
                  {200: table_answer("SeriesTable")}, errors=(400, 422), parameters=_TABLE),
        Operation("get", "/v1/series/{series_id}", "getSeries", "One series' observations with their sources and quality grades",
                  {200: table_answer("ObservationTable")}, parameters=[series, *_TABLE]),
        Operation("get", "/v1/series/{series_id}/history", "getSeriesHistory",
                  "One series' change log, newest first: each value added, revised or reverted, when, by whom, on which source, why",
                  {200: table_answer("ChangeLogTable")}, parameters=[series, *_TABLE]),
        Operation("post", "/v1/observations", "addObservations",
                  "Add observations (with revise: revise them) and their new sources, as JSON rows or a CSV or the XLSX template "
                  "(the body, or a form's 'file'): validated whole by the registry's rules and written atomically with change-log "
                  "rows, or refused with every bad row and field named and nothing written",
                  {201: json_answer("ObservationsWritten", "Written: the change id, counts and the history links"),
                   200: json_answer("ObservationsWritten", "Nothing written: every row already recorded as given, or check=true")},
                  errors=(400, 401, 403, 404, 413, 415, 422, 503), parameters=write_flags, token=True,
                  body={"required": True, "content": {
                      "application/json": {"schema": observations_body, "example": {
                          "reason": "end-2024 loans from the H1-2025 release", "rows": [{
                              "series_id": "qh_total_loans", "period": "2024Q4", "value": 7868.2, "source_id": "qh_loans_2025h1_xnwbw",
                              "quality": "derived", "note": "7945.4 - 77.2: end-June loans less the H1 increase",
                              "publisher": "西宁晚报 (www.xnwbw.com), 2025-08-08", "title": "青海省金融运行情况, 2025年上半年",
                              "url": "http://www.xnwbw.com/html/2025-08/08/content_335767.htm",
                              "quote": "青海省本外币各项贷款余额7945.4亿元,同比增长1.2%,上半年新增77.2亿元"}]}},
                      "text/csv": {"schema": _string()}, XLSX_MIME: {"schema": _string(format="binary")},
                      "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                         "properties": {"file": _string(format="binary")}}}}}),
        Operation("get", "/v1/levers", "listLevers", "Policy levers and their elasticities (low / mode / high)",
                  {200: table_answer("LeverTable")}, parameters=[_RUN, *_TABLE]),
        Operation("get", "/v1/scenarios", "listScenarios", "Preset scenarios", {200: table_answer("ScenarioTable")}, parameters=[_RUN, *_TABLE]),
        Operation("get", "/v1/scenarios/{name}", "getScenario", "One scenario's lever paths 2026–2030", {200: table_answer("ScenarioPathTable")},
                  parameters=[path_param("name", "A preset scenario's name", "adverse"), _RUN, *_TABLE]),
        Operation("get", "/v1/forecasts", "getForecasts",
                  "Bands 2026–2030 for preset scenarios, read from cached paths (ETag; If-None-Match answers 304)",
                  {200: table_answer("ForecastTable"), 304: NOT_MODIFIED},
                  parameters=[query("metric", _string(), "Metric(s), comma-separated or repeated (default: all three, unless series "
                                    "is given)", "npl_ratio"),
                              query("series", _string(), "Marked series (forecast = true in series.toml), comma-separated or repeated: "
                                    "their baseline forecasts"),
                              {**_SCENARIO, "example": "baseline,adverse"}, _MODEL, {**_LEVEL, "example": "80,95"}, _RUN,
                              {**_HISTORY, "example": "true"}, *_FORECAST_TABLE]),
        Operation("post", "/v1/forecasts", "postCustomForecast", "A custom scenario (base + lever overrides) from cached paths, no refit",
                  {200: table_answer("CustomForecastTable")}, errors=(400, 404, 413, 415, 422), parameters=[_RUN, _LEVEL, *_FORECAST_TABLE],
                  body=json_body(custom, {"metric": "npl_ratio", "base": "baseline", "levers": {"risk_model_adoption": {"2026": 80}}})),
        Operation("post", "/v1/forecast", "forecastSeries",
                  f"Forecast your own series (a long table of unique_id, ds, y) with the engine runs use: up to {SYNC_SERIES} series "
                  f"and {SYNC_POINTS} points are answered at once, by anyone (one at a time per server process: 429 meanwhile); "
                  "larger requests need the write token and become a queued job",
                  {200: table_answer("UserForecastTable"), 202: _JOB}, errors=(400, 401, 403, 413, 415, 422, 429, 503),
                  parameters=[_FORMAT], body={"required": True, "content": {
                      "application/json": {"schema": user_forecast, "example": {
                          "h": 2, "level": [80, 95], "models": ["ets", "theta"],
                          "data": [{"unique_id": "a", "ds": str(2015 + i), "y": y} for i, y in
                                   enumerate([2.1, 2.3, 2.2, 2.6, 2.5, 2.8, 2.7, 3.0, 2.9])]}},
                      "text/csv": {"schema": _string()}, XLSX_MIME: {"schema": _string(format="binary")}}}),
        Operation("get", "/v1/forecasts/chart", "getChart",
                  "Fan chart: history, median and bands of one scenario (baseline by default); several scenarios, or `all`, as small "
                  "multiples on one scale. PNG or SVG by `format` or the Accept header (ETag; If-None-Match answers 304)",
                  {200: image_answer(), 304: NOT_MODIFIED},
                  parameters=[*chart_params, query("format", _string(enum=["png", "svg"], default="png"), "Image format", "svg")]),
        Operation("get", "/v1/forecasts/chart.png", "getChartPng", "Fan chart as PNG (as /v1/forecasts/chart; `format`, if given, must be png)",
                  {200: {"description": "A fan chart", "content": {"image/png": {"schema": _string(format="binary")}}}, 304: NOT_MODIFIED},
                  parameters=[*chart_params, query("format", _string(enum=["png"]))]),
        Operation("get", "/v1/forecasts/chart.svg", "getChartSvg", "Fan chart as SVG (as /v1/forecasts/chart; `format`, if given, must be svg)",
                  {200: {"description": "A fan chart", "content": {"image/svg+xml": {"schema": _string(format="binary")}}}, 304: NOT_MODIFIED},
                  parameters=[*chart_params, query("format", _string(enum=["svg"]))]),
        Operation("get", "/v1/targets", "listTargetProbabilities", "P(target met) per policy target and scenario",
                  {200: table_answer("TargetTable")}, parameters=[{**_SCENARIO, "example": "adverse"}, _MODEL, _RUN, *_TABLE]),
        Operation("post", "/v1/goal-seek", "goalSeek",
                  "The lever value (held from a year on) at which P(target met) reaches a probability, or a metric's median reaches a "
                  "value, from the stored paths", {200: {**json_answer("GoalSeekAnswer"), "content": {
                      **json_answer("GoalSeekAnswer")["content"], "text/csv": {"schema": _string()}, XLSX_MIME: {"schema": _string(format="binary")}}}},
                  errors=(400, 404, 413, 415, 422), parameters=[_RUN, *_TABLE],
                  body=json_body(goal_seek, {"target": "npl_below_2_2_by_2026", "lever": "risk_model_adoption", "probability": 0.5})),
        Operation("get", "/v1/sensitivity", "getSensitivity",
                  "How much each lever moves P(target met) (`target`) or a metric's median in a year (`metric` and `year`): each lever "
                  "at the low and the high end of its range, and moved by one unit",
                  {200: {**json_answer("Sensitivity"), "content": {**json_answer("Sensitivity")["content"], "text/csv": {"schema": _string()},
                                                                   XLSX_MIME: {"schema": _string(format="binary")}}}},
                  parameters=[query("target", _string(), "A target id (or give metric and year)", "npl_below_2_2_by_2026"),
                              _metric(), query("year", {"type": "integer", "minimum": 2026, "maximum": 2030}),
                              query("base", _string(default="baseline")), query("from_year", {"type": "integer", "minimum": 2026, "maximum": 2030}),
                              _RUN, *_TABLE]),
        Operation("get", "/v1/backtests", "getBacktests", "The newest (or a pinned) stored backtest: a summary per series and model, or every row",
                  {200: table_answer("BacktestTable")},
                  parameters=[_metric(), query("backtest", _string(), "Pin a stored backtest id"),
                              query("detail", _string(enum=["summary", "rows"], default="summary"), example="summary"), *_TABLE]),
        Operation("post", "/v1/backtests", "rerunBacktests", "Rerun the backtests (a queued job; an identical one queued or running is returned)",
                  {202: _JOB}, errors=(400, 401, 403, 404, 415, 422, 503), token=True,
                  body=json_body(backtest, {"metric": "npl_ratio", "models": ["ets", "theta"], "h": 2, "n_windows": 5, "n_paths": 100},
                                 required=False)),
        Operation("get", "/v1/runs", "listRuns", "Stored runs, newest first, with when each was last published",
                  {200: table_answer("RunTable")}, errors=(400, 422), parameters=_TABLE),
        Operation("post", "/v1/runs", "refit",
                  "Refit every model on the current data (a queued job; an identical one queued or running is returned instead). "
                  "The new run is published only when `publish` is true",
                  {202: _JOB}, errors=(400, 401, 403, 415, 422, 503), token=True,
                  body=json_body(refit, {"seed": 7, "publish": True, "reason": "seed check"}, required=False)),
        Operation("get", "/v1/runs/{run_id}", "getRun", "One run: configuration, inputs, methods, failures, grades",
                  {200: json_answer("Run")}, parameters=[run_path]),
        Operation("post", "/v1/runs/{run_id}/publish", "publishRun",
                  "Publish a stored run: requests that name no run get it from now on; the publication (run, time, token name, "
                  "reason) is added to the history", {200: json_answer("Publication", "The publication")},
                  errors=(400, 401, 403, 404, 415, 422, 503), token=True, parameters=[run_path],
                  body=json_body({"type": "object", "additionalProperties": False, "properties": {"reason": _string(maxLength=MAX_REASON)}},
                                 {"reason": "Q3 data reviewed"}, required=False)),
        Operation("get", "/v1/runs/{run_a}/compare/{run_b}", "compareRuns",
                  "What changed from run A to run B (B minus A) and why: forecasts, target probabilities, observations, settings",
                  {200: {"description": "The comparison: JSON (the default) as one record, or one `table` as a table, CSV or XLSX", "content": {
                      "application/json": {"schema": {"oneOf": [_ref("Comparison"), _ref("ComparisonTable")]}},
                      "text/csv": {"schema": _string()}, XLSX_MIME: {"schema": _string(format="binary")}}}},
                  parameters=[path_param("run_a", "The earlier run", EXAMPLE_RUN), path_param("run_b", "The later run", EXAMPLE_RUN),
                              query("metric", _string(), "Metric(s), comma-separated or repeated", "npl_ratio"),
                              query("table", _string(enum=["forecasts", "targets", "observations", "settings"])), *_TABLE]),
        Operation("get", "/v1/publications", "listPublications",
                  "Every publication (run, time, who, reason), newest first; `current` marks the published run",
                  {200: table_answer("PublicationTable")}, errors=(400, 422), parameters=_TABLE),
        Operation("get", "/v1/jobs/{job_id}", "getJob", "A job's state (queued, running, succeeded, failed), progress, attempts, and result or error",
                  {200: json_answer("Job")}, parameters=[path_param("job_id", "A job id (POST /v1/runs or /v1/backtests answers one)", EXAMPLE_JOB)]),
        Operation("get", "/", "getPage",
                  "The page: a metric and scenario (one lever adjustable) as a fan chart, band table, target probabilities and download "
                  "links; a goal-seek form (gs_*), the levers that matter most and the changes since the run published before (HTML)",
                  {200: html_answer("HTML page"), 422: html_answer("HTML page naming the input it could not use")}, errors=(404,),
                  parameters=page_params),
        Operation("get", "/v1/openapi.json", "getOpenApi", "This document",
                  {200: {"description": "OpenAPI 3", "content": {"application/json": {"schema": {
                      "type": "object", "required": ["openapi", "info", "paths", "components"]}}}}}, errors=(400, 422)),
        Operation("get", "/v1/docs", "getDocs", "Human-readable API documentation", {200: html_answer("HTML")}, errors=(400, 422)),
    ]


def _integers(limits: dict[str, tuple[int, int]]) -> dict:
    """Integer body fields with the ranges the request check enforces (`smfcast.store.requests`)."""
    return {name: {"type": "integer", "minimum": lo, "maximum": hi} for name, (lo, hi) in limits.items()}


def spec(published: str | None = None) -> dict:
    """The document; `published` (a run id) makes the run examples name a run the server has."""
    paths: dict[str, dict] = {}
    for op in operations():
        paths.setdefault(op.path, {})[op.method] = op.document()
    for path, method in COMPUTE_ROUTES:  # the per-client limit of anonymous compute (limits.py)
        paths[path][method]["responses"]["429"] = problem()
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "smfcast API", "version": __version__,
                 "description": "Forecasts 2026–2030 of Qinghai small and micro-enterprise finance (market size, green-loan share, "
                                "NPL ratio) with 80/95% bands, policy scenarios and target probabilities. Tables answer JSON unless "
                                "asked otherwise (`format=csv|xlsx`, or an Accept header naming text/csv or the XLSX type); a "
                                "missing Accept header or `*/*` gets JSON. Errors are application/problem+json naming the field."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": _schemas()},
    }
    return _replace(doc, EXAMPLE_RUN, published) if published else doc


def _replace(value, old: str, new: str):
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value


@bp.get("/openapi.json")
def openapi_json():
    allow()
    return jsonify(spec(store().published_id()))


_DOCS = """<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>smfcast API</title><link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .25rem;overflow-wrap:anywhere}h2{margin-top:2rem;font-size:1.1rem}li{margin:.3rem 0}</style></head><body>
<h1>smfcast API {{ version }}</h1><p>{{ info }}</p>
<p>Machine-readable: <a href="/v1/openapi.json">/v1/openapi.json</a>. Every table answers
<code>format=json|csv|xlsx</code> (JSON by default); CSV takes <code>layout=long|wide</code> and <code>bom=1</code>.
Errors are <code>application/problem+json</code> naming the offending field.</p>
{% for path, ops in paths %}<h2><code>{{ path }}</code></h2><ul>
{% for method, op in ops %}<li><b>{{ method|upper }}</b> <code>{{ op.operationId }}</code> — {{ op.summary }}
{% if op.parameters %}<br>parameters: {% for p in op.parameters %}<code>{{ p.name }}</code> {% endfor %}{% endif %}
<br>answers: {{ op.responses | join(", ") }}</li>{% endfor %}
</ul>{% endfor %}</body></html>"""


@bp.get("/docs")
def docs():
    allow()
    s = spec()
    paths = [(p, list(ops.items())) for p, ops in s["paths"].items()]
    return render_template_string(_DOCS, version=__version__, info=s["info"]["description"], paths=paths)
