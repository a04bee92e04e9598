"""Resting limit entries: where the first one fills or lapses, for a whole window at once.

A limit entry rests at the venue from the open of the bar it reaches it (the decision's
fill bar) until it fills or its expiry. Like the window scan of positions, the kernel
asks once per window for the earliest of these events instead of testing every bar.

Conventions (a careful backtest's):
- a buy limit fills on a bar whose low trades *through* it (``low < limit``); touching
  is not enough, since orders ahead of ours at that price fill first. The policy can
  choose ``touch`` (``low <= limit``), the optimistic convention of most bar engines;
- a resting limit fills at its own price even when the bar opens beyond it: in a
  market that trades around the clock the price passed through the limit on its way,
  and the order was in the book then. Only an order that is marketable when it arrives
  can trade at a better price, and that is a taker fill (``marketable``);
- an order expires at the open of its expiry bar: a fill on that bar is too late.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import numpy as np

from quantum_trader.domain.market import F64
from quantum_trader.domain.trading import Intent, Side


@dataclass(frozen=True, slots=True)
class RestingEntry:
    """One limit entry at the venue, approved by the risk engine for ``quantity`` when placed."""

    intent: Intent
    column: int
    quantity: Decimal
    limit: float
    """Tick-rounded limit price."""
    placed_row: int
    """Grid row at whose open the order reached the venue."""
    expiry_row: int
    """First grid row at which the order is no longer live."""
    decision: int
    """Index of the decision that placed it."""

    @property
    def buy(self) -> bool:
        return self.intent.side is Side.LONG


class EntryEventKind(StrEnum):
    FILL = "fill"
    EXPIRY = "expiry"


@dataclass(frozen=True, slots=True)
class EntryEvent:
    row: int
    kind: EntryEventKind
    symbol: str


def marketable(buy: bool, limit: float, bar_open: float) -> bool:
    """Would the order trade at once if it arrived at this open (a buy at or above the price)?"""
    return bar_open <= limit if buy else bar_open >= limit


def first_fill(buy: bool, limit: float, high: F64, low: F64, *, through: bool) -> int:
    """Offset of the first bar that fills a resting limit, or -1."""
    prices, sign = (low, -1.0) if buy else (high, 1.0)
    # Beyond the limit on the side that fills it: below a buy's, above a sell's.
    hit = (prices - limit) * sign > 0 if through else (prices - limit) * sign >= 0
    if hit.size == 0:
        return -1
    index = int(np.argmax(hit))
    return index if bool(hit[index]) else -1


def next_entry_event(orders: dict[str, RestingEntry], start: int, stop: int, high: F64, low: F64, *,
                     through: bool) -> EntryEvent | None:
    """The earliest fill or expiry among ``orders`` in grid rows [start, stop), or None.

    ``high``/``low`` are the grid's full (T, N) arrays. Ties on one row go to the lower
    grid column, then a fill before an expiry (they are different orders).
    """
    best: tuple[int, int, int, str] | None = None
    for symbol, order in orders.items():
        live_end = min(stop, order.expiry_row)
        candidate: tuple[int, int, int, str] | None = None
        if live_end > start:
            hit = first_fill(order.buy, order.limit, high[start:live_end, order.column],
                             low[start:live_end, order.column], through=through)
            if hit >= 0:
                candidate = (start + hit, order.column, 0, symbol)
        if candidate is None and order.expiry_row < stop:
            candidate = (max(start, order.expiry_row), order.column, 1, symbol)
        if candidate is not None and (best is None or candidate < best):
            best = candidate
    if best is None:
        return None
    row, _, kind, symbol = best
    return EntryEvent(row, EntryEventKind.FILL if kind == 0 else EntryEventKind.EXPIRY, symbol)
