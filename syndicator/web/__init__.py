"""The web client of the core: pages, feeds, subscription forms, admin API, ops.

Only this package imports Flask. `create_app()` is also the WSGI factory for
gunicorn (`gunicorn 'syndicator:create_app()'`).
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator.config import Config
from syndicator.core import Core
from syndicator.web import api, errors, feeds, ops, pages, subscribe
from syndicator.web.context import core_of_app

access_log = logging.getLogger("syndicator.access")


def create_app(config: Config | None = None, *, core: Core | None = None) -> Flask:
    """Build the WSGI app; with no arguments, from the config the CLI would find."""
    if core is None:
        core = core_module.build(config or config_module.load())
        core_module.prepare(core, migrate=True)
    app = Flask(__name__)
    app.extensions["syndicator"] = core
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(ops.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(subscribe.blueprint)
    app.register_blueprint(feeds.blueprint)
    app.register_blueprint(pages.blueprint)
    errors.register(app)
    app.before_request(_start_timer)
    app.after_request(_record)
    return app


def _start_timer() -> None:
    g.started = time.perf_counter()


def _record(response: Response) -> Response:
    """One log line and one metric sample per request."""
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    metrics = core_of_app().metrics
    metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
    metrics.request_seconds.labels(endpoint).observe(elapsed)
    access_log.info(
        '%s "%s %s" %s %.1fms',
        request.remote_addr,
        request.method,
        request.path,
        response.status_code,
        elapsed * 1000,
    )
    return response
