"""Request checks shared by every route: unknown parameters are refused by name, write bodies
must be JSON objects, and the current run, store and registry are one call away."""

from __future__ import annotations

from flask import current_app, request

from forecast.errors import InvalidInput, SmfcastError
from forecast.registry.series import load_registry
from forecast.store.runs import Run, RunStore

COMMON = {"format", "layout", "bom"}


class UnsupportedMediaType(SmfcastError):
    status = 415


def allow(*names: str) -> None:
    unknown = sorted(set(request.args) - set(names) - COMMON)
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]!r}; this endpoint takes {', '.join(sorted(set(names) | COMMON))}", unknown[0])


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
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(f"the body must be a JSON object such as {example}", "body")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}; {taker} takes {', '.join(fields)}", unknown[0])
    return body


def store() -> RunStore:
    return current_app.extensions["smfcast_store"]


def registry():
    """The registry of the published run's data: reloaded when a run with other inputs is
    published (a refit after new data), so series, sources and the workbook agree with it."""
    published = store().published()
    inputs = published.inputs if published is not None else None
    loaded_for, reg = current_app.extensions["smfcast_registry"]
    if inputs != loaded_for:
        reg = load_registry(current_app.config["SMFCAST_DATA"])
        current_app.extensions["smfcast_registry"] = (inputs, reg)
    return reg


def run() -> Run:
    return store().get(request.args.get("run") or None)


def many(name: str) -> list[str]:
    """A repeatable or comma-separated parameter: ?x=a&x=b or ?x=a,b."""
    out = []
    for raw in request.args.getlist(name):
        out += [v.strip() for v in raw.split(",") if v.strip()]
    return out
