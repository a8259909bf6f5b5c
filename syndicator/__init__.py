"""syndicator: a blog's posts as Atom, RSS and JSON feeds, pushed to subscribers."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only the web package imports Flask (tests/test_docs.py)
    from _typeshed.wsgi import WSGIApplication

    from syndicator.config import Config
    from syndicator.core import Core

try:
    __version__ = version("syndicator")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"


def create_app(config: Config | None = None, *, core: Core | None = None) -> WSGIApplication:
    """The WSGI factory (`gunicorn 'syndicator:create_app()'`); Flask loads only when asked."""
    from syndicator.web import create_app as factory

    return factory(config, core=core)
