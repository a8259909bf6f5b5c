"""A feed's audience per day: aggregators' subscribers + direct pollers + the channels.

Each source stays visible on its own. Aggregators: per aggregator and day, the
sum of the distinct counts it reported across the feed's URLs (the same count
reported for atom.xml and rss.xml is one audience, not two). Direct pollers:
distinct clients that did not name an aggregator, across all the feed's URLs.
Channels (email, webhooks, WebSub) come from the counts the worker saves each
day (`save_today`), carried forward over days it did not run, and are live
for today.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from syndicator.feeds import catalog
from syndicator.mail import subscriptions
from syndicator.stats import store
from syndicator.urls import Urls
from syndicator.webhooks import endpoints
from syndicator.websub import subscriptions as websub_subscriptions

SOURCES = ("aggregators", "pollers", "email", "webhooks", "websub")
MAX_DAYS = 400


@dataclass
class Day:
    """One feed's figures for one day."""

    day: date
    aggregators: int = 0
    pollers: int = 0
    email: int = 0
    webhooks: int = 0
    websub: int = 0
    by_aggregator: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    full: int = 0
    not_modified: int = 0
    throttled: int = 0
    bytes_sent: int = 0

    @property
    def audience(self) -> int:
        return sum(self.source(name) for name in SOURCES)

    def source(self, name: str) -> int:
        value: int = getattr(self, name)
        return value

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "audience": self.audience,
            **{name: self.source(name) for name in SOURCES},
            "by_aggregator": dict(sorted(self.by_aggregator.items())),
            "requests": self.requests,
            "ok": self.full,
            "not_modified": self.not_modified,
            "throttled": self.throttled,
            "bytes_sent": self.bytes_sent,
        }


def channels_now(session: Session, urls: Urls, now: datetime) -> dict[str, tuple[int, int, int]]:
    """(email, webhooks, WebSub) of every feed, counted now."""
    feeds = [feed.slug for feed in catalog.all_feeds(session)]
    email = subscriptions.confirmed_per_feed(session)
    hooks = endpoints.active_per_feed(session, feeds)
    websub = websub_subscriptions.live_per_feed(session, urls, now)
    return {feed: (email.get(feed, 0), hooks[feed], websub.get(feed, 0)) for feed in feeds}


def save_today(session: Session, urls: Urls, now: datetime, today: date) -> None:
    """Keep today's channel counts, so later days can show them (the worker calls this)."""
    store.save_channels(session, today, channels_now(session, urls, now))


def series(
    session: Session,
    feed: str,
    *,
    last: date,
    days: int,
    live: dict[str, tuple[int, int, int]] | None = None,
) -> list[Day]:
    """`days` days of a feed ending on day `last`, oldest first; FeedNotFound for an
    unknown feed. `live` (`channels_now`) replaces the saved channel counts of the last
    day: pass it when that day is today, not for a period that ended before."""
    catalog.get(session, feed)
    since = last - timedelta(days=days - 1)
    found = {since + timedelta(days=n): Day(since + timedelta(days=n)) for n in range(days)}
    for row in store.traffic(session, feed, since, last):
        day = found[row.day]
        day.requests += row.requests
        day.full += row.full
        day.not_modified += row.not_modified
        day.throttled += row.throttled
        day.bytes_sent += row.bytes_sent
    for when, sketch in store.pollers(session, feed, since, last).items():
        found[when].pollers = sketch.count()
    _add_aggregators(found, store.reports(session, feed, since, last))
    saved = store.channels(session, feed, since - timedelta(days=MAX_DAYS), last)
    if live is not None:
        saved[last] = live.get(feed, (0, 0, 0))
    _add_channels(found, saved)
    return [found[day] for day in sorted(found)]


def _add_aggregators(found: dict[date, Day], reports: Any) -> None:
    counts: dict[tuple[date, str], set[int]] = defaultdict(set)
    for day, aggregator, subscribers in reports:
        counts[day, aggregator].add(subscribers)
    for (day, aggregator), values in counts.items():
        found[day].by_aggregator[aggregator] = sum(values)
        found[day].aggregators += sum(values)


def _add_channels(found: dict[date, Day], saved: dict[date, tuple[int, int, int]]) -> None:
    """Each day's saved channel counts, carried forward over days without."""
    known = (0, 0, 0)
    for when in sorted(set(saved) | set(found)):
        known = saved.get(when, known)
        if when in found:
            found[when].email, found[when].webhooks, found[when].websub = known


def current(session: Session, urls: Urls, now: datetime, today: date) -> dict[str, Day]:
    """Today's figures of every feed (the Prometheus gauges)."""
    live = channels_now(session, urls, now)
    return {feed: series(session, feed, last=today, days=1, live=live)[0] for feed in live}
