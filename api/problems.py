"""Every error leaves the API as `application/problem+json` (RFC 9457), produced here and only here:
the app's own answers (`problem`), and those gunicorn writes itself before the app sees a request
(a request line over its limit: 414, headers over theirs: 431, a malformed request: 400), which
gunicorn would otherwise write as an HTML page (`answer_server_errors_as_problems`)."""

from __future__ import annotations

import json
import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from smfcast.errors import SmfcastError

log = logging.getLogger(__name__)


PROBLEM_JSON = "application/problem+json"


def problem_body(status: int, title: str, detail: str, errors: list[dict] | None = None) -> dict:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, "errors": errors or []}


def problem(status: int, title: str, detail: str, errors: list[dict] | None = None):
    response = jsonify(problem_body(status, title, detail, errors))
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    return response


def server_problem(status: int, reason: str, detail: str) -> bytes:
    """A whole HTTP/1.1 answer, head and problem+json body, for a request the app never saw."""
    body = json.dumps(problem_body(status, reason, detail or reason), ensure_ascii=False).encode("utf-8")
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: {PROBLEM_JSON}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def answer_server_errors_as_problems() -> None:
    """Make gunicorn write the answers it gives on its own (before any app code runs: a request
    line over `--limit-request-line`, too many or too large headers, a malformed request) as
    problem+json instead of its HTML page. gunicorn's workers write them through
    `gunicorn.util.write_error(sock, status, reason, message)`, looked up at each call; this
    replaces it in the worker that imports the app (`wsgi.py`)."""
    from gunicorn import util

    def write_error(sock, status_int, reason, mesg):
        detail = {414: "the request line (method, path and query string) is longer than this server takes; "
                       "send long inputs in a JSON body"}.get(status_int, "")
        util.write_nonblock(sock, server_problem(status_int, reason, "; ".join(filter(None, (detail, mesg)))))

    util.write_error = write_error


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
