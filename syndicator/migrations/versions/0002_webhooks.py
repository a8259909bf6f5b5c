"""webhooks

Revision ID: 0002
Revises: 0001
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def _when(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("feed_slugs", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        _when("previous_secret_expires_at"),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        _when("failing_since"),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("feed_slug", sa.String(length=200), nullable=True),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column(
            "endpoint_id",
            sa.Integer(),
            sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
            nullable=True,
        ),
        _when("created_at", nullable=False),
        _when("fanned_out_at"),
    )
    op.create_index("ix_webhook_events_unfanned", "webhook_events", ["fanned_out_at"])
    op.create_table(
        "webhook_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("webhook_id", sa.String(length=64), nullable=False, unique=True),
        sa.Column(
            "event_id",
            sa.Integer(),
            sa.ForeignKey("webhook_events.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "endpoint_id",
            sa.Integer(),
            sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
            nullable=False,
        ),
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
        sa.Column(
            "message_id",
            sa.Integer(),
            sa.ForeignKey("webhook_messages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _when("attempted_at", nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_prefix", sa.Text(), nullable=True),
    )
    op.create_index("ix_webhook_attempts_message", "webhook_attempts", ["message_id", "id"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_messages")
    op.drop_table("webhook_events")
    op.drop_table("webhook_endpoints")
