"""The order desk: turns the kernel's decisions into ``Order``s and remembers what each one was for.

Every order's client order id is derived from (run, decision time, symbol, purpose), so a
decision replayed after a crash sends the same id twice and the exchange refuses the
duplicate. The desk knows which orders are on their way or resting for each symbol, so the
kernel never sends a second exit for a position already being closed, replaces a resting
limit entry with a new intent for the symbol, and cancels a position's protection on exit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.trading import (
    Intent,
    Order,
    OrderIds,
    OrderPurpose,
    OrderSide,
    OrderType,
    Position,
    Side,
)
from quantum_trader.engine.ports import ExecutionClient

_STOP = OrderPurpose.STOP
_STOP_MARKET = OrderType.STOP_MARKET

_BUY = OrderSide.BUY
_SELL = OrderSide.SELL
_ENTRY = OrderPurpose.ENTRY
_EXIT = OrderPurpose.EXIT
_MARKET = OrderType.MARKET
_LONG = Side.LONG


class Placed(NamedTuple):
    """An order of ours and why: the intent and decision behind an entry, the reason of an exit (an immutable
    record made for every order sent, so the cheapest kind)."""

    order: Order
    intent: Intent | None = None
    decision: int = -1
    reason: str = ""


@dataclass
class OrderDesk:
    execution: ExecutionClient
    run_id: str
    instruments: Mapping[str, Instrument]
    placed: dict[str, Placed] = field(default_factory=dict)
    """Client order id -> the record of each order still open (its last event forgets it, ``settled``)."""
    limit_entry: dict[str, str] = field(default_factory=dict)
    """Symbol -> id of its limit entry on the way or resting (at most one)."""
    entering: dict[str, str] = field(default_factory=dict)
    """Symbol -> id of its market entry on the way."""
    exiting: dict[str, str] = field(default_factory=dict)
    """Symbol -> id of the market exit on the way for its position."""
    protection: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    """Symbol -> ids of its position's (stop, take-profit)."""
    sent: int = 0
    _seq: dict[tuple[int, str, OrderPurpose], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ids = OrderIds(self.run_id)

    def _id(self, ts: int, symbol: str, purpose: OrderPurpose) -> str:
        """``client_order_id(run_id, ts, symbol, purpose, seq)``, ``seq`` counting the orders of the same key."""
        key = (ts, symbol, purpose)
        seq = self._seq.get(key, 0)
        self._seq[key] = seq + 1
        return self._ids(ts, symbol, purpose, seq)

    def _send(self, placed: Placed) -> Order:
        self.placed[placed.order.client_order_id] = placed
        self.sent += 1
        self.execution.submit(placed.order)
        return placed.order

    # ------------------------------------------------------------------ entries
    def enter(self, ts: int, intent: Intent, quantity: Decimal, decision: int,
              equity_fraction: float | None = None) -> Order:
        side = _BUY if intent.side is _LONG else _SELL
        order = Order(self._id(ts, intent.symbol, _ENTRY), ts, intent.symbol, side, _MARKET,
                      quantity, equity_fraction=equity_fraction, purpose=_ENTRY, tag=intent.source)
        self.entering[intent.symbol] = order.client_order_id
        return self._send(Placed(order, intent, decision))

    def place_limit(self, ts: int, intent: Intent, quantity: Decimal, decision: int, *, post_only: bool,
                    expire_ts: int) -> Order:
        side = _BUY if intent.side is _LONG else _SELL
        price = self.instruments[intent.symbol].round_price(intent.entry_price)
        order = Order(self._id(ts, intent.symbol, _ENTRY), ts, intent.symbol, side, OrderType.LIMIT,
                      quantity, price=price, post_only=post_only, expire_ts=expire_ts, purpose=_ENTRY,
                      tag=intent.source)
        self.limit_entry[intent.symbol] = order.client_order_id
        return self._send(Placed(order, intent, decision))

    # ------------------------------------------------------------------ exits
    def exit(self, ts: int, position: Position, reason: str) -> Order | None:
        """A reduce-only market order closing ``position``; None if one is already on its way."""
        symbol = position.symbol
        if symbol in self.exiting:
            return None
        side = _SELL if position.quantity > 0 else _BUY
        order = Order(self._id(ts, symbol, _EXIT), ts, symbol, side, _MARKET, position.size,
                      reduce_only=True, purpose=_EXIT, tag=reason)
        self.exiting[symbol] = order.client_order_id
        return self._send(Placed(order, reason=reason))

    def reduce(self, ts: int, position: Position, quantity: Decimal, reason: str) -> Order:
        side = _SELL if position.quantity > 0 else _BUY
        order = Order(self._id(ts, position.symbol, OrderPurpose.REDUCE), ts, position.symbol, side,
                      _MARKET, quantity, reduce_only=True, purpose=OrderPurpose.REDUCE, tag=reason)
        return self._send(Placed(order, reason=reason))

    def protect(self, ts: int, position: Position, stop: Decimal | None, target: Decimal | None,
                target_from: int) -> None:
        """The position's stop-market and take-profit, reduce-only, resting at the venue."""
        symbol = position.symbol
        side = _SELL if position.quantity > 0 else _BUY
        stop_id = target_id = None
        if stop is not None:
            order = Order(self._id(ts, symbol, _STOP), ts, symbol, side, _STOP_MARKET,
                          position.size, stop_price=stop, reduce_only=True, purpose=_STOP)
            stop_id = self._send(Placed(order)).client_order_id
        if target is not None:
            order = Order(self._id(ts, symbol, OrderPurpose.TARGET), ts, symbol, side, OrderType.TAKE_PROFIT,
                          position.size, price=target, reduce_only=True, active_from_ts=target_from,
                          purpose=OrderPurpose.TARGET)
            target_id = self._send(Placed(order)).client_order_id
        self.protection[symbol] = (stop_id, target_id)

    def unprotect(self, symbol: str, reason: str) -> None:
        for order_id in self.protection.pop(symbol, (None, None)):
            if order_id is not None:
                self.execution.cancel(order_id, reason)

    def cancel_limit(self, symbol: str, reason: str) -> bool:
        order_id = self.limit_entry.pop(symbol, None)
        if order_id is None:
            return False
        self.execution.cancel(order_id, reason)
        return True

    # ------------------------------------------------------------------ what came back
    def settled(self, order: Order, *, final: bool = True) -> Placed | None:
        """An order filled, was cancelled, rejected or expired: it is no longer on its way. Its record is handed
        back and, the event being its last (``final``), forgotten: a run of years sends an order per fill, and
        keeping each one's record (its order and intent) held memory growing with the history."""
        order_id = order.client_order_id
        symbol = order.symbol
        if self.limit_entry.get(symbol) == order_id:
            del self.limit_entry[symbol]
        if self.entering.get(symbol) == order_id:
            del self.entering[symbol]
        if self.exiting.get(symbol) == order_id:
            del self.exiting[symbol]
        return self.placed.pop(order_id, None) if final else self.placed.get(order_id)

    def position_closed(self, symbol: str) -> None:
        """The venue lapses a flat position's protection itself; the desk forgets it."""
        self.protection.pop(symbol, None)
        self.exiting.pop(symbol, None)
