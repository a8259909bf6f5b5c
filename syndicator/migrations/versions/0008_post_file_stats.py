"""posts.source_size, posts.source_mtime_ns and an index for the import's stat pass

An import compares each file's size and modification time with what it
recorded and reads only the files whose stat moved; the partial index holds
exactly the columns that comparison reads, so it never touches post bodies.

Revision ID: 0008
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"

_FILES = "source = 'file' AND deleted_at IS NULL"


def upgrade() -> None:
    op.add_column("posts", sa.Column("source_size", sa.BigInteger(), nullable=True))
    op.add_column("posts", sa.Column("source_mtime_ns", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_posts_files",
        "posts",
        ["feed_slug", "source_path", "source_size", "source_mtime_ns", "id"],
        sqlite_where=sa.text(_FILES),
        postgresql_where=sa.text(_FILES),
    )


def downgrade() -> None:
    # Plain ALTER TABLE, also on SQLite: re-creating `posts` there would cascade into
    # the tables that refer to it (digest_posts) and empty them.
    op.drop_index("ix_posts_files", table_name="posts")
    op.drop_column("posts", "source_mtime_ns")
    op.drop_column("posts", "source_size")
