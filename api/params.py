"""Request checks shared by every route: unknown parameters are refused by name, write bodies
must be JSON objects within the body limits, and the current run, store and registry are one call
away.

Body limits (every JSON endpoint, the anonymous ones included): at most `MAX_CONTENT_LENGTH` bytes
(the app's config, 64 KiB; `POST /v1/observations` takes 4 MiB), counted on the bytes that arrive,
so a chunked body without a Content-Length is refused (413) exactly as a declared one, never cut
short; JSON nested at most `MAX_JSON_DEPTH` deep (Python's parser would exhaust its recursion
limit near 1,000 and fail with a RecursionError); numbers of at most `MAX_NUMBER_CHARS`
characters (Python refuses to convert integers of over 4,300 digits; a float that long only
pretends to a precision it cannot hold), finite, and no NaN or Infinity, which JSON does not
have. Each is refused as problem+json naming the problem and where it is in the body."""

from __future__ import annotations

import io
import json
import math
import re
from itertools import accumulate

from flask import Request, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.utils import cached_property
from werkzeug.wsgi import get_input_stream

from smfcast.errors import InvalidInput, SmfcastError
from smfcast.store.requests import refuse_unknown
from smfcast.store.runs import Run, RunStore

COMMON = {"format", "layout", "bom"}
MAX_JSON_DEPTH = 32  # levels of [ and {; the deepest body the API takes (observation rows, lever paths) has 3
MAX_NUMBER_CHARS = 100  # characters of one JSON number, sign, point and exponent included
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class UnsupportedMediaType(SmfcastError):
    status = 415


class BodyTooLarge(SmfcastError):
    status = 413


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n % 2**20 == 0 else f"{n // 2**10} KiB" if n % 2**10 == 0 else f"{n:,} bytes"


def too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"the body is larger than {_size(limit)} ({limit:,} bytes), the most this endpoint takes", "body")


class _Bounded(io.RawIOBase):
    """A body without a Content-Length (chunked), read to its end or refused: more than `limit`
    bytes raise 413. (Werkzeug's own bound stops reading at the limit and returns what it has, so
    an oversized chunked body used to arrive cut short.)"""

    def __init__(self, raw, limit: int):
        self.raw, self.left, self.limit = raw, limit, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(min(len(buffer), self.left + 1))
        if len(data) > self.left:
            raise too_large(self.limit)
        self.left -= len(data)
        buffer[:len(data)] = data
        return len(data)


class BodyRequest(Request):
    """Flask's request with the body limit enforced on what arrives, declared or chunked, and
    named in the answer."""

    @cached_property
    def stream(self):
        limit = self.max_content_length
        if limit is not None:
            if self.content_length is not None and self.content_length > limit:
                raise too_large(limit)
            if self.content_length is None and self.environ.get("wsgi.input_terminated"):
                return io.BufferedReader(_Bounded(self.environ["wsgi.input"], limit))
        return get_input_stream(self.environ, max_content_length=limit)


def allow(*names: str) -> None:
    unknown = sorted(set(request.args) - set(names) - COMMON)
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]!r}; this endpoint takes {', '.join(sorted(set(names) | COMMON))}", unknown[0])


class _Refused:
    """What a number the body may not hold parses to, so that the walk over the document can say
    where it is (the parser's hooks do not know)."""

    def __init__(self, text: str, why: str):
        self.text, self.why = text, why


def _number(text: str):
    if len(text) > MAX_NUMBER_CHARS:
        digits = sum(c.isdigit() for c in text)
        return _Refused(text, f"is a number of {digits:,} digits; numbers may have at most {MAX_NUMBER_CHARS} characters")
    if any(c in text for c in ".eE"):
        value = float(text)
        return value if math.isfinite(value) else _Refused(text, f"is {text}, which is beyond the largest number a float holds")
    return int(text)


def _constant(text: str):
    return _Refused(text, f"is {text}, which JSON does not have; give a number")


def _depth(text: str) -> int:
    """How deep [ and { nest in a JSON text, brackets inside strings left out."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


class TextJSONProvider(DefaultJSONProvider):
    """JSON bodies within the limits of the module docstring, and text: a string with an unpaired
    surrogate escape ("\\ud800") cannot be written to a file, stored or answered in UTF-8. Each is
    refused naming where it is."""

    def loads(self, s, **kwargs):
        if isinstance(s, (bytes, bytearray)):
            try:
                s = s.decode(json.detect_encoding(s))
            except UnicodeDecodeError as exc:
                raise InvalidInput(f"the body is not UTF-8 text (byte {exc.start})", "body") from None
        if s.count("[") + s.count("{") > MAX_JSON_DEPTH and (depth := _depth(s)) > MAX_JSON_DEPTH:
            raise InvalidInput(f"the body nests {depth:,} levels of [ and {{; at most {MAX_JSON_DEPTH} are accepted", "body")
        doc = super().loads(s, parse_float=_number, parse_int=_number, parse_constant=_constant, **kwargs)
        found = _refused(doc, "")
        if found is not None:
            where, why = found
            raise InvalidInput(f"{where or 'the body'} {why}", where or "body")
        return doc


def _refused(value, path: str) -> tuple[str, str] | None:
    """(path such as `rows[0].note`, why) of the first value in a parsed body that may not be
    there: a refused number or a string (or key) that is not valid text. The depth is bounded
    before parsing, so the recursion is too."""
    if isinstance(value, _Refused):
        return path, value.why
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path, "is not text: it holds an unpaired surrogate escape (\\ud800-\\udfff)"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if _refused(key, path) is not None:
                return path, "has a key that is not text: it holds an unpaired surrogate escape (\\ud800-\\udfff)"
            found = _refused(item, inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _refused(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


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
    if request.mimetype and not request.is_json:
        raise UnsupportedMediaType(f"send the body as Content-Type: application/json, not {request.mimetype}", "Content-Type")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(f"the body must be a JSON object such as {example}", "body")
    refuse_unknown(body, fields, taker)
    return body


def store() -> RunStore:
    return current_app.extensions["smfcast_store"]


def sources(*runs: Run) -> dict:
    """The sources of the runs' registries together: what a comparison of runs cites."""
    return store().sources_for([r.run_id for r in runs], current_app.config["SMFCAST_DATA"])


def registry(pinned: Run | None = None):
    """The registry of a run's data (by default the published run's), from the files the run keeps:
    every worker serves the same series, sources and workbook, whenever it started; they change
    when another run is published, not when the files do."""
    run_id = pinned.run_id if pinned is not None else store().published_id()
    return store().registry_for(run_id, current_app.config["SMFCAST_DATA"])


def run() -> Run:
    return store().get(request.args.get("run") or None)


def many(name: str) -> list[str]:
    """A repeatable or comma-separated parameter: ?x=a&x=b or ?x=a,b."""
    out = []
    for raw in request.args.getlist(name):
        out += [v.strip() for v in raw.split(",") if v.strip()]
    return out
