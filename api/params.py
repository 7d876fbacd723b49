"""Request checks shared by every route: unknown parameters are refused by name, write bodies
must be JSON objects, and the current run, store and registry are one call away."""

from __future__ import annotations

from flask import current_app, request
from flask.json.provider import DefaultJSONProvider

from smfcast.errors import InvalidInput, SmfcastError
from smfcast.store.requests import refuse_unknown
from smfcast.store.runs import Run, RunStore

COMMON = {"format", "layout", "bom"}


class UnsupportedMediaType(SmfcastError):
    status = 415


def allow(*names: str) -> None:
    unknown = sorted(set(request.args) - set(names) - COMMON)
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]!r}; this endpoint takes {', '.join(sorted(set(names) | COMMON))}", unknown[0])


class TextJSONProvider(DefaultJSONProvider):
    """JSON bodies hold text: a string with an unpaired surrogate escape ("\\ud800") cannot be
    written to a file, stored or answered in UTF-8, so the body is refused naming where it is."""

    def loads(self, s, **kwargs):
        doc = super().loads(s, **kwargs)
        where = _not_text(doc, "")
        if where is not None:
            raise InvalidInput(f"{where or 'the body'} is not text: it holds an unpaired surrogate escape (\\ud800-\\udfff)",
                               where or "body")
        return doc


def _not_text(value, path: str) -> str | None:
    """The path (`rows[0].note`) of the first string or key in a JSON value that is not valid text."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if _not_text(key, path) is not None:
                return path
            found = _not_text(item, inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _not_text(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def json_body(example: str) -> dict:
    """A write's body: empty (no settings) or a JSON object. A form post (what a cross-site page
    can send without JavaScript) is refused by its content type before anything is read."""
    if request.mimetype and not request.is_json:
        raise UnsupportedMediaType(f"send the body as Content-Type: application/json, not {request.mimetype}", "Content-Type")
    if not request.data:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(f"the body must be a JSON object such as {example}", "body")
    return body


def json_fields(example: str, fields: tuple[str, ...], taker: str) -> dict:
    """A JSON object body whose every field is one of `fields`; an unknown one is refused by name
    (`taker` says what takes the fields: "goal seek", "the body")."""
    if request.mimetype and not request.is_json:
        raise UnsupportedMediaType(f"send the body as Content-Type: application/json, not {request.mimetype}", "Content-Type")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(f"the body must be a JSON object such as {example}", "body")
    refuse_unknown(body, fields, taker)
    return body


def store() -> RunStore:
    return current_app.extensions["smfcast_store"]


def sources(*runs: Run) -> dict:
    """The sources of the runs' registries together: what a comparison of runs cites."""
    return store().sources_for([r.run_id for r in runs], current_app.config["SMFCAST_DATA"])


def registry(pinned: Run | None = None):
    """The registry of a run's data (by default the published run's), from the files the run keeps:
    every worker serves the same series, sources and workbook, whenever it started; they change
    when another run is published, not when the files do."""
    run_id = pinned.run_id if pinned is not None else store().published_id()
    return store().registry_for(run_id, current_app.config["SMFCAST_DATA"])


def run() -> Run:
    return store().get(request.args.get("run") or None)


def many(name: str) -> list[str]:
    """A repeatable or comma-separated parameter: ?x=a&x=b or ?x=a,b."""
    out = []
    for raw in request.args.getlist(name):
        out += [v.strip() for v in raw.split(",") if v.strip()]
    return out
