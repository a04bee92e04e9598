"""One order's life at the exchange, from what the client has heard, and the one event the kernel gets for it.

The kernel books whole orders: a filled event opens, adds to or closes a position and sets its
protection. So an order's trades are gathered here and the kernel hears one ``FILLED`` event when the
order is done: filled in full, or ended (cancelled, expired) after part of it filled, carrying what
filled (summed quantity and fees, the volume-weighted price, the last trade's time). An order that ended
with nothing filled is ``CANCELLED`` (``EXPIRED`` when the client let it lapse), a refused one
``REJECTED`` with the exchange's reason. "Done" needs both the exchange's final status and every trade
it counts: a status heard before its trades waits for them.

A conditional order (a stop) becomes another order at Binance when it triggers; that order's id
(``triggered_id``) is where its trades are found. On Bybit it keeps its id (``VenueInfo.trigger_becomes_new_order``
is False): its trades carry its own id, and ``triggered_id`` stays None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from quantum_trader.domain.trading import Fill, Order, OrderEvent, OrderEventKind, OrderType

FINAL = frozenset({"closed", "canceled", "expired", "rejected"})
PRICE_QUANTUM = Decimal("1e-10")


class Phase(StrEnum):
    QUEUED = "queued"
    """Accepted by the client, not sent yet (a cancel now needs no request)."""
    SENDING = "sending"
    OPEN = "open"
    """Acknowledged by the exchange (resting, or filled and waiting for its trades)."""
    UNKNOWN = "unknown"
    """Sent, the answer lost, and the exchange could not be asked: looked up again at each sync."""
    DONE = "done"


@dataclass(frozen=True)
class TradeSeen:
    id: str
    order_id: str
    symbol: str
    side: str
    ts: int
    price: Decimal
    qty: Decimal
    fee: Decimal
    maker: bool
    forced: str = ""
    """``liquidation`` or ``adl`` when the exchange made the trade itself, as far as the trade says (``forced``)."""


@dataclass
class Tracked:
    order: Order
    client_id: str
    """The id the exchange knows it by (``ids.exchange_client_id``)."""
    conditional: bool
    phase: Phase = Phase.QUEUED
    exchange_id: str | None = None
    triggered_id: str | None = None
    status: str | None = None
    """The exchange's final status (closed, canceled, expired, rejected), None while it lives."""
    filled: Decimal = Decimal(0)
    """What the exchange says filled, once final."""
    trades: dict[str, TradeSeen] = field(default_factory=dict)
    amount: Decimal | None = None
    """The quantity sent (an order sized at the fill is sized when sent)."""
    cancel_reason: str | None = None
    expired: bool = False
    rejection: str = ""
    accepted: bool = False
    gapped: bool = False
    """A stop the price had passed, closed at market instead (``stop_gap``)."""

    @property
    def resting(self) -> bool:
        return self.order.type is not OrderType.MARKET

    @property
    def traded(self) -> Decimal:
        return sum((t.qty for t in self.trades.values()), Decimal(0))

    def take(self, trade: TradeSeen) -> None:
        self.trades[trade.id] = trade

    def finish(self, status: str, filled: Decimal) -> None:
        self.status, self.filled = status, filled

    def reject(self, reason: str) -> None:
        self.status, self.rejection = "rejected", reason

    def final_event(self, now: int) -> OrderEvent | None:
        """The kernel's one event for this order once it is done, else None (still live, or trades missing)."""
        if self.phase is Phase.DONE or self.status is None:
            return None
        order = self.order
        if self.status == "rejected":
            return OrderEvent(max(now, order.ts), OrderEventKind.REJECTED, order, reason=self.rejection)
        if self.traded < self.filled:
            return None
        if self.trades:
            return OrderEvent(self.fill().ts, OrderEventKind.FILLED, order, fill=self.fill(), reason=self.reason())
        when = max(now, order.ts)
        if self.expired:
            return OrderEvent(when, OrderEventKind.EXPIRED, order)
        reason = self.cancel_reason or ("nothing to reduce" if order.reduce_only else f"exchange: {self.status}")
        return OrderEvent(when, OrderEventKind.CANCELLED, order, reason=reason)

    def reason(self) -> str:
        """How a filled order filled, as the simulated venue names it (a stop's gap is not told apart)."""
        if self.order.type is OrderType.STOP_MARKET:
            return "stop_gap" if self.gapped else "stop"
        if self.order.type is OrderType.TAKE_PROFIT:
            return "target"
        return ""

    def fill(self) -> Fill:
        trades = sorted(self.trades.values(), key=lambda t: (t.ts, t.id))
        qty = sum((t.qty for t in trades), Decimal(0))
        notional = sum((t.qty * t.price for t in trades), Decimal(0))
        price = trades[0].price if len({t.price for t in trades}) == 1 else (notional / qty).quantize(PRICE_QUANTUM)
        return Fill(ts=trades[-1].ts, symbol=self.order.symbol, side=self.order.side, quantity=qty, price=price,
                    fee=sum((t.fee for t in trades), Decimal(0)), client_order_id=self.order.client_order_id,
                    is_maker=all(t.maker for t in trades))
