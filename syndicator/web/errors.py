"""Every error becomes a friendly page, or (under /api/, or for a JSON request) one JSON body.

Domain code raises domain errors; `_DOMAIN_STATUS` is the one place that knows
their HTTP statuses (views that render their own error page ask `status_of`),
and `api_error` is the one builder of API error bodies. Never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response as WerkzeugResponse

from syndicator.errors import (
    Conflict,
    Gone,
    InvalidInput,
    MalformedRequest,
    NotFound,
    SyndicatorError,
)
from syndicator.web.context import feed_of_page

log = logging.getLogger(__name__)

_PAGES = {
    404: ("Not found", "There is nothing at this address. It may have moved, or never existed."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    410: ("Gone", "This post was removed by its author."),
    503: (
        "Temporarily unavailable",
        "The site cannot reach its database. Please try again in a minute.",
    ),
    500: ("Something went wrong", "The error was logged. Please try again in a moment."),
}
_DOMAIN_STATUS: tuple[tuple[type[SyndicatorError], int, str], ...] = (
    (NotFound, 404, "not_found"),
    (Gone, 410, "gone"),
    (InvalidInput, 422, "invalid_input"),
    (Conflict, 409, "conflict"),
    (MalformedRequest, 400, "bad_request"),
)


def api_error(
    status: int, code: str, message: str, fields: Mapping[str, str] | None = None
) -> Response:
    """The one shape of every API error: {"error": {"code", "message", "fields"}}."""
    response = jsonify(error={"code": code, "message": message, "fields": dict(fields or {})})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="syndicator"'
    return response


def page(status: int) -> tuple[str, int]:
    """The error page, in the title and style of the feed the address is under (or the
    default feed's); 500 and 503 ask no database, which may be what failed."""
    title, message = _PAGES.get(status, (f"Error {status}", ""))
    feed = None if status >= 500 else feed_of_page(request.path.strip("/").split("/")[0])
    body = render_template("error.html", status=status, title=title, message=message, feed=feed)
    return body, status


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _wants_json() -> bool:
    """The admin API, and a public route called with JSON (subscribe), answer errors in JSON."""
    return _is_api() or request.is_json


def status_of(error: SyndicatorError) -> tuple[int, str] | None:
    """The HTTP status and error code of a domain error; None for one that is a bug."""
    for kind, status, code in _DOMAIN_STATUS:
        if isinstance(error, kind):
            return status, code
    return None


def register(app: Flask) -> None:
    app.before_request(_no_redirects_under_api)
    app.register_error_handler(SyndicatorError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _no_redirects_under_api() -> Response | None:
    """Page routes would redirect /api/x to /api/x/ with an HTML body: answer JSON 404."""
    if _is_api() and isinstance(request.routing_exception, RequestRedirect):
        return api_error(404, "not_found", f"no API route at {request.path}")
    return None


def _domain_error(error: SyndicatorError) -> Response | tuple[str, int]:
    mapped = status_of(error)
    if mapped is None:
        return _unexpected(error)
    status, code = mapped
    if _wants_json():
        fields = getattr(error, "fields", None)
        return api_error(status, code, str(error) or code.replace("_", " "), fields)
    return page(status)


def _http_error(error: HTTPException) -> WerkzeugResponse | tuple[str, int]:
    if error.code is None or error.code < 400:
        return error.get_response()
    if _is_api():
        code = (error.name or "error").lower().replace(" ", "_")
        response = api_error(error.code, code, error.description or error.name)
        # Only Allow: the exception's own headers also carry its HTML Content-Type.
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response
    return page(error.code)


def _unexpected(error: Exception) -> Response | tuple[str, int]:
    log.exception("unhandled error", exc_info=error)
    if _is_api():
        return api_error(500, "internal_error", "unexpected error; it was logged")
    return page(500)
