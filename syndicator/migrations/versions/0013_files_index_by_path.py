"""ix_posts_files keyed by (feed, path): an import's batch finds the posts its files made
by path, where PostgreSQL walked every file post of the feed (the partial index's own
condition columns came before the path, and a btree cannot skip them)

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"

_FILES = "source = 'file' AND deleted_at IS NULL"
_STAT = ["source_size", "source_mtime_ns", "id"]


def upgrade() -> None:
    _replace(["feed_slug", "source_path", "source", "deleted_at", *_STAT])


def downgrade() -> None:
    _replace(["feed_slug", "source", "deleted_at", "source_path", *_STAT])


def _replace(columns: list[str]) -> None:
    op.drop_index("ix_posts_files", table_name="posts")
    op.create_index(
        "ix_posts_files",
        "posts",
        columns,
        sqlite_where=sa.text(_FILES),
        postgresql_where=sa.text(_FILES),
    )
