"""The dashboard's reads of a year-long journal: each symbol's regime, and the indexes that keep its reads to seeks.

``risk_snapshots.regimes``: each symbol's regime ``[[symbol, regime, since], ...]`` as JSON, written at the bar
closes where one changed (the per-asset view reads the newest). Partial indexes find the rows that carry a
correlation matrix or regimes among every bar's row (the newest one is a single seek whatever the gap); an
index on the kill switch's changes by account serves the check a running session makes at every bar, one on
the alerts by account and time the newest-first list.

Undoing it drops the indexes and the column: refused while a row holds regimes, unless forced (as a table
holding rows is, ``journal.migrate``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("risk_snapshots", sa.Column("regimes", sa.Text, nullable=True))
    for name, column in (("ix_risk_snapshots_correlation", "correlation"), ("ix_risk_snapshots_regimes", "regimes")):
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "risk_snapshots", ["account", "ts"], sqlite_where=where, postgresql_where=where)
    op.create_index("ix_killswitch_events_account", "killswitch_events", ["account", "id"])
    op.create_index("ix_alerts_account_ts", "alerts", ["account", "ts"])


def downgrade() -> None:
    op.drop_index("ix_alerts_account_ts", table_name="alerts")
    op.drop_index("ix_killswitch_events_account", table_name="killswitch_events")
    op.drop_index("ix_risk_snapshots_regimes", table_name="risk_snapshots")
    op.drop_index("ix_risk_snapshots_correlation", table_name="risk_snapshots")
    with op.batch_alter_table("risk_snapshots") as batch:
        batch.drop_column("regimes")
