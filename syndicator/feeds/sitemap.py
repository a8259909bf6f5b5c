"""Every page the site has, with when it last changed: for sitemap.xml, feeds.opml and export.

One walk over each feed's visible posts gives the list pages (the feed's and
each tag's, page by page), the posts and their last changes, so the sitemap,
the OPML list and the static export can never disagree about what exists.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from syndicator.feeds import catalog
from syndicator.models import Feed
from syndicator.posts import store


@dataclass(frozen=True)
class Listing:
    """One HTML list page (and its feeds): a feed's or one tag's, page `number`."""

    tag: str | None
    tag_name: str | None
    number: int
    updated_at: datetime


@dataclass(frozen=True)
class FeedMap:
    """One feed's list pages and posts (slug, last change), newest first, and when its next
    scheduled post comes due (and the map goes stale with no write)."""

    feed: Feed
    listings: tuple[Listing, ...]
    posts: tuple[tuple[str, datetime], ...]
    next_due_at: datetime | None = None

    @property
    def updated_at(self) -> datetime:
        return max((page.updated_at for page in self.listings), default=self.feed.changed_at)


def walk(session: Session, *, per_page: int, now: datetime) -> list[FeedMap]:
    """Every feed with the pages a reader or crawler can open today."""
    return [_feed_map(session, feed, per_page, now) for feed in catalog.all_feeds(session)]


def _feed_map(session: Session, feed: Feed, per_page: int, now: datetime) -> FeedMap:
    posts = store.stamps(session, feed.slug, now)
    by_tag: dict[str, list[store.Stamp]] = {}
    for post in posts:
        for tag in post.tags:
            by_tag.setdefault(tag, []).append(post)
    listings = list(_pages(None, None, posts, per_page, feed.changed_at))
    for tag, name in store.tags(session, feed.slug, now):
        listings += _pages(tag, name, by_tag.get(tag, []), per_page, feed.changed_at)
    return FeedMap(
        feed,
        tuple(listings),
        tuple((post.slug, post.updated_at) for post in posts),
        store.next_due(session, feed.slug, now),
    )


def _pages(
    tag: str | None,
    name: str | None,
    posts: Sequence[store.Stamp],
    per_page: int,
    empty: datetime,
) -> Iterator[Listing]:
    """The pages `store.page` serves: chunks of `per_page`, one (empty) page at least."""
    starts = range(0, len(posts), per_page) if posts else range(1)
    for number, start in enumerate(starts, start=1):
        chunk = posts[start : start + per_page]
        newest = max((post.updated_at for post in chunk), default=empty)
        yield Listing(tag, name, number, newest)
