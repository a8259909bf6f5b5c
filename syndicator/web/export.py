"""Static export: every page and feed written as files that mirror the URL paths.

The files are fetched through the app itself, so they are byte-identical to
what the server sends and a CDN or static host can serve the whole blog.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

from flask import Flask
from sqlalchemy.orm import Session

from syndicator.core import Core
from syndicator.feeds import catalog, formats
from syndicator.posts import store

FEED_READER_ACCEPT = "application/atom+xml, application/rss+xml, application/feed+json, */*;q=0.1"


def export(app: Flask, core: Core, target: Path) -> list[Path]:
    """Write every URL the blog serves under `target`; return the files written."""
    client = app.test_client()
    written = []
    for path in sorted(set(_paths(core))):
        response = client.get(path, headers={"Accept": FEED_READER_ACCEPT})
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code} during export")
        relative = unquote(path.lstrip("/"))  # a static host decodes the URL to find the file
        file = target / (relative + "index.html" if path.endswith("/") else relative)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(response.get_data())
        written.append(file)
    return written


def _paths(core: Core) -> Iterator[str]:
    urls, per_page, now = core.urls, core.config.feeds.items, core.now()
    yield "/"
    with core.reading() as session:
        for feed in catalog.all_feeds(session):
            listings: list[tuple[str | None, int]] = [
                (None, _page_count(session, feed.slug, None, per_page, now))
            ]
            listings += [
                (tag, _page_count(session, feed.slug, tag, per_page, now))
                for tag, _name in store.tags(session, feed.slug, now)
            ]
            for tag, pages in listings:
                for number in range(1, pages + 1):
                    yield urls.listing_path(feed.slug, tag, number)
                    for fmt in formats.FILENAMES:
                        yield urls.feed_path(feed.slug, fmt, tag, number)
            for post in store.visible(session, feed.slug, now):
                yield urls.post_path(feed.slug, post.slug)


def _page_count(session: Session, feed: str, tag: str | None, per_page: int, now: datetime) -> int:
    return store.page(session, feed, number=1, per_page=per_page, now=now, tag=tag).total_pages
