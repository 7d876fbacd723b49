"""`GET /v1/health`: is the service up, which version, how much data it loaded, which run is
published (what unpinned requests get) and which is the newest stored."""

from __future__ import annotations

from flask import Blueprint, jsonify

from smfcast import __version__

from .params import allow, registry, store

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    allow()
    reg = registry()
    newest = store().latest()
    return jsonify(status="ok", version=__version__, series=len(reg.series), observations=len(reg.rows),
                   run_id=store().published_id(), newest_run_id=newest.run_id if newest else None)
