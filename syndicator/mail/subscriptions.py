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

import email_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicator.config import Config
from syndicator.delivery import queue
from syndicator.errors import Conflict, InvalidInput, NotFound, SyndicatorError
from syndicator.feeds import catalog
from syndicator.mail import compose, transports
from syndicator.models import Channel, Frequency, Subscriber, SubscriberStatus, is_valid_id


class TokenNotFound(NotFound):
    """No subscription has this token (or it was replaced by a newer one)."""


class TokenExpired(SyndicatorError):
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


def subscribe(
    session: Session, request: Request, config: Config, timezone: tzinfo, now: datetime
) -> None:
    """Start (or restart) double opt-in. Says nothing about whether the address was known."""
    email, frequency = _validated(session, request, config)
    subscriber = find(session, request.feed, email)
    if subscriber is not None and subscriber.status == SubscriberStatus.CONFIRMED:
        return  # already receiving digests; changing them needs the reader's own link
    if subscriber is None:
        subscriber = _new(session, request.feed, email, frequency, now)
        if subscriber is None:
            return  # the other request sends the confirmation
    subscriber.status = SubscriberStatus.UNCONFIRMED
    subscriber.frequency = frequency
    subscriber.unsubscribed_at = None
    _start_opt_in(session, subscriber, config, timezone, now)


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
    session: Session, subscriber: Subscriber, config: Config, timezone: tzinfo, now: datetime
) -> None:
    """New tokens (an old link stops working) and a confirmation mail queued as a row."""
    confirm_token = new_token()
    subscriber.confirm_digest = token_digest(confirm_token)
    subscriber.confirm_expires_at = now + timedelta(days=config.digest.confirm_expiry_days)
    unsubscribe = new_token()
    subscriber.unsubscribe_token, subscriber.unsubscribe_digest = (
        unsubscribe,
        token_digest(unsubscribe),
    )
    header_id = message_id(config)
    raw = compose.confirmation(
        compose.Letterhead.from_config(config, timezone),
        catalog.get(session, subscriber.feed_slug),
        email=subscriber.email,
        frequency=subscriber.frequency,
        token=confirm_token,
        message_id=header_id,
        date=now,
    )
    session.flush()  # the subscriber needs its id
    queue.add(
        session,
        Channel.MAIL,
        [{"subscriber_id": subscriber.id, "message_key": header_id, "raw": raw}],
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
    return session.scalar(
        select(Subscriber).where(Subscriber.feed_slug == feed, Subscriber.email == email)
    )


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
        _start_opt_in(session, subscriber, config, timezone, now)
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
    session: Session,
    *,
    feed: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Subscriber]:
    """Subscribers in id order, optionally of one feed and one status."""
    if status is not None and status not in {s.value for s in SubscriberStatus}:
        allowed = ", ".join(s.value for s in SubscriberStatus)
        raise InvalidInput({"status": f"must be one of {allowed}"}, "unknown status")
    query = select(Subscriber).order_by(Subscriber.id).offset(offset)
    if feed is not None:
        query = query.where(Subscriber.feed_slug == feed)
    if status is not None:
        query = query.where(Subscriber.status == status)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
