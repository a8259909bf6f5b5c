"""Migrations: they build exactly the schema the models describe, and keep existing data."""

import json
from datetime import UTC, datetime
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, bindparam, inspect, text
from sqlalchemy.schema import CreateTable

from syndicator import db
from syndicator.models import Base


def alembic_config(connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_the_migrated_schema_matches_the_models(core):
    with core.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_first_live_at_is_filled_from_went_live_at_for_existing_posts(database_url):
    engine = db.make_engine(database_url)
    live = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0003")
        connection.execute(
            text(
                "INSERT INTO feeds (slug, title, version, changed_at, created_at) "
                "VALUES ('news', 'News', 1, :at, :at)"
            ),
            {"at": live},
        )
        connection.execute(
            text(
                "INSERT INTO posts (id, feed_slug, guid, slug, title, content_source, content_html,"
                " status, published_at, updated_at, went_live_at, source, created_at) VALUES"
                " (1, 'news', 'urn:x', 'p', 'P', '', '', 'published', :at, :at, :at, 'api', :at)"
            ),
            {"at": live},
        )
    db.upgrade(engine)
    with engine.connect() as connection:
        first, went = connection.execute(
            text("SELECT first_live_at, went_live_at FROM posts")
        ).one()
    engine.dispose()
    assert first == went


def _insert(connection, table: str, **values) -> None:
    columns = ", ".join(values)
    connection.execute(
        text(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(':' + c for c in values)})"),
        values,
    )


def _insert_post(connection, at: datetime, **values) -> None:
    """A post row with the columns every revision has had since 0001."""
    post_id = values["id"]
    row = {
        "feed_slug": "news",
        "guid": f"urn:{post_id}",
        "slug": f"p{post_id}",
        "title": "P",
        "content_source": "",
        "content_html": "",
        "status": "published",
        "published_at": at,
        "updated_at": at,
        "source": "api",
        "created_at": at,
    }
    _insert(connection, "posts", **(row | values))


def _fill_0004(connection, at: datetime) -> None:
    """Webhook and mail rows as release 0004 kept them."""
    _insert(connection, "feeds", slug="news", title="News", version=1, changed_at=at, created_at=at)
    _insert_post(connection, at, id=1, guid="urn:x", slug="p", went_live_at=at)
    _insert(
        connection,
        "webhook_endpoints",
        id=1,
        url="https://example.org/hook",
        description="",
        event_types="[]",
        feed_slugs="[]",
        secret="whsec_x",
        status="active",
        created_at=at,
        updated_at=at,
    )
    _insert(
        connection,
        "webhook_events",
        id=1,
        type="post.published",
        feed_slug="news",
        snapshot="{}",
        body='{"type":"post.published"}',
        created_at=at,
        fanned_out_at=at,
    )
    _insert(
        connection,
        "webhook_messages",
        id=7,
        webhook_id="msg_kept",
        event_id=1,
        endpoint_id=1,
        status="failed",
        attempts=1,
        next_attempt_at=at,
        created_at=at,
    )
    _insert(
        connection,
        "webhook_attempts",
        id=1,
        message_id=7,
        attempted_at=at,
        status_code=500,
        duration_ms=12,
        error=None,
        response_prefix="oops",
    )
    _insert(
        connection,
        "subscribers",
        id=1,
        feed_slug="news",
        email="a@example.org",
        frequency="daily",
        status="confirmed",
        unsubscribe_token="t",
        unsubscribe_digest="d",
        bounce_count=0,
        created_at=at,
        confirmed_at=at,
    )
    _insert(
        connection,
        "mail_messages",
        id=3,
        subscriber_id=1,
        kind="digest",
        status="sent",
        header_id="<m3@example.org>",
        attempts=1,
        next_attempt_at=at,
        created_at=at,
        sent_at=at,
    )
    _insert(
        connection,
        "mail_messages",
        id=4,
        subscriber_id=1,
        kind="confirmation",
        status="pending",
        header_id="<m4@example.org>",
        raw=b"raw bytes",
        attempts=0,
        next_attempt_at=at,
        created_at=at,
    )
    _insert(connection, "digest_posts", mail_id=3, post_id=1, subscriber_id=1)


def _upgraded_from_0004(database_url: str, at: datetime) -> Engine:
    """A database filled as release 0004 kept it, then migrated to the newest revision."""
    engine = db.make_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0004")
        _fill_0004(connection, at)
    db.upgrade(engine)
    return engine


def test_queued_webhooks_and_mail_survive_the_move_to_one_queue(database_url):
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    engine = _upgraded_from_0004(database_url, at)
    with engine.begin() as connection:
        rows = connection.execute(
            text(
                "SELECT id, channel, endpoint_id, subscriber_id, message_key, status, raw"
                " FROM deliveries ORDER BY id"
            )
        ).all()
        attempts = connection.execute(
            text("SELECT delivery_id, channel, status_code, response_prefix FROM delivery_attempts")
        ).all()
        held = connection.execute(text("SELECT delivery_id, post_id FROM digest_posts")).all()
        _insert(
            connection,
            "deliveries",
            channel="mail",
            subscriber_id=1,
            message_key="<new>",
            status="pending",
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
        fresh = connection.execute(text("SELECT MAX(id) FROM deliveries")).scalar()
        connection.execute(text("DELETE FROM deliveries WHERE id = :id"), {"id": fresh})
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0004")
        back = connection.execute(
            text("SELECT id, kind, status, header_id FROM mail_messages ORDER BY id")
        ).all()
        kept = connection.execute(text("SELECT id, webhook_id FROM webhook_messages")).all()
        held_back = connection.execute(text("SELECT mail_id FROM digest_posts")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        (7, "webhook", 1, None, "msg_kept", "failed", None),  # the API's id is kept
        (10, "mail", None, 1, "<m3@example.org>", "succeeded", None),
        (11, "mail", None, 1, "<m4@example.org>", "pending", b"raw bytes"),
    ]
    assert [tuple(row) for row in attempts] == [(7, "webhook", 500, "oops")]  # channel: 0007
    assert [tuple(row) for row in held] == [(10, 1)]
    assert fresh == 12  # new rows are numbered after the moved ones
    assert [tuple(row) for row in kept] == [(7, "msg_kept")]
    assert [tuple(row)[1:] for row in back] == [
        ("digest", "sent", "<m3@example.org>"),
        ("confirmation", "pending", "<m4@example.org>"),
    ]
    assert len(held_back) == 1


def test_0008_comes_and_goes_without_losing_posts_or_what_refers_to_them(database_url):
    """0008 adds the import's stat columns; taking them away again keeps every row,
    digest_posts included (re-creating `posts` on SQLite would cascade into it), and
    gives the events still waiting for fan-out their post's snapshot back."""
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    engine = _upgraded_from_0004(database_url, at)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE posts SET source_size = 12, source_mtime_ns = 34, content_html = '<p>x</p>'"
            )
        )
        _insert(
            connection,
            "webhook_events",
            id=2,
            type="post.updated",
            feed_slug="news",
            post_id=1,
            snapshot="{}",
            created_at=at,
        )
        before = ScriptDirectory.from_config(alembic_config(connection)).get_revision("0008")
        command.downgrade(alembic_config(connection), str(before.down_revision))
        columns = connection.execute(text("SELECT * FROM posts")).keys()
        posts = connection.execute(text("SELECT id, guid FROM posts")).all()
        held = connection.execute(text("SELECT delivery_id, post_id FROM digest_posts")).all()
        waiting = connection.execute(text("SELECT snapshot FROM webhook_events WHERE id = 2"))
        snapshot = json.loads(waiting.scalar_one())
    db.upgrade(engine)
    with engine.connect() as connection:
        stats = connection.execute(text("SELECT source_size, source_mtime_ns FROM posts")).all()
    engine.dispose()
    assert "source_size" not in columns and "source_mtime_ns" not in columns
    assert [tuple(row) for row in posts] == [(1, "urn:x")]
    assert [tuple(row) for row in held] == [(10, 1)]
    assert [tuple(row) for row in stats] == [(None, None)]  # the next import hashes once
    assert snapshot == {
        "feed": "news",
        "id": 1,
        "guid": "urn:x",
        "slug": "p",
        "title": "P",
        "summary": None,
        "content_html": "<p>x</p>",
        "author": None,
        "tags": [],
        "published": "2026-01-02T03:04:05Z",
        "updated": "2026-01-02T03:04:05Z",
    }


def _fill_0011_tags(connection, at: datetime) -> None:
    """Two feeds, a published post with two tags, a draft and another feed's post, and
    counts, as release 0011 kept them."""
    for feed in ("news", "other"):
        _insert(connection, "feeds", slug=feed, title=feed, version=1, changed_at=at, created_at=at)
    for post_id, feed, status in (
        (1, "news", "published"),
        (2, "news", "draft"),
        (3, "other", "published"),
    ):
        _insert_post(connection, at, id=post_id, feed_slug=feed, status=status)
    for post_id, tag, position, feed, listed in (
        (1, "sea", 0, "news", True),
        (1, "sky", 1, "news", True),
        (2, "sea", 0, "news", False),
        (3, "sea", 0, "other", True),
    ):
        _insert(
            connection,
            "post_tags",
            post_id=post_id,
            tag_slug=tag,
            name=tag.title(),
            position=position,
            feed_slug=feed,
            published_at=at,
            listed=listed,
        )
    for feed, tag, span, posts in (
        ("news", "", "t", 1),
        ("news", "sea", "t", 1),
        ("news", "sea", "y2026", 1),
        ("other", "", "t", 1),
    ):
        _insert(connection, "listing_counts", feed_slug=feed, tag_slug=tag, span=span, posts=posts)


def _tag_rows(connection) -> list[tuple]:
    tags = connection.execute(text("SELECT * FROM post_tags ORDER BY post_id, tag_slug"))
    counts = connection.execute(text("SELECT * FROM listing_counts ORDER BY 1, 2, 3"))
    return [tuple(row) for row in tags] + [tuple(row) for row in counts]


_REBUILT = ("listing_counts", "post_tags")


def _shape(connection) -> dict[str, Any]:
    """post_tags' indexes and, on SQLite, how each rebuilt table is declared."""
    shape: dict[str, Any] = {
        "indexes": sorted(index["name"] for index in inspect(connection).get_indexes("post_tags"))
    }
    if connection.dialect.name == "sqlite":
        declared = connection.execute(
            text("SELECT name, sql FROM sqlite_schema WHERE name IN :names").bindparams(
                bindparam("names", expanding=True)
            ),
            {"names": list(_REBUILT)},
        )
        shape |= {name: _plain(sql) for name, sql in declared}
    return shape


def _model_shape(connection) -> dict[str, Any]:
    """`_shape` of a database the models create."""
    shape: dict[str, Any] = {
        "indexes": sorted(str(index.name) for index in Base.metadata.tables["post_tags"].indexes)
    }
    if connection.dialect.name == "sqlite":
        shape |= {
            name: _plain(str(CreateTable(Base.metadata.tables[name]).compile(connection)))
            for name in _REBUILT
        }
    return shape


def _plain(sql: str) -> str:
    """SQL without quotes around names (a renamed table keeps them) and runs of blanks."""
    return " ".join(sql.replace('"', "").split())


def test_0012_keeps_every_tag_row_and_count_both_ways(database_url):
    """0012 rebuilds post_tags and listing_counts WITHOUT ROWID on SQLite and drops
    ix_post_tags_slug; every row survives the way up, down and up again, the tables
    come out as the models declare them, and deletes still cascade into them."""
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    engine = db.make_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0011")
        _fill_0011_tags(connection, at)
        before, old_shape = _tag_rows(connection), _shape(connection)
    db.upgrade(engine)
    with engine.begin() as connection:
        upgraded, new_shape = _tag_rows(connection), _shape(connection)
        models = _model_shape(connection)
        command.downgrade(alembic_config(connection), "0011")
        downgraded, down_shape = _tag_rows(connection), _shape(connection)
    db.upgrade(engine)
    with engine.begin() as connection:
        again, again_shape = _tag_rows(connection), _shape(connection)
        connection.execute(text("DELETE FROM posts WHERE id = 1"))
        connection.execute(text("DELETE FROM feeds WHERE slug = 'other'"))
        left = _tag_rows(connection)
    engine.dispose()
    assert len(before) == 8
    assert upgraded == downgraded == again == before
    assert old_shape["indexes"] == ["ix_post_tags_listing", "ix_post_tags_slug"]
    assert new_shape == again_shape == models
    assert new_shape["indexes"] == ["ix_post_tags_listing"]
    assert down_shape == old_shape
    if database_url.startswith("sqlite"):
        assert all("WITHOUT ROWID" in new_shape[name] for name in _REBUILT)
        assert not any("WITHOUT ROWID" in old_shape[name] for name in _REBUILT)
    assert [row[:2] for row in left] == [(2, "sea"), ("news", ""), ("news", "sea"), ("news", "sea")]
