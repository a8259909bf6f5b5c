"""Topics: the feed URLs this hub serves (page 1 of every feed and tag feed, each format).

A topic is named by its exact URL, the one its feed's `rel="self"` link gives,
so a subscriber that found the hub by discovery always asks for a known name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from syndicator.core import Core
from syndicator.feeds import formats, serving
from syndicator.feeds.cache import Rendered
from syndicator.urls import Urls

_PATH = re.compile(
    r"/(?P<feed>[^/?#]+)/(?:tags/(?P<tag>[^/?#]+)/)?(?P<file>atom\.xml|rss\.xml|feed\.json)"
)
_FORMATS = {filename: fmt for fmt, filename in formats.FILENAMES.items()}


@dataclass(frozen=True)
class Topic:
    feed: str
    fmt: str
    tag: str | None
    url: str

    @property
    def content_type(self) -> str:
        return formats.MEDIA_TYPES[self.fmt]


def parse(urls: Urls, url: str) -> Topic | None:
    """The topic a URL names; None unless it is exactly one of our topic URLs."""
    base = urls.absolute("")
    if not url.startswith(base):
        return None
    match = _PATH.fullmatch(url[len(base) :])
    if match is None:
        return None
    tag = unquote(match["tag"]) if match["tag"] is not None else None
    topic = Topic(match["feed"], _FORMATS[match["file"]], tag, url)
    return topic if urls.feed(topic.feed, topic.fmt, tag) == url else None


def render(core: Core, topic: Topic) -> Rendered:
    """What a GET of the topic returns now (from the render cache); NotFound if nothing."""
    return serving.feed_bytes(core, topic.feed, topic.fmt, tag=topic.tag)
