"""compact tag rows: post_tags and listing_counts stored in their primary key on SQLite
(WITHOUT ROWID, no second copy of each row in an autoindex); ix_post_tags_slug dropped
(the admin search's tag filter walks ix_post_tags_listing)

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"

_TABLES = ("post_tags", "listing_counts")


def upgrade() -> None:
    op.drop_index("ix_post_tags_slug", table_name="post_tags")
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)
    op.create_index("ix_post_tags_slug", "post_tags", ["tag_slug"])


def _rebuild(*, with_rowid: bool) -> None:
    """SQLite: copy each table into one of the other kind (its columns, keys and indexes
    as they are). Nothing refers to these tables, so dropping the old copy cascades
    nowhere. PostgreSQL has no such choice."""
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in _TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_with_rowid": with_rowid}
        ):
            pass
