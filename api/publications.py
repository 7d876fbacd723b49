"""`GET /v1/publications`: which run answers unpinned requests, and every earlier choice (run,
time, who, reason), newest first."""

from __future__ import annotations

from flask import Blueprint

from smfcast.store.publications import COLUMNS

from .formats import respond_table
from .params import allow, store

bp = Blueprint("publications", __name__)


@bp.get("/publications")
def publications():
    allow()
    return respond_table(store().publication_history(), COLUMNS, "smfcast_publications", {"run_id": store().published_id()})
