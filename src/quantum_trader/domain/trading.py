"""What flows from signals to the venue: intents, orders, fills and risk decisions.

These are immutable values. A refusal is a ``RiskDecision`` with reasons, never a
bare ``False`` or an exception, so every "no" can be journalled and explained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Side.LONG else -1

    @property
    def opposite(self) -> Side:
        return Side.SHORT if self is Side.LONG else Side.LONG


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

    def __post_init__(self) -> None:
        if not 0.0 <= self.edge_score <= 1.0:
            raise ValueError(f"intent {self.symbol}: edge_score must be in [0, 1], got {self.edge_score}")
        if not self.entry_price > 0:
            raise ValueError(f"intent {self.symbol}: entry_price must be > 0, got {self.entry_price}")


@dataclass(frozen=True, slots=True)
class Order:
    """An order as sent to a venue; quantities and prices are exact and lot/tick-valid."""

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


class Verdict(StrEnum):
    APPROVED = "approved"
    REDUCED = "reduced"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class RiskReason:
    """One rule that applied: its name, the measured figure and the limit it was held to."""

    rule: str
    message: str
    value: float | None = None
    limit: float | None = None

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


@dataclass(frozen=True, slots=True)
class RiskDecision:
    intent: Intent
    verdict: Verdict
    quantity: Decimal
    reasons: tuple[RiskReason, ...] = field(default_factory=tuple)

    @property
    def approved(self) -> bool:
        return self.verdict is not Verdict.REFUSED and self.quantity > 0
