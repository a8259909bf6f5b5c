"""The web client of the core: pages, feeds, subscription forms, admin API, ops.

Only this package imports Flask. `create_app()` is also the WSGI factory for
gunicorn (`gunicorn 'syndicator:create_app()'`).
"""

from __future__ import annotations

import atexit
import time
from urllib.parse import urlsplit

from flask import Flask, Response, g, redirect, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import RequestRedirect

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator.config import Config
from syndicator.core import Core
from syndicator.stats import flusher
from syndicator.web import (
    access,
    api,
    errors,
    fastpath,
    feeds,
    media,
    ops,
    outage,
    pages,
    sitefiles,
    subscribe,
    websub,
)
from syndicator.web.context import core_of_app


def create_app(config: Config | None = None, *, core: Core | None = None) -> Flask:
    """Build the WSGI app; with no arguments, from the config the CLI would find."""
    if core is None:  # the process is ours (gunicorn): its counts are ours to flush
        core = core_module.build(config or config_module.load())
        core_module.prepare(core, migrate=True)
        if (counting := flusher.start(core)) is not None:
            atexit.register(counting.stop)
    app = Flask(__name__, static_folder=None)  # no static files: every URL is the blog's
    app.extensions["syndicator"] = core
    app.json = _FieldOrderJSON(app)
    app.register_blueprint(ops.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(subscribe.blueprint)
    app.register_blueprint(websub.blueprint)
    app.register_blueprint(feeds.blueprint)
    app.register_blueprint(sitefiles.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(media.blueprint)
    errors.register(app)
    outage.register(app)
    app.before_request(_start_timer)
    app.before_request(_redirect_within_the_site)
    app.after_request(_record)
    app.wsgi_app = fastpath.FeedFastPath(app.wsgi_app, core)  # type: ignore[method-assign]
    return app


class _FieldOrderJSON(DefaultJSONProvider):
    """JSON bodies keep their fields in the order the code writes them (id first)."""

    sort_keys = False


def _start_timer() -> None:
    g.started = time.perf_counter()


def _redirect_within_the_site() -> Response | None:
    """Routing's own redirects (`/news` to `/news/`) lead to `[site] base_url`.

    Werkzeug builds them from the request's Host header, which any client can
    forge (and a cache may keep the forged answer for everyone).
    """
    moved = request.routing_exception
    if not isinstance(moved, RequestRedirect):
        return None
    target = urlsplit(moved.new_url)
    path = target.path.removeprefix(request.script_root)
    location = core_of_app().urls.absolute(path) + (f"?{target.query}" if target.query else "")
    return redirect(location, code=moved.code)  # type: ignore[return-value]


def _record(response: Response) -> Response:
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    started = g.get("started", time.perf_counter())
    access.observe(core_of_app(), request.environ, endpoint, response.status_code, started)
    return response
