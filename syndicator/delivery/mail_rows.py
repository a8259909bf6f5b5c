"""The mail queue's SQL: claiming due messages, and each state change as one UPDATE.

Every change names the message and the lease holder, so only the run that
holds a message's lease can move it on; a run whose lease ran out changes
nothing. The statements are built once and executed with parameters.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session

from syndicator import db
from syndicator.models import MailMessage, MailStatus, Subscriber, UTCDateTime


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(MailMessage.lease_until.is_(None), MailMessage.lease_until < now)


def claim(
    session: Session,
    *,
    now: datetime,
    owner: str,
    lease_until: datetime,
    limit: int,
    feed: str | None = None,
    frequency: str | None = None,
) -> list[int]:
    """Lease up to `limit` due messages to `owner`, oldest first; their ids."""
    query = (
        select(MailMessage.id)
        .where(
            MailMessage.status.in_((MailStatus.PENDING, MailStatus.SENDING)),
            MailMessage.next_attempt_at <= now,
            _lease_free(now),
        )
        .order_by(MailMessage.id)
        .limit(limit)
    )
    if feed is not None or frequency is not None:
        query = query.join(Subscriber, Subscriber.id == MailMessage.subscriber_id)
        if feed is not None:
            query = query.where(Subscriber.feed_slug == feed)
        if frequency is not None:
            query = query.where(Subscriber.frequency == frequency)
    if not db.is_sqlite(session.get_bind()):
        query = query.with_for_update(of=MailMessage, skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return []
    # The lease condition again: without row locks (SQLite) a rival run may have won.
    claimed = session.scalars(
        update(MailMessage)
        .where(MailMessage.id.in_(ids), _lease_free(now))
        .values(lease_owner=owner, lease_until=lease_until)
        .returning(MailMessage.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed)


# Parameters of every change: mail_id and owner (the lease holder).
_MINE = (
    MailMessage.id == bindparam("mail_id"),
    MailMessage.lease_owner == bindparam("owner"),
    # Spelled out rather than IN (...), which SQLAlchemy re-expands on every execution.
    or_(MailMessage.status == MailStatus.PENDING, MailMessage.status == MailStatus.SENDING),
)
_RELEASE = {"lease_owner": None, "lease_until": None}
# In flight, if the subscriber still has the status `required` (still wants it).
START = (
    update(MailMessage)
    .where(
        *_MINE,
        exists().where(
            Subscriber.id == MailMessage.subscriber_id,
            Subscriber.status == bindparam("required"),
        ),
    )
    .values(status=MailStatus.SENDING, attempts=MailMessage.attempts + 1)
)
# Accepted by the server at `at`.
SENT = (
    update(MailMessage)
    .where(*_MINE)
    .values(
        status=MailStatus.SENT,
        sent_at=bindparam("at", type_=UTCDateTime()),
        raw=None,
        last_error=None,
        **_RELEASE,
    )
)
BOUNCES_FORGIVEN = (
    update(Subscriber).where(Subscriber.id == bindparam("subscriber_id")).values(bounce_count=0)
)
SKIP = update(MailMessage).where(*_MINE).values(status=MailStatus.SKIPPED, raw=None, **_RELEASE)
# Back to the queue until `retry_at`, with the `reason`.
DEFER = (
    update(MailMessage)
    .where(*_MINE)
    .values(
        status=MailStatus.PENDING,
        next_attempt_at=bindparam("retry_at", type_=UTCDateTime()),
        last_error=bindparam("reason"),
        **_RELEASE,
    )
)
# Refused for good, with the `reason`.
FAIL = (
    update(MailMessage)
    .where(*_MINE)
    .values(status=MailStatus.FAILED, raw=None, last_error=bindparam("reason"), **_RELEASE)
)
