"""listing by key: the (feed, listed, date, id) index, tag rows that repeat the post's
feed, date and listing, and maintained counts per feed and tag, in all and per UTC
year, month and day

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"

_LISTED = "posts.status = 'published' AND posts.deleted_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_index("ix_posts_feed_published")
        batch.create_index("ix_posts_listing", ["feed_slug", "status", "published_at", "id"])
    with op.batch_alter_table("post_tags") as batch:
        batch.add_column(sa.Column("feed_slug", sa.String(200), nullable=True))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("listed", sa.Boolean(), nullable=True))
    op.execute(
        "UPDATE post_tags SET"
        " feed_slug = (SELECT feed_slug FROM posts WHERE posts.id = post_tags.post_id),"
        " published_at = (SELECT published_at FROM posts WHERE posts.id = post_tags.post_id),"
        f" listed = (SELECT {_LISTED} FROM posts WHERE posts.id = post_tags.post_id)"
    )
    with op.batch_alter_table("post_tags") as batch:
        for column in ("feed_slug", "published_at", "listed"):
            batch.alter_column(column, nullable=False)
        batch.create_index(
            "ix_post_tags_listing", ["feed_slug", "tag_slug", "listed", "published_at", "post_id"]
        )
    op.create_table(
        "listing_counts",
        sa.Column(
            "feed_slug",
            sa.String(200),
            sa.ForeignKey("feeds.slug", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("tag_slug", sa.String(200), nullable=False),
        sa.Column("span", sa.String(12), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("feed_slug", "tag_slug", "span"),
    )
    _count_existing_posts()


def _count_existing_posts() -> None:
    """The counts posts/counts.py keeps, for the posts already there."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    for prefix, width in (("t", 0), ("y", 4), ("m", 7), ("d", 10)):
        if width == 0:
            span = "'t'"
        elif sqlite:  # naive UTC text, 'YYYY-MM-DD HH:MM:SS'
            span = f"'{prefix}' || substr(posts.published_at, 1, {width})"
        else:
            pattern = "YYYY-MM-DD"[:width]
            span = f"'{prefix}' || to_char(posts.published_at AT TIME ZONE 'UTC', '{pattern}')"
        for tag, joined in (("''", ""), ("post_tags.tag_slug", _JOIN_TAGS)):
            op.execute(
                "INSERT INTO listing_counts (feed_slug, tag_slug, span, posts)"
                f" SELECT posts.feed_slug, {tag}, {span}, count(*) FROM posts{joined}"
                f" WHERE {_LISTED} GROUP BY 1, 2, 3"
            )


_JOIN_TAGS = " JOIN post_tags ON post_tags.post_id = posts.id"


def downgrade() -> None:
    op.drop_table("listing_counts")
    with op.batch_alter_table("post_tags") as batch:
        batch.drop_index("ix_post_tags_listing")
        batch.drop_column("listed")
        batch.drop_column("published_at")
        batch.drop_column("feed_slug")
    with op.batch_alter_table("posts") as batch:
        batch.drop_index("ix_posts_listing")
        batch.create_index("ix_posts_feed_published", ["feed_slug", "published_at"])
