"""posts.source_size/source_mtime_ns for the import's stat pass; webhook_events.post_id

An import compares each file's size and modification time with what it
recorded and reads only the files whose stat moved; the partial index holds
exactly the columns that comparison reads, so it never touches post bodies.

An event no longer copies its post (it is read from the post's row at
fan-out, or frozen into the waiting events just before the post changes):
`post_id` and its index find a post's waiting events. Events recorded
before keep their full snapshots.

Revision ID: 0008
Revises: 0007
"""

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

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
    _put_snapshots_back_into_waiting_events()
    op.drop_column("webhook_events", "post_id")
    op.drop_index("ix_posts_files", table_name="posts")
    op.drop_column("posts", "source_mtime_ns")
    op.drop_column("posts", "source_size")


def _put_snapshots_back_into_waiting_events() -> None:
    """The release before expects every waiting event to hold its post's snapshot."""
    connection = op.get_bind()
    waiting = connection.execute(
        sa.text(
            "SELECT e.id, p.id, p.feed_slug, p.guid, p.slug, p.title, p.summary,"
            " p.content_html, p.author, p.published_at, p.updated_at"
            " FROM webhook_events e JOIN posts p ON p.id = e.post_id"
            " WHERE e.fanned_out_at IS NULL AND e.snapshot = '{}'"
        )
    ).all()
    for (
        event_id,
        post_id,
        feed,
        guid,
        slug,
        title,
        summary,
        html,
        author,
        published,
        updated,
    ) in waiting:
        tags = connection.execute(
            sa.text("SELECT name FROM post_tags WHERE post_id = :id ORDER BY position"),
            {"id": post_id},
        ).scalars()
        snapshot = {
            "feed": feed,
            "id": post_id,
            "guid": guid,
            "slug": slug,
            "title": title,
            "summary": summary,
            "content_html": html,
            "author": author,
            "tags": list(tags),
            "published": _rfc3339(published),
            "updated": _rfc3339(updated),
        }
        connection.execute(
            sa.text("UPDATE webhook_events SET snapshot = :snapshot WHERE id = :id"),
            {"snapshot": json.dumps(snapshot, ensure_ascii=False), "id": event_id},
        )


def _rfc3339(value: datetime | str) -> str:
    """As events.rfc3339 wrote it; SQLite hands back naive UTC text."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
