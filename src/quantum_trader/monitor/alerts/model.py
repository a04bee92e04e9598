"""What an alert is: a value the journal, the log, the run folder and the channels all carry unchanged.

An alert names its figures in its message (the operator reads it on a phone, without the dashboard) and
carries a de-duplication key: the condition it reports (``exposure``, ``correlation_pair:BTC/ETH``), so the
channels can send one message per condition and window however often the rules are asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Severity(StrEnum):
    """The journal's severities, by value (``journal.Severity``): the monitor layer does not import the journal."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertKind(StrEnum):
    CORRELATION_SPIKE = "correlation_spike"
    EXPOSURE = "portfolio_exposure"
    TIER_REMOVED = "asset_removed_from_tier"
    LIQUIDITY_DROP = "liquidity_drop"
    KILL_SWITCH = "kill_switch_trip"
    ASSET_LOCK = "asset_lock"
    STALE_FEED = "stale_feed"
    RECONCILIATION = "reconciliation_incident"


SEVERITY: Final = {
    AlertKind.CORRELATION_SPIKE: Severity.WARNING,
    AlertKind.EXPOSURE: Severity.WARNING,
    AlertKind.TIER_REMOVED: Severity.WARNING,
    AlertKind.LIQUIDITY_DROP: Severity.WARNING,
    AlertKind.KILL_SWITCH: Severity.CRITICAL,
    AlertKind.ASSET_LOCK: Severity.WARNING,
    AlertKind.STALE_FEED: Severity.CRITICAL,
    AlertKind.RECONCILIATION: Severity.CRITICAL,
}
"""Critical: trading stopped or the account may differ from what we believe; warning: a limit is near."""


@dataclass(frozen=True, slots=True)
class Alert:
    ts: int
    """When the condition began (epoch ms, the bar close or the event that showed it)."""
    kind: AlertKind
    severity: Severity
    message: str
    key: str
    """De-duplication key: the condition, not the moment (same key within a window: sent once)."""
    symbol: str = ""
    value: float | None = None
    limit: float | None = None

    @classmethod
    def of(cls, ts: int, kind: AlertKind, message: str, key: str, *, symbol: str = "",
           value: float | None = None, limit: float | None = None) -> Alert:
        return cls(int(ts), kind, SEVERITY[kind], message, key, symbol, value, limit)

    def line(self) -> str:
        return f"[{self.severity}] {self.kind}: {self.message}"


ALERT_COLUMNS: Final = ("ts", "kind", "severity", "symbol", "message", "key", "value", "limit")
"""Schema of a run folder's ``alerts.parquet`` (``value``/``limit`` NaN where they do not apply)."""
