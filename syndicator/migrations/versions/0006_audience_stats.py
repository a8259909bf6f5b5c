"""audience counters: stats_traffic, stats_pollers, stats_aggregators, stats_channels

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def _url_key() -> list[sa.Column[object]]:
    return [
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("feed", sa.String(200), nullable=False),
        sa.Column("tag", sa.String(200), nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
    ]


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    key = ("day", "feed", "tag", "format", "page")
    op.create_table(
        "stats_traffic",
        *_url_key(),
        *(_counter(name) for name in ("requests", "full", "not_modified", "throttled")),
        _counter("bytes_sent"),
        sa.PrimaryKeyConstraint(*key),
    )
    op.create_table(
        "stats_pollers",
        *_url_key(),
        sa.Column("sketch", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(*key),
    )
    op.create_table(
        "stats_aggregators",
        *_url_key(),
        sa.Column("aggregator", sa.String(40), nullable=False),
        sa.Column("subscribers", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*key, "aggregator"),
    )
    op.create_table(
        "stats_channels",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("feed", sa.String(200), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("email", "webhooks", "websub")
        ),
        sa.PrimaryKeyConstraint("day", "feed"),
    )


def downgrade() -> None:
    for table in ("stats_channels", "stats_aggregators", "stats_pollers", "stats_traffic"):
        op.drop_table(table)
