"""The OpenAPI 3 document and a human docs page, kept beside the routes they describe.

A test checks both ways: every Flask route is documented, and every documented path exists.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template_string

from smfcast import __version__
from smfcast.defaults import ENSEMBLE, MEMBERS
from smfcast.registry.series import HEADLINE_METRICS
from smfcast.store.publications import MAX_REASON
from smfcast.store.requests import BACKTEST_LIMITS, REFIT_LIMITS

from .limits import COMPUTE_ROUTES
from .params import allow

bp = Blueprint("openapi", __name__)

_FORMAT = {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv", "xlsx"]},
           "description": "Response format; the Accept header works too (text/csv, the XLSX MIME type)."}
_LAYOUT = {"name": "layout", "in": "query", "schema": {"type": "string", "enum": ["long", "wide"]},
           "description": "CSV layout: long (a row per period and scenario) or wide (a column per scenario x statistic)."}
_LONG_ONLY = {"name": "layout", "in": "query", "schema": {"type": "string", "enum": ["long"]},
              "description": "Only the long layout is offered for this table."}
_BOM = {"name": "bom", "in": "query", "schema": {"type": "string", "enum": ["0", "1", "true", "false"]},
        "description": "Prefix CSV with a UTF-8 byte-order mark so Excel reads Chinese text correctly."}
_RUN = {"name": "run", "in": "query", "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
        "description": "Pin a run id (default: the published run)."}
_METRIC = {"name": "metric", "in": "query", "schema": {"type": "string", "enum": list(HEADLINE_METRICS)}}
_SCENARIO = {"name": "scenario", "in": "query", "schema": {"type": "string"},
             "description": "Scenario name(s), comma-separated or repeated; `all` for every preset."}
_MODEL = {"name": "model", "in": "query", "schema": {"type": "string", "enum": [ENSEMBLE, *MEMBERS]}}
_LEVEL = {"name": "level", "in": "query", "schema": {"type": "string", "pattern": r"^(5\d|[6-8]\d|9\d)(,(5\d|[6-8]\d|9\d))*$"},
          "description": "Central band levels in percent, each in [50, 99], e.g. 80,95."}
_HISTORY = {"name": "history", "in": "query", "schema": {"type": "string", "enum": ["true", "false", "1", "0"]}}
_TABLE = [_FORMAT, _LONG_ONLY, _BOM]
_FORECAST_TABLE = [_FORMAT, _LAYOUT, _BOM]
_CELL = {"oneOf": [{"type": "string"}, {"type": "number"}]}
_OBSERVATION = {"type": "object", "additionalProperties": False, "required": ["series_id", "period", "value", "source_id", "quality"],
                "properties": {k: _CELL for k in ("series_id", "period", "value", "source_id", "quality", "note", "publisher", "title",
                                                 "url", "quote")}}
_SOURCE = {"type": "object", "additionalProperties": False, "required": ["source_id", "publisher", "title", "quote"],
           "properties": {k: {"type": "string"} for k in ("source_id", "publisher", "title", "url", "quote")}}
_OBSERVATIONS_BODY = {"type": "object", "additionalProperties": False, "properties": {
    "rows": {"type": "array", "minItems": 1, "items": _OBSERVATION}, "sources": {"type": "array", "minItems": 1, "items": _SOURCE},
    "revise": {"type": "boolean"}, "reason": {"type": "string"}, "check": {"type": "boolean"}},
    "anyOf": [{"required": ["rows"]}, {"required": ["sources"]}],
    "example": {"rows": [{"series_id": "qh_green_loan_share", "period": "2024Q4", "value": 25.82, "source_id": "qh_green_loans_2025h1_rmrb",
                          "quality": "derived", "note": "(2131.1 - 99.36) / (7945.4 - 77.2) x 100"}], "reason": "H1-2025 release"}}
_WRITE_FLAGS = [{"name": "revise", "in": "query", "schema": {"type": "string", "enum": ["true", "false", "1", "0"]},
                 "description": "Let rows replace values already recorded (the old ones stay in the change log)."},
                {"name": "check", "in": "query", "schema": {"type": "string", "enum": ["true", "false", "1", "0"]},
                 "description": "Validate only; write nothing."},
                {"name": "reason", "in": "query", "schema": {"type": "string"}, "description": "Why (kept in the change log)."}]

_PROBLEM = {"description": "Problem details (RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_TABLE_OK = {"description": "A table: JSON {columns, rows, run_id, ...}, CSV or XLSX",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Table"}},
                         "text/csv": {"schema": {"type": "string"}},
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}}}}


def _get(summary: str, params: list, ok: dict | None = None, errors=(400, 404, 422)) -> dict:
    responses = {"200": ok or _TABLE_OK}
    for code in errors:
        responses[str(code)] = _PROBLEM
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


def _integers(limits: dict[str, tuple[int, int]]) -> dict:
    """Integer body fields with the ranges the request check enforces (`smfcast.store.requests`)."""
    return {name: {"type": "integer", "minimum": lo, "maximum": hi} for name, (lo, hi) in limits.items()}


def spec() -> dict:
    levers_body = {"type": "object", "additionalProperties": {"oneOf": [
        {"type": "number"}, {"type": "object", "additionalProperties": {"type": "number"}}]}}
    custom = {"type": "object", "additionalProperties": False, "properties": {
        "metric": {"type": "string", "enum": list(HEADLINE_METRICS)}, "model": {"type": "string"},
        "base": {"type": "string", "default": "baseline"}, "name": {"type": "string"}, "title": {"type": "string"},
        "rationale": {"type": "string"}, "history": {"type": "boolean"},
        "level": {"type": "array", "items": {"type": "number", "minimum": 50, "maximum": 99}}, "levers": levers_body},
        "example": {"metric": "npl_ratio", "base": "baseline", "levers": {"risk_model_adoption": {"2026": 80}}}}
    seek_common = {"lever": {"type": "string", "minLength": 1}, "base": {"type": "string", "default": "baseline"},
                   "from_year": {"type": "integer", "minimum": 2026, "maximum": 2030}, "run": {"type": "string"}}
    goal_seek = {"oneOf": [
        {"type": "object", "additionalProperties": False, "required": ["target", "lever", "probability"],
         "description": "P(target met) reaching a probability", "properties": {
             "target": {"type": "string"},
             "probability": {"type": "number", "minimum": 0, "maximum": 1, "exclusiveMinimum": True, "exclusiveMaximum": True},
             **seek_common}},
        {"type": "object", "additionalProperties": False, "required": ["metric", "year", "lever", "median"],
         "description": "the median of a metric in a year reaching a value", "properties": {
             "metric": {"type": "string", "enum": list(HEADLINE_METRICS)}, "year": {"type": "integer", "minimum": 2026, "maximum": 2030},
             "median": {"type": "number"}, **seek_common}}],
        "example": {"target": "npl_below_2_2_by_2026", "lever": "risk_model_adoption", "probability": 0.5}}
    job = {"description": "Accepted: poll the job URL", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}}
    image = lambda mime: {"description": "Fan chart", "content": {mime: {"schema": {"type": "string", "format": "binary"}}}}  # noqa: E731
    paths = {
        "/v1/health": _get("Service status, version, series loaded, current run", [],
                           {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}, errors=(400,)),
        "/v1/series": _get("Every series with its unit, frequency and span", _TABLE),
        "/v1/series/{series_id}": _get("One series' observations with their sources and quality grades",
                                       [{"name": "series_id", "in": "path", "required": True, "schema": {"type": "string"}}] + _TABLE),
        "/v1/series/{series_id}/history": _get(
            "One series' change log, newest first: each value added, revised or reverted, when, by whom, on which source, why",
            [{"name": "series_id", "in": "path", "required": True, "schema": {"type": "string"}}] + _TABLE),
        "/v1/observations": {"post": {
            "summary": "Add observations (with revise: revise them) and their new sources, as JSON rows or a CSV or the XLSX "
                       "template (the body, or a form's 'file'): validated whole by the registry's rules and written atomically "
                       "with change-log rows, or refused with every bad row and field named and nothing written",
            "security": [{"bearer": []}], "parameters": _WRITE_FLAGS,
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _OBSERVATIONS_BODY}, "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                   "properties": {"file": {"type": "string", "format": "binary"}}}}}},
            "responses": {"201": {"description": "Written: the change id, counts and the history links",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          "200": {"description": "Nothing written: every row already recorded as given, or check=true",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          **{str(code): _PROBLEM for code in (400, 401, 403, 404, 413, 415, 422, 503)}}}},
        "/v1/levers": _get("Policy levers and their elasticities (low / mode / high)", [_RUN] + _TABLE),
        "/v1/scenarios": _get("Preset scenarios", [_RUN] + _TABLE),
        "/v1/scenarios/{name}": _get("One scenario's lever paths 2026–2030",
                                     [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}, _RUN] + _TABLE),
        "/v1/forecasts": {
            **_get("Bands 2026–2030 for preset scenarios, read from cached paths",
                   [_METRIC, _SCENARIO, _MODEL, _LEVEL, _RUN, _HISTORY] + _FORECAST_TABLE),
            "post": {"summary": "A custom scenario (base + lever overrides) from cached paths, no refit",
                     "parameters": [_RUN, _LEVEL] + _FORECAST_TABLE,
                     "requestBody": {"required": True, "content": {"application/json": {"schema": custom}}},
                     "responses": {"200": _TABLE_OK, "400": _PROBLEM, "404": _PROBLEM, "413": _PROBLEM, "415": _PROBLEM, "422": _PROBLEM}},
        },
        "/v1/forecasts/chart.png": _get("Fan chart (PNG)", [_METRIC, _SCENARIO, _MODEL, _RUN], image("image/png")),
        "/v1/forecasts/chart.svg": _get("Fan chart (SVG)", [_METRIC, _SCENARIO, _MODEL, _RUN], image("image/svg+xml")),
        "/v1/targets": _get("Probability that each policy target is met, per scenario", [_SCENARIO, _MODEL, _RUN] + _TABLE),
        "/v1/goal-seek": {"post": {
            "summary": "Goal seek: the lever value (held from from_year on) at which P(target met) first reaches the "
                       "probability, or the median of a metric in a year reaches a value; from stored paths, no refit, nothing stored",
            "parameters": [_RUN, _FORMAT],
            "requestBody": {"required": True, "content": {"application/json": {"schema": goal_seek}}},
            "responses": {"200": {"description": "The answer: status (reached | unreachable | met_throughout), value, direction, "
                                                 "probability and median there, the base's, the best in the range, and the curve",
                                  "content": {"application/json": {"schema": {"type": "object"}},
                                              "text/csv": {"schema": {"type": "string"}}}},
                          "400": _PROBLEM, "404": _PROBLEM, "413": _PROBLEM, "422": _PROBLEM}}},
        "/v1/sensitivity": _get("Sensitivity (a tornado): each lever at the low and high ends of its range, and moved by one unit; "
                                "the change in P(target met), or in the median and 80% band of a metric in a year",
                                [{"name": "target", "in": "query", "schema": {"type": "string"}},
                                 _METRIC, {"name": "year", "in": "query", "schema": {"type": "integer", "minimum": 2026, "maximum": 2030},
                                           "description": "With metric (instead of target): the year whose median and 80% band"},
                                 {"name": "base", "in": "query", "schema": {"type": "string", "default": "baseline"}},
                                 {"name": "from_year", "in": "query", "schema": {"type": "integer", "minimum": 2026, "maximum": 2030}},
                                 _RUN] + _TABLE),
        "/v1/runs/{run_a}/compare/{run_b}": _get(
            "Forecast revisions: per metric, scenario and year the change (B minus A) of median, 80% and 95% bounds and of "
            "target probabilities; and why: observations added, removed or revised with their sources, configuration, "
            "input files, definitions, engine code and library versions that differ",
            [{"name": "run_a", "in": "path", "required": True, "schema": {"type": "string"}},
             {"name": "run_b", "in": "path", "required": True, "schema": {"type": "string"}}, _METRIC,
             {"name": "table", "in": "query", "schema": {"type": "string", "enum": ["forecasts", "targets", "observations", "settings"]},
              "description": "One table only (CSV answers the forecasts table unless told)."}] + _TABLE,
            {"description": "JSON: every table and the notes; CSV or XLSX: the tables",
             "content": {"application/json": {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}}}}),
        "/v1/backtests": {
            **_get("Stored rolling-origin backtest results (summary per series and model, or every row)",
                   [_METRIC, {"name": "backtest", "in": "query", "schema": {"type": "string"}},
                    {"name": "detail", "in": "query", "schema": {"type": "string", "enum": ["summary", "rows"]}}] + _TABLE),
            "post": {"summary": "Rerun the backtests (a queued job; an identical one queued or running is returned instead)",
                     "security": [{"bearer": []}],
                     "requestBody": {"required": False, "content": {"application/json": {"schema": {
                         "type": "object", "additionalProperties": False, "properties": {
                             "metric": {"type": "string", "enum": list(HEADLINE_METRICS)},
                             "models": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(MEMBERS)}},
                             **_integers(BACKTEST_LIMITS)}}}}},
                     "responses": {"202": job, "400": _PROBLEM, "401": _PROBLEM, "403": _PROBLEM, "404": _PROBLEM, "415": _PROBLEM,
                                   "422": _PROBLEM, "503": _PROBLEM}},
        },
        "/v1/runs": {
            **_get("Stored runs, newest first, with when each was last published", _TABLE),
            "post": {"summary": "Refit every model on the current data (a queued job; an identical one queued or running is "
                                "returned instead). The new run is published only when `publish` is true",
                     "security": [{"bearer": []}],
                     "requestBody": {"required": False, "content": {"application/json": {"schema": {
                         "type": "object", "additionalProperties": False,
                         "properties": {**_integers(REFIT_LIMITS),
                                        "models": {"type": "array", "minItems": 1, "uniqueItems": True,
                                                   "items": {"type": "string", "enum": list(MEMBERS)}},
                                        "publish": {"type": "boolean", "default": False},
                                        "reason": {"type": "string", "maxLength": MAX_REASON}}}}}},
                     "responses": {"202": job, "400": _PROBLEM, "401": _PROBLEM, "403": _PROBLEM, "415": _PROBLEM, "422": _PROBLEM,
                                   "503": _PROBLEM}},
        },
        "/v1/runs/{run_id}/publish": {"post": {
            "summary": "Publish a stored run: requests that name no run get it from now on; the publication (run, time, token name, "
                       "reason) is added to the history",
            "security": [{"bearer": []}],
            "parameters": [{"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "properties": {"reason": {"type": "string", "maxLength": MAX_REASON}}}}}},
            "responses": {"200": {"description": "The publication", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/Publication"}}}},
                          "400": _PROBLEM, "401": _PROBLEM, "403": _PROBLEM, "404": _PROBLEM, "415": _PROBLEM, "422": _PROBLEM,
                          "503": _PROBLEM}}},
        "/v1/publications": _get("Every publication (run, time, who, reason), newest first; `current` marks the published run", _TABLE),
        "/v1/runs/{run_id}": _get("One run: configuration, inputs, methods, failures, grades",
                                  [{"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                                  {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}),
        "/v1/jobs/{job_id}": _get("A job's state (queued, running, succeeded, failed), progress, attempts, and result or error",
                                  [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                                  {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}}),
        "/": {"get": {"summary": "The page: a metric and scenario (one lever adjustable) as a fan chart, band table, "
                                 "target probabilities and download links; a goal-seek form (gs_*), the levers that "
                                 "matter most and the changes since the previous published run (HTML)",
                      "parameters": [_METRIC, {"name": "scenario", "in": "query", "schema": {"type": "string"}},
                                     {"name": "lever", "in": "query", "schema": {"type": "string"}},
                                     {"name": "value", "in": "query", "schema": {"type": "string"}},
                                     {"name": "year", "in": "query", "schema": {"type": "string"}}, _RUN,
                                     {"name": "gs_target", "in": "query", "schema": {"type": "string"}},
                                     {"name": "gs_lever", "in": "query", "schema": {"type": "string"}},
                                     {"name": "gs_probability", "in": "query", "schema": {"type": "string"}},
                                     {"name": "gs_year", "in": "query", "schema": {"type": "string"}}],
                      "responses": {"200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}},
                                    "422": {"description": "HTML page naming the lever input it could not use",
                                            "content": {"text/html": {"schema": {"type": "string"}}}},
                                    "404": _PROBLEM}}},
        "/v1/openapi.json": _get("This document", [], {"description": "OpenAPI 3", "content": {"application/json": {"schema": {"type": "object"}}}}, errors=(400,)),
        "/v1/docs": _get("Human-readable API documentation", [], {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}, errors=(400,)),
    }
    for path, method in COMPUTE_ROUTES:  # the per-client limit of anonymous compute (limits.py)
        paths[path][method]["responses"]["429"] = _PROBLEM
    return {
        "openapi": "3.0.3",
        "info": {"title": "smfcast API", "version": __version__,
                 "description": "Forecasts 2026–2030 of Qinghai small and micro-enterprise finance (market size, green-loan share, "
                                "NPL ratio) with 80/95% bands, policy scenarios and target probabilities."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Problem": {"type": "object", "required": ["title", "status"], "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object", "properties": {
                        "field": {"type": "string", "nullable": True}, "message": {"type": "string"},
                        "file": {"type": "string"}, "sheet": {"type": "string"}, "row": {"type": "integer"},
                        "line": {"type": "integer"}}}}}},
                "Table": {"type": "object", "required": ["columns", "rows"], "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "rows": {"type": "array", "items": {"type": "object"}},
                    "run_id": {"type": "string", "nullable": True}}},
                "Job": {"type": "object", "required": ["job_id", "status"], "properties": {
                    "job_id": {"type": "string"}, "kind": {"type": "string", "enum": ["run", "backtest"]},
                    "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
                    "attempts": {"type": "integer"}, "progress": {"type": "object", "nullable": True},
                    "params": {"type": "object"}, "result": {"type": "object", "nullable": True},
                    "error": {"type": "string", "nullable": True}, "by": {"type": "string", "nullable": True},
                    "duplicate": {"type": "boolean"}, "url": {"type": "string"}}},
                "Publication": {"type": "object", "required": ["seq", "run_id", "published", "by", "reason"], "properties": {
                    "seq": {"type": "integer"}, "run_id": {"type": "string"}, "published": {"type": "string"},
                    "by": {"type": "string"}, "reason": {"type": "string"}, "current": {"type": "boolean"}}},
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    allow()
    return jsonify(spec())


_DOCS = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>smfcast API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .25rem}h2{margin-top:2rem}li{margin:.3rem 0}</style></head><body>
<h1>smfcast API {{ version }}</h1><p>{{ info }}</p>
<p>Machine-readable: <a href="/v1/openapi.json">/v1/openapi.json</a>. Every table answers
<code>format=json|csv|xlsx</code>; CSV takes <code>layout=long|wide</code> and <code>bom=1</code>.
Errors are <code>application/problem+json</code> naming the offending field.</p>
{% for path, ops in paths %}<h2><code>{{ path }}</code></h2><ul>
{% for method, op in ops %}<li><b>{{ method|upper }}</b> — {{ op.summary }}
{% if op.parameters %}<br>parameters: {% for p in op.parameters %}<code>{{ p.name }}</code> {% endfor %}{% endif %}</li>{% endfor %}
</ul>{% endfor %}</body></html>"""


@bp.get("/docs")
def docs():
    allow()
    s = spec()
    paths = [(p, list(ops.items())) for p, ops in s["paths"].items()]
    return render_template_string(_DOCS, version=__version__, info=s["info"]["description"], paths=paths)
