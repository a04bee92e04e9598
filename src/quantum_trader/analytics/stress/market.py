"""The market a stress scenario is injected into: every raw series of a replay, before alignment.

A scenario changes prices, books, funding and bars, then hands the result to the very
composition a backtest uses (``analytics.stress.compose``). Injecting into the raw series,
not into the aligned grid, means everything derived from them (the grid's carried marks,
the depth and spreads read from the books, the strategy's signals, the universe's screens)
sees the stressed market exactly as it would see a real one, and the engine needs no hook.

The market comes from the synthetic generator held in memory (the demo market by default)
or from a catalog, read the way ``analytics.replay_market.load_market`` reads it but kept
unaligned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from quantum_trader.analytics.replay_market import catalog_instruments, read_stored, source_notes, spot_stand_ins
from quantum_trader.analytics.universe_replay import listed_from
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.markets import stored_listing
from quantum_trader.data.synthetic import SyntheticMarket
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.market import BarSeries, BookSeries, FundingSeries
from quantum_trader.domain.time import timeframe_ms


class StressMarketError(ValueError):
    """A market a scenario cannot be built on (no bars, an injection outside it); the message names what."""


@dataclass(frozen=True)
class StressMarket:
    """Bars, marks, funding and books per symbol, with what a catalog says about them."""

    bars: Mapping[str, BarSeries]
    funding: Mapping[str, FundingSeries] = field(default_factory=dict)
    books: Mapping[str, BookSeries] = field(default_factory=dict)
    marks: Mapping[str, BarSeries] = field(default_factory=dict)
    finer: Mapping[str, BarSeries] = field(default_factory=dict)
    """1m bars under coarser ones (they decide whether a stop or a target came first inside a bar)."""
    instruments: Mapping[str, Instrument] | None = None
    """The exchange's contracts (None: guessed from the first close, as for in-memory markets)."""
    listed: Mapping[str, bool | None] = field(default_factory=dict)
    """Per symbol, whether the stored listing names it an active perpetual (screening reads it)."""
    spot: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()
    exchange: str = "binanceusdm"
    source: str = "market"
    """Where the market came from, for the report's header."""

    def __post_init__(self) -> None:
        if not self.bars:
            raise StressMarketError("stress market: no symbol has bars")
        empty = [s for s, b in self.bars.items() if len(b) == 0]
        if empty:
            raise StressMarketError(f"stress market: no bars for {', '.join(empty)}")
        timeframes = {b.timeframe for b in self.bars.values()}
        if len(timeframes) != 1:
            raise StressMarketError(f"stress market: bars on several timeframes {sorted(timeframes)}")

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.bars)

    @property
    def timeframe(self) -> str:
        return next(iter(self.bars.values())).timeframe

    @property
    def step_ms(self) -> int:
        return timeframe_ms(self.timeframe)

    @property
    def start_ms(self) -> int:
        return min(int(b.ts[0]) for b in self.bars.values())

    @property
    def end_ms(self) -> int:
        """The close of the last bar of any symbol."""
        return max(int(b.ts[-1]) for b in self.bars.values()) + self.step_ms

    def with_series(self, *, bars: Mapping[str, BarSeries] | None = None,
                    funding: Mapping[str, FundingSeries] | None = None,
                    books: Mapping[str, BookSeries] | None = None, marks: Mapping[str, BarSeries] | None = None,
                    finer: Mapping[str, BarSeries] | None = None) -> StressMarket:
        """The same market with some series replaced (each mapping replaces the whole of its kind)."""
        return replace(self, bars=self.bars if bars is None else dict(bars),
                       funding=self.funding if funding is None else dict(funding),
                       books=self.books if books is None else dict(books),
                       marks=self.marks if marks is None else dict(marks),
                       finer=self.finer if finer is None else dict(finer))


def from_synthetic(market: SyntheticMarket, source: str = "synthetic market") -> StressMarket:
    """A generated market held in memory: the synthetic venue lists every symbol as an active perpetual
    (as ``data synth`` stores it), and its instruments are guessed from the first close (as stored there)."""
    return StressMarket(bars=dict(market.bars), funding=dict(market.funding), books=dict(market.books),
                        marks=dict(market.mark), listed={s: True for s in market.bars}, exchange="synthetic",
                        source=source)


def load_catalog_market(root: Path, symbols: Sequence[str], *, timeframe: str, exchange: str | None,
                        start_ms: int | None, end_ms: int | None) -> StressMarket:
    """The catalog's series for ``symbols`` over the range, unaligned (symbols without bars there are left out)."""
    catalog = Catalog(root)
    stored = read_stored(catalog, symbols, timeframe=timeframe, exchange=exchange, start_ms=start_ms, end_ms=end_ms)
    bars, funding, books, marks, finer, venue = (stored.bars, stored.funding, stored.books, stored.marks,
                                                 stored.finer, stored.venue)
    return StressMarket(
        bars=bars, funding=funding, books=books, marks={s: m for s, m in marks.items() if len(m)},
        finer={s: f for s, f in finer.items() if len(f)},
        instruments=catalog_instruments(catalog, list(bars), exchange),
        listed=listed_from(stored_listing(catalog.root, exchange)[0], bars),
        spot=spot_stand_ins(catalog, list(bars), timeframe, exchange),
        notes=tuple(source_notes(catalog, list(bars), timeframe, exchange)), exchange=venue,
        source=f"catalog {root} ({timeframe}, {', '.join(bars)})",
    )


def bar_log_returns(series: BarSeries) -> np.ndarray:
    """Close-to-close log returns of one symbol's bars (the first bar from its own open)."""
    closes = series.close
    prev = np.concatenate([[series.open[0]], closes[:-1]])
    return np.asarray(np.log(closes / prev), dtype=np.float64)
