"""Risk snapshots: a running session's exposure, loss figures and correlation matrix over time.

The dashboard draws exposure and correlation history from them, and the gates judge whether
correlation monitoring ran at its cadence. One table, so undoing the revision drops exactly
it (refused while it holds rows, unless forced, as for every revision).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

FLOAT = sa.Text


def upgrade() -> None:
    op.create_table(
        "risk_snapshots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(64), nullable=False, server_default="default"),
        sa.Column("session", sa.String(128), nullable=False, server_default=""),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("equity", sa.Text, nullable=False),
        sa.Column("exposure", FLOAT, nullable=False),
        sa.Column("correlated_exposure", FLOAT, nullable=True),
        sa.Column("daily_loss", FLOAT, nullable=True),
        sa.Column("drawdown", FLOAT, nullable=True),
        sa.Column("positions", sa.Integer, nullable=False),
        sa.Column("symbols", sa.Text, nullable=True),
        sa.Column("correlation", sa.Text, nullable=True),
        sa.Column("mean_correlation", FLOAT, nullable=True),
    )
    op.create_index("ix_risk_snapshots_account_ts", "risk_snapshots", ["account", "ts"])


def downgrade() -> None:
    op.drop_index("ix_risk_snapshots_account_ts", table_name="risk_snapshots")
    op.drop_table("risk_snapshots")
