"""Store a synthetic market in the catalog, one asset at a time, each asset all-or-nothing.

Each asset's five datasets (candles, mark, funding, book, trade flow) go through one
``write_many`` so an interrupted run never leaves an asset with candles but no book; the
assets already written stay valid, and re-running simply rewrites identical rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from quantum_trader.data.synthetic.market import SyntheticMarket
from quantum_trader.domain.market import BarSeries, BookSeries, DataKind, FundingSeries, TradeFlowSeries

Series = BarSeries | FundingSeries | BookSeries | TradeFlowSeries
Progress = Callable[[int, int, str], None]
"""Called after each asset as ``progress(done, total, symbol)``."""


class SeriesSink(Protocol):
    """What ``write_market`` needs of a catalog (``quantum_trader.data.catalog.Catalog`` fits)."""

    def write_many(self, items: Sequence[tuple[Series, DataKind | None]], *, exchange: str) -> object: ...


def write_market(
    market: SyntheticMarket,
    catalog: SeriesSink,
    *,
    exchange: str = "synthetic",
    progress: Progress | None = None,
) -> None:
    """Write every series of ``market`` under ``exchange`` (``synthetic`` by default, never a real venue)."""
    total = len(market.bars)
    for done, symbol in enumerate(market.bars, start=1):
        items: list[tuple[Series, DataKind | None]] = [
            (market.bars[symbol], DataKind.CANDLES),
            (market.mark[symbol], DataKind.MARK),
            (market.funding[symbol], DataKind.FUNDING),
            (market.books[symbol], DataKind.BOOK),
            (market.trade_flow[symbol], DataKind.TRADE_FLOW),
        ]
        catalog.write_many(items, exchange=exchange)
        if progress is not None:
            progress(done, total, symbol)
