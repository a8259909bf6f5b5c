"""websub: subscriptions, topic contents, what each topic last sent, hubs pinged; three
delivery columns

Revision ID: 0011
Revises: 0010
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def _when(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "websub_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("callback", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("lease_seconds", sa.Integer(), nullable=True),
        _when("lease_expires_at"),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        sa.UniqueConstraint("topic", "callback", name="uq_websub_subscriptions_topic_callback"),
    )
    op.create_index(
        "ix_websub_subscriptions_topic",
        "websub_subscriptions",
        ["topic", "status", "lease_expires_at"],
    )
    op.create_table(
        "websub_contents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        _when("created_at", nullable=False),
    )
    op.create_index("ix_websub_contents_topic", "websub_contents", ["topic", "id"])
    op.create_table(
        "websub_hubs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("url", sa.String(length=2000), nullable=False, unique=True),
        _when("created_at", nullable=False),
    )
    op.create_table(
        "websub_topics",
        sa.Column("topic", sa.String(length=2000), primary_key=True),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column(
            "content_id",
            sa.Integer(),
            sa.ForeignKey("websub_contents.id", ondelete="SET NULL"),
            nullable=True,
        ),
        _when("changed_at", nullable=False),
    )
    # Plain columns, added in place: a foreign key would need SQLite's batch mode, which
    # copies and drops `deliveries`, and dropping it deletes every attempt and digest row
    # that refers to it. `websub.subscriptions.remove` deletes a subscription's messages.
    with op.batch_alter_table("deliveries", recreate="never") as batch:
        batch.add_column(sa.Column("websub_subscription_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("websub_content_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("websub_hub_id", sa.Integer(), nullable=True))
    op.create_index("ix_deliveries_websub", "deliveries", ["websub_subscription_id", "id"])
    op.create_index("ix_deliveries_websub_content", "deliveries", ["websub_content_id"])
    op.create_index("ix_deliveries_websub_hub", "deliveries", ["websub_hub_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_websub_hub", table_name="deliveries")
    op.drop_index("ix_deliveries_websub_content", table_name="deliveries")
    op.drop_index("ix_deliveries_websub", table_name="deliveries")
    with op.batch_alter_table("deliveries", recreate="never") as batch:
        batch.drop_column("websub_hub_id")
        batch.drop_column("websub_content_id")
        batch.drop_column("websub_subscription_id")
    op.drop_table("websub_topics")
    op.drop_table("websub_hubs")
    op.drop_index("ix_websub_contents_topic", table_name="websub_contents")
    op.drop_table("websub_contents")
    op.drop_index("ix_websub_subscriptions_topic", table_name="websub_subscriptions")
    op.drop_table("websub_subscriptions")
