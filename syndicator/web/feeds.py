"""Feed URLs: Atom, RSS and JSON Feed for a feed or a tag, paged per RFC 5005.

The bytes come from the render cache and the validators, 304s and caching
headers from `web/cached.py`; this module adds the page-1 redirect and an HTML
preview for people who open a feed URL in a browser.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, render_template, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response as WerkzeugResponse

from syndicator.core import Core
from syndicator.feeds import documents, formats, serving
from syndicator.feeds.cache import Rendered
from syndicator.stats.tally import FeedUrl, Visit
from syndicator.web import cached
from syndicator.web.context import core_of_app

blueprint = Blueprint("feeds", __name__)
_FILES = {filename: fmt for fmt, filename in formats.FILENAMES.items()}
_FILE_CONVERTER = "any(" + ", ".join(f'"{name}"' for name in _FILES) + ")"
Environ = dict[str, Any]


# The four feed URL rules, by (has a tag, has a page number); web.fastpath labels with them too.
RULES = {
    (False, False): f"/<feed>/<{_FILE_CONVERTER}:filename>",
    (False, True): f"/<feed>/page/<int:page>/<{_FILE_CONVERTER}:filename>",
    (True, False): f"/<feed>/tags/<tag>/<{_FILE_CONVERTER}:filename>",
    (True, True): f"/<feed>/tags/<tag>/page/<int:page>/<{_FILE_CONVERTER}:filename>",
}


@blueprint.get(RULES[False, False])
@blueprint.get(RULES[False, True])
@blueprint.get(RULES[True, False])
@blueprint.get(RULES[True, True])
def feed_document(
    feed: str, filename: str, tag: str | None = None, page: int = 1
) -> WerkzeugResponse:
    fmt = _FILES[filename]
    core = core_of_app()
    if page == 1 and "/page/" in request.path:
        return redirect(core.urls.feed_path(feed, fmt, tag), code=301)
    if wants_html(fmt):
        return _preview(feed, fmt, tag, page)
    rendered = serving.feed_bytes(core, feed, fmt, tag=tag, page=page)
    return counted_response(core, request.environ, rendered, FeedUrl(feed, tag or "", fmt, page))


def counted_response(core: Core, environ: Environ, rendered: Rendered, url: FeedUrl) -> Response:
    """The feed response, counted for the audience (docs/audience.md); 429 with Retry-After
    for a client polling sooner than `[feeds] min_poll_seconds` without a condition."""
    response = cached.response(environ, rendered, url.format, core.config.feeds.max_age_seconds)
    if not core.config.stats.enabled:
        return response
    status = response.status_code
    sent = status == 200 and environ.get("REQUEST_METHOD") != "HEAD"
    visit = Visit(
        url,
        environ.get("REMOTE_ADDR", ""),
        environ.get("HTTP_X_FORWARDED_FOR"),
        environ.get("HTTP_USER_AGENT", ""),
        status,
        len(rendered.body) if sent else 0,
        not cached.CONDITIONS.isdisjoint(environ),
    )
    retry_after = core.tally.count(visit, core.now())
    if retry_after is None:
        return response
    every = core.config.feeds.min_poll_seconds
    message = (
        f"This feed answers each client at most once every {every} s without "
        f"If-None-Match or If-Modified-Since; retry after {retry_after} s.\n"
    )
    headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store"}
    return Response(message, 429, headers=headers, content_type="text/plain; charset=utf-8")


def may_want_html(environ: Environ) -> bool:
    """False for the common case, decided without parsing the Accept header."""
    return "text/html" in environ.get("HTTP_ACCEPT", "").lower()


def wants_html(fmt: str) -> bool:
    """True for a browser that prefers HTML; a feed reader always gets the feed."""
    if not may_want_html(request.environ):
        return False
    # Media types are case-insensitive (RFC 9110): TEXT/HTML is text/html.
    accept = parse_accept_header(request.headers.get("Accept", "").lower(), MIMEAccept)
    if not any(value == "text/html" for value, _quality in accept):
        return False
    feed_types = (formats.MEDIA_TYPES[fmt].split(";")[0], "application/xml", "text/xml")
    return accept["text/html"] > max(accept[media_type] for media_type in feed_types)


def _preview(feed: str, fmt: str, tag: str | None, page: int) -> Response:
    core = core_of_app()
    with core.reading() as session:
        listing = documents.listing(
            session, feed, tag=tag, number=page, per_page=core.config.feeds.items, now=core.now()
        )
    body = render_template(
        "feed_preview.html",
        listing=listing,
        feed=listing.feed,
        tag=tag,
        feed_url=core.urls.feed(feed, fmt, tag, page),
    )
    response = Response(body, content_type="text/html; charset=utf-8")
    response.vary.add("Accept")
    response.cache_control.no_cache = True
    return response
