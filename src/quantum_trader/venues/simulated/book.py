"""The simulated exchange's order book: orders on their way, resting limits, and each position's exits.

An order sent at a bar's close reaches the venue at the open of the bar ``latency_bars``
later (its *arrival* row). A limit entry then rests until it fills or expires; a position's
protective stop (stop-market, reduce-only), its take-profit (a reduce-only limit) and the
exchange's own liquidation price are the levels each bar is matched against.

Scans here answer "where, in rows [start, stop), is the first thing that happens?" for a
whole stretch of bars at once (the replay jumps there); the exchange answers the same
question bar by bar when it visits every bar, and the differential tests hold the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from quantum_trader.domain.market import F64, I64
from quantum_trader.domain.trading import Order, OrderSide

_BUY = OrderSide.BUY

ADVERSE_LIQUIDATION = 0
ADVERSE_STOP = 1
TARGET = 2
"""Priorities within one bar: a liquidation, then a stop (adverse levels are crossed first), then a target."""


@dataclass
class Traveling:
    """An order on its way: it arrives at the open of ``arrival`` (a row of the current chunk), or,
    once the chunk is left, at the first row at or after ``not_before`` plus ``wait`` more rows."""

    order: Order
    column: int
    not_before: int
    wait: int
    arrival: int = -1
    """Row of the current chunk where it arrives (-1: not resolved in this chunk yet)."""

    def resolve(self, ts: I64) -> int:
        if self.arrival < 0:
            first = int(ts.searchsorted(self.not_before, side="left"))
            self.arrival = first + self.wait
        return self.arrival


@dataclass
class RestingLimit:
    """A limit entry in the book, from its arrival until it fills or expires."""

    order: Order
    column: int
    limit: float
    expire_ts: int | None

    @property
    def buy(self) -> bool:
        return self.order.side is _BUY


@dataclass
class Protection:
    """A position's resting exits: its stop-market and its take-profit (either may be absent)."""

    stop: Order | None = None
    target: Order | None = None
    target_from: int = 0
    """Epoch ms from which the take-profit may fill (the bar after the entry's own fill bar)."""

    @property
    def stop_price(self) -> float | None:
        return None if self.stop is None or self.stop.stop_price is None else float(self.stop.stop_price)

    @property
    def target_price(self) -> float | None:
        return None if self.target is None or self.target.price is None else float(self.target.price)


@dataclass
class OpenOrders:
    """Everything of ours the venue holds, by kind; every order also by client order id."""

    traveling: list[Traveling] = field(default_factory=list)
    limits: dict[str, RestingLimit] = field(default_factory=dict)
    protection: dict[str, Protection] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.traveling) + len(self.limits) + sum(
            (p.stop is not None) + (p.target is not None) for p in self.protection.values())

    def take(self, client_order_id: str) -> Order | None:
        """Remove the order of ours with this id wherever it is (on its way, resting, protecting a position);
        None when none is held (it filled or lapsed)."""
        for t in self.traveling:
            if t.order.client_order_id == client_order_id:
                self.traveling.remove(t)
                return t.order
        for symbol, limit in self.limits.items():
            if limit.order.client_order_id == client_order_id:
                del self.limits[symbol]
                return limit.order
        for protection in self.protection.values():
            stop, target = protection.stop, protection.target
            if stop is not None and stop.client_order_id == client_order_id:
                protection.stop = None
                return stop
            if target is not None and target.client_order_id == client_order_id:
                protection.target = None
                return target
        return None


def first_hit(prices: F64, level: float, *, above: bool, strict: bool = False) -> int:
    """Offset of the first price at or beyond ``level`` (``above``: >=, else <=; ``strict``: > or <), or -1."""
    if prices.size == 0:
        return -1
    # (prices - level) * sign compared with 0, without the two temporaries: a float difference is 0 only
    # for equal values and keeps the sign of the exact one, so the comparisons agree (NaN: never a hit)
    compare = (np.greater if strict else np.greater_equal) if above else (np.less if strict else np.less_equal)
    hit = compare(prices, level)
    index = int(hit.argmax())
    return index if hit[index] else -1


def limit_fill_offset(order: RestingLimit, high: F64, low: F64, *, through: bool) -> int:
    """First bar that fills a resting limit: a buy when the low trades through (or touches) it."""
    if order.buy:
        return first_hit(low, order.limit, above=False, strict=through)
    return first_hit(high, order.limit, above=True, strict=through)
