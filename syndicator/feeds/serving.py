"""Feed documents as bytes, rendered once per feed version and served from cache."""

from __future__ import annotations

import hashlib
from datetime import datetime

from syndicator.core import Core
from syndicator.errors import FeedNotFound
from syndicator.feeds import documents, formats
from syndicator.feeds.cache import Rendered


def feed_bytes(
    core: Core, feed: str, fmt: str, *, tag: str | None = None, page: int = 1
) -> Rendered:
    """The rendered feed; FeedNotFound / NotFound for what does not exist."""
    version = core.versions.version(feed)
    if version is None:
        raise FeedNotFound(feed)
    key = (feed, tag, page, fmt)
    now = core.now()
    if (hit := core.cache.get(key, version, now)) is not None:
        core.metrics.cache_hits.inc()
        return hit
    core.metrics.cache_misses.inc()
    return _render(core, key, version, now)


def cached(core: Core, feed: str, fmt: str, *, tag: str | None, page: int) -> Rendered | None:
    """The rendered feed if it is in the cache and current; None otherwise (nothing rendered)."""
    version = core.versions.version(feed)
    if version is None:
        return None
    hit = core.cache.get((feed, tag, page, fmt), version, core.now())
    if hit is not None:
        core.metrics.cache_hits.inc()
    return hit


def _render(
    core: Core, key: tuple[str, str | None, int, str], version: int, now: datetime
) -> Rendered:
    feed, tag, page, fmt = key
    with core.reading() as session:
        listing = documents.listing(
            session, feed, tag=tag, number=page, per_page=core.config.feeds.items, now=now
        )
    document = documents.feed_document(
        listing, fmt, core.urls, full_content=core.config.feeds.full_content
    )
    body = formats.RENDERERS[fmt](document)
    core.metrics.feed_renders.labels(fmt).inc()
    rendered = Rendered(
        body=body,
        etag=hashlib.sha256(body).hexdigest()[:32],
        last_modified=max(document.updated_at, listing.feed.changed_at),
        version=version,
        expires_at=listing.page.next_due_at,
    )
    core.cache.put(key, rendered)
    return rendered
