"""Every statement on the media table: add, find, list, remove, read a slice.

A feed's media folder holds rows with no post; a post bundle's files carry
the post's id. Each change bumps the feed's version, so feeds that state an
enclosure's length are rendered again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicator import paging
from syndicator.errors import Conflict, NotFound
from syndicator.feeds import catalog
from syndicator.media import names
from syndicator.models import Media, Post, PostSource
from syndicator.posts import visibility

KEYSET = paging.Keyset((Media.id,))
Key = tuple[int | None, str]
UNKNOWN_TYPE = "application/octet-stream"  # served as a download


@dataclass(frozen=True)
class Upload:
    """One file to store: its cleaned name, bytes and where it came from."""

    name: str
    data: bytes
    modified_at: datetime
    source: PostSource = PostSource.API
    post_id: int | None = None


def _scope(feed_slug: str, post_id: int | None) -> Select[Media]:
    query = select(Media).where(Media.feed_slug == feed_slug)
    if post_id is None:
        return query.where(Media.post_id.is_(None))
    return query.where(Media.post_id == post_id)


def find(session: Session, feed_slug: str, name: str, post_id: int | None = None) -> Media | None:
    return session.scalar(_scope(feed_slug, post_id).where(Media.name == name))


def get(session: Session, feed_slug: str, name: str) -> Media:
    """A file of the feed's media folder; NotFound when there is none."""
    catalog.get(session, feed_slug)
    found = find(session, feed_slug, name)
    if found is None:
        raise NotFound(f"no media file {name!r} in feed {feed_slug!r}")
    return found


def of_scope(session: Session, feed_slug: str, post_id: int | None) -> list[Media]:
    return list(session.scalars(_scope(feed_slug, post_id)))


def page(session: Session, feed_slug: str, window: paging.Window) -> tuple[list[Media], str | None]:
    """The feed's media folder, oldest first, one page."""
    catalog.get(session, feed_slug)
    return KEYSET.page(session, _scope(feed_slug, None), window)


def served(session: Session, feed_slug: str, now: datetime) -> list[tuple[str | None, str]]:
    """(post slug, or None for the media folder; name) of every file readers can open."""
    bundles = session.execute(
        select(Post.slug, Media.name)
        .join(Post, Media.post_id == Post.id)
        .where(Media.feed_slug == feed_slug, visibility.visible_clause(now))
    )
    folder = session.scalars(_scope(feed_slug, None).with_only_columns(Media.name))
    return [(slug, name) for slug, name in bundles] + [(None, name) for name in folder]


def of_posts(session: Session, feed_slug: str, post_ids: Iterable[int]) -> dict[Key, Media]:
    """The feed's media and the named posts' bundle files, by (post id or None, name)."""
    query = select(Media).where(
        Media.feed_slug == feed_slug,
        Media.post_id.is_(None) | Media.post_id.in_(list(post_ids)),
    )
    return {(row.post_id, row.name): row for row in session.scalars(query)}


def add(session: Session, feed_slug: str, upload: Upload, now: datetime) -> Media:
    """Store a new file; Conflict (409) when the name is taken."""
    if find(session, feed_slug, upload.name, upload.post_id) is not None:
        raise _taken(upload.name)
    row = Media(feed_slug=feed_slug, post_id=upload.post_id, name=upload.name, created_at=now)
    _fill(row, upload)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another writer took the name in between
        raise _taken(upload.name) from None
    catalog.touch(session, feed_slug, now)
    return row


def replace(session: Session, row: Media, upload: Upload, now: datetime) -> None:
    """New bytes for an existing file (the folder's copy changed)."""
    _fill(row, upload)
    catalog.touch(session, row.feed_slug, now)


def _fill(row: Media, upload: Upload) -> None:
    row.content_type = names.content_type(upload.name) or UNKNOWN_TYPE
    row.length = len(upload.data)
    row.sha256 = hashlib.sha256(upload.data).hexdigest()
    row.source, row.modified_at, row.data = upload.source, upload.modified_at, upload.data


def _taken(name: str) -> Conflict:
    return Conflict(f"a media file called {name!r} already exists", {"name": "is already used"})


def remove(session: Session, row: Media, now: datetime) -> None:
    session.delete(row)
    catalog.touch(session, row.feed_slug, now)


def read(session: Session, media_id: int, offset: int, size: int) -> bytes:
    """`size` bytes from `offset` (fewer at the end), without loading the whole file."""
    piece = session.scalar(
        select(func.substr(Media.data, offset + 1, size)).where(Media.id == media_id)
    )
    return bytes(piece or b"")
