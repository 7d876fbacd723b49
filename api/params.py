"""Query-string checks shared by every route: unknown parameters are refused by name, and the
current run, store and registry are one call away."""

from __future__ import annotations

from flask import current_app, request

from forecast.errors import InvalidInput
from forecast.store.runs import Run, RunStore

COMMON = {"format", "layout", "bom"}


def allow(*names: str) -> None:
    unknown = sorted(set(request.args) - set(names) - COMMON)
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]!r}; this endpoint takes {', '.join(sorted(set(names) | COMMON))}", unknown[0])


def store() -> RunStore:
    return current_app.extensions["smfcast_store"]


def registry():
    return current_app.extensions["smfcast_registry"]


def run() -> Run:
    return store().get(request.args.get("run") or None)


def many(name: str) -> list[str]:
    """A repeatable or comma-separated parameter: ?x=a&x=b or ?x=a,b."""
    out = []
    for raw in request.args.getlist(name):
        out += [v.strip() for v in raw.split(",") if v.strip()]
    return out
