"""smfcast HTTP API (Flask). `create_app(config)` builds the app; `smfcast.api.wsgi:app` is what gunicorn serves.

Reads are served from the run store (sample paths cached in memory per worker): no model work on a
GET, only quantiles; a request that names no run gets the published one. Writes need a bearer
token (`tokens.py`); refits and backtest reruns are queued jobs run by the worker process.
"""

from __future__ import annotations

import logging

from flask import Flask

from smfcast.registry.location import writable_data_dir
from smfcast.registry.series import load_registry
from smfcast.store.runs import RunStore, default_store_path

from .limits import install as install_limits
from .params import BodyRequest, TextJSONProvider
from .problems import register_problem_handlers
from .response_cache import CachedGets, ResponseCache, api_digest

log = logging.getLogger("smfcast.api")


class SmfcastFlask(Flask):
    """Flask with the request class that enforces the body limits (`params.BodyRequest`) and an
    automatic OPTIONS answer of 204 with `Allow` and no body, instead of an empty text/html page."""

    request_class = BodyRequest

    def make_default_options_response(self):
        resp = super().make_default_options_response()
        resp.status_code = 204
        del resp.headers["Content-Type"]
        return resp


def create_app(config: dict | None = None) -> Flask:
    app = SmfcastFlask(__name__)
    app.config.update(
        SMFCAST_DATA=None,  # None: $SMFCAST_DATA, or the per-user folder (created from the shipped copy)
        SMFCAST_STORE=str(default_store_path()),
        SMFCAST_API_TOKEN=None,
        SMFCAST_API_TOKENS=None,  # {name: token}; None reads the environment and the token file on each write
        SMFCAST_AUTORUN=False,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.config.update(config or {})
    if not app.config["SMFCAST_DATA"]:  # the server writes observations: a registry it may write
        app.config["SMFCAST_DATA"] = str(writable_data_dir())
    app.json = TextJSONProvider(app)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    if app.config["SMFCAST_API_TOKENS"] is None and app.config["SMFCAST_API_TOKEN"]:
        app.config["SMFCAST_API_TOKENS"] = {"default": app.config["SMFCAST_API_TOKEN"]}
    store = RunStore(app.config["SMFCAST_STORE"])
    app.extensions["smfcast_store"] = store
    if app.config["SMFCAST_AUTORUN"] and store.latest() is None:
        from smfcast.store.runs import create_run
        log.warning("no run in %s: computing the first run before serving", store.path)
        create_run(app.config["SMFCAST_DATA"], store=store)
    load_registry(app.config["SMFCAST_DATA"])  # a broken data folder stops the start, named
    store.registry_for(store.published_id(), app.config["SMFCAST_DATA"])  # loaded before the first request
    api_digest()  # hashed before the first request, not inside it
    app.extensions["smfcast_responses"] = ResponseCache()
    app.wsgi_app = CachedGets(app.wsgi_app, app.extensions["smfcast_responses"], store.published_id)
    register_problem_handlers(app)
    from . import backtests, decisions, forecasts, health, jobs, meta, openapi, publications, revisions, runs, targets
    for module in (health, meta, forecasts, targets, decisions, backtests, runs, publications, revisions, jobs, openapi):
        app.register_blueprint(module.bp, url_prefix="/v1")
    from . import observations, user_forecasts
    app.register_blueprint(observations.bp, url_prefix="/v1")
    app.register_blueprint(user_forecasts.bp, url_prefix="/v1")
    from . import page
    app.register_blueprint(page.bp)
    install_limits(app)  # after every blueprint: it limits the views marked `limits.anonymous_compute`
    return app
