"""A local L2 book rebuilt from snapshot + diff messages, and the recorder of its top levels.

Both Bybit's and Binance's diff feeds send absolute sizes per price level with size 0
meaning "remove", so one small mutable book serves both readers; only the sequencing
rules (which message may follow which) differ and stay in each reader.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import pandas as pd

from quantum_trader.data.loaders.table import SOURCE_ROW, book_columns


class LevelBook:
    """Price -> size per side, with each side's prices kept sorted.

    Keeping the price lists sorted on insert/remove (bisect on a few hundred floats) makes
    reading the top levels a slice, which matters because a book is recorded after every
    message. Removing an absent level is a no-op, as both exchanges document.
    """

    __slots__ = ("_ask_prices", "_bid_prices", "asks", "bids")

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self._bid_prices: list[float] = []
        self._ask_prices: list[float] = []

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self._bid_prices.clear()
        self._ask_prices.clear()

    def apply(self, is_bid: bool, price: float, size: float) -> None:
        """Set a level to an absolute size; ValueError on a non-finite price or a bad size."""
        if not (math.isfinite(price) and math.isfinite(size)) or size < 0.0:
            raise ValueError(f"invalid level price={price} size={size}")
        side, prices = (self.bids, self._bid_prices) if is_bid else (self.asks, self._ask_prices)
        if size == 0.0:
            if side.pop(price, None) is not None:
                del prices[bisect.bisect_left(prices, price)]
        else:
            if price not in side:
                bisect.insort(prices, price)
            side[price] = size

    def top_bids(self, levels: int) -> list[float]:
        """Best (highest) bid prices first."""
        return self._bid_prices[: -levels - 1 : -1]

    def top_asks(self, levels: int) -> list[float]:
        """Best (lowest) ask prices first."""
        return self._ask_prices[:levels]


class BookRecorder:
    """Collects the top ``levels`` of a LevelBook at chosen moments into a BOOK frame."""

    def __init__(self, levels: int) -> None:
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        self.levels = levels
        self._ts: list[int] = []
        self._rows: list[int] = []
        self._bid_px: list[list[float]] = []
        self._bid_sz: list[list[float]] = []
        self._ask_px: list[list[float]] = []
        self._ask_sz: list[list[float]] = []

    def __len__(self) -> int:
        return len(self._ts)

    def record(self, book: LevelBook, ts: int, source_row: int) -> None:
        bids = book.top_bids(self.levels)
        asks = book.top_asks(self.levels)
        pad_px = [float("nan")] * self.levels
        pad_sz = [0.0] * self.levels
        self._ts.append(ts)
        self._rows.append(source_row)
        self._bid_px.append((bids + pad_px)[: self.levels])
        self._bid_sz.append(([book.bids[p] for p in bids] + pad_sz)[: self.levels])
        self._ask_px.append((asks + pad_px)[: self.levels])
        self._ask_sz.append(([book.asks[p] for p in asks] + pad_sz)[: self.levels])

    def frame(self) -> pd.DataFrame:
        n, width = len(self._ts), self.levels
        blocks = [
            np.asarray(part, dtype=np.float64).reshape(n, width)
            for part in (self._bid_px, self._bid_sz, self._ask_px, self._ask_sz)
        ]
        data = np.hstack(blocks) if n else np.empty((0, 4 * width))
        frame = pd.DataFrame(data, columns=book_columns(width)[1:])
        frame.insert(0, "ts", np.asarray(self._ts, dtype=np.int64))
        frame[SOURCE_ROW] = np.asarray(self._rows, dtype=np.int64)
        return frame
