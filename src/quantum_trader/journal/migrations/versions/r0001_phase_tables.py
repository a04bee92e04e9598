"""Today's journal: phase changes and kill-switch drills, exactly as ``metadata.create_all`` made them before
migrations existed (so such a journal is stamped at this revision and upgraded in place).

Revision ID: 0001
Revises:
Create Date: 2026-01-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "phase_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("from_phase", sa.Integer, nullable=True),
        sa.Column("to_phase", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("operator", sa.String(128), nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
    )
    op.create_table(
        "killswitch_drills",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Integer, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("phase", sa.Integer, nullable=False),
        sa.Column("positions_before", sa.Integer, nullable=False),
        sa.Column("positions_after", sa.Integer, nullable=False),
        sa.Column("all_closed", sa.Boolean, nullable=False),
        sa.Column("tripped", sa.Boolean, nullable=False),
        sa.Column("trip_reason", sa.Text, nullable=False),
        sa.Column("equity_before", sa.Float, nullable=False),
        sa.Column("equity_after", sa.Float, nullable=False),
        sa.Column("operator", sa.String(128), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("killswitch_drills")
    op.drop_table("phase_events")
