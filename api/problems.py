"""Every error leaves the API as `application/problem+json` (RFC 9457), produced here and only here."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from smfcast.errors import SmfcastError

log = logging.getLogger(__name__)


def problem(status: int, title: str, detail: str, errors: list[dict] | None = None):
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "errors": errors or []}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _located(p) -> dict:
    """One problem of a refused change: field and message, and where (file, sheet, row; or a
    registry file and line)."""
    out = {"field": p.field, "message": p.message}
    for key in ("file", "sheet", "row"):
        if getattr(p, key, None) is not None:
            out[key] = getattr(p, key)
    if getattr(p, "row", None) is None and p.line is not None:
        out["file"], out["line"] = p.path.rsplit("/", 1)[-1], p.line
    return out


def register_problem_handlers(app: Flask) -> None:
    @app.errorhandler(SmfcastError)
    def _smfcast(exc: SmfcastError):
        problems = getattr(exc, "problems", None)  # a refused change: every problem, each located
        by_series = getattr(exc, "by_series", None)  # series that cannot be forecast: each named
        if problems:
            errors = [_located(p) for p in problems]
        elif by_series:
            errors = [{"field": exc.field, "unique_id": uid, "message": why} for uid, why in by_series]
        else:
            errors = [{"field": exc.field, "message": exc.message}] if exc.field else []
        response = problem(exc.status, type(exc).__name__, exc.message, errors)
        if getattr(exc, "retry_after", None) is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return problem(exc.code or 500, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return problem(500, "Internal Server Error", "the server failed to answer; the error was logged")
