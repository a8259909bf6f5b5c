"""No hot query reads every post: each statement a page, feed or post render runs is
explained by the database itself, and none scans posts or post_tags whole.

SQLite's EXPLAIN QUERY PLAN says SCAN for a walk of a whole table or index; on
PostgreSQL, with sequential scans priced out (a small test table would
otherwise be read whole, rightly), a scan of those tables without an index
condition, or with one that leaves the index's first column open, is the same
failure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from syndicator import paging
from syndicator.posts import admin, listing

HOT = [
    "/news/atom.xml",  # feed page 1
    "/news/page/4/atom.xml",  # middle
    "/news/page/8/atom.xml",  # last
    "/news/tags/odd/page/3/rss.xml",  # a tag feed
    "/news/",  # home and list pages render the same listing
    "/news/page/8/",
    "/news/tags/odd/page/4/",
    "/news/post-7/",  # a post by slug
]
TABLES = ("posts", "post_tags")


@pytest.fixture
def site(make_core: Any, make_feed: Any, make_post: Any) -> Any:
    core = make_core(feeds={"items": 5})
    make_feed(core=core)
    for number in range(40):
        make_post(
            f"Post {number}",
            core=core,
            published_at=core.now() - timedelta(hours=7 * number),
            tags=("odd",) if number % 2 else ("even",),
        )
    make_post("Later", core=core, published_at=core.now() + timedelta(days=1))
    return core


def statements(core: Any, paths: list[str]) -> list[tuple[str, Any]]:
    from syndicator.web import create_app

    client = create_app(core=core).test_client()
    with recorded(core) as seen:
        for path in paths:
            assert client.get(path).status_code == 200, path
    return seen


@contextmanager
def recorded(core: Any) -> Iterator[list[tuple[str, Any]]]:
    """The statements run on `core`'s engine meanwhile that read posts or post_tags."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if any(table in statement for table in TABLES):
            seen.append((statement, parameters))

    event.listen(core.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(core.engine, "before_cursor_execute", record)


def full_scans(core: Any, statement: str, parameters: Any, *, sorts: bool = True) -> list[str]:
    """What the plan reads whole: a scan without an index condition, or (`sorts`) posts
    sorted (every matching post read to find the first few)."""
    sorts_posts = sorts and "FROM posts" in statement
    with core.engine.connect() as connection:
        if core.engine.dialect.name == "sqlite":
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return [
                row[3]
                for row in plan
                if (row[3].startswith("SCAN ") and _names_table(row[3]))
                or (sorts_posts and "TEMP B-TREE FOR ORDER BY" in row[3])
            ]
        connection.exec_driver_sql("SET enable_seqscan = off")
        found = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        plan = found.scalar_one()
        (document,) = json.loads(plan) if isinstance(plan, str) else plan
        return list(_pg_scans(document["Plan"], sorts_posts, _leading_columns(connection)))


def _names_table(detail: str) -> bool:
    words = detail.split()
    return len(words) > 1 and words[1] in TABLES


def _leading_columns(connection: Any) -> dict[str, str]:
    """Each index of the checked tables, and the column its entries are sorted by first."""
    rows = connection.exec_driver_sql(
        "SELECT i.relname, a.attname FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
        " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]"
        " WHERE t.relname = ANY(%(tables)s) AND pg_table_is_visible(t.oid)",
        {"tables": list(TABLES)},
    )
    return {index: column for index, column in rows}


def _pg_scans(node: dict[str, Any], sorts_posts: bool, leading: dict[str, str]) -> Any:
    # A Bitmap Heap Scan's condition is on its Bitmap Index Scan child.
    unbounded = "Index Cond" not in node and node["Node Type"] != "Bitmap Heap Scan"
    if node.get("Relation Name") in TABLES and unbounded:
        yield f"{node['Node Type']} on {node['Relation Name']}"
    # A condition on later columns only walks the whole index (SQLite: SCAN … USING INDEX).
    first = leading.get(node.get("Index Name", ""))
    if first and not re.search(rf"(?<![\w.]){first}\b", node.get("Index Cond", "")):
        yield f"{node['Node Type']} on {node['Index Name']} without {first}"
    if sorts_posts and node["Node Type"] in ("Sort", "Incremental Sort"):
        yield f"{node['Node Type']} by {node.get('Sort Key')}"
    for child in node.get("Plans", []):
        yield from _pg_scans(child, sorts_posts, leading)


@pytest.mark.parametrize("seek_from", [0, listing.SEEK_FROM])
def test_no_hot_query_scans_every_post(site: Any, monkeypatch: Any, seek_from: int) -> None:
    monkeypatch.setattr(listing, "SEEK_FROM", seek_from)  # 0: pages found from the counts
    run = statements(site, HOT)
    walked = any("listing_counts.span >" in statement for statement, _ in run)
    assert walked == (seek_from == 0)
    assert {statement: full_scans(site, statement, p) for statement, p in run} == {
        statement: [] for statement, _ in run
    }


@pytest.mark.parametrize(
    "query",
    [
        "SELECT id FROM posts WHERE title = {}",
        "SELECT id FROM posts WHERE feed_slug = {} ORDER BY title LIMIT 20",
        "SELECT post_id FROM post_tags WHERE tag_slug = {}",  # no index starts with the tag
    ],
)
def test_the_check_sees_every_post_read(site: Any, query: str) -> None:
    parameters: Any = {"x": "news"} if site.engine.dialect.name != "sqlite" else ("news",)
    marker = "%(x)s" if site.engine.dialect.name != "sqlite" else "?"
    assert full_scans(site, query.format(marker), parameters)


@pytest.mark.parametrize("feed", ["news", None], ids=["one feed", "every feed"])
def test_the_admin_tag_filter_reads_only_the_tags_posts(site: Any, feed: str | None) -> None:
    """The admin search (API and CLI) with a tag seeks ix_post_tags_listing by feed and tag.

    It then sorts what it found (drafts and scheduled posts too, so not in the listing's
    order): the tag's posts, not every post."""
    with site.reading() as session, recorded(site) as run:
        found, _ = admin.search(
            session, admin.Filters(feed=feed, tag="odd"), now=site.now(), window=paging.Window(5)
        )
    assert [post.title for post in found] == ["Post 1", "Post 3", "Post 5", "Post 7", "Post 9"]
    assert {statement: full_scans(site, statement, p, sorts=False) for statement, p in run} == {
        statement: [] for statement, _ in run
    }


def seeks_by(core: Any, statement: str, parameters: Any, column: str) -> bool:
    """Whether the plan seeks an index by `column` (not a filter over what an index gave)."""
    with core.engine.connect() as connection:
        if core.engine.dialect.name == "sqlite":
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return any(f"{column}=" in row[3] for row in plan if " INDEX " in row[3])
        connection.exec_driver_sql("SET enable_seqscan = off")
        found = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        plan = found.scalar_one()
        (document,) = json.loads(plan) if isinstance(plan, str) else plan

    def conditions(node: dict[str, Any]) -> Iterator[str]:
        yield node.get("Index Cond", "")
        for child in node.get("Plans", []):
            yield from conditions(child)

    return any(column in condition for condition in conditions(document["Plan"]))


def test_an_import_batch_finds_its_files_posts_by_path(core: Any, blog: Any, sync: Any) -> None:
    """Each batch loads the posts its changed files made by (feed, path): on PostgreSQL
    the path came after the partial index's own columns and every file post of the feed
    was walked per batch, which made a 100,000-post first import quadratic."""
    for number in range(6):
        blog.post(f"post-{number}", f"Version one of {number}.")
    sync()
    for number in range(0, 6, 2):
        blog.post(f"post-{number}", f"Version two of {number}.")
    with recorded(core) as run:
        assert len(sync().updated) == 3
    by_path = [(s, p) for s, p in run if "posts.source_path IN" in s]
    assert by_path
    if core.engine.dialect.name != "sqlite":  # its planner reads a few rows whole, rightly
        _many_file_posts(core, 20_000)
    assert [seeks_by(core, s, p, "source_path") for s, p in by_path] == [True] * len(by_path)


def _many_file_posts(core: Any, count: int) -> None:
    """More file posts in the feed, written by SQL after the import, and the planner
    told about them."""
    with core.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO posts (feed_slug, guid, slug, title, content_source, content_html,"
            " status, published_at, updated_at, source, source_path, created_at)"
            " SELECT 'news', 'urn:x:' || n, 'other-' || n, 'Other', '', '', 'draft', now(),"
            " now(), 'file', 'news/posts/other-' || n || '.md', now()"
            f" FROM generate_series(1, {count}) AS n"
        )
        connection.exec_driver_sql("ANALYZE posts")
