"""Content distribution: each change of a watched topic becomes one content row and one
notification per live subscription.

A change is what a GET would show: the topic is rendered (once, from the
render cache) and its ETag compared with the one subscribers were last told
(`websub_topics`). The content row and its messages are written in one
transaction with the new ETag, so a worker killed at any point either queued
all of them or none, and the next tick finds the change again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exc, select
from sqlalchemy.orm import Session

from syndicator import db
from syndicator.core import Core
from syndicator.delivery import queue
from syndicator.errors import NotFound
from syndicator.feeds import catalog, formats
from syndicator.feeds.cache import Rendered
from syndicator.models import Channel, WebSubContent, WebSubTopic
from syndicator.websub import pings, subscriptions, topics

NOTIFY_PREFIX = "websub-notify-"
_BATCH = 1000  # messages inserted per statement


@dataclass(frozen=True)
class Content:
    """A topic's bytes at one change, as every notification of it sends them."""

    content_type: str
    body: bytes


def contents(session: Session, ids: set[int]) -> dict[int, Content]:
    if not ids:
        return {}
    rows = session.execute(
        select(WebSubContent.id, WebSubContent.content_type, WebSubContent.body).where(
            WebSubContent.id.in_(ids)
        )
    )
    return {row.id: Content(row.content_type, row.body) for row in rows}


def newest(session: Session, topic_urls: set[str]) -> dict[str, int | None]:
    """Each topic's newest content: a notification carrying an older one is superseded."""
    rows = session.execute(
        select(WebSubTopic.topic, WebSubTopic.content_id).where(WebSubTopic.topic.in_(topic_urls))
    )
    return {topic: content_id for topic, content_id in rows}


def distribute(core: Core) -> int:
    """Queue a notification per live subscription of every changed topic; how many."""
    now = core.now()
    with core.reading() as session:
        watched = subscriptions.watched_topics(session, now)
        if core.config.websub.also_ping:  # external hubs hear of every feed's changes
            watched += [
                core.urls.feed(feed.slug, fmt)
                for feed in catalog.all_feeds(session)
                for fmt in formats.FILENAMES
            ]
        told = _etags(session, set(watched))
    queued = 0
    for url in dict.fromkeys(watched):
        topic = topics.parse(core.urls, url)
        if topic is None:  # the base URL changed since it was subscribed
            continue
        try:
            rendered = topics.render(core, topic)
        except NotFound:  # its feed or tag is gone: nothing to send until it is back
            continue
        if told.get(url) == rendered.etag:  # the usual case: no write transaction
            continue
        with core.transaction() as session:
            queued += _queue_change(
                session, topic, rendered, core.now(), core.config.websub.also_ping
            )
    return queued


def _etags(session: Session, topic_urls: set[str]) -> dict[str, str]:
    """What each topic's subscribers were last told (its ETag)."""
    query = select(WebSubTopic.topic, WebSubTopic.etag).where(WebSubTopic.topic.in_(topic_urls))
    return {topic: etag for topic, etag in session.execute(query)}


def baseline(session: Session, topic: topics.Topic, rendered: Rendered, now: datetime) -> None:
    """What a new subscriber starts from: the topic as it is now, unless already known.

    Noted when the subscription is asked for, so a change after that (even one
    before the callback confirmed) is a change, and the state at subscription is not.
    """
    if session.get(WebSubTopic, topic.url) is not None:
        return
    try:
        with session.begin_nested():
            session.add(WebSubTopic(topic=topic.url, etag=rendered.etag, changed_at=now))
    except exc.IntegrityError:
        pass  # a concurrent request noted it first


def _queue_change(
    session: Session,
    topic: topics.Topic,
    rendered: Rendered,
    now: datetime,
    also_ping: Sequence[str],
) -> int:
    known = _lock(session, topic.url)
    if known is None:
        baseline(session, topic, rendered, now)
        return 0
    if known.etag == rendered.etag:
        return 0
    content = WebSubContent(
        topic=topic.url, content_type=topic.content_type, body=rendered.body, created_at=now
    )
    session.add(content)
    session.flush()
    known.etag, known.content_id, known.changed_at = rendered.etag, content.id, now
    queued = 0
    for ids in subscriptions.live_ids(session, topic.url, now, _BATCH):
        rows = [
            {
                "websub_subscription_id": subscription_id,
                "websub_content_id": content.id,
                # One message per change and subscription, whoever notices the change.
                "message_key": f"{NOTIFY_PREFIX}{content.id}-{subscription_id}",
            }
            for subscription_id in ids
        ]
        queue.add(session, Channel.WEBSUB, rows, now)
        queued += len(rows)
    pings.queue_pings(session, also_ping, topic.url, content.id, now)
    _forget_sent(session, topic.url, content.id)
    return queued


def _lock(session: Session, topic: str) -> WebSubTopic | None:
    """The topic's row, locked on PostgreSQL so two workers never queue one change twice
    (SQLite's write transaction already takes turns)."""
    query = select(WebSubTopic).where(WebSubTopic.topic == topic)
    if not db.is_sqlite(session.get_bind()):
        query = query.with_for_update()
    return session.scalars(query).first()


def _forget_sent(session: Session, topic: str, newest: int) -> None:
    """Drop the topic's older contents that no message waits to send."""
    older = set(
        session.scalars(
            select(WebSubContent.id).where(WebSubContent.topic == topic, WebSubContent.id < newest)
        )
    )
    if not older:
        return
    unused = older - queue.contents_waiting(session, older)
    if unused:
        session.execute(
            delete(WebSubContent)
            .where(WebSubContent.id.in_(unused))
            .execution_options(synchronize_session=False)
        )
