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

from syndicator import events
from syndicator.delivery import queue, ssrf
from syndicator.errors import InvalidInput, NotFound
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
_FIELDS = ("url", "events", "feeds", "description", "status")
_MAX_URL = 2000
_MAX_DESCRIPTION = 1000


class WebhookNotFound(NotFound):
    pass


def get(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id) if is_valid_id(endpoint_id) else None
    if endpoint is None:
        raise WebhookNotFound(f"no webhook endpoint {endpoint_id}")
    return endpoint


def page(session: Session, *, limit: int, offset: int) -> tuple[list[WebhookEndpoint], bool]:
    rows = session.scalars(
        select(WebhookEndpoint).order_by(WebhookEndpoint.id).offset(offset).limit(limit + 1)
    )
    found = list(rows)
    return found[:limit], len(found) > limit


def create(
    session: Session, fields: Mapping[str, Any], *, now: datetime, allow_private: bool
) -> WebhookEndpoint:
    """Register an endpoint from API/CLI fields; InvalidInput names each bad field."""
    if "url" not in fields:
        raise InvalidInput({"url": "is required"})
    endpoint = WebhookEndpoint(
        secret=signing.new_secret(),
        status=EndpointStatus.ACTIVE,
        description="",
        event_types="[]",
        feed_slugs="[]",
        created_at=now,
        updated_at=now,
    )
    _apply(session, endpoint, fields, now=now, allow_private=allow_private)
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
    _apply(session, endpoint, fields, now=now, allow_private=allow_private)
    endpoint.updated_at = now
    session.flush()
    return endpoint


def _apply(
    session: Session,
    endpoint: WebhookEndpoint,
    fields: Mapping[str, Any],
    *,
    now: datetime,
    allow_private: bool,
) -> None:
    errors = {key: "is not a field of a webhook endpoint" for key in fields if key not in _FIELDS}
    checks = {
        "url": lambda v: _check_url(v, allow_private),
        "events": _check_events,
        "feeds": lambda v: _check_feeds(session, v),
        "description": _check_description,
        "status": _check_status,
    }
    values = {}
    for key, check in checks.items():
        if key in fields:
            try:
                values[key] = check(fields[key])
            except ValueError as problem:
                errors[key] = str(problem)
    if errors:
        raise InvalidInput(errors, "invalid webhook endpoint")
    if "url" in values:
        endpoint.url = values["url"]
    if "events" in values:
        endpoint.event_types = json.dumps(values["events"])
    if "feeds" in values:
        endpoint.feed_slugs = json.dumps(values["feeds"])
    if "description" in values:
        endpoint.description = values["description"]
    if "status" in values and values["status"] != endpoint.status:
        reason = "disabled by an administrator" if values["status"] == "disabled" else None
        set_status(endpoint, EndpointStatus(values["status"]), reason, now)


def _check_url(value: Any, allow_private: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be an http:// or https:// URL")
    if len(value) > _MAX_URL:
        raise ValueError(f"must be at most {_MAX_URL} characters")
    try:
        ssrf.check(value, allow_private=allow_private)
    except ssrf.TargetRefused as refused:
        raise ValueError(str(refused)) from None
    return value.strip()


def _string_list(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("must be a list of strings")
    return list(dict.fromkeys(value))


def _check_events(value: Any) -> list[str]:
    names = _string_list(value)
    unknown = [name for name in names if name not in events.POST_EVENTS]
    if unknown:
        allowed = ", ".join(events.POST_EVENTS)
        raise ValueError(f"unknown event {unknown[0]!r}; choose from {allowed} (empty: all)")
    return names


def _check_feeds(session: Session, value: Any) -> list[str]:
    slugs = _string_list(value)
    known = set(session.scalars(select(Feed.slug).where(Feed.slug.in_(slugs)))) if slugs else set()
    missing = [slug for slug in slugs if slug not in known]
    if missing:
        raise ValueError(f"no feed {missing[0]!r}")
    return slugs


def _check_description(value: Any) -> str:
    if not isinstance(value, str) or len(value) > _MAX_DESCRIPTION:
        raise ValueError(f"must be a string of at most {_MAX_DESCRIPTION} characters")
    return value


def _check_status(value: Any) -> str:
    if value not in tuple(EndpointStatus):
        raise ValueError("must be active or disabled")
    return str(value)


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
