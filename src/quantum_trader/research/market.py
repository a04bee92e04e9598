"""The market of a study, read from the catalog once and cut into the windows its backtests run over.

A study runs hundreds of backtests over windows of one history (a sweep's one range, a walk-forward's
folds). Reading the catalog for each would read the same Parquet files hundreds of times, on every
node of a cluster. So the driver reads every series once, as the backtest would (``load_market``'s
reads, kept raw), the whole goes to the workers once (``runner.share``), and each task cuts its window
from it and aligns it with the backtest's own ``assemble_market``: the market a task's kernel sees is
the one ``quantum-trader backtest --start --end`` would load for that window (a test holds them equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from quantum_trader.analytics.replay_market import (
    assemble_market,
    catalog_instruments,
    read_stored,
    source_notes,
    spot_stand_ins,
)
from quantum_trader.config import Policy
from quantum_trader.data.catalog import Catalog, CatalogError
from quantum_trader.data.markets import stored_listing
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.market import BarSeries, BookSeries, FundingSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.engine.inputs import MarketData


@dataclass(frozen=True)
class MarketInputs:
    """Every series a backtest of these symbols reads, over the whole studied range, as stored."""

    timeframe: str
    bars: Mapping[str, BarSeries]
    funding: Mapping[str, FundingSeries] = field(default_factory=dict)
    books: Mapping[str, BookSeries] = field(default_factory=dict)
    marks: Mapping[str, BarSeries] = field(default_factory=dict)
    finer: Mapping[str, BarSeries] = field(default_factory=dict)
    """1m bars when the bars are coarser (which of a stop and a target a bar touched first)."""
    instruments: Mapping[str, Instrument] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    venue: str = "binanceusdm"
    listing: Mapping[str, Any] | None = None
    """The stored market listing (what screening's "perpetual listed" reads); None without one."""
    spot: frozenset[str] = frozenset()
    """Symbols whose candles are spot data standing in for the perpetual."""

    @property
    def start_ms(self) -> int:
        return min(int(b.ts[0]) for b in self.bars.values())

    @property
    def end_ms(self) -> int:
        """Just after the last bar (an exclusive end, as ``--end`` is)."""
        return max(int(b.ts[-1]) for b in self.bars.values()) + timeframe_ms(self.timeframe)

    def window(self, start_ms: int, end_ms: int, policy: Policy) -> tuple[dict[str, BarSeries], MarketData]:
        """The bars and the aligned market of ``start_ms <= ts < end_ms``, as a backtest of that range loads them
        (an asset without a bar in it is left out, as the backtest leaves it)."""
        bars = {s: b.slice(start_ms, end_ms) for s, b in self.bars.items()}
        bars = {s: b for s, b in bars.items() if len(b)}
        if not bars:
            raise CatalogError(f"no {self.timeframe} bars in the window for {', '.join(self.bars)}")
        funding = {s: _cut_funding(f, start_ms, end_ms) for s, f in self.funding.items() if s in bars}
        books = {s: _cut_book(b, start_ms, end_ms) for s, b in self.books.items() if s in bars}
        marks = {s: m.slice(start_ms, end_ms) for s, m in self.marks.items() if s in bars}
        data = assemble_market(bars, funding, books, marks, policy=policy,
                               instruments={s: i for s, i in self.instruments.items() if s in bars},
                               notes=self.notes, exchange=self.venue)
        finer = {s: f.slice(start_ms, end_ms) for s, f in self.finer.items() if s in bars}
        return bars, replace(data, finer=finer) if finer else data


def _rows(ts: np.ndarray[Any, Any], start_ms: int, end_ms: int) -> slice:
    return slice(int(np.searchsorted(ts, start_ms, side="left")), int(np.searchsorted(ts, end_ms, side="left")))


def _cut_funding(series: FundingSeries, start_ms: int, end_ms: int) -> FundingSeries:
    rows = _rows(series.ts, start_ms, end_ms)
    return FundingSeries(series.symbol, series.ts[rows], series.rate[rows])


def _cut_book(series: BookSeries, start_ms: int, end_ms: int) -> BookSeries:
    rows = _rows(series.ts, start_ms, end_ms)
    return BookSeries(series.symbol, series.ts[rows], series.bid_px[rows], series.bid_sz[rows], series.ask_px[rows],
                      series.ask_sz[rows])


def read_inputs(catalog: Catalog, symbols: tuple[str, ...], *, timeframe: str, exchange: str | None,
                start_ms: int | None, end_ms: int | None) -> MarketInputs:
    """Everything ``analytics.replay_market.load_market`` reads for the range, kept as stored."""
    stored = read_stored(catalog, symbols, timeframe=timeframe, exchange=exchange, start_ms=start_ms, end_ms=end_ms)
    bars, funding, books, marks, finer, venue = (stored.bars, stored.funding, stored.books, stored.marks,
                                                 stored.finer, stored.venue)
    held = list(bars)
    return MarketInputs(timeframe=timeframe, bars=bars, funding=funding, books=books, marks=marks, finer=finer,
                        instruments=catalog_instruments(catalog, held, exchange),
                        notes=tuple(source_notes(catalog, held, timeframe, exchange)), venue=venue,
                        listing=stored_listing(catalog.root, exchange)[0],
                        spot=spot_stand_ins(catalog, held, timeframe, exchange))
