"""delivery_attempts carry their channel, indexed with the id: the health check's
"latest mail attempt" is one index probe, whatever the size of the log

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.add_column(sa.Column("channel", sa.String(20), nullable=True))
    op.execute(
        "UPDATE delivery_attempts SET channel = (SELECT deliveries.channel FROM deliveries"
        " WHERE deliveries.id = delivery_attempts.delivery_id)"
    )
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.alter_column("channel", existing_type=sa.String(20), nullable=False)
        batch.create_index("ix_delivery_attempts_channel", ["channel", "id"])


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_index("ix_delivery_attempts_channel")
        batch.drop_column("channel")
