"""`syndicator db recount`: posts changed by SQL outside syndicator leave the maintained
counts and tag rows wrong (wrong page counts, a drafted post still on its tag's page);
the repair makes them what the same changes made through syndicator would have made."""

import os
import sqlite3
import subprocess
import sys

from factories import build_core
from sqlalchemy import select, text

from syndicator import config as config_module
from syndicator.models import ListingCount, Post, PostTag
from syndicator.posts import importer, store

PER_PAGE = 5


def _write(blog, *, drafted: bool = False, moved: bool = False) -> None:
    """Twelve posts over two years, tagged; optionally with post 3 a draft and post 4
    moved a year back, as an editor would do in the files."""
    for number in range(12):
        draft = drafted and number == 3
        year = 2024 if moved and number == 4 else 2025
        blog.post(
            f"post-{number}",
            f"Body {number}.",
            date=f"{year}-{number % 12 + 1:02d}-0{number % 9 + 1}T09:00:00Z",
            tags=["Alpha"] + (["Beta"] if number % 2 else []),
            draft=draft,
        )


def _listings(core, now):
    """Every page of the feed and of each tag, as slugs: what readers see."""
    seen = {}
    with core.reading() as session:
        for tag in (None, "alpha", "beta"):
            number, total = 1, 1
            while number <= total:
                page = store.page(
                    session, "news", number=number, per_page=PER_PAGE, now=now, tag=tag
                )
                seen[(tag, number)] = [post.slug for post in page.posts]
                number, total = number + 1, page.total_pages
    return seen


def _state(core):
    with core.reading() as session:
        counts = {
            tuple(row)
            for row in session.execute(
                select(
                    ListingCount.feed_slug,
                    ListingCount.tag_slug,
                    ListingCount.span,
                    ListingCount.posts,
                )
            )
            if row[3]
        }
        tags = set(
            session.execute(
                select(PostTag.tag_slug, PostTag.feed_slug, PostTag.published_at, PostTag.listed)
            ).all()
        )
    return counts, tags


def _edit_by_sql(core) -> None:
    with core.transaction() as session:
        session.execute(text("UPDATE posts SET status = 'draft' WHERE slug = 'post-3'"))
        moved = _year_back(session, "post-4")
        session.execute(
            text("UPDATE posts SET published_at = :at WHERE slug = 'post-4'"), {"at": moved}
        )
        session.execute(
            text(
                "INSERT INTO listing_counts (feed_slug, tag_slug, span, posts)"
                " VALUES ('news', 'ghost', 't', 7)"
            )
        )


def _year_back(session, slug):
    post = session.scalar(select(Post).where(Post.slug == slug))
    return post.published_at.replace(year=2024)


def test_a_repair_makes_what_the_same_edits_through_syndicator_make(
    make_core, blog, clock, tmp_path
):
    core = make_core(feeds={"items": PER_PAGE})
    _write(blog)
    importer.sync(core, blog.root)
    _edit_by_sql(core)
    broken = _listings(core, clock())
    assert "post-3" in broken[("alpha", 1)] + broken[("alpha", 2)] + broken[("alpha", 3)]

    with core.transaction() as session:
        repaired = store.repair_listings(session, clock())
    assert repaired.tag_rows_feeds == {"news"} and repaired.counts.feeds == {"news"}

    # The same edits, made in the files and imported, on a database of their own.
    edited = tmp_path / "edited"
    edited.mkdir()
    blog.root = edited
    _write(blog, drafted=True, moved=True)
    mapping = {
        "storage": {"database_url": f"sqlite:///{tmp_path / 'oracle.db'}"},
        "feeds": {"items": PER_PAGE},
    }
    oracle = build_core(
        config_module.from_mapping(mapping, source="test", base_dir=tmp_path, env={}), clock
    )
    try:
        importer.sync(oracle, edited)
        assert _state(core) == _state(oracle)
        assert _listings(core, clock()) == _listings(oracle, clock())
    finally:
        oracle.close()

    with core.transaction() as session:
        again = store.repair_listings(session, clock())
    assert again.counts.wrong == 0 and not again.tag_rows_feeds


def test_the_command_says_what_it_fixed(tmp_path, blog):
    _write(blog)
    (tmp_path / "config.toml").write_text(
        f'[storage]\ncontent_dir = "{blog.root}"\ndatabase_url = "sqlite:///site.db"\n'
    )

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "syndicator", *args],
            cwd=tmp_path,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run("import").returncode == 0
    clean = run("db", "recount")
    assert clean.returncode == 0, clean.stderr
    assert ": 0 were wrong" in clean.stdout and "feeds whose pages change" not in clean.stdout

    with sqlite3.connect(tmp_path / "site.db") as connection:
        connection.execute("UPDATE posts SET status = 'draft' WHERE slug = 'post-3'")
    fixed = run("db", "recount")
    assert fixed.returncode == 0, fixed.stderr
    assert "0 were wrong" not in fixed.stdout
    assert "feeds whose pages change: news" in fixed.stdout
