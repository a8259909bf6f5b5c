"""While the database does not answer: the app's own 503, never a traceback or a bare 500.

Requests that need no database (warm feeds, /metrics) are still answered;
every other one gets the error page, or under /api/ the JSON error, with
Retry-After, and is logged and counted like any request.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, make_response, request

from syndicator import db
from syndicator.errors import StorageUnavailable
from syndicator.web import errors

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 30


def register(app: Flask) -> None:
    for kind in (StorageUnavailable, *db.UNAVAILABLE):
        app.register_error_handler(kind, _unavailable)


def _unavailable(error: Exception) -> Response:
    log.warning(
        "database unavailable for %s %s: %s", request.method, request.path, db.reason(error)
    )
    if request.blueprint == "api":
        message = "the database does not answer; try again shortly"
        response = errors.api_error(503, "unavailable", message)
    else:
        response = make_response(errors.page(503))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
