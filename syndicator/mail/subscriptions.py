"""Subscribers: double opt-in, tokens, statuses, and the admin operations on them.

Every public answer is the same whether or not an address is known, so
nothing here tells a caller who subscribes; tokens are 256 random bits and
looked up by their SHA-256 so no comparison leaks a token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, cast

import email_validator
from sqlalchemy import Select, Table, bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicator import paging
from syndicator.config import Config
from syndicator.delivery import queue
from syndicator.errors import Conflict, Gone, InvalidInput, NotFound
from syndicator.feeds import catalog
from syndicator.mail import compose, transports
from syndicator.models import Channel, Frequency, Subscriber, SubscriberStatus, is_valid_id


class TokenNotFound(NotFound):
    """No subscription has this token (or it was replaced by a newer one)."""


class TokenExpired(Gone):
    """A confirmation link older than [digest] confirm_expiry_days."""


class SubscriberNotFound(NotFound):
    pass


@dataclass(frozen=True)
class Request:
    """A subscription as asked for, before validation."""

    feed: str
    email: str
    frequency: str = Frequency.DAILY


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def normalize_email(raw: object, *, check_deliverability: bool = False) -> str:
    """The address in canonical form (lower case); InvalidInput with the reason otherwise."""
    if not isinstance(raw, str):
        raise InvalidInput({"email": "must be a string"}, "an email address is required")
    if not raw.strip():
        raise InvalidInput({"email": "is required"}, "an email address is required")
    try:
        # ASCII only (IDN domains become punycode): every relay and header can carry it.
        valid = email_validator.validate_email(
            raw.strip(), check_deliverability=check_deliverability, allow_smtputf8=False
        )
    except email_validator.EmailNotValidError as error:
        raise InvalidInput({"email": str(error)}, "not a valid email address") from None
    return (valid.ascii_email or valid.normalized).lower()


def parse_frequency(raw: object) -> Frequency:
    if raw is None or raw == "":
        return Frequency.DAILY
    if not isinstance(raw, str) or raw not in {f.value for f in Frequency}:
        raise InvalidInput({"frequency": "must be daily or weekly"}, "unknown frequency")
    return Frequency(str(raw))


def _validated(session: Session, request: Request, config: Config) -> tuple[str, Frequency]:
    """Check every field at once so the caller hears about all problems together."""
    problems: dict[str, str] = {}
    email, frequency = "", Frequency.DAILY
    try:
        email = normalize_email(
            request.email, check_deliverability=config.digest.check_deliverability
        )
    except InvalidInput as error:
        problems.update(error.fields)
    try:
        frequency = parse_frequency(request.frequency)
    except InvalidInput as error:
        problems.update(error.fields)
    if problems:
        raise InvalidInput(problems, "; ".join(f"{k} {v}" for k, v in problems.items()))
    catalog.get(session, request.feed)
    return email, frequency


_SUBSCRIBERS = cast(Table, Subscriber.__table__)
_INSERT_IF_NEW = {
    name: dialect.insert(_SUBSCRIBERS).on_conflict_do_nothing(index_elements=["feed_slug", "email"])
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
# One UPDATE whatever the row's status: a confirmed row gets its own values back.
_WAITING = _SUBSCRIBERS.c.status != SubscriberStatus.CONFIRMED
_RESTART_OPT_IN = (
    update(_SUBSCRIBERS)
    .where(_SUBSCRIBERS.c.id == bindparam("subscriber_id"))
    .values(
        {
            column: case(
                (_WAITING, bindparam(f"new_{column}", type_=_SUBSCRIBERS.c[column].type)),
                else_=_SUBSCRIBERS.c[column],
            )
            for column in (
                "status",
                "frequency",
                "unsubscribed_at",
                "confirm_digest",
                "confirm_expires_at",
                "unsubscribe_token",
                "unsubscribe_digest",
            )
        }
    )
)


def subscribe(
    session: Session, request: Request, config: Config, timezone: tzinfo, now: datetime
) -> None:
    """Start (or restart) double opt-in; the same work whether or not the address is known.

    A new address, one waiting for confirmation and one already confirmed run
    the same statements and each queue a confirmation mail (replacing one still
    waiting to be sent), so neither the answer nor its timing tells which it
    was. A confirmed reader's row keeps
    its values (the UPDATE leaves it as it is), and the sender drops a
    confirmation whose subscriber is no longer unconfirmed.
    """
    email, frequency = _validated(session, request, config)
    _insert_if_new(session, request.feed, email, frequency, now)
    subscriber = session.scalars(_find(request.feed, email)).one()
    _start_opt_in(session, subscriber, config, timezone, now, frequency=frequency)


def _insert_if_new(
    session: Session, feed: str, email: str, frequency: Frequency, now: datetime
) -> None:
    """Add the address unless the feed has it (a simultaneous request may just have added it)."""
    token = new_token()
    session.execute(
        _INSERT_IF_NEW[session.get_bind().dialect.name],
        {
            "feed_slug": feed,
            "email": email,
            "frequency": frequency,
            "status": SubscriberStatus.UNCONFIRMED,
            "unsubscribe_token": token,
            "unsubscribe_digest": token_digest(token),
            "bounce_count": 0,
            "created_at": now,
        },
    )


def _new(
    session: Session, feed: str, email: str, frequency: Frequency, now: datetime
) -> Subscriber | None:
    """A new unconfirmed row; None when a simultaneous request just added the same address."""
    token = new_token()
    subscriber = Subscriber(
        feed_slug=feed,
        email=email,
        frequency=frequency,
        status=SubscriberStatus.UNCONFIRMED,
        unsubscribe_token=token,
        unsubscribe_digest=token_digest(token),
        bounce_count=0,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(subscriber)
    except IntegrityError:
        return None
    return subscriber


def _start_opt_in(
    session: Session,
    subscriber: Subscriber,
    config: Config,
    timezone: tzinfo,
    now: datetime,
    *,
    frequency: str,
) -> None:
    """New tokens (an old link stops working) and a confirmation mail queued as a row.

    A confirmed subscriber goes through the very same statements, but the
    UPDATE keeps every value of their row (and the sender skips the mail).
    """
    subscriber_id, email, feed_slug = subscriber.id, subscriber.email, subscriber.feed_slug
    confirm_token, unsubscribe = new_token(), new_token()
    session.execute(
        _RESTART_OPT_IN,
        {
            "subscriber_id": subscriber_id,
            "new_status": SubscriberStatus.UNCONFIRMED,
            "new_frequency": frequency,
            "new_unsubscribed_at": None,
            "new_confirm_digest": token_digest(confirm_token),
            "new_confirm_expires_at": now + timedelta(days=config.digest.confirm_expiry_days),
            "new_unsubscribe_token": unsubscribe,
            "new_unsubscribe_digest": token_digest(unsubscribe),
        },
    )
    session.expire(subscriber)  # the UPDATE went around the ORM: read the row again if needed
    header_id = message_id(config)
    raw = compose.confirmation(
        compose.Letterhead.from_config(config, timezone),
        catalog.get(session, feed_slug),
        email=email,
        frequency=frequency,
        token=confirm_token,
        message_id=header_id,
        date=now,
    )
    # One confirmation waits at a time, the newest: an older one's link no longer works,
    # and two requests racing for a new address queue one mail, not two.
    queue.drop_waiting_raw(session, Channel.MAIL, subscriber_id)
    queue.add(
        session,
        Channel.MAIL,
        [{"subscriber_id": subscriber_id, "message_key": header_id, "raw": raw}],
        now,
    )


def message_id(config: Config, domain: str | None = None) -> str:
    """A fresh Message-ID on the sender's domain (pass `domain` when minting thousands)."""
    return f"<{secrets.token_hex(16)}@{domain or transports.hostname_of(config.email.sender)}>"


def by_confirm_token(session: Session, token: str, now: datetime) -> Subscriber:
    """The subscriber a confirmation link belongs to; TokenNotFound / TokenExpired."""
    subscriber = session.scalar(
        select(Subscriber).where(Subscriber.confirm_digest == token_digest(token))
    )
    if subscriber is None:
        raise TokenNotFound("unknown confirmation link")
    expired = subscriber.confirm_expires_at is not None and subscriber.confirm_expires_at <= now
    if expired and subscriber.status != SubscriberStatus.CONFIRMED:
        raise TokenExpired("this confirmation link has expired")
    return subscriber


def confirm(session: Session, token: str, now: datetime) -> Subscriber:
    """Confirm the subscription (idempotent): digests start with posts from now on."""
    subscriber = by_confirm_token(session, token, now)
    if subscriber.status == SubscriberStatus.UNCONFIRMED:
        _mark_confirmed(subscriber, now)
        session.flush()
    return subscriber


def _mark_confirmed(subscriber: Subscriber, now: datetime) -> None:
    subscriber.status = SubscriberStatus.CONFIRMED
    subscriber.confirmed_at = now
    subscriber.last_slot_at = None
    subscriber.bounce_count = 0


def by_unsubscribe_token(session: Session, token: str) -> Subscriber:
    subscriber = session.scalar(
        select(Subscriber).where(Subscriber.unsubscribe_digest == token_digest(token))
    )
    if subscriber is None:
        raise TokenNotFound("unknown unsubscribe link")
    return subscriber


def unsubscribe(session: Session, token: str, now: datetime) -> Subscriber:
    """Stop every mail to this address at once (idempotent); the confirm link dies too."""
    subscriber = by_unsubscribe_token(session, token)
    if subscriber.status != SubscriberStatus.UNSUBSCRIBED:
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
        subscriber.unsubscribed_at = now
    subscriber.confirm_digest = None
    session.flush()
    return subscriber


def find(session: Session, feed: str, email: str) -> Subscriber | None:
    return session.scalar(_find(feed, email))


def _find(feed: str, email: str) -> Select[Subscriber]:
    return select(Subscriber).where(Subscriber.feed_slug == feed, Subscriber.email == email)


def add(
    session: Session,
    request: Request,
    config: Config,
    timezone: tzinfo,
    now: datetime,
    *,
    confirmed: bool,
) -> Subscriber:
    """The admin's add: Conflict when the address is already on the feed's list.

    `confirmed` imports an existing list without opt-in; otherwise opt-in starts.
    """
    email, frequency = _validated(session, request, config)
    subscriber = (
        None
        if find(session, request.feed, email)
        else _new(session, request.feed, email, frequency, now)
    )
    if subscriber is None:
        raise Conflict(f"{email} is already subscribed to {request.feed}")
    if confirmed:
        _mark_confirmed(subscriber, now)
    else:
        _start_opt_in(session, subscriber, config, timezone, now, frequency=frequency)
    session.flush()
    return subscriber


def get(session: Session, subscriber_id: int) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id) if is_valid_id(subscriber_id) else None
    if subscriber is None:
        raise SubscriberNotFound(f"subscriber {subscriber_id}")
    return subscriber


def remove(session: Session, subscriber: Subscriber) -> None:
    """Forget the address entirely, with its queued mail (GDPR erasure)."""
    session.delete(subscriber)
    session.flush()


def listing(
    session: Session, *, feed: str | None = None, status: str | None = None
) -> list[Subscriber]:
    """Every subscriber in id order, optionally of one feed and one status."""
    return list(session.scalars(_listed(feed, status).order_by(Subscriber.id)))


def page(
    session: Session,
    window: paging.Window,
    *,
    feed: str | None = None,
    status: str | None = None,
) -> tuple[list[Subscriber], str | None]:
    """One page of `listing`, and the cursor of the next."""
    return _BY_ID.page(session, _listed(feed, status), window)


def _listed(feed: str | None, status: str | None) -> Select[Any]:
    if status is not None and status not in {s.value for s in SubscriberStatus}:
        allowed = ", ".join(s.value for s in SubscriberStatus)
        raise InvalidInput({"status": f"must be one of {allowed}"}, "unknown status")
    query = select(Subscriber)
    if feed is not None:
        query = query.where(Subscriber.feed_slug == feed)
    if status is not None:
        query = query.where(Subscriber.status == status)
    return query


_BY_ID = paging.Keyset((Subscriber.id,))


def confirmed_per_feed(session: Session) -> dict[str, int]:
    """How many confirmed subscribers each feed has (the audience counts them)."""
    query = (
        select(Subscriber.feed_slug, func.count())
        .where(Subscriber.status == SubscriberStatus.CONFIRMED)
        .group_by(Subscriber.feed_slug)
    )
    return {feed: count for feed, count in session.execute(query)}
