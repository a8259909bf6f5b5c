"""A large import reads and renders files in worker processes: it must store exactly
what an import in one process stores, report the same bad files, and lose none.
On SQLite and PostgreSQL, and through the CLI as a user runs it."""

import subprocess
import sys
from typing import Any

import pytest
from factories import build_core
from sqlalchemy import select, text

from syndicator import config as config_module
from syndicator.models import ListingCount, Post
from syndicator.posts import importer


def _write_blog(blog: Any) -> None:
    """Posts of every kind the importer treats differently, spread over several batches."""
    for number in range(12):
        blog.post(
            f"2026-01-{number + 1:02d}-post-{number}",
            f"Post *{number}* links [a sibling](other/) and ![art](../media/art.png).",
            date=f"2026-01-{number + 1:02d}T09:00:00Z",
            tags=[f"Topic {number % 3}", "All"],
        )
    blog.post("draft", "Not yet.", draft=True)
    blog.post("scheduled", "Later.", date="2030-01-01T09:00:00Z")
    blog.post("explicit", "Its own id.", id="tag:example.org,2026:explicit")
    blog.post("same-slug-a", "First.", slug="shared")
    blog.post("same-slug-b", "Second.", slug="shared")
    blog.raw("bad-yaml", b"---\ntitle: [unclosed\n---\nBody\n")
    blog.raw("not-utf8", b"---\ntitle: x\ndate: 2026-01-01\n---\n\xff\xfe\n")
    blog.post("no-title-left", "Body.", title="\x01\x02")


def _stored(core: Any) -> dict[str, tuple[Any, ...]]:
    """What readers get from each post, keyed by its file (random entry ids left out)."""
    with core.reading() as session:
        posts = session.scalars(select(Post).order_by(Post.source_path))
        return {
            post.source_path: (
                post.slug,
                post.title,
                post.content_html,
                post.status,
                post.published_at,
                post.went_live_at,
                post.guid if not post.guid.startswith("urn:uuid:") else "random",
                tuple(post.tag_names),
                post.source_hash,
                post.source_size,
            )
            for post in posts
        }


def _counts(core: Any) -> set[tuple[str, str, str, int]]:
    with core.reading() as session:
        rows = session.execute(
            select(
                ListingCount.feed_slug,
                ListingCount.tag_slug,
                ListingCount.span,
                ListingCount.posts,
            )
        )
        return {tuple(row) for row in rows if row[3]}


def _outcome(report: importer.SyncReport) -> tuple[Any, ...]:
    return (
        sorted(report.created),
        sorted(report.updated),
        sorted((error.path, error.reason) for error in report.errors),
    )


def test_workers_store_what_one_process_stores(core, blog, clock, tmp_path):
    _write_blog(blog)
    in_workers = importer.sync(core, blog.root, batch=4, parallel_from=1)
    config = config_module.from_mapping(
        {"storage": {"database_url": f"sqlite:///{tmp_path / 'one-process.db'}"}},
        source="test",
        base_dir=tmp_path,
        env={},
    )
    alone = build_core(config, clock)
    try:
        in_one_process = importer.sync(alone, blog.root, batch=4, parallel_from=10**9)
        assert _outcome(in_workers) == _outcome(in_one_process)
        assert _stored(core) == _stored(alone)
        assert _counts(core) == _counts(alone)
    finally:
        alone.close()

    created, _updated, errors = _outcome(in_workers)
    assert len(created) == 16  # 12 posts, the draft, the scheduled, the explicit id, one "shared"
    assert [path for path, _reason in errors] == [
        "news/posts/bad-yaml.md",
        "news/posts/no-title-left.md",
        "news/posts/not-utf8.md",
        "news/posts/same-slug-b.md",
    ]
    html = _stored(core)["news/posts/2026-01-01-post-0.md"][2]
    assert html.startswith("<p>Post <em>0</em> links <a href=")


def test_workers_apply_edits_and_keep_entry_ids(core, blog, clock):
    _write_blog(blog)
    importer.sync(core, blog.root, batch=4, parallel_from=1)
    with core.reading() as session:
        guids = dict(session.execute(select(Post.source_path, Post.guid)).all())

    clock.advance(hours=1)
    blog.post("2026-01-03-post-2", "Rewritten.", date="2026-01-03T09:00:00Z", tags=["New"])
    (blog.root / "news" / "posts" / "same-slug-b.md").unlink()
    report = importer.sync(core, blog.root, batch=4, parallel_from=1)

    assert report.updated == ["news/posts/2026-01-03-post-2.md"]
    assert report.errors[0].path == "news/posts/bad-yaml.md"
    after = _stored(core)
    assert "Rewritten." in after["news/posts/2026-01-03-post-2.md"][2]
    assert after["news/posts/2026-01-03-post-2.md"][7] == ("New",)
    with core.reading() as session:
        assert dict(session.execute(select(Post.source_path, Post.guid)).all()) == guids


def test_the_import_command_reads_a_thousand_files_in_workers(blog, tmp_path):
    """Past `PARALLEL_FROM` changed files the command forks workers: nothing is lost."""
    count = importer.PARALLEL_FROM + 10
    blog.feed()
    posts = blog.root / "news" / "posts"
    for number in range(count):
        (posts / f"post-{number:04d}.md").write_text(
            f"---\ntitle: Post {number}\ndate: 2026-01-01T09:00:00Z\ntags: [t{number % 7}]\n"
            f"---\n\nBody **{number}**.\n",
            encoding="utf-8",
        )
    (posts / "broken.md").write_text("---\ntitle: [x\n---\n", encoding="utf-8")
    database = tmp_path / "cli.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\ndatabase_url = "sqlite:///{database}"\ncontent_dir = "{blog.root}"\n',
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "syndicator", "--config", str(config), "import"]

    first = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == 1  # the broken file is reported
    assert f"imported: {count} created, 0 updated, 0 deleted, 0 unchanged, 1 bad files" in (
        first.stdout
    )
    assert "news/posts/broken.md: front matter is not valid YAML" in first.stderr

    again = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert f"0 created, 0 updated, 0 deleted, {count} unchanged, 1 bad files" in again.stdout


def test_posts_created_together_are_stored_as_one_created_alone(core, make_feed, clock):
    """`store.create_new` (the import's batches) writes rows, tag rows, counts and outbox
    events identical to `store.create` (the API's, and the import's for a clash)."""
    from datetime import timedelta

    from syndicator.models import PostTag, WebhookEvent
    from syndicator.posts import attachments, store

    now = core.now()
    kinds = [
        store.PostData("Live", now - timedelta(days=2), "Hello [x](y/)", tags=("Go", "go", "Rust")),
        store.PostData("Draft", now - timedelta(days=1), "Soon", status="draft", tags=("Go",)),
        store.PostData("Later", now + timedelta(days=3), "Due", summary=" s ", author="Ann"),
        store.PostData(
            "Episode",
            now - timedelta(hours=1),
            "Listen",
            updated_at=now - timedelta(days=9),  # before its date: the date wins
            attachments=(attachments.Attachment("https://cdn.example/a.mp3", "audio/mpeg", 9),),
            episode=3,
            season=1,
        ),
    ]
    origin = store.Origin(store.PostSource.FILE, "x.md", "ab" * 32, 10, 20)
    for feed in ("alone", "together"):
        make_feed(slug=feed, core=core)
    with core.transaction() as session:
        for data in kinds:
            store.create(session, "alone", data, origin, now)
        created, left = store.create_new(
            session, "together", [(data, origin) for data in kinds], now
        )
    assert (len(created), left) == (len(kinds), [])

    def stored(feed: str) -> tuple[Any, ...]:
        with core.reading() as session:
            posts = session.scalars(select(Post).where(Post.feed_slug == feed).order_by(Post.id))
            rows = [
                {
                    column.key: getattr(post, column.key)
                    for column in Post.__table__.columns
                    if column.key not in ("id", "guid", "feed_slug")
                }
                | {
                    "tags": [
                        (tag.tag_slug, tag.name, tag.position, tag.published_at, tag.listed)
                        for tag in post.tags
                    ]
                }
                for post in posts
            ]
            tag_feeds = set(session.scalars(select(PostTag.feed_slug).join(Post)))
            announced = [
                (event.type, session.get(Post, event.post_id).slug)
                for event in session.scalars(
                    select(WebhookEvent).where(WebhookEvent.feed_slug == feed).order_by("id")
                )
            ]
            counts = {
                (tag, span, number)
                for feed_slug, tag, span, number in session.execute(
                    select(
                        ListingCount.feed_slug,
                        ListingCount.tag_slug,
                        ListingCount.span,
                        ListingCount.posts,
                    )
                )
                if feed_slug == feed
            }
        assert tag_feeds == {"alone", "together"}
        return rows, announced, counts

    alone, together = stored("alone"), stored("together")
    assert together == alone
    rows, announced, counts = together
    assert [tag[:3] for tag in rows[0]["tags"]] == [("go", "Go", 0), ("rust", "Rust", 1)]
    assert [row["first_live_at"] for row in rows] == [now, None, None, now]
    assert announced == [("post.published", "live"), ("post.published", "episode")]
    assert ("rust", "t", 1) in counts


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_large_import_leaves_the_planner_statistics_on_postgresql(core, blog):
    """PostgreSQL plans by statistics autovacuum takes later (never, where it is off): an
    import that fills an empty table takes them itself, or each batch's lookups keep the
    plan of an empty table and walk the whole feed (a 100,000-post import took 4 minutes)."""
    blog.feed()
    posts = blog.root / "news" / "posts"

    def planned_rows() -> float:
        with core.reading() as session:
            return float(
                session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'posts'::regclass"))
            )

    for number in range(importer.STATISTICS_FROM - 1):
        (posts / f"post-{number:04d}.md").write_text(
            f"---\ntitle: Post {number}\ndate: 2026-01-01T09:00:00Z\n---\n\nBody.\n",
            encoding="utf-8",
        )
    importer.sync(core, blog.root, parallel_from=10**9)
    assert planned_rows() < importer.STATISTICS_FROM - 1  # not yet worth it
    for number in range(importer.STATISTICS_FROM - 1, 2 * importer.STATISTICS_FROM):
        (posts / f"post-{number:04d}.md").write_text(
            f"---\ntitle: Post {number}\ndate: 2026-01-01T09:00:00Z\n---\n\nBody.\n",
            encoding="utf-8",
        )
    importer.sync(core, blog.root, parallel_from=10**9)
    assert planned_rows() >= importer.STATISTICS_FROM
