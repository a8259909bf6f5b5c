"""Fan-out: each outbox event becomes its final body bytes once and one message per endpoint.

Every matching endpoint gets its message, disabled ones too: those wait in
the queue and go out when the endpoint is enabled again. One transaction per
batch of events: a worker that dies half way leaves the events for the next.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicator import db, events
from syndicator.delivery import queue
from syndicator.models import Channel, WebhookEndpoint, WebhookEvent
from syndicator.urls import Urls
from syndicator.webhooks import endpoints, signing


def fan_out(session: Session, urls: Urls, now: datetime, *, max_bytes: int, batch: int = 50) -> int:
    """Turn a batch of outbox events into messages; returns how many events it took."""
    query = (
        select(WebhookEvent)
        .where(WebhookEvent.fanned_out_at.is_(None))
        .order_by(WebhookEvent.id)
        .limit(batch)
    )
    if not db.is_sqlite(session.get_bind()):
        query = query.with_for_update(skip_locked=True)
    pending = list(session.scalars(query))
    if not pending:
        return 0
    every_endpoint = list(session.scalars(select(WebhookEndpoint)))
    for event in pending:
        rows = _message_rows(session, event, every_endpoint, urls, now, max_bytes=max_bytes)
        queue.add(session, Channel.WEBHOOK, rows, now)
    return len(pending)


def fan_out_test(
    session: Session,
    event: WebhookEvent,
    endpoint: WebhookEndpoint,
    urls: Urls,
    now: datetime,
    *,
    max_bytes: int,
) -> int:
    """A test event's one message, queued; its id."""
    rows = _message_rows(session, event, [endpoint], urls, now, max_bytes=max_bytes)
    (message_id,) = queue.add_with_ids(session, Channel.WEBHOOK, rows, now)
    return message_id


def _message_rows(
    session: Session,
    event: WebhookEvent,
    candidates: list[WebhookEndpoint],
    urls: Urls,
    now: datetime,
    *,
    max_bytes: int,
) -> list[dict[str, Any]]:
    """Render the event once (only when some endpoint gets it); a message per such endpoint."""
    event.fanned_out_at = now
    snapshot = events.snapshot_of(session, event)
    post_id = snapshot.get("id") if event.type in events.POST_EVENTS else None
    rows = [
        _message_row(event, endpoint, post_id)
        for endpoint in candidates
        if endpoints.matches(endpoint, event)
    ]
    if rows:
        event.body = events.render(event, snapshot, urls, max_bytes=max_bytes)
    return rows


def _message_row(event: WebhookEvent, endpoint: WebhookEndpoint, post_id: Any) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint.id,
        "event_id": event.id,
        "message_key": signing.new_message_id(),
        # One endpoint's events about one post go out in the order they happened.
        "order_key": None if post_id is None else f"{endpoint.id}/{post_id}",
    }
