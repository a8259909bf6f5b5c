"""Whether readers see a post: the one rule, as a SQL clause and as a Python check.

A post is visible when it is published, not deleted, and its date has come.
Feeds, pages, the admin API, digest planning and the mail sender all ask
here, so a post moved back to the future disappears from all of them at once.

"Listed" is the part that needs a write to change (published and not deleted);
a listed post becomes visible when its date comes, with no write at all. The
maintained counts (posts/counts.py) count listed posts for that reason, and a
post's tags repeat whether it is listed (`PostTag.listed`) for the tag pages.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, true

from syndicator.models import Post, PostStatus, PostTag


def listed_clause() -> ColumnElement[bool]:
    """The SQL condition for posts that are visible now or will be at their date."""
    return and_(Post.status == PostStatus.PUBLISHED, Post.deleted_at.is_(None))


def visible_clause(now: datetime) -> ColumnElement[bool]:
    """The SQL condition for posts readers see at `now`."""
    return and_(listed_clause(), Post.published_at <= now)


def scheduled_clause(now: datetime) -> ColumnElement[bool]:
    """The SQL condition for published posts whose date has not come yet."""
    return and_(listed_clause(), Post.published_at > now)


def tag_visible_clause(now: datetime) -> ColumnElement[bool]:
    """`visible_clause` for the tags of visible posts, read from the tag rows alone."""
    return and_(PostTag.listed == true(), PostTag.published_at <= now)


def tag_scheduled_clause(now: datetime) -> ColumnElement[bool]:
    """`scheduled_clause` for the tags of scheduled posts."""
    return and_(PostTag.listed == true(), PostTag.published_at > now)


def is_listed(post: Post) -> bool:
    """Published and not deleted: visible now, or once its date comes."""
    return listed(post.status, post.deleted_at)


def listed(status: str, deleted_at: datetime | None) -> bool:
    """`is_listed` for a post's values."""
    return status == PostStatus.PUBLISHED and deleted_at is None


def is_visible(post: Post, now: datetime) -> bool:
    """The same rule for a loaded post."""
    return visible(post.status, post.deleted_at, post.published_at, now)


def visible(
    status: str, deleted_at: datetime | None, published_at: datetime, now: datetime
) -> bool:
    """`is_visible` for a post's values."""
    return listed(status, deleted_at) and published_at <= now
