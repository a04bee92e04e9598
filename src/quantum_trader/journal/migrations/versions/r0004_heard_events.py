"""What a live session heard, and when: the order events and funding payments its catch-up replays after a crash.

A live session that died is taken again from its first bar (``analytics.live_resume``); the exchange's
bars are fetched again, but what the exchange told the session (an order filled, a funding payment) is
not asked again: it is read from here, each at the market time the session first heard it, so the kernel
books it at the same bar as before. One table, so undoing the revision drops exactly it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "heard_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(64), nullable=False, server_default="default"),
        sa.Column("session", sa.String(128), nullable=False, server_default=""),
        sa.Column("heard_ts", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("order_event_id", sa.Integer, nullable=True),
        sa.Column("symbol", sa.String(64), nullable=True),
        sa.Column("ts", sa.BigInteger, nullable=True),
        sa.Column("rate", sa.Text, nullable=True),
        sa.Column("price", sa.Text, nullable=True),
    )
    op.create_index("ix_heard_events_account_session", "heard_events", ["account", "session"])


def downgrade() -> None:
    op.drop_index("ix_heard_events_account_session", table_name="heard_events")
    op.drop_table("heard_events")
