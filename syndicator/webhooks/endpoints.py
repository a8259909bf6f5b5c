"""Webhook endpoints: registration, filters, status and signing secrets.

Endpoints are checked by the SSRF guard when registered (and again at every
attempt, in `webhooks.channel`). Fan-out is `webhooks.fanout`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from syndicator import events, paging
from syndicator.delivery import queue, ssrf
from syndicator.errors import NotFound
from syndicator.feeds import catalog
from syndicator.fieldtable import Field, Kind, Table
from syndicator.models import (
    Channel,
    EndpointStatus,
    Feed,
    WebhookEndpoint,
    WebhookEvent,
    is_valid_id,
)
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
    session: Session,
    fields: Mapping[str, Any],
    *,
    now: datetime,
    allow_private: bool,
    resolver: ssrf.Resolver | None = None,
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
    values = _checked(
        session, fields, creating=True, allow_private=allow_private, resolver=resolver
    )
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
    resolver: ssrf.Resolver | None = None,
) -> WebhookEndpoint:
    values = _checked(
        session, fields, creating=False, allow_private=allow_private, resolver=resolver
    )
    _apply(endpoint, values, now=now)
    endpoint.updated_at = now
    session.flush()
    return endpoint


def _checked(
    session: Session,
    fields: Mapping[str, Any],
    *,
    creating: bool,
    allow_private: bool,
    resolver: ssrf.Resolver | None = None,
) -> dict[str, Any]:
    """TABLE's checks, plus the two that need the outside world: SSRF and known feeds."""
    return TABLE.parse(
        fields,
        creating=creating,
        checks={
            "url": lambda url: _check_url(url, allow_private, resolver),
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


def _check_url(url: str, allow_private: bool, resolver: ssrf.Resolver | None) -> str:
    try:
        ssrf.check(url, allow_private=allow_private, resolver=resolver)
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
        raise ValueError(catalog.missing(session, missing[0]))
    return slugs


def set_status(
    endpoint: WebhookEndpoint, status: EndpointStatus, reason: str | None, now: datetime
) -> None:
    """Enable or disable; enabling forgets the failure streak so the clock starts over.

    Enabling also sends again what the endpoint refused with 410; what waited
    while it was disabled goes out by itself.
    """
    session = object_session(endpoint)
    if status == EndpointStatus.ACTIVE and endpoint.status != status and session is not None:
        queue.resume_gone(session, Channel.WEBHOOK, endpoint.id, now)
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
    return _names(endpoint.event_types)


def feed_filter(endpoint: WebhookEndpoint) -> list[str]:
    return _names(endpoint.feed_slugs)


def _names(stored: str) -> list[str]:
    """A filter column: a JSON list of names, empty meaning "all"."""
    return [str(name) for name in json.loads(stored)]


def matches(endpoint: WebhookEndpoint, event: WebhookEvent) -> bool:
    if event.endpoint_id is not None:
        return event.endpoint_id == endpoint.id
    wanted_types, wanted_feeds = event_filter(endpoint), feed_filter(endpoint)
    return (
        endpoint.created_at <= event.created_at
        and (not wanted_types or event.type in wanted_types)
        and (not wanted_feeds or event.feed_slug in wanted_feeds)
    )


def active_per_feed(session: Session, feeds: list[str]) -> dict[str, int]:
    """How many active endpoints follow each of `feeds` (an empty filter follows every feed)."""
    counts = dict.fromkeys(feeds, 0)
    query = select(WebhookEndpoint.feed_slugs).where(
        WebhookEndpoint.status == EndpointStatus.ACTIVE
    )
    for filtered in session.scalars(query):
        followed = json.loads(filtered) or feeds
        for feed in set(followed) & counts.keys():
            counts[feed] += 1
    return counts
