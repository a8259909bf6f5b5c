"""posts.first_live_at: when a post first went live, kept while went_live_at is cleared

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("first_live_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE posts SET first_live_at = went_live_at")


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("first_live_at")
