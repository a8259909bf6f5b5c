"""Helpers for the audience tests: a blog with tags and pages, requests as a client sends them."""

from __future__ import annotations

from typing import Any

from factories import import_folder
from sqlalchemy import select

from syndicator.core import Core
from syndicator.models import AggregatorCount, ChannelCount, FeedPollers, FeedTraffic
from syndicator.stats import flusher

FEEDLY = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; {} subscribers; )"
NEWSBLUR = (
    "NewsBlur Feed Fetcher - {} subscribers - https://www.newsblur.com/site/1/news (Mozilla/5.0)"
)
READER = "Mozilla/5.0 (compatible; Miniflux/2.2.3; +https://miniflux.app)"
TABLES = (FeedTraffic, FeedPollers, AggregatorCount, ChannelCount)


def three_posts(blog: Any, core: Core) -> None:
    """Feed `news`: three posts tagged Tips (two pages of two)."""
    for number in range(1, 4):
        blog.post(f"p{number}", tags=["Tips"], date=f"2026-01-0{number}T00:00:00Z")
    import_folder(core, blog.root)


def fetch(
    app: Any, path: str, *, agent: str = READER, address: str = "198.51.100.7", **headers: str
) -> Any:
    """A GET (or `method=`) as a client at `address` sends it; headers by WSGI name."""
    method = headers.pop("method", "GET")
    environ = {"REMOTE_ADDR": address, "HTTP_USER_AGENT": agent}
    environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    return app.test_client().open(path, method=method, environ_overrides=environ)


def rows(core: Core, table: Any) -> list[Any]:
    """Every row of a stats table, flushed first."""
    flusher.flush(core)
    with core.reading() as session:
        return list(session.scalars(select(table)))


def traffic(core: Core) -> dict[tuple[str, str, int], FeedTraffic]:
    """(tag, format, page) -> the row, for feed `news`."""
    return {(row.tag, row.format, row.page): row for row in rows(core, FeedTraffic)}
