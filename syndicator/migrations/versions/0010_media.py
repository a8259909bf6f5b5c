"""media files, post attachments and podcast settings

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "feed_slug",
            sa.String(200),
            sa.ForeignKey("feeds.slug", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("posts.id", ondelete="CASCADE")),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    for name, columns, where in (
        ("uq_media_feed_name", ["feed_slug", "name"], "post_id IS NULL"),
        ("uq_media_post_name", ["post_id", "name"], "post_id IS NOT NULL"),
    ):
        op.create_index(
            name,
            "media",
            columns,
            unique=True,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("attachments", sa.Text(), nullable=True))
        batch.add_column(sa.Column("episode", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("season", sa.Integer(), nullable=True))
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("podcast", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE DROP COLUMN (SQLite 3.35+): a batch copy of posts would drop the
    # table, and with it, through ON DELETE CASCADE, every digest_posts row.
    op.drop_column("feeds", "podcast")
    for column in ("season", "episode", "attachments"):
        op.drop_column("posts", column)
    op.drop_table("media")
