"""Slippage: walk the L2 book when one is known, else half the spread plus market impact.

Both return the average execution price for a taker order, never better than the touch,
so a backtest cannot earn money by trading against a book it does not have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from quantum_trader.domain.market import F64, BookSeries

_LARGEST = float(np.finfo(np.float64).max)


def finite(value: float) -> float:
    """``np.nan_to_num`` of one float (a bar's volume), without its per-call cost: NaN is 0, an infinity
    the largest float of its sign."""
    if value != value:
        return 0.0
    if math.isinf(value):
        return _LARGEST if value > 0 else -_LARGEST
    return value


BOOK_MAX_AGE_MS = 15 * 60_000
"""A book older than this at a fill says too little about the fill's cost: use the impact model."""


def walk_book(levels_px: F64, levels_sz: F64, quantity: float) -> tuple[float, float]:
    """Average price and filled quantity of a taker order of ``quantity`` (base units).

    ``levels_*`` are one side of the book, best first (asks for a buy, bids for a sell);
    NaN prices / zero sizes mark absent levels. When the book is too thin the remainder
    fills at the last level's price, and the shortfall shows in the returned quantity
    against what was asked, so the caller can decide whether that is acceptable.
    """
    if quantity <= 0:
        raise ValueError(f"walk_book: quantity must be > 0, got {quantity}")
    remaining = quantity
    cost = 0.0
    last_px = math.nan
    # (the levels as Python floats, read once: the same values as NumPy's one at a time)
    for px, sz in zip(levels_px.tolist(), levels_sz.tolist(), strict=True):
        if not sz > 0 or math.isnan(px):
            continue
        take = min(remaining, sz)
        cost += take * px
        remaining -= take
        last_px = px
        if remaining <= 0:
            break
    if math.isnan(last_px):
        raise ValueError("walk_book: the book side is empty")
    filled = quantity - max(remaining, 0.0)
    if remaining > 0:
        cost += remaining * last_px
    return cost / quantity, filled


@dataclass(frozen=True, slots=True)
class SpreadImpactModel:
    """Half the spread plus a square-root participation impact.

    ``impact`` is the price move (fraction) for trading one full bar's volume; the
    square root is the standard empirical shape of market impact (it grows slower than
    size). With no volume information, only the half spread applies.
    """

    spread: float = 0.0002
    impact: float = 0.1

    def price(self, reference: float, quantity: float, bar_volume: float, *, buy: bool) -> float:
        participation = quantity / bar_volume if bar_volume > 0 else 0.0
        cost = self.spread / 2.0 + self.impact * math.sqrt(participation)
        return reference * (1.0 + cost) if buy else reference * (1.0 - cost)


@dataclass(frozen=True, slots=True)
class NoSlippage:
    """For differential tests against engines that fill exactly at the reference price."""

    def price(self, reference: float, quantity: float, bar_volume: float, *, buy: bool) -> float:
        return reference


def book_price(bid_px: F64, bid_sz: F64, ask_px: F64, ask_sz: F64, quantity: float, *, buy: bool) -> float:
    px, _ = walk_book(ask_px, ask_sz, quantity) if buy else walk_book(bid_px, bid_sz, quantity)
    return px


def depth_within(bid_px: F64, bid_sz: F64, ask_px: F64, ask_sz: F64, fraction: float) -> float:
    """Quote depth within ``fraction`` of mid, the smaller of the two sides (what a taker can rely on)."""
    mid = (bid_px[0] + ask_px[0]) / 2.0
    lo, hi = mid * (1.0 - fraction) * (1 - 1e-12), mid * (1.0 + fraction) * (1 + 1e-12)
    bid_mask = np.nan_to_num(bid_px, nan=-np.inf) >= lo
    ask_mask = np.nan_to_num(ask_px, nan=np.inf) <= hi
    bid = float(np.sum(np.where(bid_mask, np.nan_to_num(bid_px) * bid_sz, 0.0)))
    ask = float(np.sum(np.where(ask_mask, np.nan_to_num(ask_px) * ask_sz, 0.0)))
    return min(bid, ask)


def taker_price(reference: float, quantity: float, *, buy: bool, ts: int, book: BookSeries | None,
                spread: float, impact: float, bar_volume: float, max_age_ms: int = BOOK_MAX_AGE_MS) -> float:
    """The average price of a taker order at ``ts``: the latest book walked when there is a recent
    one, else half the spread plus square-root impact.

    The book's cost (half spread plus the depth walked, relative to its mid) is applied to
    ``reference``, the fill's own price, since the snapshot may be minutes older than the fill.
    """
    if book is not None and len(book):
        i = int(np.searchsorted(book.ts, ts, side="right")) - 1
        if i >= 0 and ts - int(book.ts[i]) <= max_age_ms:
            mid = (float(book.bid_px[i, 0]) + float(book.ask_px[i, 0])) / 2.0
            side_px, side_sz = (book.ask_px[i], book.ask_sz[i]) if buy else (book.bid_px[i], book.bid_sz[i])
            average, _ = walk_book(side_px, side_sz, quantity)
            return reference * (average / mid)
    return SpreadImpactModel(spread=spread, impact=impact).price(reference, quantity, bar_volume, buy=buy)
