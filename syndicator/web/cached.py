"""HTTP for rendered bytes, feeds and pages alike: validators, 304s, caching headers.

The Flask views and the fast path (`web/fastpath.py`) both answer with
`response`, so a warm hit and a rendered answer cannot differ.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from flask import Response
from werkzeug.http import http_date, is_resource_modified, parse_etags, quote_etag

from syndicator.feeds import formats
from syndicator.feeds.cache import Rendered

Header = tuple[str, str]
Environ = dict[str, Any]
HTML = "text/html; charset=utf-8"
# Request headers (as WSGI environ keys) that can turn the answer into a 304 or 412.
CONDITIONS = frozenset(("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH"))


def response(environ: Environ, rendered: Rendered, kind: str, max_age: int) -> Response:
    """The document, or a 304 for a client that has it (412 for a failed If-Match, as
    werkzeug's make_conditional answers). `kind` is a feed format, or "html"/"post"."""
    headers = _headers(rendered.etag, rendered.last_modified, kind, max_age, rendered.links)
    answer = Response(rendered.body, headers=headers)
    if CONDITIONS.isdisjoint(environ):
        return answer  # a first fetch: nothing to compare
    if not is_resource_modified(environ, etag=rendered.etag, last_modified=rendered.last_modified):
        answer.status_code = 412 if parse_etags(environ.get("HTTP_IF_MATCH")) else 304
    return answer


@functools.lru_cache(maxsize=1024)
def _headers(
    etag: str, last_modified: datetime, kind: str, max_age: int, links: str | None
) -> tuple[Header, ...]:
    """A rendered document's headers, written once as strings: set through werkzeug's
    header properties on every request they cost more than the rest of a cache hit
    (bench/feeds.py measures it).

    A feed may be kept `max_age` seconds and varies with Accept (a browser gets a
    preview); a page is asked for again each time (`no-cache`), so a reader sees a
    new post at once and a repeat visit costs a 304. A WebSub topic names its hub (`links`).
    """
    validators = (("ETag", quote_etag(etag)), ("Last-Modified", http_date(last_modified)))
    if kind not in formats.MEDIA_TYPES:
        return (("Content-Type", HTML), *validators, ("Cache-Control", "no-cache"))
    return (
        ("Content-Type", formats.MEDIA_TYPES[kind]),
        *validators,
        ("Cache-Control", f"public, max-age={max_age}"),
        ("Vary", "Accept"),
        *((("Link", links),) if links else ()),
    )
