"""Feed URLs: Atom, RSS and JSON Feed for a feed or a tag, paged per RFC 5005.

The bytes come from the render cache; this module only adds HTTP: validators,
304s, caching headers, and an HTML preview for people who open a feed URL in
a browser.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request

from syndicator import documents, formats, publishing
from syndicator.web.context import core_of_app

blueprint = Blueprint("feeds", __name__)
_FILES = {filename: fmt for fmt, filename in formats.FILENAMES.items()}
_FILE_CONVERTER = "any(" + ", ".join(f'"{name}"' for name in _FILES) + ")"


@blueprint.get(f"/<feed>/<{_FILE_CONVERTER}:filename>")
@blueprint.get(f"/<feed>/page/<int:page>/<{_FILE_CONVERTER}:filename>")
@blueprint.get(f"/<feed>/tags/<tag>/<{_FILE_CONVERTER}:filename>")
@blueprint.get(f"/<feed>/tags/<tag>/page/<int:page>/<{_FILE_CONVERTER}:filename>")
def feed_document(feed: str, filename: str, tag: str | None = None, page: int = 1) -> Response:
    fmt = _FILES[filename]
    core = core_of_app()
    if page == 1 and "/page/" in request.path:
        return redirect(core.urls.feed_path(feed, fmt, tag), code=301)  # type: ignore[return-value]
    if wants_html(fmt):
        return _preview(feed, fmt, tag, page)
    rendered = publishing.feed_bytes(core, feed, fmt, tag=tag, page=page)
    response = Response(rendered.body, content_type=formats.MEDIA_TYPES[fmt])
    response.set_etag(rendered.etag)
    response.last_modified = rendered.last_modified
    response.cache_control.public = True
    response.cache_control.max_age = core.config.feeds.max_age_seconds
    response.vary.add("Accept")
    return response.make_conditional(request)


def wants_html(fmt: str) -> bool:
    """True for a browser that prefers HTML; a feed reader always gets the feed."""
    accept = request.accept_mimetypes
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
