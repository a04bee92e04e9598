"""What the risk layer tells the rest of the system: events to journal and actions to execute.

Both are frozen values with the time, the measured figure, the limit and a reason, so
the journal can persist them and the alerting layer can word them without recomputing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    TRIP_DAILY = "trip_daily"
    TRIP_DRAWDOWN = "trip_drawdown"
    REARM = "rearm"
    RESET = "reset"
    LOCK = "lock"
    UNLOCK = "unlock"
    DRIFT_EXPOSURE_ALERT = "drift_exposure_alert"
    DRIFT_EXPOSURE_BREACH = "drift_exposure_breach"
    DRIFT_CORRELATED = "drift_correlated"


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """One kill-switch or drift event. ``figure`` and ``limit`` are fractions of equity."""

    ts: int
    kind: EventKind
    reason: str
    figure: float | None = None
    limit: float | None = None
    symbol: str | None = None


class ActionKind(StrEnum):
    CANCEL_ALL = "cancel_all"
    """Cancel every open order."""
    CLOSE_ALL = "close_all"
    """Close every position with reduce-only market orders."""
    REFUSE_ENTRIES = "refuse_entries"
    """No new entry until re-armed or reset (``evaluate`` enforces it too)."""
    FLATTEN_ASSET = "flatten_asset"
    """Cancel the symbol's orders and close its position reduce-only; it stays locked for the day."""
    TRIM = "trim"
    """Reduce ``symbol`` by ``notional`` USD with a reduce-only order (drift action ``trim``)."""


@dataclass(frozen=True, slots=True)
class KillSwitchAction:
    kind: ActionKind
    reason: str
    symbol: str | None = None
    notional: float | None = None
