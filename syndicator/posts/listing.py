"""One page of a feed or of one of its tags, newest first, read by key.

Page n starts at the ((n-1) x per_page)-th newest visible post. Skipping that
many rows (OFFSET) read every newer post, so the last page of a big feed cost
the whole feed. Instead the maintained counts name the UTC day that holds the
page's first post (`counts.locate`), and the page is read down the listing
index from that day's end, skipping only posts of that one day. How many
posts there are comes from the same counts, less the scheduled ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from syndicator.models import Post, PostTag
from syndicator.posts import counts, visibility

# Below this many posts to skip, skipping them costs less than reading the counts.
SEEK_FROM = 100


@dataclass(frozen=True)
class Size:
    """How many posts of a feed or tag readers see at one moment, and how many wait."""

    visible: int
    scheduled: int


def size(session: Session, feed_slug: str, tag: str | None, now: datetime) -> Size:
    if tag is None:
        waiting = select(func.count()).where(
            Post.feed_slug == feed_slug, visibility.scheduled_clause(now)
        )
    else:
        waiting = select(func.count()).where(
            *_tag_of(feed_slug, tag), visibility.tag_scheduled_clause(now)
        )
    scheduled = session.scalar(waiting) or 0
    return Size(counts.listed(session, feed_slug, tag) - scheduled, scheduled)


def posts(
    session: Session,
    feed_slug: str,
    tag: str | None,
    *,
    size: Size,
    skip: int,
    limit: int,
    now: datetime,
) -> list[Post]:
    """`limit` visible posts after the `skip` newest ones."""
    rank = size.scheduled + skip  # among listed posts, the scheduled ones first
    offset, moment = skip, now
    if rank >= SEEK_FROM and (day := counts.locate(session, feed_slug, tag, rank)) is not None:
        # The posts older than the day's end are those visible just before it ended (one
        # bound on the date, which SQLite needs to walk the index from there); that leaves
        # out `day.newer` listed posts, the scheduled ones among them.
        moment = min(now, day.ends_at - timedelta(microseconds=1))
        offset = rank - max(day.newer, size.scheduled)
    query, _date = _newest_first(feed_slug, tag, moment)
    return list(session.scalars(query.offset(offset).limit(limit)))


def newest_at(session: Session, feed_slug: str, tag: str | None, now: datetime) -> datetime | None:
    """The date of the newest visible post."""
    query, date = _newest_first(feed_slug, tag, now)
    return session.scalar(query.with_only_columns(date).limit(1))


def _newest_first(
    feed_slug: str, tag: str | None, now: datetime
) -> tuple[Select[Post], InstrumentedAttribute[datetime]]:
    """Visible posts in reading order, and the date column the order walks."""
    if tag is None:
        query = select(Post).where(Post.feed_slug == feed_slug, visibility.visible_clause(now))
        return query.order_by(Post.published_at.desc(), Post.id.desc()), Post.published_at
    query = (
        select(Post)
        .join(PostTag, PostTag.post_id == Post.id)
        .where(*_tag_of(feed_slug, tag), visibility.tag_visible_clause(now))
    )
    return (
        query.order_by(PostTag.published_at.desc(), PostTag.post_id.desc()),
        PostTag.published_at,
    )


def _tag_of(feed_slug: str, tag: str) -> tuple[ColumnElement[bool], ...]:
    return (PostTag.feed_slug == feed_slug, PostTag.tag_slug == tag)
