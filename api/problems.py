"""Every error leaves the API as `application/problem+json` (RFC 9457), produced here and only here."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from forecast.errors import SmfcastError

log = logging.getLogger(__name__)


def problem(status: int, title: str, detail: str, errors: list[dict] | None = None):
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "errors": errors or []}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def register_problem_handlers(app: Flask) -> None:
    @app.errorhandler(SmfcastError)
    def _smfcast(exc: SmfcastError):
        errors = [{"field": exc.field, "message": exc.message}] if exc.field else []
        return problem(exc.status, type(exc).__name__, exc.message, errors)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return problem(exc.code or 500, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return problem(500, "Internal Server Error", "the server failed to answer; the error was logged")
