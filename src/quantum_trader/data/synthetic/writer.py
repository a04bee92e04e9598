"""Store a synthetic market in the catalog, one asset at a time, each asset all-or-nothing.

Each asset's five datasets (candles, mark, funding, book, trade flow) go through one
``write_many`` so an interrupted run never leaves an asset with candles but no book; the
assets already written stay valid, and re-running simply rewrites identical rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from quantum_trader.data.markets import MarketSpec, markets_path, read_markets, store_markets
from quantum_trader.data.synthetic.market import SyntheticMarket
from quantum_trader.domain.instrument import guess_instrument
from quantum_trader.domain.market import BarSeries, BookSeries, DataKind, FundingSeries, TradeFlowSeries
from quantum_trader.domain.symbols import parse_symbol

SOURCE = "quantum-trader synthetic market"
"""The stored listing's source: the synthetic venue lists each symbol as an active linear USDT perpetual."""

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
    root = getattr(catalog, "root", None)
    if isinstance(root, Path):
        store_listing(root, exchange, market.bars)


def store_listing(root: Path, exchange: str, bars: Mapping[str, BarSeries]) -> Path:
    """List the synthetic symbols as the exchange's markets (``data markets`` format), merged with those
    stored before: backtests read their precision there, screening reads "perpetual listed"."""
    specs = {symbol: _spec(symbol, float(series.close[0])) for symbol, series in bars.items() if len(series)}
    if markets_path(root, exchange).is_file():
        stored = read_markets(root, exchange).markets
        specs = {**{s: spec for s, spec in stored.items() if s not in specs}, **specs}
    return store_markets(root, exchange, list(specs.values()), source=SOURCE).path


def _spec(symbol: str, first_close: float) -> MarketSpec:
    base, quote, settle = parse_symbol(symbol)
    guess = guess_instrument(symbol, first_close)
    return MarketSpec(symbol=symbol, id=f"{base}{quote}", type="swap", base=base, quote=quote, settle=settle,
                      linear=True, active=True, tick_size=guess.tick_size, lot_size=guess.lot_size,
                      min_qty=None, min_notional=guess.min_notional, contract_size=Decimal(1),
                      max_leverage=None)
