"""What flows from signals to the venue: intents, orders, fills and risk decisions.

These are immutable values. A refusal is a ``RiskDecision`` with reasons, never a
bare ``False`` or an exception, so every "no" can be journalled and explained.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from quantum_trader.domain.slot_init import slot_init


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is _LONG else -1

    @property
    def opposite(self) -> Side:
        return _SHORT if self is _LONG else _LONG


_LONG, _SHORT = Side.LONG, Side.SHORT
"""Enum members read once: through the class, each read costs the metaclass' ``__getattr__`` hook on Python 3.11
(``sign`` is read per intent and per risk check)."""


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    TAKE_PROFIT = "take_profit"


_ENTRY_TYPES = (OrderType.MARKET, OrderType.LIMIT)
"""What an entry intent may be; an enum member read through its class costs a metaclass ``__getattr__`` hook on
Python 3.11 (an intent is built per decision), a module constant a dict lookup."""


@slot_init
@dataclass(frozen=True, slots=True)
class Intent:
    """A signal's wish to hold a position: the risk engine decides whether and how much.

    ``edge_score`` in [0, 1] is comparable across assets (see ``signals``); the slot
    allocator ranks competing intents by it. ``stop_price`` is mandatory for sizing:
    the risk engine refuses an intent without one.
    """

    ts: int
    symbol: str
    side: Side
    edge_score: float
    entry_price: float
    stop_price: float | None
    source: str = ""
    reasons: tuple[str, ...] = ()
    target_price: float | None = None
    """Optional take-profit: a resting reduce-only limit order at this price once filled."""
    order_type: OrderType = OrderType.MARKET
    """How to enter: MARKET fills at the next bar's open; LIMIT rests at ``entry_price``
    (maker fee) until it fills or expires, and is checked by the risk engine again when it fills."""

    def __post_init__(self) -> None:
        if self.order_type not in _ENTRY_TYPES:
            raise ValueError(f"intent {self.symbol}: an entry is a market or a limit order, not {self.order_type}")
        if not 0.0 <= self.edge_score <= 1.0:
            raise ValueError(f"intent {self.symbol}: edge_score must be in [0, 1], got {self.edge_score}")
        if not self.entry_price > 0:
            raise ValueError(f"intent {self.symbol}: entry_price must be > 0, got {self.entry_price}")
        if self.target_price is not None and (self.target_price - self.entry_price) * self.side.sign <= 0:
            raise ValueError(
                f"intent {self.symbol}: take-profit {self.target_price} is not on the winning side of entry "
                f"{self.entry_price} for a {self.side} position"
            )


class OrderPurpose(StrEnum):
    """Why the kernel sent an order: its client order id names it, so a resend is recognisable."""

    ENTRY = "entry"
    EXIT = "exit"
    STOP = "stop"
    TARGET = "target"
    REDUCE = "reduce"


def client_order_id(run: str, ts: int, symbol: str, purpose: OrderPurpose | str, seq: int = 0) -> str:
    """The id of the order a decision sends: derived from (run, decision time, symbol, purpose),
    never random, so the same decision replayed after a crash sends the same id and an exchange
    that already has it refuses the duplicate. 32 characters of [0-9a-z-], within every venue's limit.
    """
    name = purpose.value if isinstance(purpose, OrderPurpose) else purpose
    digest = hashlib.blake2b(f"{run}|{ts}|{symbol}|{name}|{seq}".encode(), digest_size=12).hexdigest()
    return f"qt-{name[:4]}-{digest}"


class OrderIds:
    """``client_order_id`` of one run, the same ids: the hash of the run's prefix is taken once and copied for
    each order (a replay sends an order per fill, and hashing the prefix again is most of an id's cost)."""

    def __init__(self, run: str) -> None:
        self._prefix = hashlib.blake2b(f"{run}|".encode(), digest_size=12)

    def __call__(self, ts: int, symbol: str, purpose: OrderPurpose, seq: int = 0) -> str:
        name = purpose._value_  # (``.value`` is a descriptor of ``enum``'s own, several times the cost)
        digest = self._prefix.copy()
        digest.update(f"{ts}|{symbol}|{name}|{seq}".encode())
        return f"qt-{name[:4]}-{digest.hexdigest()}"


@slot_init
@dataclass(frozen=True, slots=True)
class Order:
    """An order as sent to a venue; quantities and prices are exact and lot/tick-valid.

    ``type`` MARKET fills at the next bar's open (the venue's latency); LIMIT rests at
    ``price`` (``post_only``: refused if it would cross on arrival) until ``expire_ts``;
    STOP_MARKET triggers at ``stop_price`` (a position's protective stop, reduce-only);
    TAKE_PROFIT is a reduce-only limit at ``price``, live from ``active_from_ts``.
    ``equity_fraction`` (a fixed-fraction risk profile) asks the venue to size a market order
    at the fill: that fraction of equity then, as engines without a risk engine do; ``quantity``
    is then 0.
    """

    client_order_id: str
    ts: int
    symbol: str
    side: OrderSide
    type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    tag: str = ""
    post_only: bool = False
    expire_ts: int | None = None
    active_from_ts: int | None = None
    equity_fraction: float | None = None
    purpose: OrderPurpose = OrderPurpose.ENTRY


class OrderEventKind(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@slot_init
@dataclass(frozen=True, slots=True)
class Fill:
    """An execution. ``fee`` is in quote currency, positive when paid."""

    ts: int
    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    client_order_id: str = ""
    is_maker: bool = False
    liquidation: bool = False


@slot_init
@dataclass(frozen=True, slots=True)
class OrderEvent:
    """What a venue says about an order: accepted, rejected (with why), filled, cancelled or expired.

    ``fill`` is set on fills; ``reason`` names why (a rejection's cause, or how a resting
    order filled: ``stop``, ``stop_gap``, ``target``, ``target_gap``, ``liquidation``).
    """

    ts: int
    kind: OrderEventKind
    order: Order
    fill: Fill | None = None
    reason: str = ""
    reference: float | None = None
    """The price a fill was priced from before slippage (the bar's open, a stop, a limit)."""


@slot_init
@dataclass(frozen=True, slots=True)
class FundingEvent:
    """A funding settlement the venue charged on a position: ``rate`` on ``price`` at ``ts``."""

    ts: int
    symbol: str
    rate: float
    price: float


class Verdict(StrEnum):
    APPROVED = "approved"
    REDUCED = "reduced"
    REFUSED = "refused"


@slot_init
@dataclass(frozen=True, slots=True)
class RiskReason:
    """One rule that applied: its name, the measured figure and the limit it was held to.

    ``reduces`` marks a cap that only cut the quantity (reduce-or-refuse), or that would have cut it
    had another rule not refused the intent: an operator counting refusals by rule must not see it
    as a refusal."""

    rule: str
    message: str
    value: float | None = None
    limit: float | None = None
    reduces: bool = False

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"

    def reducing(self, reduces: bool) -> RiskReason:
        """This reason with ``reduces`` set (``dataclasses.replace`` at a fraction of its cost: the risk engine
        marks every binding cap of every intent it judges)."""
        return RiskReason(self.rule, self.message, self.value, self.limit, reduces)


_REFUSED = Verdict.REFUSED


@slot_init
@dataclass(frozen=True, slots=True)
class RiskDecision:
    intent: Intent
    verdict: Verdict
    quantity: Decimal
    reasons: tuple[RiskReason, ...] = field(default_factory=tuple)
    equity_fraction: float | None = None
    """The fixed-fraction profile's answer: this share of equity, sized at the fill (``quantity`` is 0)."""

    @property
    def approved(self) -> bool:
        return self.verdict is not _REFUSED and (self.quantity > 0 or self.equity_fraction is not None)

    @property
    def refused_by(self) -> tuple[RiskReason, ...]:
        """The reasons that refused the intent (empty unless it was refused)."""
        if self.verdict is not Verdict.REFUSED:
            return ()
        return tuple(r for r in self.reasons if not r.reduces)


@slot_init
@dataclass(frozen=True, slots=True)
class Position:
    """A net position in one linear perpetual, as the ledger holds it.

    ``quantity`` is signed (> 0 long, < 0 short) so netting a fill is one addition;
    ``entry_price`` is the average entry of the open quantity. ``stop_price`` is kept
    because the spec measures correlated risk as loss at the stop (``risk_amount``):
    a position without one counts its whole notional as at risk.
    """

    symbol: str
    quantity: Decimal
    entry_price: Decimal
    stop_price: Decimal | None = None
    opened_ts: int = 0

    def __post_init__(self) -> None:
        if self.quantity == 0:
            raise ValueError(
                f"position {self.symbol}: quantity must be non-zero (flat positions are removed)"
            )
        if self.entry_price <= 0:
            raise ValueError(f"position {self.symbol}: entry_price must be > 0, got {self.entry_price}")

    @property
    def side(self) -> Side:
        return _LONG if self.quantity > 0 else _SHORT

    @property
    def size(self) -> Decimal:
        """Unsigned quantity in base units."""
        return abs(self.quantity)

    @property
    def risk_amount(self) -> Decimal:
        """Loss at the stop from the average entry (the spec's ``pos.risk_amount``)."""
        if self.stop_price is None:
            return self.size * self.entry_price
        return self.size * abs(self.entry_price - self.stop_price)

    def unrealised_at(self, mark: Decimal) -> Decimal:
        return self.quantity * (mark - self.entry_price)
