"""one delivery queue: webhook_messages and mail_messages become deliveries, one attempt log

Webhook message ids are kept (the API shows them); mail ids move past them and
digest_posts follows.

Revision ID: 0005
Revises: 0004
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def _when(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(name: str, table: str, nullable: bool = True) -> sa.Column[int]:
    return sa.Column(
        name, sa.Integer(), sa.ForeignKey(f"{table}.id", ondelete="CASCADE"), nullable=nullable
    )


def _digest_posts(mail_column: str, mail_table: str) -> None:
    op.create_table(
        "digest_posts",
        sa.Column(mail_column, sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint([mail_column], [f"{mail_table}.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(mail_column, "post_id"),
        sa.UniqueConstraint("subscriber_id", "post_id", name="uq_digest_posts_subscriber_post"),
    )
    op.create_index("ix_digest_posts_post", "digest_posts", ["post_id"])


def _move_digest_posts(mail_column: str, mail_table: str, shift: str) -> None:
    """Recreate digest_posts pointing at `mail_table`, its mail ids moved by `shift`."""
    connection = op.get_bind()
    held = connection.execute(sa.text("SELECT * FROM digest_posts")).mappings().all()
    old_column = "delivery_id" if mail_column == "mail_id" else "mail_id"
    op.drop_index("ix_digest_posts_post", table_name="digest_posts")
    op.drop_table("digest_posts")
    _digest_posts(mail_column, mail_table)
    offset = int(connection.execute(sa.text(shift)).scalar() or 0)
    if held:
        connection.execute(
            sa.text(
                f"INSERT INTO digest_posts ({mail_column}, post_id, subscriber_id)"
                " VALUES (:mail, :post, :subscriber)"
            ),
            [
                {
                    "mail": row[old_column] + offset,
                    "post": row["post_id"],
                    "subscriber": row["subscriber_id"],
                }
                for row in held
            ],
        )


def _reset_sequences(*tables: str) -> None:
    """PostgreSQL: rows were copied with their ids; the next id must come after them."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        )


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        _fk("endpoint_id", "webhook_endpoints"),
        _fk("subscriber_id", "subscribers"),
        _fk("event_id", "webhook_events"),
        sa.Column("message_key", sa.String(length=255), nullable=False, unique=True),
        sa.Column("order_key", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at", nullable=False),
        _when("lease_until"),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        _when("created_at", nullable=False),
        _when("finished_at"),
        sa.UniqueConstraint("event_id", "endpoint_id", name="uq_deliveries_event_endpoint"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["channel", "status", "next_attempt_at"])
    op.create_index("ix_deliveries_endpoint", "deliveries", ["endpoint_id", "id"])
    op.create_index("ix_deliveries_subscriber", "deliveries", ["subscriber_id"])
    op.create_index("ix_deliveries_order", "deliveries", ["order_key", "event_id"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("delivery_id", "deliveries", nullable=False),
        _when("attempted_at", nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_prefix", sa.Text(), nullable=True),
    )
    op.create_index("ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id", "id"])
    op.create_table(
        "worker_beats",
        sa.Column("owner", sa.String(length=80), primary_key=True),
        _when("beat_at", nullable=False),
    )
    op.execute(
        "INSERT INTO deliveries (id, channel, endpoint_id, event_id, message_key, status,"
        " attempts, next_attempt_at, lease_until, lease_owner, created_at, finished_at)"
        " SELECT id, 'webhook', endpoint_id, event_id, webhook_id, status, attempts,"
        " COALESCE(next_attempt_at, created_at), lease_until, claimed_by, created_at,"
        " CASE WHEN status = 'pending' THEN NULL ELSE created_at END FROM webhook_messages"
    )
    op.execute(
        "INSERT INTO delivery_attempts (id, delivery_id, attempted_at, status_code,"
        " duration_ms, error, response_prefix) SELECT id, message_id, attempted_at,"
        " status_code, duration_ms, error, response_prefix FROM webhook_attempts"
    )
    shift = "SELECT COALESCE(MAX(id), 0) FROM webhook_messages"
    op.execute(
        "INSERT INTO deliveries (id, channel, subscriber_id, message_key, status, attempts,"
        " next_attempt_at, lease_until, lease_owner, last_error, raw, created_at, finished_at)"
        f" SELECT id + ({shift}), 'mail', subscriber_id, header_id,"
        " CASE WHEN status = 'sent' THEN 'succeeded' ELSE status END, attempts,"
        " next_attempt_at, lease_until, lease_owner, last_error, raw, created_at, sent_at"
        " FROM mail_messages"
    )
    _move_digest_posts("delivery_id", "deliveries", shift)
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_messages")
    op.drop_table("mail_messages")
    _reset_sequences("deliveries", "delivery_attempts")


def downgrade() -> None:
    op.create_table(
        "webhook_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("webhook_id", sa.String(length=64), nullable=False, unique=True),
        _fk("event_id", "webhook_events", nullable=False),
        _fk("endpoint_id", "webhook_endpoints", nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        _when("lease_until"),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        _when("created_at", nullable=False),
        sa.UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_messages_event_endpoint"),
    )
    op.create_index("ix_webhook_messages_due", "webhook_messages", ["status", "next_attempt_at"])
    op.create_index("ix_webhook_messages_endpoint", "webhook_messages", ["endpoint_id", "id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("message_id", "webhook_messages", nullable=False),
        _when("attempted_at", nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_prefix", sa.Text(), nullable=True),
    )
    op.create_index("ix_webhook_attempts_message", "webhook_attempts", ["message_id", "id"])
    op.create_table(
        "mail_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("subscriber_id", "subscribers", nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("header_id", sa.String(length=255), nullable=False, unique=True),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at", nullable=False),
        _when("lease_until"),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _when("created_at", nullable=False),
        _when("sent_at"),
    )
    op.create_index("ix_mail_messages_due", "mail_messages", ["status", "next_attempt_at"])
    op.execute(
        "INSERT INTO webhook_messages (id, webhook_id, event_id, endpoint_id, status, attempts,"
        " next_attempt_at, lease_until, claimed_by, created_at) SELECT id, message_key,"
        " event_id, endpoint_id, CASE WHEN status = 'sending' THEN 'pending' ELSE status END,"
        " attempts, next_attempt_at, lease_until, SUBSTR(lease_owner, 1, 64), created_at"
        " FROM deliveries WHERE channel = 'webhook'"
    )
    op.execute(
        "INSERT INTO webhook_attempts (id, message_id, attempted_at, status_code, duration_ms,"
        " error, response_prefix) SELECT a.id, a.delivery_id, a.attempted_at, a.status_code,"
        " a.duration_ms, a.error, a.response_prefix FROM delivery_attempts a"
        " JOIN deliveries d ON d.id = a.delivery_id WHERE d.channel = 'webhook'"
    )
    op.execute(
        "INSERT INTO mail_messages (id, subscriber_id, kind, status, header_id, raw, attempts,"
        " next_attempt_at, lease_until, lease_owner, last_error, created_at, sent_at)"
        " SELECT id, subscriber_id, CASE WHEN EXISTS (SELECT 1 FROM digest_posts p"
        " WHERE p.delivery_id = deliveries.id) THEN 'digest' ELSE 'confirmation' END,"
        " CASE WHEN status = 'succeeded' THEN 'sent' ELSE status END, message_key, raw,"
        " attempts, next_attempt_at, lease_until, lease_owner, last_error, created_at,"
        " finished_at FROM deliveries WHERE channel = 'mail'"
    )
    _move_digest_posts("mail_id", "mail_messages", "SELECT 0")
    op.drop_table("worker_beats")
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    _reset_sequences("webhook_messages", "webhook_attempts", "mail_messages")
