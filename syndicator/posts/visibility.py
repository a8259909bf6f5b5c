"""Whether readers see a post: the one rule, as a SQL clause and as a Python check.

A post is visible when it is published, not deleted, and its date has come.
Feeds, pages, the admin API, digest planning and the mail sender all ask
here, so a post moved back to the future disappears from all of them at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_

from syndicator.models import Post, PostStatus


def visible_clause(now: datetime) -> ColumnElement[bool]:
    """The SQL condition for posts readers see at `now`."""
    return and_(
        Post.status == PostStatus.PUBLISHED,
        Post.deleted_at.is_(None),
        Post.published_at <= now,
    )


def scheduled_clause(now: datetime) -> ColumnElement[bool]:
    """The SQL condition for published posts whose date has not come yet."""
    return and_(
        Post.status == PostStatus.PUBLISHED,
        Post.deleted_at.is_(None),
        Post.published_at > now,
    )


def is_visible(post: Post, now: datetime) -> bool:
    """The same rule for a loaded post."""
    return (
        post.status == PostStatus.PUBLISHED and post.deleted_at is None and post.published_at <= now
    )
