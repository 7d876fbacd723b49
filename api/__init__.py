"""smfcast HTTP API (Flask). `create_app(config)` builds the app; `api.wsgi:app` is what gunicorn serves."""

from __future__ import annotations

from flask import Flask

from forecast.series import default_data_dir, load_registry

from .health import bp as health_bp
from .problems import register_problem_handlers


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SMFCAST_DATA=str(default_data_dir()),
        MAX_CONTENT_LENGTH=256 * 1024,
    )
    app.config.update(config or {})
    app.extensions["smfcast_registry"] = load_registry(app.config["SMFCAST_DATA"])
    register_problem_handlers(app)
    app.register_blueprint(health_bp, url_prefix="/v1")
    return app
