"""Static export: every page and feed written as files that mirror the URL paths.

The files are fetched through the app itself, so they are byte-identical to
what the server sends and a CDN or static host can serve the whole blog.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

from flask import Flask

from syndicator.core import Core
from syndicator.feeds import formats, sitemap

FEED_READER_ACCEPT = "application/atom+xml, application/rss+xml, application/feed+json, */*;q=0.1"
SITE_FILES = ("/feeds.opml", "/sitemap.xml", "/robots.txt", "/favicon.ico")
# A feed.toml `icon` that is a URL makes /favicon.ico a redirect: pages link the URL itself.
_MAY_REDIRECT = {"/favicon.ico"}


def export(app: Flask, core: Core, target: Path) -> list[Path]:
    """Write every URL the blog serves under `target`; return the files written."""
    client = app.test_client()
    written = []
    for path in sorted(set(_paths(core))):
        response = client.get(path, headers={"Accept": FEED_READER_ACCEPT})
        if response.status_code == 302 and path in _MAY_REDIRECT:
            continue
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code} during export")
        relative = unquote(path.lstrip("/"))  # a static host decodes the URL to find the file
        file = target / (relative + "index.html" if path.endswith("/") else relative)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(response.get_data())
        written.append(file)
    return written


def _paths(core: Core) -> Iterator[str]:
    urls = core.urls
    yield "/"
    yield from SITE_FILES
    with core.reading() as session:
        feeds = sitemap.walk(session, per_page=core.config.feeds.items, now=core.now())
    for site in feeds:
        slug = site.feed.slug
        for page in site.listings:
            yield urls.listing_path(slug, page.tag, page.number)
            for fmt in formats.FILENAMES:
                yield urls.feed_path(slug, fmt, page.tag, page.number)
        for post_slug, _updated in site.posts:
            yield urls.post_path(slug, post_slug)
