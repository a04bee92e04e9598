"""The trading session's tables (orders, order events, fills, snapshots, decisions, the kill switch, locks,
tiers, alerts, incidents, sessions, feed cursors); the phase tables gain the account and 64-bit times.

``phase_events.ts`` and ``killswitch_drills.ts`` were 32-bit ``INTEGER``: on PostgreSQL an epoch
millisecond does not fit (SQLite's integers are 64-bit anyway; the batch rebuild there keeps the
declared type in step with the code). The downgrade keeps them 64-bit: narrowing would fail on
every real time, and the older release reads them as it did. Money and quantities are decimal
text (``ExactDecimal``), the few floats their repr (``ExactFloat``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

DECIMAL = sa.Text
FLOAT = sa.Text
PHASE_TABLES = ("phase_events", "killswitch_drills")


def _account() -> sa.Column[str]:
    return sa.Column("account", sa.String(64), nullable=False, server_default="default")


def _session() -> sa.Column[str]:
    return sa.Column("session", sa.String(128), nullable=False, server_default="")


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _ts(name: str = "ts", nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=nullable)


def _order_tables() -> None:
    op.create_table(
        "sessions",
        _account(),
        sa.Column("session", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("exchange", sa.String(32), nullable=False),
        _ts("started_ts"), _ts("ended_ts", True),
        sa.Column("end_reason", sa.Text, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("account", "session", name="pk_sessions"),
    )
    op.create_table(
        "orders",
        _id(), _account(), _session(),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("exchange_order_id", sa.String(128), nullable=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("quantity", DECIMAL, nullable=False),
        sa.Column("price", DECIMAL, nullable=True),
        sa.Column("stop_price", DECIMAL, nullable=True),
        sa.Column("reduce_only", sa.Boolean, nullable=False),
        sa.Column("post_only", sa.Boolean, nullable=False),
        _ts("expire_ts", True), _ts("active_from_ts", True),
        sa.Column("equity_fraction", FLOAT, nullable=True),
        sa.Column("tag", sa.Text, nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("filled_quantity", DECIMAL, nullable=False),
        _ts("created_ts"), _ts("updated_ts"),
        sa.Column("decision_id", sa.Integer, nullable=True),
        sa.UniqueConstraint("account", "client_order_id", name="uq_orders_account_client_order_id"),
    )
    op.create_index("ix_orders_account_status", "orders", ["account", "status"])
    op.create_table(
        "order_events",
        _id(), _account(), _session(),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        _ts(),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("exchange_order_id", sa.String(128), nullable=True),
        sa.Column("fill_id", sa.String(128), nullable=True),
        sa.Column("reference", FLOAT, nullable=True),
    )
    op.create_index("ix_order_events_account_client_order_id", "order_events", ["account", "client_order_id"])
    op.create_table(
        "fills",
        _id(), _account(), _session(),
        sa.Column("fill_id", sa.String(128), nullable=False),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", DECIMAL, nullable=False),
        sa.Column("price", DECIMAL, nullable=False),
        sa.Column("fee", DECIMAL, nullable=False),
        sa.Column("is_maker", sa.Boolean, nullable=False),
        sa.Column("liquidation", sa.Boolean, nullable=False),
        _ts(),
        sa.UniqueConstraint("account", "fill_id", name="uq_fills_account_fill_id"),
    )
    op.create_index("ix_fills_account_ts", "fills", ["account", "ts"])
    op.create_table(
        "risk_decisions",
        _id(), _account(), _session(), _ts(),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("quantity", DECIMAL, nullable=False),
        sa.Column("requested_quantity", DECIMAL, nullable=True),
        sa.Column("equity_fraction", FLOAT, nullable=True),
        sa.Column("intent", sa.Text, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("client_order_id", sa.String(128), nullable=True),
    )
    op.create_index("ix_risk_decisions_account_ts", "risk_decisions", ["account", "ts"])


def _snapshot_tables() -> None:
    op.create_table(
        "snapshots",
        _id(), _account(), _session(), _ts(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_index("ix_snapshots_account_kind_source", "snapshots", ["account", "kind", "source"])
    op.create_table(
        "snapshot_positions",
        sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("snapshots.id", name="fk_snapshot_positions_snapshot"),
                  nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("quantity", DECIMAL, nullable=False),
        sa.Column("entry_price", DECIMAL, nullable=False),
        sa.Column("stop_price", DECIMAL, nullable=True),
        _ts("opened_ts"),
        sa.PrimaryKeyConstraint("snapshot_id", "symbol", name="pk_snapshot_positions"),
    )
    op.create_table(
        "snapshot_balances",
        sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("snapshots.id", name="fk_snapshot_balances_snapshot"),
                  nullable=False),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("total", DECIMAL, nullable=False),
        sa.Column("free", DECIMAL, nullable=True),
        sa.Column("used", DECIMAL, nullable=True),
        sa.PrimaryKeyConstraint("snapshot_id", "asset", name="pk_snapshot_balances"),
    )
    op.create_table(
        "equity_snapshots",
        _id(), _account(), _session(), _ts(),
        *(sa.Column(name, DECIMAL, nullable=False)
          for name in ("equity", "cash", "unrealised_pnl", "realised_pnl", "fees_paid", "funding_paid")),
    )
    op.create_index("ix_equity_snapshots_account_ts", "equity_snapshots", ["account", "ts"])


def _control_tables() -> None:
    op.create_table(
        "killswitch_state",
        sa.Column("account", sa.String(64), primary_key=True),
        _session(), _ts(),
        sa.Column("tripped", sa.Boolean, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("trip_reason", sa.Text, nullable=False),
        sa.Column("peak_equity", DECIMAL, nullable=False),
        sa.Column("day_start_equity", DECIMAL, nullable=False),
        _ts("equity_day"),
    )
    op.create_table(
        "killswitch_events",
        _id(), _account(), _session(), _ts(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("operator", sa.String(128), nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
    )
    op.create_table(
        "asset_locks",
        _id(), _account(), _session(),
        sa.Column("asset", sa.String(32), nullable=False),
        _ts(), _ts("until_ts"),
        sa.Column("reason", sa.Text, nullable=False),
        _ts("cleared_ts", True),
        sa.Column("cleared_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_asset_locks_account_asset", "asset_locks", ["account", "asset"])
    op.create_table(
        "tier_changes",
        _id(), _account(), _session(), _ts(),
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("from_tier", sa.Integer, nullable=True),
        sa.Column("to_tier", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("operator", sa.String(128), nullable=False),
    )
    op.create_table(
        "alerts",
        _id(), _account(), _session(), _ts(),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("acknowledged_by", sa.String(128), nullable=True),
        _ts("acknowledged_ts", True),
    )
    op.create_table(
        "incidents",
        _id(), _account(), _session(), _ts(),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("safe_action", sa.Text, nullable=False),
        _ts("resolved_ts", True),
        sa.Column("resolved_by", sa.String(128), nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
    )
    op.create_table(
        "feed_cursors",
        _account(), _session(),
        sa.Column("feed", sa.String(128), nullable=False),
        _ts("bar_ts"), _ts("updated_ts"),
        sa.PrimaryKeyConstraint("account", "session", "feed", name="pk_feed_cursors"),
    )


TABLES = ("feed_cursors", "incidents", "alerts", "tier_changes", "asset_locks", "killswitch_events",
          "killswitch_state", "equity_snapshots", "snapshot_balances", "snapshot_positions", "snapshots",
          "risk_decisions", "fills", "order_events", "orders", "sessions")
"""Created here, dropped by the downgrade in this order (rows that refer to others first)."""


def upgrade() -> None:
    for table in PHASE_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("ts", type_=sa.BigInteger, existing_type=sa.Integer, existing_nullable=False)
            batch.add_column(_account())
    _order_tables()
    _snapshot_tables()
    _control_tables()


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
    for table in PHASE_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("account")

