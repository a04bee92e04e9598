"""The journal: phase state and kill-switch drills (SQLite file by default, PostgreSQL by URL).

See DESIGN.md for what this layer holds and may import.
"""

from quantum_trader.journal.store import (
    DEFAULT_JOURNAL,
    JOURNAL_ENV,
    DrillRecord,
    Journal,
    JournalError,
    PhaseChange,
    PhaseEventKind,
)

__all__ = ["DEFAULT_JOURNAL", "JOURNAL_ENV", "DrillRecord", "Journal", "JournalError", "PhaseChange", "PhaseEventKind"]
