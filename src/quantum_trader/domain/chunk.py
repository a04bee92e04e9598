"""A stretch of the market on one time axis: what a feed hands the engine, and the venue matches against.

A replay of years of 1m bars is not loaded whole: the feed reads it a stretch at a time and
the engine processes each stretch in turn, so memory follows the stretch, not the history. A
live feed hands stretches of one row, as bars close. Rows are bar open times (the union of
the symbols' bars); a symbol without a bar at a row has NaN there and ``valid`` False, and
``mark`` carries its last close (or exchange mark) forward, across stretches too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from quantum_trader.domain.market import F64, I64, BookSeries

FundingAt = tuple[str, int, float]
"""(symbol, settlement time, rate) of one funding settlement."""


@dataclass(frozen=True)
class MarketChunk:
    symbols: tuple[str, ...]
    step: int
    """Milliseconds per row (the bar timeframe)."""
    ts: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    valid: npt.NDArray[np.bool_]
    mark: F64
    """Marks at each row's close: the exchange's mark price where known, else the last close, carried."""
    funding: Mapping[int, tuple[FundingAt, ...]] = field(default_factory=dict)
    """Funding settlements by the row whose open is at or after their time."""
    mark_in: F64 | None = None
    """The marks just before the first row (the previous stretch's last), NaN where none."""
    first: int = 0
    """Index of this stretch's first row in the whole replay (for progress and equity sampling)."""
    books: Mapping[str, BookSeries] | None = None
    """The order books of this stretch (and those still fresh at its start) when the feed reads them a
    stretch at a time; None: the venue keeps the books it was built with (a market held whole)."""

    @property
    def size(self) -> int:
        return int(self.ts.size)

    @property
    def funding_rows(self) -> list[int]:
        return sorted(self.funding)

    def mark_before(self, row: int, col: int) -> float:
        """The mark as of the close before ``row`` (the previous stretch's last for row 0)."""
        if row > 0:
            return float(self.mark[row - 1, col])
        if self.mark_in is not None:
            return float(self.mark_in[col])
        return float(self.mark[0, col])
