"""Helpers for the audience tests: a blog with tags and pages, requests as a client sends them."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from factories import add_endpoint, add_subscriber, import_folder
from sqlalchemy import select

from syndicator.core import Core
from syndicator.models import AggregatorCount, ChannelCount, FeedPollers, FeedTraffic
from syndicator.stats import flusher

FEEDLY = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; {} subscribers; )"
NEWSBLUR = (
    "NewsBlur Feed Fetcher - {} subscribers - https://www.newsblur.com/site/1/news (Mozilla/5.0)"
)
INOREADER = "Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; {} subscribers; )"
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


SHIPPED_BLOG = Path(__file__).parent.parent / "feeds"
SHIPPED_FEED = "from-the-waters"
_AGENTS = (
    "Mozilla/5.0 (compatible; Miniflux/2.2.3; +https://miniflux.app)",
    "NetNewsWire (RSS Reader; https://netnewswire.com/)",
    "Tiny Tiny RSS/24.02 (https://tt-rss.org/)",
    "FreshRSS/1.23.1 (Linux; https://freshrss.org)",
)


def audience_days(app: Any, clock: Any, feed: str, days: int = 30) -> None:
    """`days` days of a growing audience, one flush and one worker upkeep per day, ending on
    the clock's day: aggregators polling two formats, direct readers (some with a 304),
    email subscribers and a webhook arriving. Seeded, so every run makes the same figures."""
    core = app.extensions["syndicator"]
    generator = random.Random(2026)
    clock.advance(days=-(days - 1))
    for day in range(days):
        for path in (f"/{feed}/atom.xml", f"/{feed}/rss.xml"):
            fetch(app, path, agent=FEEDLY.format(40 + 2 * day), address="192.0.2.10")
            fetch(app, path, agent=NEWSBLUR.format(3 + day // 8), address="192.0.2.20")
        inoreader = (
            f"Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; {9 + day // 3} subscribers; )"
        )
        fetch(app, f"/{feed}/atom.xml", agent=inoreader, address="192.0.2.30")
        for reader in range(12 + day // 2 + generator.randrange(4)):
            agent, path = (
                _AGENTS[reader % 4],
                f"/{feed}/{('atom.xml', 'rss.xml', 'feed.json')[reader % 3]}",
            )
            first = fetch(app, path, agent=agent, address=f"203.0.113.{reader}")
            fetch(
                app,
                path,
                agent=agent,
                address=f"203.0.113.{reader}",
                if_none_match=first.headers["ETag"],
            )
        if day % 6 == 2:
            add_subscriber(core, f"reader{day}@example.org", feed=feed)
        if day == 10:
            add_endpoint(core, "http://127.0.0.1:9/hooks/new-posts")
        flusher.flush(core)
        flusher.upkeep(core)
        if day < days - 1:
            clock.advance(days=1)
