"""Which digests are due and which posts each holds.

The schedule is a sequence of local times ("slots") in [digest] timezone: one
per local day (daily) or per week (weekly). A subscriber is due when the
latest slot at `now` is newer than the last slot handled for them, so each
slot is handled once whatever the clock does: a local time that happens
twice (autumn) or never (spring) still maps to exactly one instant per day.

A digest holds every visible post of the feed that went live after the
subscriber confirmed and is in no earlier digest of theirs; the unique
(subscriber, post) row in `digest_posts` makes "each post in exactly one
digest" a database guarantee, not a hope.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from syndicator import db
from syndicator.config import Config, Digest
from syndicator.core import Core
from syndicator.delivery import queue
from syndicator.mail import subscriptions, transports
from syndicator.models import Channel, DigestPost, Frequency, Post, Subscriber, SubscriberStatus
from syndicator.posts import visibility

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Posts commit a moment after their went_live_at is stamped; look back this far past
# the last slot so a slow commit is never missed (the unique row prevents repeats).
_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class Selection:
    """Which subscribers a run covers; `force` treats all of them as due now."""

    feed: str | None = None
    frequency: Frequency | None = None
    force: bool = False

    def frequencies(self) -> tuple[Frequency, ...]:
        return (self.frequency,) if self.frequency else tuple(Frequency)


def latest_slot(now: datetime, frequency: Frequency, settings: Digest) -> datetime:
    """The most recent scheduled instant at or before `now`, in UTC."""
    zone = ZoneInfo(settings.timezone)
    hour, minute = (int(part) for part in settings.daily_at.split(":"))
    today = now.astimezone(zone).date()
    for days_back in range(9):
        day = today - timedelta(days=days_back)
        if frequency == Frequency.WEEKLY and WEEKDAYS[day.weekday()] != settings.weekly_day:
            continue
        # fold=0: an ambiguous local time means its first occurrence, a missing one
        # means the instant the clock jumped over; either way one instant per day.
        slot = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
        if slot <= now:
            return slot
    raise AssertionError("a slot exists within any nine days")


def plan_due(core: Core, selection: Selection | None = None) -> int:
    """Write a digest row for every due subscriber with something new; the number written."""
    now, config = core.now(), core.config
    selection = selection or Selection()
    written = 0
    for frequency in selection.frequencies():
        slot = now if selection.force else latest_slot(now, frequency, config.digest)
        while True:
            with core.transaction() as session:
                handled, created = plan_batch(
                    session, config, slot=slot, now=now, frequency=frequency, feed=selection.feed
                )
            written += created
            if handled < config.email.batch_size:
                break
    return written


def plan_batch(
    session: Session,
    config: Config,
    *,
    slot: datetime,
    now: datetime,
    frequency: Frequency,
    feed: str | None,
) -> tuple[int, int]:
    """Handle one batch of due subscribers (locked; other workers skip them)."""
    due = _due(session, slot, frequency, feed, config.email.batch_size)
    by_feed: dict[str, list[Due]] = defaultdict(list)
    for subscriber in due:
        by_feed[subscriber.feed_slug].append(subscriber)
    digests: list[tuple[Due, list[Post]]] = []
    for feed_slug, group in by_feed.items():
        digests.extend(_fresh_posts(session, feed_slug, group, now))
    _record(session, config, digests, now)
    if due:
        session.execute(
            update(Subscriber)
            .where(Subscriber.id.in_([subscriber.id for subscriber in due]))
            .values(last_slot_at=slot)
            .execution_options(synchronize_session=False)
        )
    return len(due), len(digests)


class Due(NamedTuple):
    """A due subscriber: just what planning needs (thousands per run, no ORM objects)."""

    id: int
    feed_slug: str
    confirmed_at: datetime
    last_slot_at: datetime | None


def _due(
    session: Session, slot: datetime, frequency: Frequency, feed: str | None, limit: int
) -> list[Due]:
    query = (
        select(
            Subscriber.id, Subscriber.feed_slug, Subscriber.confirmed_at, Subscriber.last_slot_at
        )
        .where(
            Subscriber.status == SubscriberStatus.CONFIRMED,
            Subscriber.frequency == frequency,
            Subscriber.confirmed_at <= slot,
            or_(Subscriber.last_slot_at.is_(None), Subscriber.last_slot_at < slot),
        )
        .order_by(Subscriber.id)
        .limit(limit)
    )
    if feed is not None:
        query = query.where(Subscriber.feed_slug == feed)
    if not db.is_sqlite(session.get_bind()):
        query = query.with_for_update(skip_locked=True)
    return [
        Due(id_, feed_slug, confirmed_at, last_slot_at)
        for id_, feed_slug, confirmed_at, last_slot_at in session.execute(query)
        if confirmed_at is not None  # always: the query compares it with the slot
    ]


def _since(subscriber: Due) -> datetime:
    if subscriber.last_slot_at is None:
        return subscriber.confirmed_at
    return max(subscriber.confirmed_at, subscriber.last_slot_at - _LOOKBACK)


def _fresh_posts(
    session: Session, feed_slug: str, group: list[Due], now: datetime
) -> Iterable[tuple[Due, list[Post]]]:
    """Per subscriber: the feed's visible posts they have not had yet, oldest first."""
    candidates = list(
        session.scalars(
            select(Post)
            .where(
                Post.feed_slug == feed_slug,
                visibility.visible_clause(now),
                Post.went_live_at > min(_since(subscriber) for subscriber in group),
                Post.went_live_at <= now,
            )
            .order_by(Post.went_live_at, Post.id)
        )
    )
    if not candidates:
        return
    taken = set(
        session.execute(
            select(DigestPost.subscriber_id, DigestPost.post_id).where(
                DigestPost.subscriber_id.in_([subscriber.id for subscriber in group]),
                DigestPost.post_id.in_([post.id for post in candidates]),
            )
        )
    )
    for subscriber in group:
        since = _since(subscriber)
        fresh = [
            post
            for post in candidates
            if post.went_live_at is not None
            and post.went_live_at > since
            and (subscriber.id, post.id) not in taken
        ]
        if fresh:
            yield subscriber, fresh


def _record(
    session: Session, config: Config, digests: list[tuple[Due, list[Post]]], now: datetime
) -> None:
    """Queue the digests and bulk-insert the posts each holds (thousands per batch)."""
    if not digests:
        return
    domain = transports.hostname_of(config.email.sender)
    rows = [
        {"subscriber_id": subscriber.id, "message_key": subscriptions.message_id(config, domain)}
        for subscriber, _posts in digests
    ]
    delivery_ids = queue.add_with_ids(session, Channel.MAIL, rows, now)
    session.connection().execute(  # Core, not the ORM bulk path: five rows per digest
        insert(DigestPost),
        [
            {"delivery_id": delivery_id, "post_id": post.id, "subscriber_id": subscriber.id}
            for delivery_id, (subscriber, fresh) in zip(delivery_ids, digests, strict=True)
            for post in fresh
        ],
    )
