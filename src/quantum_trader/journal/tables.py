"""The trading session's tables (revision 0002): orders, their events and fills, snapshots, decisions,
the kill switch, locks, tiers, alerts, incidents, sessions and feed cursors.

Every row carries the account and the session (run) that wrote it: a PostgreSQL database may
hold several accounts, and the gates tell a paper session from a live one by its session row.
A row is written before the action it records is sent (an order row exists before the order
leaves), and each state change is one transaction (see ``journal/trading.py``).

Uniqueness is what makes a replay after a crash harmless: a client order id is unique per
account (the same decision cannot become two orders), a fill id too (a fill seen twice, from
the order's update and from the trade stream, is recorded once).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from quantum_trader.journal.schema import (
    ACCOUNT_LEN,
    SESSION_LEN,
    ExactDecimal,
    ExactFloat,
    account_column,
    metadata,
    session_column,
)

ID_LEN = 128
SYMBOL_LEN = 64


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True, autoincrement=True)


def _ts(name: str = "ts", *, nullable: bool = False) -> Column[int]:
    return Column(name, BigInteger, nullable=nullable)


sessions = Table(
    "sessions", metadata,
    account_column(),
    Column("session", String(SESSION_LEN), nullable=False),
    # backtest, paper, testnet or live: the kind of evidence the session is for the gates.
    Column("mode", String(16), nullable=False),
    Column("exchange", String(32), nullable=False, default=""),
    _ts("started_ts"),
    _ts("ended_ts", nullable=True),
    Column("end_reason", Text, nullable=True),
    Column("detail", Text, nullable=False, default="{}"),
    PrimaryKeyConstraint("account", "session", name="pk_sessions"),
)

orders = Table(
    "orders", metadata,
    _id(), account_column(), session_column(),
    Column("client_order_id", String(ID_LEN), nullable=False),
    Column("exchange_order_id", String(ID_LEN), nullable=True),
    Column("symbol", String(SYMBOL_LEN), nullable=False),
    Column("side", String(8), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("price", ExactDecimal, nullable=True),
    Column("stop_price", ExactDecimal, nullable=True),
    Column("reduce_only", Boolean, nullable=False),
    Column("post_only", Boolean, nullable=False),
    _ts("expire_ts", nullable=True),
    _ts("active_from_ts", nullable=True),
    Column("equity_fraction", ExactFloat, nullable=True),
    Column("tag", Text, nullable=False, default=""),
    Column("purpose", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    Column("filled_quantity", ExactDecimal, nullable=False),
    _ts("created_ts"),
    _ts("updated_ts"),
    Column("decision_id", Integer, nullable=True),
    UniqueConstraint("account", "client_order_id", name="uq_orders_account_client_order_id"),
    Index("ix_orders_account_status", "account", "status"),
)

order_events = Table(
    "order_events", metadata,
    _id(), account_column(), session_column(),
    Column("client_order_id", String(ID_LEN), nullable=False),
    _ts(),
    Column("kind", String(24), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("exchange_order_id", String(ID_LEN), nullable=True),
    Column("fill_id", String(ID_LEN), nullable=True),
    Column("reference", ExactFloat, nullable=True),
    Index("ix_order_events_account_client_order_id", "account", "client_order_id"),
)

fills = Table(
    "fills", metadata,
    _id(), account_column(), session_column(),
    Column("fill_id", String(ID_LEN), nullable=False),
    Column("client_order_id", String(ID_LEN), nullable=False, default=""),
    Column("symbol", String(SYMBOL_LEN), nullable=False),
    Column("side", String(8), nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("price", ExactDecimal, nullable=False),
    Column("fee", ExactDecimal, nullable=False),
    Column("is_maker", Boolean, nullable=False),
    Column("liquidation", Boolean, nullable=False),
    _ts(),
    UniqueConstraint("account", "fill_id", name="uq_fills_account_fill_id"),
    Index("ix_fills_account_ts", "account", "ts"),
)

snapshots = Table(
    "snapshots", metadata,
    _id(), account_column(), session_column(),
    _ts(),
    # positions or balances.
    Column("kind", String(16), nullable=False),
    # Whose view: ``ledger`` (the journal's own books) or ``exchange`` (as the venue reported it).
    Column("source", String(16), nullable=False),
    Index("ix_snapshots_account_kind_source", "account", "kind", "source"),
)

snapshot_positions = Table(
    "snapshot_positions", metadata,
    Column("snapshot_id", Integer, ForeignKey("snapshots.id", name="fk_snapshot_positions_snapshot"),
           nullable=False),
    Column("symbol", String(SYMBOL_LEN), nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("entry_price", ExactDecimal, nullable=False),
    Column("stop_price", ExactDecimal, nullable=True),
    _ts("opened_ts"),
    PrimaryKeyConstraint("snapshot_id", "symbol", name="pk_snapshot_positions"),
)

snapshot_balances = Table(
    "snapshot_balances", metadata,
    Column("snapshot_id", Integer, ForeignKey("snapshots.id", name="fk_snapshot_balances_snapshot"),
           nullable=False),
    Column("asset", String(32), nullable=False),
    Column("total", ExactDecimal, nullable=False),
    Column("free", ExactDecimal, nullable=True),
    Column("used", ExactDecimal, nullable=True),
    PrimaryKeyConstraint("snapshot_id", "asset", name="pk_snapshot_balances"),
)

equity_snapshots = Table(
    "equity_snapshots", metadata,
    _id(), account_column(), session_column(),
    _ts(),
    Column("equity", ExactDecimal, nullable=False),
    Column("cash", ExactDecimal, nullable=False),
    Column("unrealised_pnl", ExactDecimal, nullable=False),
    Column("realised_pnl", ExactDecimal, nullable=False),
    Column("fees_paid", ExactDecimal, nullable=False),
    Column("funding_paid", ExactDecimal, nullable=False),
    Index("ix_equity_snapshots_account_ts", "account", "ts"),
)

risk_decisions = Table(
    "risk_decisions", metadata,
    _id(), account_column(), session_column(),
    _ts(),
    Column("symbol", String(SYMBOL_LEN), nullable=False),
    Column("side", String(8), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("requested_quantity", ExactDecimal, nullable=True),
    Column("equity_fraction", ExactFloat, nullable=True),
    # The intent as JSON (floats by their shortest repr: exact).
    Column("intent", Text, nullable=False),
    # Every rule that applied as a JSON list (rule, message, value, limit, reduces).
    Column("reasons", Text, nullable=False),
    Column("client_order_id", String(ID_LEN), nullable=True),
    Index("ix_risk_decisions_account_ts", "account", "ts"),
)

killswitch_state = Table(
    "killswitch_state", metadata,
    Column("account", String(ACCOUNT_LEN), primary_key=True),
    session_column(),
    _ts(),
    Column("tripped", Boolean, nullable=False),
    # ``KillSwitchState.to_dict()`` as JSON.
    Column("state", Text, nullable=False),
    Column("trip_reason", Text, nullable=False, default=""),
    Column("peak_equity", ExactDecimal, nullable=False),
    Column("day_start_equity", ExactDecimal, nullable=False),
    # The UTC day (epoch ms of its 00:00) that day-start equity belongs to.
    _ts("equity_day"),
)

killswitch_events = Table(
    "killswitch_events", metadata,
    _id(), account_column(), session_column(),
    _ts(),
    Column("kind", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("operator", String(128), nullable=False, default=""),
    Column("forced", Boolean, nullable=False, default=False),
    # The switch as saved with this change (``KillSwitchState.to_dict()``).
    Column("state", Text, nullable=False),
)

asset_locks = Table(
    "asset_locks", metadata,
    _id(), account_column(), session_column(),
    Column("asset", String(32), nullable=False),
    _ts(),
    _ts("until_ts"),
    Column("reason", Text, nullable=False),
    _ts("cleared_ts", nullable=True),
    Column("cleared_reason", Text, nullable=True),
    Index("ix_asset_locks_account_asset", "account", "asset"),
)

tier_changes = Table(
    "tier_changes", metadata,
    _id(), account_column(), session_column(),
    _ts(),
    Column("asset", String(32), nullable=False),
    Column("from_tier", Integer, nullable=True),
    Column("to_tier", Integer, nullable=True),
    Column("reason", Text, nullable=False),
    Column("operator", String(128), nullable=False, default=""),
)

alerts = Table(
    "alerts", metadata,
    _id(), account_column(), session_column(),
    _ts(),
    Column("kind", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("acknowledged_by", String(128), nullable=True),
    _ts("acknowledged_ts", nullable=True),
)

incidents = Table(
    "incidents", metadata,
    _id(), account_column(), session_column(),
    _ts(),
    Column("kind", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("safe_action", Text, nullable=False),
    _ts("resolved_ts", nullable=True),
    Column("resolved_by", String(128), nullable=True),
    Column("resolution", Text, nullable=True),
)

feed_cursors = Table(
    "feed_cursors", metadata,
    account_column(), session_column(),
    Column("feed", String(128), nullable=False),
    # The open time of the last bar the session processed on this feed.
    _ts("bar_ts"),
    _ts("updated_ts"),
    PrimaryKeyConstraint("account", "session", "feed", name="pk_feed_cursors"),
)

risk_snapshots = Table(
    # Revision 0003: what the risk engine saw at a bar close (exposure and loss as fractions of equity), and the
    # correlation matrix when the monitor updated it (symbols and matrix as JSON; NULL between updates).
    "risk_snapshots", metadata,
    _id(), account_column(), session_column(),
    _ts(),
    Column("equity", ExactDecimal, nullable=False),
    Column("exposure", ExactFloat, nullable=False),
    Column("correlated_exposure", ExactFloat, nullable=True),
    Column("daily_loss", ExactFloat, nullable=True),
    Column("drawdown", ExactFloat, nullable=True),
    Column("positions", Integer, nullable=False),
    Column("symbols", Text, nullable=True),
    Column("correlation", Text, nullable=True),
    Column("mean_correlation", ExactFloat, nullable=True),
    # Revision 0005: each symbol's regime [[symbol, regime, since], ...] as JSON where one changed, NULL elsewhere.
    Column("regimes", Text, nullable=True),
    Index("ix_risk_snapshots_account_ts", "account", "ts"),
)

heard_events = Table(
    # Revision 0004: each order event (by its row) and funding payment a live session heard, at the market time it
    # heard it (``heard_ts``), so a catch-up after a crash books them at the same bars.
    "heard_events", metadata,
    _id(), account_column(), session_column(),
    _ts("heard_ts"),
    Column("kind", String(16), nullable=False),
    Column("order_event_id", Integer, nullable=True),
    Column("symbol", String(SYMBOL_LEN), nullable=True),
    _ts("ts", nullable=True),
    Column("rate", ExactFloat, nullable=True),
    Column("price", ExactFloat, nullable=True),
    Index("ix_heard_events_account_session", "account", "session"),
)

# Revision 0005: the rows a chart or the per-asset view looks for among a year of bars, found by an index of
# their own (partial: only those rows), so the newest of them is one seek whatever the gap since.
Index("ix_risk_snapshots_correlation", risk_snapshots.c.account, risk_snapshots.c.ts,
      sqlite_where=risk_snapshots.c.correlation.is_not(None),
      postgresql_where=risk_snapshots.c.correlation.is_not(None))
Index("ix_risk_snapshots_regimes", risk_snapshots.c.account, risk_snapshots.c.ts,
      sqlite_where=risk_snapshots.c.regimes.is_not(None), postgresql_where=risk_snapshots.c.regimes.is_not(None))
Index("ix_killswitch_events_account", killswitch_events.c.account, killswitch_events.c.id)
Index("ix_alerts_account_ts", alerts.c.account, alerts.c.ts)

TRADING_TABLES = (sessions, orders, order_events, fills, snapshots, snapshot_positions, snapshot_balances,
                  equity_snapshots, risk_decisions, killswitch_state, killswitch_events, asset_locks, tier_changes,
                  alerts, incidents, feed_cursors, risk_snapshots, heard_events)
