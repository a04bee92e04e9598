"""What went wrong with the exchange while trading, as values the session records and the journal will keep.

An incident is never a guess at what happened: it names what the client saw and what it did about it
(``action``: entries halted, an alert). Those that halt entries hold a *halt* until the condition clears
(``Halts``): the feed delivers again, the clock is back within bounds, the order is found. While any halt
holds, entries are refused at the client (rule ``venue`` in the run's refusals, the reason naming the
halt); exits, stops and cancels still go out, because a halt must never keep a position from closing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class IncidentKind(StrEnum):
    STALE_FEED = "stale_feed"
    FEED_RESUMED = "feed_resumed"
    CLOCK_SKEW = "clock_skew"
    CLOCK_OK = "clock_ok"
    ORDER_UNKNOWN = "order_unknown"
    ORDER_FOUND = "order_found"
    FOREIGN_FILL = "foreign_fill"
    LIQUIDATION = "liquidation"
    """The exchange liquidated (part of) a position: booked as an exit."""
    ADL = "adl"
    """The exchange auto-deleveraged (part of) a position: booked as an exit."""
    STREAM_DOWN = "stream_down"
    """A websocket stream failed, went quiet or cannot be had: what it carried is polled."""
    STREAM_RESUMED = "stream_resumed"
    CANCEL_FAILED = "cancel_failed"
    SYNC_FAILED = "sync_failed"
    RETRIED = "retried"
    DECISION_MISSED = "decision_missed"
    """A resumed session's decision whose moment passed while its process was down (never sent late)."""


@dataclass(frozen=True)
class Incident:
    ts: int
    kind: IncidentKind
    message: str
    symbol: str = ""
    action: str = ""
    """What the session did: "entries halted", "entries resumed", "alert"."""

    def line(self) -> str:
        what = f"{self.kind}: {self.message}"
        return f"{what} ({self.action})" if self.action else what


Listener = Callable[[Incident], None]


@dataclass
class Halts:
    """The halts in force, by name (``stale_feed``, ``clock_skew``, ``order:<id>``): entries wait for none."""

    reasons: dict[str, str] = field(default_factory=dict)

    def hold(self, name: str, reason: str) -> bool:
        """True if this starts a halt (it was not held)."""
        new = name not in self.reasons
        self.reasons[name] = reason
        return new

    def lift(self, name: str) -> bool:
        return self.reasons.pop(name, None) is not None

    def __bool__(self) -> bool:
        return bool(self.reasons)

    def why(self) -> str:
        return "; ".join(self.reasons.values())
