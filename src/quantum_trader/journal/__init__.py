"""The journal: everything a trading session must not forget, in SQLite (one file per account) or PostgreSQL.

``store.Journal``: the phase and its changes, kill-switch drills. ``trading.TradingJournal``: orders
and their events, fills, snapshots, risk decisions, the kill switch, locks, tiers, alerts,
incidents, sessions and feed cursors. ``migrate``: the schema's Alembic revisions. ``accounts``:
which journal a command uses. See DESIGN.md for what this layer holds and may import.
"""

from quantum_trader.journal.accounts import ACCOUNT_ENV, JOURNAL_ENV, JournalChoice, choose_journal, default_journal
from quantum_trader.journal.database import Database, JournalError
from quantum_trader.journal.records import (
    Alert,
    Balance,
    BalancesSnapshot,
    DecisionRecord,
    EquitySnapshot,
    FillRecord,
    Incident,
    KillSwitchChange,
    KillSwitchRecord,
    LockRecord,
    OrderEventRecord,
    OrderRecord,
    OrderStatus,
    PositionsSnapshot,
    RiskSnapshot,
    SessionMode,
    SessionRecord,
    Severity,
    TierChange,
)
from quantum_trader.journal.schema import DEFAULT_ACCOUNT
from quantum_trader.journal.store import DEFAULT_JOURNAL, DrillRecord, Journal, PhaseChange, PhaseEventKind
from quantum_trader.journal.trading import TradingJournal

__all__ = [
    "ACCOUNT_ENV", "DEFAULT_ACCOUNT", "DEFAULT_JOURNAL", "JOURNAL_ENV", "Alert", "Balance", "BalancesSnapshot",
    "Database", "DecisionRecord", "DrillRecord", "EquitySnapshot", "FillRecord", "Incident", "Journal",
    "JournalChoice", "JournalError", "KillSwitchChange", "KillSwitchRecord", "LockRecord", "OrderEventRecord",
    "OrderRecord", "OrderStatus", "PhaseChange", "PhaseEventKind", "PositionsSnapshot", "RiskSnapshot", "SessionMode",
    "SessionRecord", "Severity", "TierChange", "TradingJournal", "choose_journal", "default_journal",
]
