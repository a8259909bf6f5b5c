"""Events: what changed, written to the outbox in the same transaction as the change.

`record` notes which post changed; `render` turns a stored event into the
exact body bytes every attempt will send, from the post as it was at the
moment of the event.

That snapshot is not copied when the event is recorded: the post's row
holds the same values until the post changes again, and `freeze` copies
them into the events still waiting for fan-out just before that. An outbox
of 100,000 published posts is then not a second copy of the blog.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from syndicator import bulk, markup
from syndicator.models import Post, WebhookEvent
from syndicator.urls import Urls


class EventType(StrEnum):
    POST_PUBLISHED = "post.published"
    POST_UPDATED = "post.updated"
    POST_DELETED = "post.deleted"
    WEBHOOK_TEST = "webhook.test"


POST_EVENTS = (EventType.POST_PUBLISHED, EventType.POST_UPDATED, EventType.POST_DELETED)


@dataclass(frozen=True)
class PostSnapshot:
    """The post's fields a receiver sees, frozen at the moment of the event."""

    feed: str
    id: int
    guid: str
    slug: str
    title: str
    summary: str | None
    content_html: str
    author: str | None
    tags: list[str]
    published: str
    updated: str

    @classmethod
    def of(cls, post: Post) -> PostSnapshot:
        return cls(
            feed=post.feed_slug,
            id=post.id,
            guid=post.guid,
            slug=post.slug,
            title=post.title,
            summary=post.summary,
            content_html=post.content_html,
            author=post.author,
            tags=post.tag_names,
            published=rfc3339(post.published_at),
            updated=rfc3339(post.updated_at),
        )


_IN_THE_POST = "{}"  # the snapshot of an event whose post has not changed since


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def record(session: Session, event_type: EventType, post: Post, now: datetime) -> WebhookEvent:
    """Add a post event to the outbox; it commits or rolls back with the change."""
    if post in session.new:
        session.flush()  # the post needs its id
    event = WebhookEvent(**_post_event(event_type, post.feed_slug, post.id, now))
    session.add(event)
    return event


def record_new(
    session: Session, event_type: EventType, feed_slug: str, post_ids: list[int], now: datetime
) -> None:
    """`record` for posts just written by id, in one statement (an import writes thousands)."""
    table = WebhookEvent.__table__
    assert isinstance(table, Table)
    bulk.add(session, table, [_post_event(event_type, feed_slug, id_, now) for id_ in post_ids])


def _post_event(
    event_type: EventType, feed_slug: str, post_id: int, now: datetime
) -> dict[str, Any]:
    return {
        "type": event_type,
        "feed_slug": feed_slug,
        "post_id": post_id,
        "snapshot": _IN_THE_POST,  # until the post changes (`freeze`)
        "created_at": now,
    }


def freeze(session: Session, post: Post) -> None:
    """Call before the post changes or its row goes: the events still waiting for
    fan-out keep the post as it was when they happened."""
    waiting = session.scalars(
        select(WebhookEvent).where(
            WebhookEvent.post_id == post.id,
            WebhookEvent.fanned_out_at.is_(None),
            WebhookEvent.snapshot == _IN_THE_POST,
        )
    )
    for event in waiting:
        event.snapshot = json.dumps(asdict(PostSnapshot.of(post)), ensure_ascii=False)


def snapshot_of(session: Session, event: WebhookEvent) -> dict[str, Any]:
    """The post as it was at the event: its own copy, or the post's row, unchanged since."""
    if event.snapshot != _IN_THE_POST or event.post_id is None:
        snapshot: dict[str, Any] = json.loads(event.snapshot)
        return snapshot
    post = session.get(Post, event.post_id)
    if post is None:  # `freeze` runs before a post's row goes; only a bug gets here
        raise LookupError(f"event {event.id}: post {event.post_id} is gone and was not frozen")
    return asdict(PostSnapshot.of(post))


def record_test(session: Session, endpoint_id: int, now: datetime) -> WebhookEvent:
    """A webhook.test event addressed to one endpoint."""
    snapshot = {"endpoint": endpoint_id, "message": "a test event from syndicator"}
    event = WebhookEvent(
        type=EventType.WEBHOOK_TEST,
        snapshot=json.dumps(snapshot),
        endpoint_id=endpoint_id,
        created_at=now,
    )
    session.add(event)
    return event


def render(event: WebhookEvent, snapshot: dict[str, Any], urls: Urls, *, max_bytes: int) -> str:
    """The JSON body for an event (`snapshot_of` it); over `max_bytes`, the bulky fields
    are left out."""
    data = _post_data(event.type, snapshot, urls) if event.type in POST_EVENTS else snapshot
    body = _body(event, data)
    for bulky in ("content_html", "summary"):
        if len(body.encode()) <= max_bytes or bulky not in data:
            break
        data = {**data, bulky: None, "trimmed": True}
        body = _body(event, data)
    return body


def _post_data(event_type: str, snapshot: dict[str, Any], urls: Urls) -> dict[str, Any]:
    url = urls.post(snapshot["feed"], snapshot["slug"])
    data = {"feed": snapshot["feed"], "id": snapshot["id"], "guid": snapshot["guid"], "url": url}
    if event_type == EventType.POST_DELETED:
        return data
    return {
        **data,
        "title": snapshot["title"],
        "summary": snapshot["summary"],
        "content_html": markup.absolutize(snapshot["content_html"], url),
        "author": snapshot["author"],
        "tags": snapshot["tags"],
        "published": snapshot["published"],
        "updated": snapshot["updated"],
    }


def precise_rfc3339(moment: datetime) -> str:
    """RFC 3339 with microseconds: events a moment apart keep their order."""
    utc = moment.astimezone(UTC).isoformat(timespec="microseconds")
    return utc.replace("+00:00", "Z")


def _body(event: WebhookEvent, data: dict[str, Any]) -> str:
    payload = {"type": event.type, "timestamp": precise_rfc3339(event.created_at), "data": data}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
