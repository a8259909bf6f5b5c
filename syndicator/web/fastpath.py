"""Feed requests answered from the render cache before Flask sees them.

Feed readers poll the same few URLs all day; for a warm cache the answer is
bytes and five headers. Routing, the request context and the view cost more
than that, so a hit is answered here, with the same response object the Flask
view would build (`feeds.counted_response`) and the same log line and metrics
(`access.observe`). Anything else (a miss, a browser asking for HTML, a redirect,
an unknown feed, another method, a database that never answered) falls through
to Flask unchanged, so the rest of the app's behaviour, error pages included,
has one implementation.
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
from syndicator.web import access, feeds

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_FEED_PATH = re.compile(
    r"/(?P<feed>[^/]+)/(?:tags/(?P<tag>[^/]+)/)?(?:page/(?P<page>[1-9][0-9]{0,5})/)?"
    r"(?P<file>atom\.xml|rss\.xml|feed\.json)"
)
_FORMATS = {filename: fmt for fmt, filename in formats.FILENAMES.items()}


class FeedFastPath:
    """WSGI middleware in front of the Flask app."""

    def __init__(self, app: WsgiApp, core: Core) -> None:
        self.app, self.core = app, core

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        found = self._hit(environ)
        if found is None:
            return self.app(environ, start_response)
        rule, url, rendered = found
        response = feeds.counted_response(self.core, environ, rendered, url)
        access.observe(self.core, environ, rule, response.status_code, started)
        return response(environ, start_response)

    def _hit(self, environ: dict[str, Any]) -> tuple[str, FeedUrl, Rendered] | None:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or feeds.may_want_html(environ):
            return None
        match = _FEED_PATH.fullmatch(environ.get("PATH_INFO", ""))
        if match is None or match["page"] == "1":
            return None
        fmt, tag, page = _FORMATS[match["file"]], match["tag"], int(match["page"] or 1)
        try:
            rendered = serving.cached(self.core, match["feed"], fmt, tag=tag, page=page)
        except StorageUnavailable:
            return None  # Flask answers with the outage page
        if rendered is None:
            return None
        url = FeedUrl(match["feed"], tag or "", fmt, page)
        return feeds.RULES[tag is not None, match["page"] is not None], url, rendered
