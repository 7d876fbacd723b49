"""Whole forecast answers and fan charts, cached per worker and served before Flask sees the request.

A forecast or chart GET (`CACHED_PATHS`) names a run (pinned with `?run=`, or else the published
one), a query and an Accept header. A run never changes, so those three give the same bytes for
as long as the API's code is the same; the ETag is built from all four (`etag_for`). The view
stores each answer it builds under its ETag (`conditional`); `CachedGets`, a WSGI middleware,
answers a repeated GET from that store with one indexed read (the published run's id) and none of
Flask's routing, request parsing or response building. At 32 connections on two sync workers that per-request cost is what queues;
for a chart, the render (tens of milliseconds of matplotlib) is what a repeat is spared.

Conditional requests compare weakly (RFC 9110: a proxy that compresses weakens the tag), and a
cached answer exists only for a query that was valid, so `If-None-Match: *` never answers 304
for a query that would fail.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs

from flask import Response, current_app, request

CACHED_PATHS = frozenset({"/v1/forecasts", "/v1/forecasts/chart", "/v1/forecasts/chart.png", "/v1/forecasts/chart.svg"})
CACHE_CONTROL = "public, max-age=60"
# A forecast answer is JSON, CSV or XLSX by the Accept header too: a shared cache must key on it.
CACHE_HEADERS = {"Cache-Control": CACHE_CONTROL, "Vary": "Accept"}


class ResponseCache:
    """The most recently used answers of this worker, by ETag: at most `size` of them and
    `max_bytes` of bodies (workbooks are large)."""

    def __init__(self, size: int = 256, max_bytes: int = 64 * 2**20):
        self.size, self.max_bytes = size, max_bytes
        self.items: OrderedDict[str, tuple[bytes, list]] = OrderedDict()
        self.bytes = 0
        self.lock = threading.Lock()

    def get(self, key: str):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key: str, body: bytes, headers: list[tuple[str, str]]) -> None:
        with self.lock:
            if key in self.items:
                self.bytes -= len(self.items.pop(key)[0])
            self.items[key] = (body, headers)
            self.bytes += len(body)
            while self.items and (len(self.items) > self.size or self.bytes > self.max_bytes):
                self.bytes -= len(self.items.popitem(last=False)[1][0])


def source_digest(*roots: Path) -> str:
    """Hash of the Python sources and templates under `roots`."""
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(list(root.rglob("*.py")) + list(root.rglob("*.html"))):
            digest.update(root.name.encode() + b"/" + path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def api_digest() -> str:
    """Hash of the code that writes an answer: the API and the rest of the `smfcast` package (tables, bands,
    workbooks and scenarios are written at request time). The run id covers only the code that
    made the run, so a deploy that changes how answers are written must change every ETag."""
    import smfcast
    here = Path(__file__).resolve().parent
    package = Path(smfcast.__file__).resolve().parent  # holds the API when installed, beside it in a checkout
    return source_digest(here, package)


def etag_for(run_id: str, environ: dict) -> str:
    """The ETag of a forecast answer: run, API code, path, query string and Accept header."""
    key = "|".join((api_digest(), environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), environ.get("HTTP_ACCEPT", "")))
    return f"{run_id}-{hashlib.sha256(key.encode()).hexdigest()[:20]}"


def pinned_run(query_string: str) -> str | None:
    """The `run` a query pins, or None (an empty `run=` pins nothing, as in the views)."""
    if "run" not in query_string:
        return None
    values = parse_qs(query_string).get("run")
    return values[0] if values else None


def weak_match(header: str | None, etag: str) -> bool:
    """`If-None-Match` against our (strong) tag by weak comparison: `*`, `"tag"` or `W/"tag"`."""
    if not header:
        return False
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag.strip('"') == etag:
            return True
    return False


def conditional(resp: Response, run_id: str) -> Response:
    """Tag a built answer of a cached path, keep it for `CachedGets`, and answer 304 instead when
    the request's If-None-Match names it. Call it only once the query proved valid."""
    etag = etag_for(run_id, request.environ)
    resp.set_etag(etag)
    resp.headers.update(CACHE_HEADERS)
    current_app.extensions["smfcast_responses"].put(etag, resp.get_data(), list(resp.headers.items()))
    if request.if_none_match.contains_weak(etag):
        not_modified = Response(status=304)
        not_modified.set_etag(etag)
        not_modified.headers.update(CACHE_HEADERS)
        return not_modified
    return resp


class CachedGets:
    """WSGI middleware: answer `GET path` (one of `paths`) from the cache when the same answer was built before."""

    def __init__(self, app, cache: ResponseCache, published_id, paths: frozenset[str] = CACHED_PATHS):
        self.app, self.cache, self.published_id, self.paths = app, cache, published_id, paths

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") in self.paths:
            run_id = pinned_run(environ.get("QUERY_STRING", "")) or self.published_id()
            if run_id:
                etag = etag_for(run_id, environ)
                hit = self.cache.get(etag)
                if hit is not None:
                    body, headers = hit
                    if weak_match(environ.get("HTTP_IF_NONE_MATCH"), etag):
                        start_response("304 NOT MODIFIED", [("ETag", f'"{etag}"'), *CACHE_HEADERS.items()])
                        return [b""]
                    start_response("200 OK", headers)
                    return [body]
        return self.app(environ, start_response)
