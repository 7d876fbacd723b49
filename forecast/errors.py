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


class RowError(DataError):
    """A problem in one row of an imported file or sheet, or in one command's arguments: `where`
    names the file (and sheet) or the command, `row` the row as a spreadsheet numbers it."""

    def __init__(self, where: str, field: str | None, reason: str, *, file: str | None = None,
                 sheet: str | None = None, row: int | None = None):
        SmfcastError.__init__(self, f"{where}" + (f", field '{field}'" if field else "") + f": {reason}", field)
        self.path, self.line, self.reason = str(file or where), row, reason
        self.file, self.sheet, self.row = file, sheet, row


class Rejected(DataError):
    """A change refused as a whole, nothing written: every problem found, each located."""

    def __init__(self, problems: list[DataError]):
        first = problems[0]
        shown = "; ".join(p.message for p in problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        SmfcastError.__init__(self, f"nothing was changed: {shown}", first.field)
        self.path, self.line, self.reason = first.path, first.line, first.reason
        self.problems = problems


class NotFound(SmfcastError):
    """An unknown metric, series, scenario, model or run."""

    status = 404


class InvalidInput(SmfcastError):
    """A request or command argument that is malformed or out of range."""

    status = 422


class InvalidSeries(InvalidInput, ValueError):
    """Series the engine cannot forecast, every one named with its reason (too short, gaps, values
    that are not finite numbers, a frequency it cannot handle). A ValueError too, as data
    libraries raise for bad data; nothing is forecast when one is raised."""

    def __init__(self, problems: list[tuple[str, str]], field: str = "data"):
        shown = "; ".join(f"{uid!r}: {why}" for uid, why in problems[:10])
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        super().__init__(f"cannot forecast {len(problems)} series: {shown}{more}", field)
        self.by_series = problems


class InvalidArgument(InvalidInput, ValueError):
    """A bad argument or frame given to the Python face (`smfcast.forecast`): a ValueError too, as
    Python users expect of a bad value, and a 422 through the doors."""
