"""The running core, as seen from inside a request."""

from flask import current_app

from syndicator.core import Core


def core_of_app() -> Core:
    return current_app.extensions["syndicator"]
