"""The outbound queue's SQL, for every channel: add, claim with a lease, record.

The database is the queue: one `deliveries` row per message and one
`delivery_attempts` row per try. A claim leases due messages to one run of a
worker. On PostgreSQL it locks them FOR UPDATE SKIP LOCKED, so any number of
workers share the queue without taking the same message; on SQLite every
write transaction begins IMMEDIATE, so claims simply take turns. A lease is
free when it ran out or when its owner stopped beating (`heartbeats`).

Every change a run makes to a message it claimed is fenced by the claim
(`WHERE id = :id AND lease_owner = :me AND still in flight`): a run that lost
its claim changes nothing, and the caller is told so.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from syndicator import db, paging
from syndicator.errors import Conflict, NotFound
from syndicator.models import (
    IN_FLIGHT,
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    UTCDateTime,
    WorkerBeat,
    is_valid_id,
)

GONE = "HTTP 410 Gone"  # last_error of a message its receiver refused with 410


_TARGETS = {
    Channel.WEBHOOK: Delivery.endpoint_id,
    Channel.MAIL: Delivery.subscriber_id,
    Channel.WEBSUB: Delivery.websub_subscription_id,
    Channel.WEBSUB_PING: Delivery.websub_hub_id,
}


def target_of(channel: Channel) -> sa.orm.InstrumentedAttribute[int | None]:
    """The column naming a message's target: its endpoint, subscriber or WebSub subscription."""
    return _TARGETS[channel]


@dataclass(frozen=True)
class Claimed:
    """A leased message, detached from the session: what the channel needs to send it."""

    id: int
    target_id: int
    event_id: int | None
    message_key: str
    attempts_before: int
    raw: bytes | None
    created_at: datetime
    content_id: int | None = None  # WebSub: the topic bytes it carries


@dataclass(frozen=True)
class Lease:
    owner: str
    until: datetime


# --- adding messages -----------------------------------------------------------------------


def add(session: Session, channel: Channel, rows: list[dict[str, Any]], now: datetime) -> None:
    """Queue messages due now (each row: its target, message_key, and what else it has)."""
    if rows:
        # Core, not the ORM bulk path: thousands of rows per digest batch.
        session.connection().execute(insert(Delivery), _filled(channel, rows, now))


def add_with_ids(
    session: Session, channel: Channel, rows: list[dict[str, Any]], now: datetime
) -> list[int]:
    """`add`, returning the new messages' ids in the order of `rows`.

    Read back by their unique message_key: an INSERT ... RETURNING in the rows'
    order makes SQLAlchemy insert one row per statement on SQLite.
    """
    if not rows:
        return []
    add(session, channel, rows, now)
    keys = [row["message_key"] for row in rows]
    ids = {key: id_ for key, id_ in session.execute(_IDS_OF_KEYS, {"keys": keys})}
    return [ids[key] for key in keys]


_IDS_OF_KEYS = select(Delivery.message_key, Delivery.id).where(
    Delivery.message_key.in_(bindparam("keys", expanding=True))
)


def _filled(channel: Channel, rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    defaults = {
        "channel": channel,
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "event_id": None,
        "order_key": None,
        "raw": None,
    }
    return [{**defaults, **row} for row in rows]


def drop_waiting_raw(session: Session, channel: Channel, target_id: int) -> None:
    """Drop the target's messages that wait with bytes of their own and are not on the
    wire: the message about to be queued replaces them (a confirmation whose link a
    newer request made stale). A run that had claimed one finds it gone and skips it."""
    session.execute(
        delete(Delivery)
        .where(
            Delivery.channel == channel,
            target_of(channel) == target_id,
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.raw.is_not(None),
        )
        .execution_options(synchronize_session=False)
    )


# --- claiming ------------------------------------------------------------------------------


def _free(now: datetime, stale_before: datetime) -> ColumnElement[bool]:
    """The lease ran out, or its owner's worker stopped beating."""
    alive = exists().where(
        WorkerBeat.owner == Delivery.lease_owner, WorkerBeat.beat_at >= stale_before
    )
    return or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now, ~alive)


_EARLIER = aliased(Delivery, name="earlier")


def _first_in_order() -> ColumnElement[bool]:
    """No earlier event with the same order key is still waiting (per endpoint and post)."""
    earlier = _EARLIER
    return ~exists().where(
        earlier.order_key == Delivery.order_key,
        earlier.event_id < Delivery.event_id,
        earlier.status.in_(IN_FLIGHT),
    )


def claim(
    session: Session,
    channel: Channel,
    *,
    now: datetime,
    lease: Lease,
    stale_before: datetime,
    limit: int,
    targets: sa.Select[Any] | None = None,
    per_target: int | None = None,
    busy: Counter[int] | None = None,
    ids: Iterable[int] | None = None,
    waiting: Sequence[DeliveryStatus] = IN_FLIGHT,
    due_by: datetime | None = None,
) -> list[Claimed]:
    """Lease up to `limit` due messages of `channel` to `lease.owner`, oldest due first.

    `waiting`: the statuses a claimable message has (a channel that never marks
    its messages `sending` finds none there to recover).

    `targets` limits the claim to those targets (e.g. active endpoints); at most
    `per_target` messages of one target are in flight, counting `busy`. A run
    never takes again what it already attempted: a retry due at once waits for
    the next run. `due_by` (default `now`): only messages due by then, so a run
    that began then ends even while new messages keep arriving.
    """
    target = target_of(channel)
    query = (
        select(Delivery.id, target.label("target_id"))
        .where(
            Delivery.channel == channel,
            Delivery.next_attempt_at <= (due_by or now),
            _free(now, stale_before),
            or_(Delivery.lease_owner.is_(None), Delivery.lease_owner != lease.owner),
            or_(Delivery.order_key.is_(None), _first_in_order()),
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit * 4 if per_target else limit)
    )
    if targets is not None:
        query = query.where(target.in_(targets))
    if ids is not None:
        query = query.where(Delivery.id.in_(list(ids)))
    if not db.is_sqlite(session.get_bind()):
        query = query.with_for_update(skip_locked=True, of=Delivery)
    # One query per status (in doubt first), each an ordered walk of the (channel,
    # status, due) index that stops at the limit; `status IN (...)` would sort every
    # due row first.
    counts = Counter(busy or {})
    taken: dict[int, int] = {}
    for status in sorted(waiting, reverse=True):  # sending, then pending
        for delivery_id, target_id in session.execute(query.where(Delivery.status == status)):
            assert target_id is not None  # every message of a channel has its target
            if len(taken) < limit and (per_target is None or counts[target_id] < per_target):
                counts[target_id] += 1
                taken[delivery_id] = target_id
    if not taken:
        return []
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(taken)))
        .values(lease_owner=lease.owner, lease_until=lease.until)
        .execution_options(synchronize_session=False)
    )
    details = {
        row.id: row
        for row in session.execute(
            select(
                Delivery.id,
                Delivery.event_id,
                Delivery.message_key,
                Delivery.attempts,
                Delivery.raw,
                Delivery.created_at,
                Delivery.websub_content_id,
            ).where(Delivery.id.in_(list(taken)))
        )
    }
    return [
        Claimed(
            id=delivery_id,
            target_id=target_id,
            event_id=details[delivery_id].event_id,
            message_key=details[delivery_id].message_key,
            attempts_before=details[delivery_id].attempts,
            raw=details[delivery_id].raw,
            created_at=details[delivery_id].created_at,
            content_id=details[delivery_id].websub_content_id,
        )
        for delivery_id, target_id in taken.items()
    ]


# --- recording, fenced by the claim --------------------------------------------------------


# A condition on the message's target, with the parameters of its bind params.
Wanted = tuple[ColumnElement[bool], dict[str, Any]]


def start(connection: Connection, delivery_id: int, owner: str, wanted: Wanted) -> bool:
    """Mark a claimed message as on the wire (its attempt counted).

    False when it must not go: no longer ours, or `wanted` (its target still
    wants it) is false.
    """
    condition, params = wanted
    changed = _start_where(condition).run(
        connection, {"s_id": delivery_id, "s_owner": owner, **params}
    )
    return changed == 1


@functools.cache
def _start_where(condition: ColumnElement[bool]) -> db.Direct:
    """The UPDATE for one channel's condition, built once: it runs for every message."""
    return db.Direct(
        update(Delivery)
        .where(
            Delivery.id == bindparam("s_id"),
            Delivery.lease_owner == bindparam("s_owner"),
            Delivery.lease_until.is_not(None),
            or_(
                Delivery.status == DeliveryStatus.PENDING, Delivery.status == DeliveryStatus.SENDING
            ),
            condition,
        )
        .values(status=DeliveryStatus.SENDING, attempts=Delivery.attempts + 1)
    )


@dataclass(frozen=True)
class Result:
    """How a message stands after an attempt (or after being put back untried)."""

    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    finished_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Record:
    """One message's new state, and the attempt that led to it (None: not tried)."""

    delivery_id: int
    result: Result
    attempt: dict[str, Any] | None


_FIELDS: dict[str, Any] = {
    "status": bindparam("r_status"),
    "attempts": bindparam("r_attempts"),
    "last_error": bindparam("r_error"),
    "lease_until": None,
}
# Back to the queue until `next_attempt_at`; or done, its bytes no longer needed.
_AGAIN = (
    update(Delivery)
    .where(Delivery.id == bindparam("r_id"))
    .values(**_FIELDS, next_attempt_at=bindparam("r_next", type_=UTCDateTime()))
)
_DONE = (
    update(Delivery)
    .where(Delivery.id == bindparam("r_id"))
    .values(**_FIELDS, finished_at=bindparam("r_finished", type_=UTCDateTime()), raw=None)
)


# `r_owner` still holds the message; built once, as these run for every attempt.
_STILL_HELD = (
    Delivery.lease_owner == bindparam("r_owner"),
    Delivery.lease_until.is_not(None),
    or_(Delivery.status == DeliveryStatus.PENDING, Delivery.status == DeliveryStatus.SENDING),
)
_HELD = select(Delivery.id).where(Delivery.id.in_(bindparam("r_ids", expanding=True)), *_STILL_HELD)
_HELD_LOCKED = _HELD.with_for_update()
_ATTEMPT = insert(DeliveryAttempt)
# One message (a lone sender's, one per mail): the fence in the UPDATE itself, which
# locks the row it changes; run directly on the driver.
_AGAIN_IF_HELD = db.Direct(_AGAIN.where(*_STILL_HELD))
_DONE_IF_HELD = db.Direct(_DONE.where(*_STILL_HELD))
_ATTEMPT_ONE = db.Direct(
    insert(DeliveryAttempt).values(
        {
            column: bindparam(column)
            for column in (
                "delivery_id",
                "channel",
                "attempted_at",
                "status_code",
                "duration_ms",
                "error",
                "response_prefix",
            )
        }
    )
)


def record(connection: Connection, owner: str, records: Sequence[Record]) -> set[int]:
    """Store attempts and new states of the messages `owner` still holds; their ids.

    The others (another run took them meanwhile) are left alone. The claim is
    checked and the rows written under one lock: SQLite's write lock, or the
    rows' FOR UPDATE lock on PostgreSQL.
    """
    if len(records) == 1:  # a lone sender's record: one statement fewer
        return _record_one(connection, owner, records[0])
    held = _HELD if connection.dialect.name == "sqlite" else _HELD_LOCKED
    ids = [record.delivery_id for record in records]
    kept = set(connection.scalars(held, {"r_ids": ids, "r_owner": owner}))
    mine = [record for record in records if record.delivery_id in kept]
    again = [_params(r) for r in mine if r.result.status == DeliveryStatus.PENDING]
    done = [_params(r) for r in mine if r.result.status != DeliveryStatus.PENDING]
    attempts = [{"delivery_id": r.delivery_id, **r.attempt} for r in mine if r.attempt]
    for statement, rows in ((_AGAIN, again), (_DONE, done), (_ATTEMPT, attempts)):
        if rows:
            connection.execute(statement, rows)
    return kept


def _record_one(connection: Connection, owner: str, record: Record) -> set[int]:
    again = record.result.status == DeliveryStatus.PENDING
    fenced = _AGAIN_IF_HELD if again else _DONE_IF_HELD
    if fenced.run(connection, {**_params(record), "r_owner": owner}) != 1:
        return set()
    if record.attempt:
        _ATTEMPT_ONE.run(connection, {"delivery_id": record.delivery_id, **record.attempt})
    return {record.delivery_id}


def _params(record: Record) -> dict[str, Any]:
    result = record.result
    return {
        "r_id": record.delivery_id,
        "r_status": result.status,
        "r_attempts": result.attempts,
        "r_error": result.last_error,
        "r_next": result.next_attempt_at,
        "r_finished": result.finished_at,
    }


# --- manual changes ------------------------------------------------------------------------


def get(session: Session, delivery_id: int, channel: Channel) -> Delivery:
    found = session.get(Delivery, delivery_id) if is_valid_id(delivery_id) else None
    if found is None or found.channel != channel:
        raise NotFound(f"no delivery {delivery_id}")
    return found


def channel_of(session: Session, delivery_id: int) -> Channel:
    """Which channel a message belongs to; NotFound when there is no such message."""
    found = session.get(Delivery, delivery_id) if is_valid_id(delivery_id) else None
    if found is None:
        raise NotFound(f"no delivery {delivery_id}")
    return Channel(found.channel)


def requeue(session: Session, delivery: Delivery, now: datetime) -> None:
    """Make a message due now with a fresh retry schedule (a manual retry)."""
    if delivery.lease_until is not None and delivery.lease_until > now:
        raise Conflict("this delivery is being sent right now")
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.finished_at = None
    delivery.lease_owner = None


def resume_gone(session: Session, channel: Channel, target_id: int, now: datetime) -> int:
    """Send again what a target refused with 410 before it was re-enabled; how many."""
    changed = session.execute(
        update(Delivery)
        .where(
            Delivery.channel == channel,
            target_of(channel) == target_id,
            Delivery.status == DeliveryStatus.FAILED,
            Delivery.last_error == GONE,
        )
        .values(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            finished_at=None,
            lease_owner=None,
        )
        .execution_options(synchronize_session=False)
    )
    return changed.rowcount  # type: ignore[attr-defined,no-any-return]


def remove_target(session: Session, channel: Channel, target_id: int) -> None:
    """Delete a target's messages and their attempts (for a target without a foreign key)."""
    session.execute(
        sa.delete(Delivery)
        .where(Delivery.channel == channel, target_of(channel) == target_id)
        .execution_options(synchronize_session=False)
    )


def contents_waiting(session: Session, content_ids: Iterable[int]) -> set[int]:
    """Which of these WebSub contents a message still waiting to be sent carries."""
    column = Delivery.websub_content_id
    query = select(column).where(column.in_(list(content_ids)), Delivery.status.in_(IN_FLIGHT))
    return {content_id for content_id in session.scalars(query.distinct()) if content_id}


# --- reading -------------------------------------------------------------------------------


NEWEST_FIRST = paging.Keyset((Delivery.id,), descending=True)


def page(
    session: Session, channel: Channel, target_id: int, window: paging.Window
) -> tuple[list[Delivery], str | None]:
    """A target's messages, newest first, and the cursor of the next page.

    Paging by id, not offset: messages created meanwhile never shift a page.
    """
    query = select(Delivery).where(Delivery.channel == channel, target_of(channel) == target_id)
    return NEWEST_FIRST.page(session, query, window)


def attempts_of(session: Session, ids: Sequence[int]) -> dict[int, list[DeliveryAttempt]]:
    """Each message's attempts, newest first."""
    found: dict[int, list[DeliveryAttempt]] = {delivery_id: [] for delivery_id in ids}
    rows = session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(ids))
        .order_by(DeliveryAttempt.id.desc())
    )
    for row in rows:
        found[row.delivery_id].append(row)
    return found


def last_attempts(
    session: Session, channel: Channel, target_ids: Sequence[int]
) -> dict[int, DeliveryAttempt]:
    """Each target's newest attempt (targets never attempted are left out)."""
    target = target_of(channel)
    newest = (
        select(sa.func.max(DeliveryAttempt.id))
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(Delivery.channel == channel, target.in_(list(target_ids)))
        .group_by(target)
    )
    rows = session.execute(
        select(target, DeliveryAttempt)
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(DeliveryAttempt.id.in_(newest))
    )
    return {target_id: attempt for target_id, attempt in rows if target_id is not None}


def oldest_due_age(session: Session, now: datetime) -> dict[str, float]:
    """Per channel, seconds since its oldest message waiting to be sent fell due."""
    rows = session.execute(
        select(Delivery.channel, sa.func.min(Delivery.next_attempt_at))
        .where(Delivery.status.in_(IN_FLIGHT), Delivery.next_attempt_at <= now)
        .group_by(Delivery.channel)
    )
    return {channel: max(0.0, (now - due).total_seconds()) for channel, due in rows}


@dataclass(frozen=True)
class Failure:
    """How a channel's latest attempt failed, and when."""

    error: str
    attempted_at: datetime


# One probe of the (channel, id) index, however long the attempt log.
_LATEST_ATTEMPT = (
    select(DeliveryAttempt.error, DeliveryAttempt.attempted_at)
    .where(DeliveryAttempt.channel == bindparam("channel"))
    .order_by(DeliveryAttempt.id.desc())
    .limit(1)
)


def latest_attempt_failure(session: Session, channel: Channel) -> Failure | None:
    """How the channel's latest attempt failed; None if it went through or none was made.

    For the health check: every failed mail attempt records its transport's
    error, so a failing mail transport shows until a mail goes out again.
    """
    latest = session.execute(_LATEST_ATTEMPT, {"channel": channel}).first()
    if latest is None or latest.error is None:
        return None
    return Failure(latest.error, latest.attempted_at)
