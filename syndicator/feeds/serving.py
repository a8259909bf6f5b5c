"""Feeds and pages as bytes, rendered once per feed version and served from cache.

A key names one document: (feed, tag, page number or post slug, kind), kind
being a feed format or "html" (a list page) or "post" (a post's page); the
site files made from every feed are keyed by the whole site (`cache.SITE`, None,
file name, kind). The HTML pages and site files are rendered by the web client;
this module only decides when.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from syndicator.core import Core
from syndicator.errors import FeedNotFound
from syndicator.feeds import documents, formats
from syndicator.feeds.cache import Rendered

Key = tuple[str, str | None, int | str, str]


@dataclass(frozen=True)
class Made:
    """What a renderer returns: the bytes, their date, and when they go stale by themselves
    (a scheduled post comes due)."""

    body: bytes
    last_modified: datetime
    expires_at: datetime | None
    links: str | None = None  # WebSub discovery of a topic (a feed's page 1)
    parts: tuple[bytes, ...] = ()  # documents made with this one (`Rendered.parts`)


Renderer = Callable[[datetime], Made]


def rendered(core: Core, key: Key, render: Renderer) -> Rendered:
    """The document at `key`, rendered by `render(now)` unless current in the cache;
    FeedNotFound when the feed does not exist, or whatever `render` raises."""
    version = core.versions.version(key[0])
    if version is None:
        raise FeedNotFound(key[0])
    now = core.now()
    if (hit := core.cache.get(key, version, now)) is not None:
        core.metrics.cache_hits.inc()
        return hit
    core.metrics.cache_misses.inc()
    return keep(core, key, version, render(now))


def keep(core: Core, key: Key, version: int, made: Made) -> Rendered:
    """Cache what a renderer made from data read at `version` (read before the data was).

    `rendered` keeps what it renders; the export keeps what it rendered ahead, many
    documents from one read, so its requests find them (`web/export.py`).
    """
    core.metrics.feed_renders.labels(key[3]).inc()
    fresh = Rendered(
        body=made.body,
        etag=_etag(made.body),
        last_modified=made.last_modified,
        version=version,
        expires_at=made.expires_at,
        links=made.links,
        parts=tuple(
            Rendered(part, _etag(part), made.last_modified, version, made.expires_at)
            for part in made.parts
        ),
    )
    core.cache.put(key, fresh)
    return fresh


def _etag(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def cached(core: Core, key: Key) -> Rendered | None:
    """The document if it is in the cache and current; None otherwise (nothing rendered)."""
    version = core.versions.version(key[0])
    if version is None:
        return None
    hit = core.cache.get(key, version, core.now())
    if hit is not None:
        core.metrics.cache_hits.inc()
    return hit


def feed_bytes(
    core: Core, feed: str, fmt: str, *, tag: str | None = None, page: int = 1
) -> Rendered:
    """The rendered feed; FeedNotFound / NotFound for what does not exist."""

    def render(now: datetime) -> Made:
        with core.reading() as session:
            listing = documents.listing(
                session, feed, tag=tag, number=page, per_page=core.config.feeds.items, now=now
            )
        return feed_made(core, listing, fmt)

    return rendered(core, (feed, tag, page, fmt), render)


def feed_key(listing: documents.Listing, fmt: str) -> Key:
    return (listing.feed.slug, listing.tag, listing.page.number, fmt)


def feed_made(core: Core, listing: documents.Listing, fmt: str) -> Made:
    """The feed document of a loaded listing in one format: the one feed renderer."""
    document = documents.feed_document(
        listing, fmt, core.urls, full_content=core.config.feeds.full_content
    )
    body = formats.RENDERERS[fmt](document)
    page, feed, tag = listing.page.number, listing.feed.slug, listing.tag
    links = core.urls.hub_links(core.urls.feed(feed, fmt, tag)) if page == 1 else None
    return Made(body, documents.last_modified(listing), listing.page.next_due_at, links)
