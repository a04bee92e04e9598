"""Market data feeds for a replay: an aligned market handed over a stretch at a time.

``InMemoryFeed`` cuts a ``MarketData`` grid (a hand-made market, the demo's synthetic one)
into stretches; the catalog replay (``engine.catalog_feed``) reads stretches from Parquet so
that years of 1m bars never sit in memory at once. Either way the engine sees
``MarketChunk``s in time order, with each funding settlement placed at the row whose open
is at or after it, and the marks carried across stretches.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from quantum_trader.domain.chunk import FundingAt, MarketChunk
from quantum_trader.domain.market import I64, FundingSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.engine.grid import MarketGrid


def funding_by_row(ts: I64, symbols: tuple[str, ...], funding: Mapping[str, FundingSeries]
                   ) -> dict[int, tuple[FundingAt, ...]]:
    """Each settlement at the first row whose open is at or after it (settlements after the last row wait)."""
    out: dict[int, list[FundingAt]] = {}
    for symbol in symbols:
        series = funding.get(symbol)
        if series is None or len(series) == 0:
            continue
        rows = np.searchsorted(ts, series.ts, side="left")
        for row, at, rate in zip(rows.tolist(), series.ts.tolist(), series.rate.tolist(), strict=True):
            if row < ts.size and rate == rate:
                out.setdefault(row, []).append((symbol, at, rate))
    return {row: tuple(items) for row, items in out.items()}


class InMemoryFeed:
    """A whole aligned grid as stretches of ``rows`` rows (default: one stretch)."""

    def __init__(self, grid: MarketGrid, funding: Mapping[str, FundingSeries] | None = None,
                 rows: int | None = None) -> None:
        self.grid = grid
        self.funding = funding_by_row(grid.ts, grid.symbols, funding or {})
        self.rows = rows or max(int(grid.ts.size), 1)

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.grid.symbols

    @property
    def start_ts(self) -> int:
        return int(self.grid.ts[0])

    @property
    def total_rows(self) -> int:
        return int(self.grid.ts.size)

    def chunks(self) -> Iterator[MarketChunk]:
        g = self.grid
        step = timeframe_ms(g.timeframe)
        n = int(g.ts.size)
        for lo in range(0, n, self.rows):
            hi = min(n, lo + self.rows)
            funding = {row - lo: items for row, items in self.funding.items() if lo <= row < hi}
            yield MarketChunk(
                symbols=g.symbols, step=step, ts=g.ts[lo:hi], open=g.open[lo:hi], high=g.high[lo:hi],
                low=g.low[lo:hi], close=g.close[lo:hi], volume=g.volume[lo:hi], valid=g.valid[lo:hi],
                mark=g.mark[lo:hi], funding=funding, mark_in=g.mark[lo - 1] if lo > 0 else None, first=lo,
            )
