"""Feed and page requests answered from the render cache before Flask sees them.

Feed readers poll the same few URLs all day, and visitors read the same few
pages; for a warm cache the answer is bytes and a few headers. Routing, the
request context and the view cost more than that, so a hit is answered here,
with the same response object the Flask view would build (`cached.response`)
and the same log line and metrics (`access.observe`). Anything else (a miss, a
browser asking for a feed's HTML preview, a redirect, an unknown feed, another
method, a database that never answered) falls through to Flask unchanged, so
the rest of the app's behaviour, error pages included, has one implementation.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from syndicator.core import Core
from syndicator.errors import StorageUnavailable
from syndicator.feeds import formats, serving
from syndicator.feeds.cache import Rendered
from syndicator.stats.tally import FeedUrl
from syndicator.web import access, cached, feeds, pages

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_FEED_PATH = re.compile(
    r"/(?P<feed>[^/]+)/(?:tags/(?P<tag>[^/]+)/)?(?:page/(?P<page>[1-9][0-9]{0,5})/)?"
    r"(?P<file>atom\.xml|rss\.xml|feed\.json)"
)
_LIST_PATH = re.compile(
    r"/(?:(?P<feed>[^/]+)/(?:tags/(?P<tag>[^/]+)/)?(?:page/(?P<page>[1-9][0-9]{0,5})/)?)?"
)
_POST_PATH = re.compile(r"/(?P<feed>[^/]+)/(?P<slug>[^/]+)/")
_FORMATS = {filename: fmt for fmt, filename in formats.FILENAMES.items()}
_LIST_RULES = {
    (False, False): pages.LIST,
    (False, True): pages.LIST_PAGE,
    (True, False): pages.TAG,
    (True, True): pages.TAG_PAGE,
}


class FeedFastPath:
    """WSGI middleware in front of the Flask app."""

    def __init__(self, app: WsgiApp, core: Core) -> None:
        self.app, self.core = app, core

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        found = self._hit(environ)
        if found is None:
            return self.app(environ, start_response)
        rule, key, rendered = found
        feed, tag, page, kind = key
        if kind in formats.MEDIA_TYPES:
            url = FeedUrl(feed, tag or "", kind, int(page))
            response = feeds.counted_response(self.core, environ, rendered, url)
        else:
            max_age = self.core.config.feeds.max_age_seconds
            response = cached.response(environ, rendered, kind, max_age)
        access.observe(self.core, environ, rule, response.status_code, started)
        return response(environ, start_response)

    def _hit(self, environ: dict[str, Any]) -> tuple[str, serving.Key, Rendered] | None:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return None
        try:  # WSGI gives the decoded path as latin-1; Flask's routes see it as UTF-8
            path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
        except UnicodeError:
            return None
        found = _route(path, self.core.config.site.default_feed, feeds.may_want_html(environ))
        if found is None:
            return None
        rule, key = found
        try:
            rendered = serving.cached(self.core, key)
        except StorageUnavailable:
            return None  # Flask answers with the outage page
        return None if rendered is None else (rule, key, rendered)


def _route(path: str, default_feed: str, may_want_html: bool) -> tuple[str, serving.Key] | None:
    """The rule and cache key a path would reach in Flask, for the paths worth a look."""
    if match := _FEED_PATH.fullmatch(path):
        if match["page"] == "1" or may_want_html:  # a redirect; maybe a preview
            return None
        tag, page = match["tag"], match["page"]
        key: serving.Key = (match["feed"], tag, int(page or 1), _FORMATS[match["file"]])
        return feeds.RULES[tag is not None, page is not None], key
    if match := _LIST_PATH.fullmatch(path):
        if match["feed"] is None:
            return pages.HOME, pages.listing_key(default_feed, None, 1)
        tag, page = match["tag"], match["page"]
        if page == "1":
            return None  # a redirect
        key = pages.listing_key(match["feed"], tag, int(page or 1))
        return _LIST_RULES[tag is not None, page is not None], key
    if match := _POST_PATH.fullmatch(path):
        return pages.POST, pages.post_key(match["feed"], match["slug"])
    return None
