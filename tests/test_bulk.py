"""Many rows in one statement (syndicator/bulk.py): on PostgreSQL they travel as arrays,
whose text form escapes quotes, backslashes, braces and NULL; every value must come back
as it went in, on both databases."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, select

from syndicator import bulk
from syndicator.models import ListingCount, WebhookEvent

AWKWARD = ['a "quoted" {braced}, comma', "back\\slash \\\\", "NULL", "", "ünï ✓ 💡", "line\nbreak"]


def test_rows_come_back_as_they_went_in(core):
    table = WebhookEvent.__table__
    assert isinstance(table, Table)
    at = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    rows = [
        {
            "type": "post.published",
            "feed_slug": text if number % 2 else None,
            "snapshot": text,
            "post_id": number if number % 3 else None,
            "created_at": at + timedelta(days=number),
        }
        for number, text in enumerate(AWKWARD)
    ]
    with core.transaction() as session:
        bulk.add(session, table, rows)
        bulk.add(session, table, [])
    with core.reading() as session:
        stored = session.execute(
            select(*(table.c[name] for name in rows[0])).order_by(table.c.id)
        ).all()
    assert [dict(row._mapping) for row in stored] == rows


def test_adding_up_creates_rows_and_adds_to_existing_ones(core, make_feed):
    make_feed(slug="news", core=core)
    table = ListingCount.__table__
    assert isinstance(table, Table)

    def add_up(*rows: tuple[str, str, int]) -> None:
        with core.transaction() as session:
            bulk.add_up(
                session,
                table,
                "posts",
                [{"feed_slug": "news", "tag_slug": t, "span": s, "posts": n} for t, s, n in rows],
            )

    add_up(("", "t", 2), (AWKWARD[0], "t", 1))
    add_up(("", "t", 3), (AWKWARD[0], "t", -1), (AWKWARD[1], "y2026", 4))
    with core.reading() as session:
        counts = set(session.execute(select(table.c.tag_slug, table.c.span, table.c.posts)))
    assert counts == {("", "t", 5), (AWKWARD[0], "t", 0), (AWKWARD[1], "y2026", 4)}
