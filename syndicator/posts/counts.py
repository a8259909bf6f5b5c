"""How many listed posts each feed and tag has, kept in the transaction of every change.

A page count is a feed's (or tag's) listed posts minus its scheduled ones, and
the scheduled ones are a short index range (the future), so the count stays
exact when a scheduled post comes due with no write. Counts per UTC year,
month and day let `locate` name the day that holds the n-th newest post by
reading a few dozen rows, whatever the size of the feed.

Writers of one feed take turns on its row (`catalog.touch` runs first), so the
increments of concurrent transactions never interleave on both databases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, Table, and_, bindparam, delete, select, true
from sqlalchemy.orm import Session

from syndicator import bulk
from syndicator.models import ListingCount, Post, PostTag
from syndicator.posts import visibility

# A listed post counts once for its feed (tag "") and once for each of its tags, on its date.
Unit = tuple[str, datetime]
TOTAL = "t"
_LEVELS = ("y", "m", "d")  # year, month, day: each narrows the one before


def spans(at: datetime) -> tuple[str, ...]:
    """The count rows a post dated `at` adds to: the total, its year, month and day."""
    day = at.astimezone(UTC)
    year, month = f"{day.year:04d}", f"{day.month:02d}"
    return (TOTAL, f"y{year}", f"m{year}-{month}", f"d{year}-{month}-{day.day:02d}")


def change(session: Session, feed_slug: str, before: Iterable[Unit], after: Iterable[Unit]) -> None:
    """Move the counts of posts from what they were listed as to what they are now."""
    deltas: Counter[tuple[str, str]] = Counter()
    for tag, at in before:
        deltas.subtract((tag, span) for span in spans(at))
    for tag, at in after:
        deltas.update((tag, span) for span in spans(at))
    rows = [
        {"feed_slug": feed_slug, "tag_slug": tag, "span": span, "posts": delta}
        for (tag, span), delta in sorted(deltas.items())  # one lock order for every writer
        if delta
    ]
    table = ListingCount.__table__
    assert isinstance(table, Table)
    bulk.add_up(session, table, "posts", rows)


@dataclass(frozen=True)
class Recount:
    """What `recount` found: the count rows the posts call for, and which feeds' were wrong."""

    rows: int
    wrong: int
    feeds: frozenset[str]


def recount(session: Session) -> Recount:
    """Make every count what the posts say, after posts were changed outside syndicator
    (SQL by hand, a partial restore); writers through `posts.store` keep them right.

    Run after `store.repair_tag_rows`, since the tags' counts are read from the tag rows.
    """
    expected: Counter[tuple[str, str, str]] = Counter()
    posts = select(Post.feed_slug, Post.published_at).where(visibility.listed_clause())
    for feed_slug, at in session.execute(posts.execution_options(yield_per=10_000)):
        expected.update((feed_slug, "", span) for span in spans(at))
    tags = select(PostTag.feed_slug, PostTag.tag_slug, PostTag.published_at).where(
        PostTag.listed == true()
    )
    for feed_slug, tag, at in session.execute(tags.execution_options(yield_per=10_000)):
        expected.update((feed_slug, tag, span) for span in spans(at))
    stored = {
        (feed_slug, tag, span): posts
        for feed_slug, tag, span, posts in session.execute(
            select(
                ListingCount.feed_slug, ListingCount.tag_slug, ListingCount.span, ListingCount.posts
            )
        )
    }
    wrong = sorted(
        key for key in expected.keys() | stored.keys() if expected[key] != stored.get(key)
    )
    if wrong:
        table = ListingCount.__table__
        assert isinstance(table, Table)
        keys = [{"f": feed_slug, "t": tag, "s": span} for feed_slug, tag, span in wrong]
        session.execute(
            delete(table).where(
                and_(
                    table.c.feed_slug == bindparam("f"),
                    table.c.tag_slug == bindparam("t"),
                    table.c.span == bindparam("s"),
                )
            ),
            keys,
        )
        rows = [
            {"feed_slug": feed_slug, "tag_slug": tag, "span": span, "posts": count}
            for feed_slug, tag, span in wrong
            if (count := expected[(feed_slug, tag, span)]) > 0
        ]
        if rows:
            session.execute(table.insert(), rows)
    return Recount(len(expected), len(wrong), frozenset(feed_slug for feed_slug, _t, _s in wrong))


def listed(session: Session, feed_slug: str, tag: str | None) -> int:
    """Posts of the feed (or tag) that are visible now or will be at their date."""
    found = session.scalar(
        select(ListingCount.posts).where(
            ListingCount.feed_slug == feed_slug,
            ListingCount.tag_slug == (tag or ""),
            ListingCount.span == TOTAL,
        )
    )
    return found or 0


@dataclass(frozen=True)
class Day:
    """A UTC day of a listing, and how many listed posts are newer than it."""

    ends_at: datetime
    newer: int


def locate(session: Session, feed_slug: str, tag: str | None, rank: int) -> Day | None:
    """The day holding the listed post `rank` places from the newest (0: the newest).

    None when the counts hold fewer posts than that (they never should).
    """
    newer, span = 0, ""
    for level in _LEVELS:
        # Years are all the "y" rows; months and days those within the span picked above.
        low, high = ("y", "z") if level == "y" else (f"{level}{span[1:]}-", f"{level}{span[1:]}-~")
        rows = session.execute(
            select(ListingCount.span, ListingCount.posts)
            .where(
                ListingCount.feed_slug == feed_slug,
                ListingCount.tag_slug == (tag or ""),
                ListingCount.span > low,
                ListingCount.span < high,
            )
            .order_by(ListingCount.span.desc())
        ).all()
        picked = _holding(rows, rank - newer)
        if picked is None:
            return None
        span, skipped = picked
        newer += skipped
    start = datetime(int(span[1:5]), int(span[6:8]), int(span[9:11]), tzinfo=UTC)
    return Day(start + timedelta(days=1), newer)


def _holding(rows: Sequence[Row[str, int]], rank: int) -> tuple[str, int] | None:
    """The span (newest first) holding the post `rank` places down, and the posts before it."""
    before = 0
    for span, posts in rows:
        if before + posts > rank:
            return span, before
        before += posts
    return None
