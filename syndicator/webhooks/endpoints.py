"""Webhook endpoints, and the fan-out of outbox events into one message per endpoint.

Endpoints are checked by the SSRF guard when registered (and again at every
attempt, in `delivery`). Fan-out turns each outbox event into its final body
bytes once and one message per matching active endpoint, in one transaction:
a worker that dies half way leaves the event for the next one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from syndicator import events, paging
from syndicator.delivery import ssrf
from syndicator.errors import Conflict, NotFound
from syndicator.fieldtable import Field, Kind, Table
from syndicator.models import (
    EndpointStatus,
    Feed,
    MessageStatus,
    WebhookEndpoint,
    WebhookEvent,
    WebhookMessage,
    is_valid_id,
)
from syndicator.urls import Urls
from syndicator.webhooks import signing

ROTATION_OVERLAP = timedelta(hours=24)
TABLE = Table(
    "a webhook endpoint",
    (
        Field("id", Kind.INTEGER, read_only=True),
        Field(
            "url",
            Kind.URL,
            "http:// or https://; public addresses only",
            required=True,
            max_length=2000,
        ),
        Field("description", Kind.TEXT, max_length=1000),
        Field(
            "events",
            Kind.TEXT_LIST,
            "The events to send; empty or null: every event.",
            choices=tuple(events.POST_EVENTS),
            nullable=True,
        ),
        Field(
            "feeds",
            Kind.TEXT_LIST,
            "The feeds to follow; empty or null: every feed.",
            nullable=True,
        ),
        Field(
            "status",
            Kind.CHOICE,
            "`active` (sending) or `disabled`; setting `active` re-enables it.",
            choices=tuple(EndpointStatus),
        ),
        Field("disabled_reason", Kind.TEXT, "Why it is disabled.", nullable=True, read_only=True),
        Field("created_at", Kind.TIMESTAMP, read_only=True),
        Field("updated_at", Kind.TIMESTAMP, read_only=True),
        Field(
            "secret",
            Kind.TEXT,
            "`whsec_` and base64: shown at creation and at GET /api/webhooks/{id}/secret.",
            read_only=True,
            always_shown=False,
        ),
    ),
)
_BY_ID = paging.Keyset((WebhookEndpoint.id,))


class WebhookNotFound(NotFound):
    pass


def get(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id) if is_valid_id(endpoint_id) else None
    if endpoint is None:
        raise WebhookNotFound(f"no webhook endpoint {endpoint_id}")
    return endpoint


def page(session: Session, window: paging.Window) -> tuple[list[WebhookEndpoint], str | None]:
    """Endpoints in id order, and the cursor of the next page."""
    return _BY_ID.page(session, select(WebhookEndpoint), window)


def create(
    session: Session, fields: Mapping[str, Any], *, now: datetime, allow_private: bool
) -> WebhookEndpoint:
    """Register an endpoint from API/CLI fields; InvalidInput names each bad field."""
    endpoint = WebhookEndpoint(
        secret=signing.new_secret(),
        status=EndpointStatus.ACTIVE,
        description="",
        event_types="[]",
        feed_slugs="[]",
        created_at=now,
        updated_at=now,
    )
    values = _checked(session, fields, creating=True, allow_private=allow_private)
    _apply(endpoint, values, now=now)
    session.add(endpoint)
    session.flush()
    return endpoint


def update(
    session: Session,
    endpoint: WebhookEndpoint,
    fields: Mapping[str, Any],
    *,
    now: datetime,
    allow_private: bool,
) -> WebhookEndpoint:
    values = _checked(session, fields, creating=False, allow_private=allow_private)
    _apply(endpoint, values, now=now)
    endpoint.updated_at = now
    session.flush()
    return endpoint


def _checked(
    session: Session, fields: Mapping[str, Any], *, creating: bool, allow_private: bool
) -> dict[str, Any]:
    """TABLE's checks, plus the two that need the outside world: SSRF and known feeds."""
    return TABLE.parse(
        fields,
        creating=creating,
        checks={
            "url": lambda url: _check_url(url, allow_private),
            "feeds": lambda slugs: _check_feeds(session, slugs),
        },
    )


def _apply(endpoint: WebhookEndpoint, values: Mapping[str, Any], *, now: datetime) -> None:
    if "url" in values:
        endpoint.url = values["url"]
    if "events" in values:
        endpoint.event_types = json.dumps(_distinct(values["events"]))
    if "feeds" in values:
        endpoint.feed_slugs = json.dumps(_distinct(values["feeds"]))
    if "description" in values:
        endpoint.description = values["description"]
    if "status" in values and values["status"] != endpoint.status:
        reason = "disabled by an administrator" if values["status"] == "disabled" else None
        set_status(endpoint, EndpointStatus(values["status"]), reason, now)


def _check_url(url: str, allow_private: bool) -> str:
    try:
        ssrf.check(url, allow_private=allow_private)
    except ssrf.TargetRefused as refused:
        raise ValueError(str(refused)) from None
    return url


def _distinct(names: tuple[str, ...] | None) -> list[str]:
    """The names in order, each once; null (like empty) means all."""
    return list(dict.fromkeys(names or ()))


def _check_feeds(session: Session, slugs: tuple[str, ...] | None) -> tuple[str, ...] | None:
    wanted = _distinct(slugs)
    known = (
        set(session.scalars(select(Feed.slug).where(Feed.slug.in_(wanted)))) if wanted else set()
    )
    missing = [slug for slug in wanted if slug not in known]
    if missing:
        raise ValueError(f"no feed {missing[0]!r}")
    return slugs


def set_status(
    endpoint: WebhookEndpoint, status: EndpointStatus, reason: str | None, now: datetime
) -> None:
    """Enable or disable; enabling forgets the failure streak so the clock starts over."""
    endpoint.status = status
    endpoint.disabled_reason = reason if status == EndpointStatus.DISABLED else None
    endpoint.failing_since = None
    endpoint.updated_at = now


def remove(session: Session, endpoint: WebhookEndpoint) -> None:
    session.delete(endpoint)
    session.flush()


def rotate_secret(endpoint: WebhookEndpoint, now: datetime) -> str:
    """A new secret; the old one keeps signing for 24 hours beside it."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret = signing.new_secret()
    endpoint.updated_at = now
    return endpoint.secret


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous during the overlap."""
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and now < expires:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


def event_filter(endpoint: WebhookEndpoint) -> list[str]:
    return json.loads(endpoint.event_types)


def feed_filter(endpoint: WebhookEndpoint) -> list[str]:
    return json.loads(endpoint.feed_slugs)


def matches(endpoint: WebhookEndpoint, event: WebhookEvent) -> bool:
    if event.endpoint_id is not None:
        return event.endpoint_id == endpoint.id
    wanted_types, wanted_feeds = event_filter(endpoint), feed_filter(endpoint)
    return (
        endpoint.created_at <= event.created_at
        and (not wanted_types or event.type in wanted_types)
        and (not wanted_feeds or event.feed_slug in wanted_feeds)
    )


def fan_out(session: Session, urls: Urls, now: datetime, *, max_bytes: int, batch: int = 50) -> int:
    """Turn a batch of outbox events into messages; returns how many events it took."""
    take_write_lock(session)
    query = (
        select(WebhookEvent)
        .where(WebhookEvent.fanned_out_at.is_(None))
        .order_by(WebhookEvent.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    pending = list(session.scalars(query))
    if not pending:
        return 0
    endpoints = list(
        session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.status == "active"))
    )
    for event in pending:
        _fan_out_event(session, event, endpoints, urls, now, max_bytes=max_bytes)
    return len(pending)


def take_write_lock(session: Session) -> None:
    """On SQLite, take the write lock first so a read-then-write never fails as stale.

    PostgreSQL needs nothing: its row locks (FOR UPDATE SKIP LOCKED) do the job.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.update(WebhookMessage).where(sa.false()).values(claimed_by=None))


def _fan_out_event(
    session: Session,
    event: WebhookEvent,
    endpoints: list[WebhookEndpoint],
    urls: Urls,
    now: datetime,
    *,
    max_bytes: int,
) -> None:
    event.body = events.render(event, urls, max_bytes=max_bytes)
    event.fanned_out_at = now
    targets = [endpoint for endpoint in endpoints if matches(endpoint, event)]
    rows = [_message_row(event, endpoint, now) for endpoint in targets]
    if rows:
        session.execute(insert(WebhookMessage), rows)


def _message_row(event: WebhookEvent, endpoint: WebhookEndpoint, now: datetime) -> dict[str, Any]:
    return {
        "webhook_id": signing.new_message_id(),
        "event_id": event.id,
        "endpoint_id": endpoint.id,
        "status": MessageStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def queue_test(
    session: Session, endpoint: WebhookEndpoint, urls: Urls, now: datetime, *, max_bytes: int
) -> int:
    """A webhook.test message for one endpoint, due now; returns the message id."""
    if endpoint.status != EndpointStatus.ACTIVE:
        raise Conflict("the endpoint is disabled; enable it before sending a test")
    event = events.record_test(session, endpoint.id, now)
    session.flush()
    _fan_out_event(session, event, [endpoint], urls, now, max_bytes=max_bytes)
    message_id = session.scalar(
        select(WebhookMessage.id).where(WebhookMessage.event_id == event.id)
    )
    assert message_id is not None
    return message_id


def messages(
    session: Session, endpoint_id: int, *, limit: int, before_id: int | None = None
) -> tuple[list[WebhookMessage], bool]:
    """An endpoint's messages, newest first, older than `before_id` when given.

    Paging by id, not offset: messages created meanwhile never shift a page.
    """
    query = select(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint_id)
    if before_id is not None:
        query = query.where(WebhookMessage.id < before_id)
    found = list(session.scalars(query.order_by(WebhookMessage.id.desc()).limit(limit + 1)))
    return found[:limit], len(found) > limit


def get_message(session: Session, message_id: int) -> WebhookMessage:
    message = session.get(WebhookMessage, message_id) if is_valid_id(message_id) else None
    if message is None:
        raise NotFound(f"no delivery {message_id}")
    return message


def requeue(session: Session, message: WebhookMessage, now: datetime) -> None:
    """Make a message due now with a fresh retry schedule (a manual retry)."""
    if message.lease_until is not None and message.lease_until > now:
        raise Conflict("this delivery is being sent right now")
    endpoint = get(session, message.endpoint_id)
    if endpoint.status != EndpointStatus.ACTIVE:
        raise Conflict("the endpoint is disabled; enable it before retrying")
    message.status = MessageStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = now
    message.claimed_by = None
