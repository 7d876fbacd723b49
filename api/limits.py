"""Per-client limits on anonymous compute (Flask-Limiter): the requests that compute their answer
instead of reading a stored one, so that one client cannot take the workers from everyone else.

* What is limited: views marked `@anonymous_compute` (custom-scenario forecasts, goal seek,
  sensitivity, the fan charts; any new computing endpoint takes the same mark). Stored answers
  (cached forecast GETs and charts answered from the response cache, runs, series) are never
  limited: a chart asked again is answered by `response_cache.CachedGets` before the limit.
* Whom: a request without a valid write token, counted per client (the TCP peer address; behind a
  reverse proxy every client shares the proxy's address unless the proxy's address is replaced,
  e.g. with werkzeug's ProxyFix). A request with a valid write token is exempt: its holder may
  refit, which costs far more than any of these.
* How much: one budget of compute units per client, `SMFCAST_ANONYMOUS_LIMIT` (a rate string such
  as "60 per 10 seconds; 600 per 10 minutes", the default `DEFAULT_LIMIT`), each view costing what
  it declares, about one unit per 10 ms of a worker's CPU (measured on the default run): 1 for a
  custom-scenario forecast or a sensitivity table (6-10 ms), `SEEK_COST` for a goal seek (40 ms),
  `CHART_COST` for a rendered chart (matplotlib, 120-140 ms). So one client computes at most about
  6% of a worker's time in any 10 seconds and 1% over 10 minutes; a person changing a control
  once a second (a forecast and a chart each time) stays within it. Moving windows, so a limit is
  never doubled across a window boundary.
* Where counts live: in each worker's memory (so a client may get up to the number of gunicorn
  workers times the limit), or in Redis when the job queue is in Redis (`SMFCAST_QUEUE_URL`), where
  every worker shares them; if Redis cannot be reached the workers count in memory until it can.
* Over the limit: 429 problem+json with `Retry-After` (seconds until the oldest counted request
  leaves the window).
"""

from __future__ import annotations

import os
import time

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse_many

from smfcast.errors import InvalidInput, SmfcastError
from smfcast.store.queue import queue_url

from .problems import problem
from .tokens import require_token

DEFAULT_LIMIT = "60 per 10 seconds; 600 per 10 minutes"  # compute units per client
SEEK_COST = 4  # units of one goal seek
CHART_COST = 12  # units of one rendered chart
# units of one small ad-hoc forecast (POST /v1/forecast, about 3 s of a worker with its backtest): priced
# below its CPU, since one at a time per process already holds it back, so that a client trying the
# API gets a couple every 10 seconds and twenty every 10 minutes
FORECAST_COST = 30
ENV = "SMFCAST_ANONYMOUS_LIMIT"
# the marked views' routes as the OpenAPI document names them, which documents their 429 (a test keeps this in step)
COMPUTE_ROUTES = (("/v1/forecasts", "post"), ("/v1/forecasts/chart", "get"), ("/v1/forecasts/chart.png", "get"),
                  ("/v1/forecasts/chart.svg", "get"), ("/v1/goal-seek", "post"), ("/v1/sensitivity", "get"), ("/v1/forecast", "post"))
_MARK = "_smfcast_compute_cost"


def anonymous_compute(view=None, *, cost: int = 1):
    """Mark a view as anonymous compute costing `cost` units (`@anonymous_compute`, or
    `@anonymous_compute(cost=CHART_COST)`). The limit is attached when the app is built
    (`install`), to every marked view registered before that: per app, so each app counts apart."""
    def mark(fn):
        setattr(fn, _MARK, cost)
        return fn
    return mark(view) if view is not None else mark


def configured_limit(environ=os.environ) -> str:
    """`SMFCAST_ANONYMOUS_LIMIT`, checked: a rate string Flask-Limiter reads ("N per PERIOD", several
    joined by ';'), else the default."""
    raw = (environ.get(ENV) or "").strip()
    if not raw:
        return DEFAULT_LIMIT
    try:
        items = parse_many(raw)
    except ValueError:
        items = []
    if not items:
        raise InvalidInput(f"{ENV} must be rates such as {DEFAULT_LIMIT!r}, got {raw!r}", ENV)
    return raw


def storage_uri() -> str:
    """Redis when the queue is in Redis (the same server, so every worker shares the counts),
    else memory."""
    url = queue_url()
    if not url:
        return "memory://"
    return "redis+unix://" + url.removeprefix("unix://") if url.startswith("unix://") else url


def has_write_token() -> bool:
    """Whether the request carries a valid write token (a wrong one counts as none: these views
    need no token, so it is not refused, only limited)."""
    if not request.headers.get("Authorization"):
        return False
    try:
        require_token()
    except SmfcastError:
        return False
    return True


def _cost() -> int:
    view = current_app.view_functions.get(request.endpoint)
    return getattr(view, _MARK, 1)


def install(app: Flask) -> Limiter:
    """Attach the per-client limit to every view marked `anonymous_compute`; 429 problem+json with
    Retry-After beyond it. `SMFCAST_ANONYMOUS_LIMIT` in the app's config overrides the environment
    (tests set a small one)."""
    limit = configured_limit({ENV: app.config[ENV]} if app.config.get(ENV) else os.environ)
    limiter = Limiter(get_remote_address, app=app, storage_uri=app.config.get("SMFCAST_LIMIT_STORAGE") or storage_uri(),
                      strategy="moving-window", headers_enabled=False, in_memory_fallback_enabled=True,
                      key_prefix="smfcast")
    app.extensions["smfcast_limiter"] = limiter
    shared = limiter.shared_limit(limit, scope="anonymous-compute", exempt_when=has_write_token, cost=_cost)
    for endpoint, view in list(app.view_functions.items()):
        if hasattr(view, _MARK):
            app.view_functions[endpoint] = shared(view)

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded):
        current = limiter.current_limit
        wait = max(1, int(current.reset_at - time.time() + 0.999)) if current is not None else 1
        resp = problem(429, "Too Many Requests",
                       f"this client has used its budget of anonymous compute ({exc.limit.limit} units; a chart costs "
                       f"{CHART_COST}, a goal seek {SEEK_COST}, a custom forecast or sensitivity 1); retry after {wait} s, "
                       "send a write token, or read the stored answers (GET /v1/forecasts), which are not limited",
                       [{"field": "client", "message": f"over {exc.limit.limit} compute units"}])
        resp.headers["Retry-After"] = str(wait)
        return resp

    return limiter
