"""Store a synthetic market in the catalog, one asset at a time, each asset all-or-nothing.

Each asset's five datasets (candles, mark, funding, book, trade flow) go through one
``write_many`` so an interrupted run never leaves an asset with candles but no book; the
assets already written stay valid, and re-running simply rewrites identical rows.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from quantum_trader.data.synthetic.market import SyntheticMarket
from quantum_trader.domain.market import BarSeries, BookSeries, DataKind, FundingSeries, TradeFlowSeries
from quantum_trader.domain.symbols import parse_symbol

MARKETS_FILE = "markets.json"
"""ccxt ``load_markets()``-shaped metadata at the catalog root (screening reads "perpetual listed" there)."""

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
        write_markets(root, market_entries(market.bars))


def market_entries(symbols: Sequence[str] | dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The synthetic venue lists each of its symbols as an active linear perpetual, as ccxt shapes it."""
    entries = {}
    for symbol in symbols:
        base, quote, settle = parse_symbol(symbol)
        entries[symbol] = {
            "id": f"{base}{quote}", "symbol": symbol, "base": base, "quote": quote, "settle": settle,
            "type": "swap", "swap": True, "spot": False, "linear": True, "contract": True, "active": True,
            "info": {"source": "quantum-trader synthetic market"},
        }
    return entries


def write_markets(root: Path, entries: dict[str, dict[str, Any]]) -> Path:
    """Merge ``entries`` into ``<root>/markets.json`` atomically (temp file, then rename)."""
    path = root / MARKETS_FILE
    current: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    current.update(entries)
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".markets-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(current, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return path
