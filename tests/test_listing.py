"""Feed and tag pages read by key: every page holds what sorting all the posts gives,
at page and day boundaries, with equal dates, drafts, deletions and scheduled posts;
the maintained counts stay equal to the posts through every kind of change."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from syndicator.errors import NotFound
from syndicator.models import ListingCount, Post, PostStatus
from syndicator.posts import counts, listing, store, visibility

PER_PAGE = 5
MIDNIGHT = datetime(2026, 11, 26, tzinfo=UTC)  # the day the test clock starts on, at 00:00 UTC


@pytest.fixture
def crowded(core: Any, make_feed: Any, make_post: Any) -> Any:
    """72 posts, eight a day: four at exactly midnight UTC and four at noon (equal dates
    across page and day boundaries); every post tagged "all", odd ones "odd"; some drafts
    and deleted posts; and six scheduled ones, three of them at one moment."""
    make_feed()
    for number in range(72):
        day = MIDNIGHT - timedelta(days=number // 8)
        at = day if number % 8 < 4 else day - timedelta(hours=12)
        make_post(
            f"Post {number}",
            published_at=at,
            tags=("all", "odd") if number % 2 else ("all",),
            status=PostStatus.DRAFT if number % 11 == 3 else PostStatus.PUBLISHED,
        )
    for number, hours in enumerate((1, 1, 1, 30, 30, 50)):
        make_post(
            f"Later {number}", published_at=core.now() + timedelta(hours=hours), tags=("all",)
        )
    with core.transaction() as session:
        for post in session.scalars(select(Post).where(Post.title.in_(["Post 5", "Post 40"]))):
            store.delete(session, post, core.now())
    return core


def newest_first(core: Any, tag: str | None) -> list[int]:
    """What readers should see: every visible post, sorted in Python."""
    with core.reading() as session:
        posts = list(session.scalars(select(Post)))
    shown = [
        post
        for post in posts
        if visibility.is_visible(post, core.now())
        and (tag is None or tag in [t.tag_slug for t in post.tags])
    ]
    return [post.id for post in sorted(shown, key=lambda p: (p.published_at, p.id), reverse=True)]


def every_page(core: Any, tag: str | None) -> list[list[int]]:
    pages: list[list[int]] = []
    with core.reading() as session:
        while True:
            try:
                found = store.page(
                    session,
                    "news",
                    number=len(pages) + 1,
                    per_page=PER_PAGE,
                    now=core.now(),
                    tag=tag,
                )
            except NotFound:
                return pages
            assert found.total_pages == max(1, -(-len(newest_first(core, tag)) // PER_PAGE))
            pages.append([post.id for post in found.posts])


@pytest.mark.parametrize("seek_from", [0, listing.SEEK_FROM])
@pytest.mark.parametrize("tag", [None, "all", "odd"])
def test_every_page_holds_what_sorting_every_post_gives(
    crowded: Any, clock: Any, monkeypatch: Any, seek_from: int, tag: str | None
) -> None:
    monkeypatch.setattr(listing, "SEEK_FROM", seek_from)  # 0: every page found from the counts
    for hours in (0, 1, 30, 60):  # scheduled posts come due with no write at all
        clock.advance(hours=hours)
        expected = newest_first(crowded, tag)
        pages = every_page(crowded, tag)
        assert [post for page in pages for post in page] == expected
        assert all(len(page) == PER_PAGE for page in pages[:-1])


def test_a_tag_without_visible_posts_and_a_page_past_the_end_are_not_found(crowded: Any) -> None:
    with crowded.reading() as session:
        for number, tag in ((1, "nope"), (0, None), (99, None), (99, "odd")):
            with pytest.raises(NotFound):
                store.page(session, "news", number=number, per_page=5, now=crowded.now(), tag=tag)


def recounted(core: Any) -> dict[tuple[str, str, str], int]:
    """The counts as they should be, from the posts themselves."""
    expected: Counter[tuple[str, str, str]] = Counter()
    with core.reading() as session:
        for post in session.scalars(select(Post)):
            if visibility.is_listed(post):
                for tag in ("", *(t.tag_slug for t in post.tags)):
                    for span in counts.spans(post.published_at):
                        expected[(post.feed_slug, tag, span)] += 1
    return dict(expected)


def stored_counts(core: Any) -> dict[tuple[str, str, str], int]:
    with core.reading() as session:
        rows = session.scalars(select(ListingCount))
        return {(r.feed_slug, r.tag_slug, r.span): r.posts for r in rows if r.posts}


def tag_copies_agree(core: Any) -> bool:
    with core.reading() as session:
        return all(
            (tag.feed_slug, tag.published_at, tag.listed)
            == (post.feed_slug, post.published_at, visibility.is_listed(post))
            for post in session.scalars(select(Post))
            for tag in post.tags
        )


def test_counts_follow_drafts_dates_tags_and_deletions(core: Any, make_feed: Any) -> None:
    make_feed()
    make_feed("other")
    data = store.PostData(title="Moving", published_at=MIDNIGHT, tags=("a", "b"))
    with core.transaction() as session:
        post = store.create(session, "news", data, store.Origin(), core.now())
        store.create(session, "other", data, store.Origin(), core.now())
    changes = [
        {"status": PostStatus.DRAFT},
        {"status": PostStatus.PUBLISHED},
        {"published_at": datetime(2019, 12, 31, 23, 59, 59, tzinfo=UTC)},
        {"tags": ("b", "c", "Ç")},
        {"published_at": core.now() + timedelta(days=3)},  # scheduled: still listed
    ]
    for change in changes:
        data = store.PostData(**{**vars(data), **change})
        with core.transaction() as session:
            store.update(session, session.get(Post, post.id), data, store.Origin(), core.now())
        assert stored_counts(core) == recounted(core), change
    with core.transaction() as session:
        store.delete(session, session.get(Post, post.id), core.now())
    assert stored_counts(core) == recounted(core)
    assert ("news", "", counts.TOTAL) not in stored_counts(core)
    assert tag_copies_agree(core)


def test_counts_follow_a_deleted_post_that_an_import_brings_back(
    core: Any, blog: Any, sync: Any
) -> None:
    """A file that comes back with a deleted post's id restores that post."""
    path = blog.post("hello", id="urn:uuid:7c1d0c4e-0000-4000-8000-000000000001", tags=["a"])
    sync()
    path.unlink()
    sync()
    assert stored_counts(core) == recounted(core) == {}
    blog.post("hello-again", id="urn:uuid:7c1d0c4e-0000-4000-8000-000000000001", tags=["a"])
    sync()
    assert stored_counts(core) == recounted(core) != {}
    assert tag_copies_agree(core)
