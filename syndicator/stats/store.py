"""Every statement on the stats tables: the flush's upserts, the reads, the pruning.

Several processes (and machines) flush into the same rows, so counters are
added in the database (`requests = requests + excluded.requests`), an
aggregator's count replaces the stored one only when it was seen later, and a
poller sketch is merged under a row lock (`FOR UPDATE`; SQLite's writers
already take turns).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import CursorResult, Row, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from syndicator.models import AggregatorCount, ChannelCount, FeedPollers, FeedTraffic
from syndicator.stats.distinct import Sketch
from syndicator.stats.tally import BYTES, FULL, NOT_MODIFIED, REQUESTS, THROTTLED, Batch, FeedUrl

_TRAFFIC = cast(Table, FeedTraffic.__table__)
_POLLERS = cast(Table, FeedPollers.__table__)
_AGGREGATORS = cast(Table, AggregatorCount.__table__)
_CHANNELS = cast(Table, ChannelCount.__table__)
_URL_KEY = ("day", "feed", "tag", "format", "page")
_COUNTERS = {
    "requests": REQUESTS,
    "full": FULL,
    "not_modified": NOT_MODIFIED,
    "throttled": THROTTLED,
    "bytes_sent": BYTES,
}
_DIALECTS = {"sqlite": sqlite, "postgresql": postgresql}


def _insert(session: Session, table: Table) -> Any:
    return _DIALECTS[session.get_bind().dialect.name].insert(table)


def _url_values(day: date, url: FeedUrl) -> dict[str, Any]:
    return {"day": day, "feed": url.feed, "tag": url.tag, "format": url.format, "page": url.page}


def write(session: Session, batch: Batch) -> None:
    """Add one process's batch to the stored counts (keys in order: no lock-order deadlock)."""
    if batch.traffic:
        _add_traffic(session, batch)
    if batch.reports:
        _keep_latest_reports(session, batch)
    for (day, url), sketch in sorted(batch.pollers.items()):
        _merge_pollers(session, day, url, sketch)


def _add_traffic(session: Session, batch: Batch) -> None:
    rows = [
        {**_url_values(day, url), **{name: counts[i] for name, i in _COUNTERS.items()}}
        for (day, url), counts in sorted(batch.traffic.items())
    ]
    insert = _insert(session, _TRAFFIC)
    added = {name: _TRAFFIC.c[name] + insert.excluded[name] for name in _COUNTERS}
    session.execute(insert.on_conflict_do_update(index_elements=_URL_KEY, set_=added), rows)


def _keep_latest_reports(session: Session, batch: Batch) -> None:
    rows = [
        {**_url_values(day, url), "aggregator": name, "subscribers": count, "seen_at": seen_at}
        for (day, url, name), (count, seen_at) in sorted(batch.reports.items())
    ]
    insert = _insert(session, _AGGREGATORS)
    statement = insert.on_conflict_do_update(
        index_elements=(*_URL_KEY, "aggregator"),
        set_={"subscribers": insert.excluded.subscribers, "seen_at": insert.excluded.seen_at},
        where=insert.excluded.seen_at >= _AGGREGATORS.c.seen_at,
    )
    session.execute(statement, rows)


def _merge_pollers(session: Session, day: date, url: FeedUrl, sketch: Sketch) -> None:
    key = _url_values(day, url)
    empty = Sketch().to_bytes()
    session.execute(
        _insert(session, _POLLERS).on_conflict_do_nothing(index_elements=_URL_KEY),
        {**key, "sketch": empty},
    )
    match = [_POLLERS.c[name] == value for name, value in key.items()]
    stored = session.execute(select(_POLLERS.c.sketch).where(*match).with_for_update()).scalar()
    merged = Sketch.from_bytes(stored or empty)
    merged.merge(sketch)
    session.execute(update(_POLLERS).where(*match).values(sketch=merged.to_bytes()))


def save_channels(session: Session, day: date, counts: dict[str, tuple[int, int, int]]) -> None:
    """Today's channel audience per feed (email, webhooks, WebSub), replacing earlier counts."""
    if not counts:
        return
    rows = [
        {"day": day, "feed": feed, "email": email, "webhooks": hooks, "websub": websub}
        for feed, (email, hooks, websub) in sorted(counts.items())
    ]
    insert = _insert(session, _CHANNELS)
    replaced = {name: insert.excluded[name] for name in ("email", "webhooks", "websub")}
    session.execute(
        insert.on_conflict_do_update(index_elements=("day", "feed"), set_=replaced), rows
    )


def prune(session: Session, before: date) -> int:
    """Delete every row of a day before `before`; how many went."""
    removed = 0
    for table in (_TRAFFIC, _POLLERS, _AGGREGATORS, _CHANNELS):
        result = session.execute(delete(table).where(table.c.day < before))
        removed += cast(CursorResult[Any], result).rowcount
    return removed


def _between(table: Table, feed: str, first: date, last: date) -> tuple[Any, ...]:
    return (table.c.feed == feed, table.c.day >= first, table.c.day <= last)


def traffic(session: Session, feed: str, first: date, last: date) -> Sequence[Row[Any, Any, Any]]:
    """Every URL's counters of a feed from day `first` to day `last`."""
    columns = [_TRAFFIC.c[name] for name in (*_URL_KEY, *_COUNTERS)]
    query = select(*columns).where(*_between(_TRAFFIC, feed, first, last))
    return session.execute(query.order_by(*columns[:5])).all()


def pollers(session: Session, feed: str, first: date, last: date) -> dict[date, Sketch]:
    """Distinct direct pollers of a feed per day: the union of its URLs' sketches."""
    query = select(_POLLERS.c.day, _POLLERS.c.sketch).where(*_between(_POLLERS, feed, first, last))
    days: dict[date, Sketch] = {}
    for day, stored in session.execute(query):
        days.setdefault(day, Sketch()).merge(Sketch.from_bytes(stored))
    return days


def reports(session: Session, feed: str, first: date, last: date) -> Sequence[Row[Any, Any, Any]]:
    """(day, aggregator, subscribers) of every URL of a feed, one row per URL."""
    columns = (_AGGREGATORS.c.day, _AGGREGATORS.c.aggregator, _AGGREGATORS.c.subscribers)
    query = select(*columns).where(*_between(_AGGREGATORS, feed, first, last))
    return session.execute(query).all()


def channels(
    session: Session, feed: str, first: date, last: date
) -> dict[date, tuple[int, int, int]]:
    """The saved channel counts (email, webhooks, WebSub) of a feed per day."""
    query = select(
        _CHANNELS.c.day, _CHANNELS.c.email, _CHANNELS.c.webhooks, _CHANNELS.c.websub
    ).where(*_between(_CHANNELS, feed, first, last))
    return {day: (email, hooks, websub) for day, email, hooks, websub in session.execute(query)}
