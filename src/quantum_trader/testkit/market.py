"""Hand-made markets for the kernel: a few bars typed in, aligned like a replayed catalog.

Scenario tests (a gap through a stop, a funding settlement, a crash that trips the kill
switch) need markets whose every price is known by heart, not synthetic noise. The
builder takes bars row by row, one list per asset, and returns the same ``MarketData``
the backtest builds from a catalog, so the kernel cannot tell the difference.

A bar is written as:

- a number ``p``: a flat bar (open = high = low = close = p);
- a tuple ``(open, high, low, close)``;
- ``None``: no bar at that row (the asset's data has a gap there).

Row ``i`` of every asset starts at ``start_ms + i * step``; rows where no asset has a bar
are absent from the grid, exactly as with real data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.market import BarSeries, FundingSeries
from quantum_trader.domain.symbols import perp_symbol
from quantum_trader.domain.time import parse_time, timeframe_ms
from quantum_trader.engine.grid import build_grid
from quantum_trader.engine.inputs import MarketData
from quantum_trader.venues.simulated.instruments import instrument_for

T0 = parse_time("2025-01-01")
"""Midnight UTC, so hour rows line up with funding settlements (00/08/16) and day starts."""

BarSpec = float | int | tuple[float, float, float, float] | None
"""A flat price, an (open, high, low, close) tuple, or None for a missing bar."""


class MarketSpecError(ValueError):
    """A hand-made market that cannot be a market: the message names the asset and row."""


def _ohlc(symbol: str, row: int, spec: BarSpec) -> tuple[float, float, float, float] | None:
    if spec is None:
        return None
    if isinstance(spec, int | float):
        o = h = lo = c = float(spec)
    elif isinstance(spec, tuple) and len(spec) == 4:
        o, h, lo, c = (float(x) for x in spec)
    else:
        raise MarketSpecError(f"{symbol} row {row}: a bar is a price, (open, high, low, close) or None, got {spec!r}")
    if not all(math.isfinite(x) and x > 0 for x in (o, h, lo, c)):
        raise MarketSpecError(f"{symbol} row {row}: prices must be finite and > 0, got {(o, h, lo, c)}")
    if h < max(o, c) or lo > min(o, c):
        raise MarketSpecError(
            f"{symbol} row {row}: high {h} must be >= open and close and low {lo} <= them (open {o}, close {c})"
        )
    return o, h, lo, c


@dataclass
class MarketBuilder:
    """Collects bars, funding and costs per asset; ``build()`` aligns them into ``MarketData``.

    Example::

        data = (MarketBuilder()
                .bars("BTC", [100, 100, 100, (90, 92, 88, 91)])
                .funding("BTC", row=8, rate=0.0001)
                .build())
    """

    timeframe: str = "1h"
    start_ms: int = T0
    _bars: dict[str, list[tuple[float, float, float, float] | None]] = field(default_factory=dict)
    _volume: dict[str, float] = field(default_factory=dict)
    _funding: dict[str, dict[int, float]] = field(default_factory=dict)
    _spread: dict[str, float] = field(default_factory=dict)
    _instruments: dict[str, Instrument] = field(default_factory=dict)

    @property
    def step(self) -> int:
        return timeframe_ms(self.timeframe)

    def ts(self, row: int) -> int:
        """Open time of bar ``row`` (its close is ``ts(row + 1)``)."""
        return self.start_ms + row * self.step

    def bars(self, asset: str, rows: Sequence[BarSpec], *, volume: float = 1_000_000.0,
             instrument: Instrument | None = None) -> MarketBuilder:
        """The asset's bars from row 0; ``volume`` (base units) is the same on every bar."""
        symbol = perp_symbol(asset)
        if symbol in self._bars:
            raise MarketSpecError(f"{symbol}: bars given twice")
        if not volume >= 0:
            raise MarketSpecError(f"{symbol}: volume must be >= 0, got {volume}")
        parsed = [_ohlc(symbol, i, spec) for i, spec in enumerate(rows)]
        if not any(bar is not None for bar in parsed):
            raise MarketSpecError(f"{symbol}: at least one bar is needed")
        if instrument is not None and instrument.symbol != symbol:
            raise MarketSpecError(f"{symbol}: instrument is for {instrument.symbol}")
        self._bars[symbol] = parsed
        self._volume[symbol] = float(volume)
        if instrument is not None:
            self._instruments[symbol] = instrument
        return self

    def funding(self, asset: str, *, row: int, rate: float) -> MarketBuilder:
        """A settlement at the open of bar ``row`` (use rows at 00/08/16 UTC to be realistic)."""
        symbol = perp_symbol(asset)
        if row < 0 or not math.isfinite(rate):
            raise MarketSpecError(f"{symbol} funding: row must be >= 0 and rate finite, got row {row}, rate {rate}")
        self._funding.setdefault(symbol, {})[row] = float(rate)
        return self

    def spread(self, asset: str, spread: float) -> MarketBuilder:
        """Typical relative bid-ask spread, read by the kernel's slippage model."""
        symbol = perp_symbol(asset)
        if not 0 <= spread < 1:
            raise MarketSpecError(f"{symbol}: spread must be in [0, 1), got {spread}")
        self._spread[symbol] = float(spread)
        return self

    def series(self) -> dict[str, BarSeries]:
        """The bars as ``BarSeries`` (what a strategy's ``prepare`` receives)."""
        out = {}
        for symbol, rows in self._bars.items():
            present = [(i, bar) for i, bar in enumerate(rows) if bar is not None]
            ts = np.array([self.ts(i) for i, _ in present], dtype=np.int64)
            cols = np.array([bar for _, bar in present], dtype=np.float64).reshape(-1, 4)
            volume = np.full(ts.size, self._volume[symbol])
            out[symbol] = BarSeries(symbol, self.timeframe, ts, cols[:, 0].copy(), cols[:, 1].copy(),
                                    cols[:, 2].copy(), cols[:, 3].copy(), volume)
        return out

    def build(self) -> MarketData:
        if not self._bars:
            raise MarketSpecError("market: no asset has bars")
        unknown = sorted(set(self._funding) - set(self._bars))
        if unknown:
            raise MarketSpecError(f"funding given for {', '.join(unknown)}, which has no bars")
        series = self.series()
        instruments = {
            s: self._instruments.get(s) or instrument_for(s, float(b.close[0])) for s, b in series.items()
        }
        funding = {
            s: FundingSeries(s, np.array([self.ts(r) for r in sorted(rates)], dtype=np.int64),
                             np.array([rates[r] for r in sorted(rates)], dtype=np.float64))
            for s, rates in self._funding.items()
        }
        return MarketData(grid=build_grid(series), instruments=instruments, funding=funding,
                          spread=dict(self._spread))

