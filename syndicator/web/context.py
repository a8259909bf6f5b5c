"""The running core, as seen from inside a request."""

from flask import current_app

from syndicator.core import Core


def core_of_app() -> Core:
    core: Core = current_app.extensions["syndicator"]  # put there by create_app
    return core
