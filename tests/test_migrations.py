"""Migrations: they build exactly the schema the models describe, and keep existing data."""

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import text

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
