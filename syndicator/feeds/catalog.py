"""Feed (channel) rows and their version stamps.

Every change that alters what a feed shows bumps its version in the same
transaction; caches in any process compare versions instead of re-rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from syndicator.errors import FeedNotFound
from syndicator.models import Feed


@dataclass(frozen=True)
class FeedSettings:
    """What feed.toml says about a feed."""

    title: str
    subtitle: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    author_uri: str | None = None
    language: str | None = None
    link: str | None = None
    icon: str | None = None
    location: str | None = None
    podcast: str | None = None  # the [podcast] table as JSON (feeds.podcast)


def get(session: Session, slug: str) -> Feed:
    feed = session.get(Feed, slug)
    if feed is None:
        raise FeedNotFound(missing(session, slug))
    return feed


def missing(session: Session, slug: str) -> str:
    """What to tell someone who named a feed that does not exist: the feeds that do."""
    known = list(session.scalars(select(Feed.slug).order_by(Feed.slug)))
    if not known:
        return f"no feed named {slug!r}: there are no feeds yet (one per folder feeds/<feed>/)"
    return f"no feed named {slug!r}; the feeds are: {', '.join(known)}"


def all_feeds(session: Session) -> list[Feed]:
    return list(session.scalars(select(Feed).order_by(Feed.slug)))


def upsert(session: Session, slug: str, settings: FeedSettings, now: datetime) -> bool:
    """Create or update a feed from its settings; True when anything changed."""
    feed = session.get(Feed, slug)
    if feed is None:
        session.add(Feed(slug=slug, version=1, changed_at=now, created_at=now, **vars(settings)))
        return True
    changed = {key: value for key, value in vars(settings).items() if getattr(feed, key) != value}
    if not changed:
        return False
    for key, value in changed.items():
        setattr(feed, key, value)
    touch(session, slug, now)
    return True


def lock_all(session: Session) -> None:
    """Take every feed's row, as each writer takes its feed's first (SQLite's write
    transaction already excludes every other writer)."""
    session.execute(select(Feed.slug).order_by(Feed.slug).with_for_update()).all()


def touch(session: Session, slug: str, now: datetime) -> None:
    """Bump the version so every cache of this feed is dropped."""
    session.execute(
        update(Feed).where(Feed.slug == slug).values(version=Feed.version + 1, changed_at=now)
    )


def versions(session: Session) -> dict[str, tuple[int, datetime]]:
    """Every feed's (version, changed_at): one cheap query for all caches."""
    rows = session.execute(select(Feed.slug, Feed.version, Feed.changed_at))
    return {slug: (version, changed_at) for slug, version, changed_at in rows}
