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


PINNED_REGISTRIES = 4  # registries of pinned, unpublished runs a worker keeps loaded


def store() -> RunStore:
    return current_app.extensions["smfcast_store"]


def registry(pinned: Run | None = None):
    """The registry of a run's data, from the files the run keeps (the data folder for a run
    stored before runs kept them); by default the published run's. Every worker serves the same
    series, sources and workbook, whenever it started; they change when another run is published,
    not when the files do."""
    published = store().published()
    run_id = published.run_id if published is not None else None
    if pinned is not None and pinned.run_id != run_id:
        others = current_app.extensions.setdefault("smfcast_pinned_registries", {})
        if pinned.run_id not in others:
            while len(others) >= PINNED_REGISTRIES:
                others.pop(next(iter(others)))
            others[pinned.run_id] = registry_of(store(), pinned.run_id, current_app.config["SMFCAST_DATA"])
        return others[pinned.run_id]
    loaded_for, reg = current_app.extensions["smfcast_registry"]
    if run_id != loaded_for:
        reg = registry_of(store(), run_id, current_app.config["SMFCAST_DATA"])
        current_app.extensions["smfcast_registry"] = (run_id, reg)
    return reg


def registry_of(run_store: RunStore, run_id: str | None, data_dir: str):
    """The registry loaded from the files `run_id` keeps, else from the data folder."""
    files = run_store.registry_files(run_id) if run_id is not None else None
    return load_registry(data_dir, files) if files else load_registry(data_dir)


def run() -> Run:
    return store().get(request.args.get("run") or None)


def many(name: str) -> list[str]:
    """A repeatable or comma-separated parameter: ?x=a&x=b or ?x=a,b."""
    out = []
    for raw in request.args.getlist(name):
        out += [v.strip() for v in raw.split(",") if v.strip()]
    return out
