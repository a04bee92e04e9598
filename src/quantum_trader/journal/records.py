"""What the trading journal stores and gives back: plain frozen values, equal to what was written.

The engine's own values go in as they are (``Order``, ``OrderEvent``, ``Fill``, ``Position``,
``RiskDecision``, ``KillSwitchState``); the records add what the journal knows about them
(an order's status and filled quantity, a fill's id, the session that wrote a row).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from quantum_trader.domain.time import utc_day_start
from quantum_trader.domain.trading import Fill, Order, OrderEventKind, Position, RiskDecision
from quantum_trader.risk.events import EventKind
from quantum_trader.risk.kill_switch import KillSwitchState

if TYPE_CHECKING:
    from quantum_trader.portfolio.state import LedgerState

ZERO = Decimal(0)


class SessionMode(StrEnum):
    """The kind of evidence a session is: the gates accept some kinds and not others."""

    BACKTEST = "backtest"
    PAPER = "paper"
    TESTNET = "testnet"
    LIVE = "live"
    DRILL = "drill"


class OrderStatus(StrEnum):
    """Where an order stands. PENDING: journalled, not yet acknowledged by the venue (after a crash,
    ask the venue by client order id before sending it again)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in _OPEN

    @property
    def is_final(self) -> bool:
        return not self.is_open


_OPEN = frozenset({OrderStatus.PENDING, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})

STATUS_OF_EVENT = {
    OrderEventKind.ACCEPTED: OrderStatus.ACCEPTED,
    OrderEventKind.REJECTED: OrderStatus.REJECTED,
    OrderEventKind.PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
    OrderEventKind.FILLED: OrderStatus.FILLED,
    OrderEventKind.CANCELLED: OrderStatus.CANCELLED,
    OrderEventKind.EXPIRED: OrderStatus.EXPIRED,
}


def next_status(current: OrderStatus, event: OrderEventKind) -> OrderStatus:
    """An order's status after ``event``: it only moves forward, and a final status stays (a late
    ``accepted`` after a fill, or a fill reported after the cancel, does not reopen the order;
    the event itself is still recorded)."""
    if current.is_final:
        return current
    new = STATUS_OF_EVENT[event]
    if new is OrderStatus.ACCEPTED and current is OrderStatus.PARTIALLY_FILLED:
        return current
    return new


@dataclass(frozen=True, slots=True)
class SessionRecord:
    session: str
    mode: SessionMode
    started_ts: int
    exchange: str = ""
    detail: str = "{}"
    """JSON the engine chooses (symbols, phase, policy hash): kept as given."""
    ended_ts: int | None = None
    end_reason: str | None = None


@dataclass(frozen=True, slots=True)
class OrderRecord:
    order: Order
    status: OrderStatus
    filled_quantity: Decimal
    exchange_order_id: str | None
    session: str
    updated_ts: int
    decision_id: int | None = None

    @property
    def remaining(self) -> Decimal:
        return self.order.quantity - self.filled_quantity


@dataclass(frozen=True, slots=True)
class OrderEventRecord:
    client_order_id: str
    ts: int
    kind: OrderEventKind
    reason: str = ""
    exchange_order_id: str | None = None
    fill_id: str | None = None
    reference: float | None = None
    session: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class FillRecord:
    """A fill with its id (the exchange's trade id, or one the simulated venue derives), in journal order."""

    fill_id: str
    fill: Fill
    session: str = ""
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    total: Decimal
    free: Decimal | None = None
    used: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PositionsSnapshot:
    ts: int
    positions: tuple[Position, ...]
    source: str = "ledger"
    session: str = ""


@dataclass(frozen=True, slots=True)
class BalancesSnapshot:
    ts: int
    balances: tuple[Balance, ...]
    source: str = "exchange"
    session: str = ""


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    ts: int
    equity: Decimal
    cash: Decimal
    unrealised_pnl: Decimal = ZERO
    realised_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    funding_paid: Decimal = ZERO

    @classmethod
    def of_ledger(cls, ledger: LedgerState) -> EquitySnapshot:
        return cls(ledger.ts, ledger.equity, ledger.cash, ledger.total_unrealised, ledger.realised_pnl,
                   ledger.fees_paid, ledger.funding_paid)


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """What the risk engine saw at one bar close, as fractions of equity: the dashboard's exposure history and
    heatmap, and the gates' evidence that correlation was monitored at its cadence (``correlation`` is set only
    at the closes where the monitor updated the matrix)."""

    ts: int
    equity: Decimal
    exposure: float
    """Gross notional held over equity."""
    positions: int
    correlated_exposure: float | None = None
    """The largest correlated group's gross notional over equity."""
    daily_loss: float | None = None
    """Loss since the UTC day's start over day-start equity (negative: a gain)."""
    drawdown: float | None = None
    """Loss from the peak over peak equity."""
    symbols: tuple[str, ...] = ()
    correlation: tuple[tuple[float, ...], ...] | None = None
    mean_correlation: float | None = None
    session: str = ""
    id: int | None = None
    regimes: tuple[tuple[str, str, int | None], ...] = ()
    """Each symbol's regime (symbol, ``signals.regime.Regime`` label, since when), set only at the closes where
    one changed (revision 0005): the latest such row says every symbol's regime now."""


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    ts: int
    decision: RiskDecision
    requested: Decimal | None = None
    """The quantity asked before a cap reduced it (None when the caller did not say)."""
    client_order_id: str | None = None
    """The order the decision sent, if any."""
    session: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class KillSwitchRecord:
    """The whole kill switch as a restart needs it: the switch itself plus the two baselines its triggers are
    measured from, which live in the ledger (a new process would otherwise start from today's equity and
    forget a drawdown)."""

    state: KillSwitchState
    peak_equity: Decimal
    day_start_equity: Decimal
    equity_day: int
    """The UTC day (epoch ms of its 00:00) ``day_start_equity`` belongs to."""
    trip_reason: str = ""
    ts: int = 0
    """When it was saved."""

    @classmethod
    def of_ledger(cls, state: KillSwitchState, ledger: LedgerState, *, ts: int,
                  trip_reason: str = "") -> KillSwitchRecord:
        return cls(state, ledger.peak_equity, ledger.day_start_equity, ledger.day_start, trip_reason, ts)

    @property
    def tripped(self) -> bool:
        return self.state.tripped

    def same_day(self, ts: int) -> bool:
        return utc_day_start(ts) == self.equity_day


KILLSWITCH_CHANGES = frozenset({EventKind.TRIP_DAILY, EventKind.TRIP_DRAWDOWN, EventKind.REARM, EventKind.RESET})


@dataclass(frozen=True, slots=True)
class KillSwitchChange:
    """One trip, re-arm or reset, with who and why (``operator`` empty for the engine's own trips)."""

    ts: int
    kind: EventKind
    reason: str
    operator: str = ""
    forced: bool = False
    session: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KILLSWITCH_CHANGES:
            raise ValueError(f"kill-switch change: {self.kind} is not one of "
                             f"{', '.join(sorted(k.value for k in KILLSWITCH_CHANGES))}")


@dataclass(frozen=True, slots=True)
class LockRecord:
    asset: str
    ts: int
    until: int
    reason: str
    cleared_ts: int | None = None
    cleared_reason: str | None = None
    session: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class TierChange:
    ts: int
    asset: str
    from_tier: int | None
    to_tier: int | None
    """None: removed from the universe (or, as ``from_tier``, newly added)."""
    reason: str
    operator: str = ""
    session: str = ""
    id: int | None = None


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Alert:
    ts: int
    kind: str
    severity: Severity
    message: str
    acknowledged_by: str | None = None
    acknowledged_ts: int | None = None
    session: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Incident:
    """A difference or fault the engine could not resolve by itself, and the safe action it took."""

    ts: int
    kind: str
    detail: str
    safe_action: str
    resolved_ts: int | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    session: str = ""
    id: int | None = None
