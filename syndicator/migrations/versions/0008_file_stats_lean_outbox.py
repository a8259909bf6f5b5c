"""posts.source_size/source_mtime_ns for the import's stat pass; webhook_events.post_id

An import compares each file's size and modification time with what it
recorded and reads only the files whose stat moved; the partial index holds
exactly the columns that comparison reads, so it never touches post bodies.

An event's snapshot no longer copies the post's HTML (it is read from the
post at fan-out, or frozen into the waiting events just before it changes):
`post_id` and its index find a post's waiting events. Events recorded before
keep their full snapshots.

Revision ID: 0008
Revises: 0005
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"

_FILES = "source = 'file' AND deleted_at IS NULL"
_WAITING = "fanned_out_at IS NULL"


def upgrade() -> None:
    op.add_column("posts", sa.Column("source_size", sa.BigInteger(), nullable=True))
    op.add_column("posts", sa.Column("source_mtime_ns", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_posts_files",
        "posts",
        [
            "feed_slug",
            "source",
            "deleted_at",
            "source_path",
            "source_size",
            "source_mtime_ns",
            "id",
        ],
        sqlite_where=sa.text(_FILES),
        postgresql_where=sa.text(_FILES),
    )
    op.add_column("webhook_events", sa.Column("post_id", sa.Integer(), nullable=True))
    op.create_index(
        "ix_webhook_events_waiting_post",
        "webhook_events",
        ["post_id"],
        sqlite_where=sa.text(_WAITING),
        postgresql_where=sa.text(_WAITING),
    )


def downgrade() -> None:
    # Plain ALTER TABLE, also on SQLite: re-creating `posts` there would cascade into
    # the tables that refer to it (digest_posts) and empty them.
    op.drop_index("ix_webhook_events_waiting_post", table_name="webhook_events")
    _put_html_back_into_waiting_events()
    op.drop_column("webhook_events", "post_id")
    op.drop_index("ix_posts_files", table_name="posts")
    op.drop_column("posts", "source_mtime_ns")
    op.drop_column("posts", "source_size")


def _put_html_back_into_waiting_events() -> None:
    """The release before expects every waiting event's snapshot to hold the HTML."""
    connection = op.get_bind()
    waiting = connection.execute(
        sa.text(
            "SELECT e.id, e.snapshot, p.content_html FROM webhook_events e"
            " LEFT JOIN posts p ON p.id = e.post_id"
            " WHERE e.fanned_out_at IS NULL AND e.post_id IS NOT NULL"
        )
    ).all()
    for event_id, snapshot, html in waiting:
        data = json.loads(snapshot)
        if "content_html" not in data:
            data["content_html"] = html or ""
            connection.execute(
                sa.text("UPDATE webhook_events SET snapshot = :snapshot WHERE id = :id"),
                {"snapshot": json.dumps(data, ensure_ascii=False), "id": event_id},
            )
