"""smfcast HTTP API (Flask). `create_app(config)` builds the app; `api.wsgi:app` is what gunicorn serves.

Reads are served from the run store (sample paths cached in memory per worker): no model work on a
GET, only quantiles. Writes (refits, backtest reruns) run as background jobs.
"""

from __future__ import annotations

import logging
import os

from flask import Flask

from forecast.registry.series import default_data_dir, load_registry
from forecast.store.runs import RunStore, default_store_path

from .problems import register_problem_handlers

log = logging.getLogger("smfcast.api")


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SMFCAST_DATA=str(default_data_dir()),
        SMFCAST_STORE=str(default_store_path()),
        SMFCAST_API_TOKEN=os.environ.get("SMFCAST_API_TOKEN") or None,
        SMFCAST_AUTORUN=False,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.config.update(config or {})
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["smfcast_registry"] = load_registry(app.config["SMFCAST_DATA"])
    store = RunStore(app.config["SMFCAST_STORE"])
    app.extensions["smfcast_store"] = store
    if app.config["SMFCAST_AUTORUN"] and store.latest() is None:
        from forecast.store.runs import create_run
        log.warning("no run in %s: computing the first run before serving", store.path)
        create_run(app.config["SMFCAST_DATA"], store=store)
    register_problem_handlers(app)
    from . import backtests, decisions, forecasts, health, jobs, meta, openapi, revisions, runs, targets
    for module in (health, meta, forecasts, targets, decisions, backtests, runs, revisions, jobs, openapi):
        app.register_blueprint(module.bp, url_prefix="/v1")
    from . import observations
    app.register_blueprint(observations.bp, url_prefix="/v1")
    from . import page
    app.register_blueprint(page.bp)
    return app
