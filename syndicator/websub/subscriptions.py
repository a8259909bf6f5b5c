"""The `websub_subscriptions` table: requests, verification results, leases, removal.

A request changes nothing by itself: it creates a pending row when the pair
(topic, callback) is new and queues a verification carrying what was asked.
Only a verified subscribe sets the lease and the secret (`confirm`), so a
third party cannot change or end someone's subscription.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, and_, exc, or_, select
from sqlalchemy.orm import Session

from syndicator import paging
from syndicator.delivery import queue
from syndicator.errors import NotFound
from syndicator.models import Channel, WebSubStatus, WebSubSubscription, is_valid_id
from syndicator.urls import Urls
from syndicator.websub import topics
from syndicator.websub.intake import Mode, Request

VERIFY_PREFIX = "websub-verify-"
_BY_ID = paging.Keyset((WebSubSubscription.id,))


@dataclass(frozen=True)
class Verification:
    """What one verification asks the callback to confirm (kept in its message)."""

    mode: Mode
    challenge: str
    lease_seconds: int
    secret: str | None

    def encode(self) -> bytes:
        return json.dumps(
            {
                "mode": self.mode,
                "challenge": self.challenge,
                "lease_seconds": self.lease_seconds,
                "secret": self.secret,
            }
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Verification:
        fields = json.loads(raw)
        return cls(
            Mode(fields["mode"]), fields["challenge"], fields["lease_seconds"], fields["secret"]
        )


def live(now: datetime) -> ColumnElement[bool]:
    """Active with a lease still running: the subscriptions that are notified."""
    return and_(
        WebSubSubscription.status == WebSubStatus.ACTIVE,
        WebSubSubscription.lease_expires_at > now,
    )


def request(session: Session, asked: Request, now: datetime) -> int | None:
    """Queue the verification of a request; the subscription's id (None: nothing to end)."""
    found = _find(session, asked.topic.url, asked.callback)
    if found is None:
        if asked.mode == Mode.UNSUBSCRIBE:
            return None
        found = _create(session, asked, now)
    verification = Verification(
        asked.mode, secrets.token_urlsafe(32), asked.lease_seconds, asked.secret
    )
    row = {
        "websub_subscription_id": found.id,
        "message_key": VERIFY_PREFIX + secrets.token_urlsafe(16),
        "raw": verification.encode(),
    }
    queue.add(session, Channel.WEBSUB, [row], now)
    return found.id


def _find(session: Session, topic: str, callback: str) -> WebSubSubscription | None:
    return session.scalars(
        select(WebSubSubscription).where(
            WebSubSubscription.topic == topic, WebSubSubscription.callback == callback
        )
    ).first()


def _create(session: Session, asked: Request, now: datetime) -> WebSubSubscription:
    """A pending row; a concurrent request for the same pair may have made it first."""
    row = WebSubSubscription(
        topic=asked.topic.url, callback=asked.callback, created_at=now, updated_at=now
    )
    row.status = WebSubStatus.PENDING
    try:
        with session.begin_nested():
            session.add(row)
    except exc.IntegrityError:
        found = _find(session, asked.topic.url, asked.callback)
        assert found is not None
        return found
    return row


def confirm(session: Session, subscription_id: int, verified: Verification, now: datetime) -> None:
    """The callback confirmed: a subscribe takes its lease and secret, an unsubscribe ends."""
    found = session.get(WebSubSubscription, subscription_id)
    if found is None:
        return
    found.updated_at = now
    if verified.mode == Mode.UNSUBSCRIBE:
        found.status = WebSubStatus.UNSUBSCRIBED
        found.lease_expires_at = None
        return
    found.status = WebSubStatus.ACTIVE
    found.secret = verified.secret
    found.lease_seconds = verified.lease_seconds
    found.lease_expires_at = now + timedelta(seconds=verified.lease_seconds)


def not_confirmed(session: Session, subscription_id: int, now: datetime) -> None:
    """The callback did not confirm: a request never verified stays inactive for good."""
    found = session.get(WebSubSubscription, subscription_id)
    if found is not None and found.status == WebSubStatus.PENDING:
        found.status = WebSubStatus.UNVERIFIED
        found.updated_at = now


def end(session: Session, subscription_id: int, status: WebSubStatus, now: datetime) -> None:
    """The callback asked us to stop (410): no more notifications."""
    found = session.get(WebSubSubscription, subscription_id)
    if found is not None:
        found.status = status
        found.lease_expires_at = None
        found.updated_at = now


def watched_topics(session: Session, now: datetime) -> list[str]:
    """Topics someone is subscribed to or asking to be: each change of these is noticed."""
    waiting = WebSubSubscription.status == WebSubStatus.PENDING
    query = select(WebSubSubscription.topic).where(or_(live(now), waiting)).distinct()
    return list(session.scalars(query))


def live_ids(session: Session, topic: str, now: datetime, batch: int) -> Iterator[list[int]]:
    """The live subscriptions of a topic, `batch` ids at a time: memory stays flat."""
    query = select(WebSubSubscription.id).where(WebSubSubscription.topic == topic, live(now))
    after = 0
    while ids := list(
        session.scalars(
            query.where(WebSubSubscription.id > after).order_by(WebSubSubscription.id).limit(batch)
        )
    ):
        yield ids
        after = ids[-1]


def targets(session: Session, ids: set[int]) -> dict[int, Any]:
    """What sending to these subscriptions takes, as plain rows by id."""
    rows = session.execute(
        select(
            WebSubSubscription.id,
            WebSubSubscription.topic,
            WebSubSubscription.callback,
            WebSubSubscription.status,
            WebSubSubscription.secret,
            WebSubSubscription.lease_expires_at,
        ).where(WebSubSubscription.id.in_(ids))
    )
    return {row.id: row for row in rows}


def status_of(subscription: WebSubSubscription | Any, now: datetime) -> WebSubStatus:
    """The stored status, or `expired` for an active one whose lease ended."""
    expires = subscription.lease_expires_at
    if subscription.status == WebSubStatus.ACTIVE and (expires is None or expires <= now):
        return WebSubStatus.EXPIRED
    return WebSubStatus(subscription.status)


def get(session: Session, subscription_id: int) -> WebSubSubscription:
    found = (
        session.get(WebSubSubscription, subscription_id) if is_valid_id(subscription_id) else None
    )
    if found is None:
        raise NotFound(f"no WebSub subscription {subscription_id}")
    return found


def page(session: Session, window: paging.Window) -> tuple[list[WebSubSubscription], str | None]:
    """Subscriptions in id order, and the cursor of the next page."""
    return _BY_ID.page(session, select(WebSubSubscription), window)


def remove(session: Session, subscription: WebSubSubscription) -> None:
    """Delete a subscription and its messages (the callback is not asked)."""
    queue.remove_target(session, Channel.WEBSUB, subscription.id)
    session.delete(subscription)


def counts(session: Session, now: datetime) -> Counter[str]:
    """Subscriptions by status (expired counted apart from active), for the metrics."""
    running = WebSubSubscription.lease_expires_at > now
    rows = session.execute(
        select(WebSubSubscription.status, running, sa.func.count()).group_by(
            WebSubSubscription.status, running
        )
    )
    found: Counter[str] = Counter()
    for status, lease_running, count in rows:
        expired = status == WebSubStatus.ACTIVE and not lease_running
        found[WebSubStatus.EXPIRED if expired else status] += count
    return found


def live_per_feed(session: Session, urls: Urls, now: datetime) -> Counter[str]:
    """Live subscriptions per feed, over all its topics (formats, tags): the audience's
    WebSub figure. A topic that no longer parses (the base URL changed) counts for none."""
    query = (
        select(WebSubSubscription.topic, sa.func.count())
        .where(live(now))
        .group_by(WebSubSubscription.topic)
    )
    found: Counter[str] = Counter()
    for topic, count in session.execute(query):
        if (parsed := topics.parse(urls, topic)) is not None:
            found[parsed.feed] += count
    return found
