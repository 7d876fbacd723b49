"""`GET /v1/health`: is the service up, which version, how much data it loaded."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from forecast import __version__

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    reg = current_app.extensions["smfcast_registry"]
    return jsonify(status="ok", version=__version__, series=len(reg.series), observations=len(reg.rows))
