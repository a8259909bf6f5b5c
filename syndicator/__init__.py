"""syndicator: a blog's posts as Atom, RSS and JSON feeds, pushed to subscribers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("syndicator")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"


def create_app(*args, **kwargs):  # type: ignore[no-untyped-def]
    """The WSGI factory (`gunicorn 'syndicator:create_app()'`); Flask loads only when asked."""
    from syndicator.web import create_app as factory

    return factory(*args, **kwargs)
