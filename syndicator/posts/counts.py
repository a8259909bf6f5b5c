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

from sqlalchemy import Executable, Row, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from syndicator.models import ListingCount

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
    if rows:
        session.execute(_add(session), rows)


def _add(session: Session) -> Executable:
    table = ListingCount.__table__
    assert isinstance(table, Table)
    keys = [table.c.feed_slug, table.c.tag_slug, table.c.span]
    if session.get_bind().dialect.name == "postgresql":
        on_pg = postgresql.insert(table)
        return on_pg.on_conflict_do_update(
            index_elements=keys, set_={"posts": table.c.posts + on_pg.excluded.posts}
        )
    on_sqlite = sqlite.insert(table)
    return on_sqlite.on_conflict_do_update(
        index_elements=keys, set_={"posts": table.c.posts + on_sqlite.excluded.posts}
    )


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
