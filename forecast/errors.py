"""The errors smfcast raises on bad input. Each names where the problem is and what to do.

The CLI prints them as one line and exits non-zero; the API turns them into problem+json in one
place. Anything else escaping is a bug.
"""

from __future__ import annotations


class SmfcastError(Exception):
    """Base class: a user-facing problem with a message that says what to fix."""

    status = 422

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class DataError(SmfcastError):
    """A problem in a registry file, located by file, line and field."""

    def __init__(self, path, line: int | None, field: str | None, reason: str):
        where = f"{path}" + (f", line {line}" if line else "") + (f", field '{field}'" if field else "")
        super().__init__(f"{where}: {reason}", field)
        self.path, self.line, self.reason = str(path), line, reason


class NotFound(SmfcastError):
    """An unknown metric, series, scenario, model or run."""

    status = 404


class InvalidInput(SmfcastError):
    """A request or command argument that is malformed or out of range."""

    status = 422
