"""The market a fake exchange replays: bars on one clock, moved one bar at a time, and how it prices fills.

The fake exchange answers in lockstep with the client reading it: ``cursor`` bars have closed, bar
``cursor`` is forming (its open is the price now), and a request for candles that have not closed
yet moves the market one bar on (``FakeExchange.advance``). So a replay of days of bars runs as fast
as the client asks, and every order lands in the bar it would land in at the exchange: one sent
after bar t closed fills at bar t+1's open, as the simulated venue fills it.

``Pricing`` is how fills are priced and charged. The default is an exchange's: a taker order at the
price now, fees at the fee tier's rates rounded to 8 decimals as Binance reports commissions.
``SimulatedPricing`` charges exactly what the simulated venue would (its slippage model and its fee
rounding), for tests that compare a run against the fake exchange with a backtest of the same bars.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol

import numpy as np

from quantum_trader.domain.market import BarSeries, FundingSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.portfolio.state import money
from quantum_trader.venues.simulated.venue import SimulatedVenue

COMMISSION_QUANTUM = Decimal("0.00000001")


class Pricing(Protocol):
    def taker_price(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
                    bar_volume: float) -> float: ...

    def fee(self, quantity: Decimal, price: Decimal, *, maker: bool) -> Decimal: ...


@dataclass(frozen=True)
class ExchangePricing:
    """A taker order fills at the price now; fees at the tier's rates (Binance USD-M's default tier)."""

    maker: Decimal = Decimal("0.0002")
    taker: Decimal = Decimal("0.0005")

    def taker_price(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
                    bar_volume: float) -> float:
        return reference

    def fee(self, quantity: Decimal, price: Decimal, *, maker: bool) -> Decimal:
        rate = self.maker if maker else self.taker
        return (quantity * price * rate).quantize(COMMISSION_QUANTUM, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class SimulatedPricing:
    """The simulated venue's slippage model and fee rounding: what parity with a backtest needs."""

    venue: SimulatedVenue

    def taker_price(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
                    bar_volume: float) -> float:
        return self.venue.slippage.taker_price(symbol, reference, quantity, buy=buy, ts=ts, bar_volume=bar_volume)

    def fee(self, quantity: Decimal, price: Decimal, *, maker: bool) -> Decimal:
        return money(quantity * price * (self.venue.maker_rate if maker else self.venue.taker_rate))


@dataclass
class ReplayedMarket:
    """Bars of every symbol on one clock (NaN where a symbol has no bar), replayed one bar at a time."""

    timeframe: str
    ts: np.ndarray
    open: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    low: dict[str, np.ndarray]
    close: dict[str, np.ndarray]
    volume: dict[str, np.ndarray]
    funding: dict[str, FundingSeries] = field(default_factory=dict)
    cursor: int = 0
    """Bars closed so far; bar ``cursor`` is forming."""

    @classmethod
    def of(cls, bars: Mapping[str, BarSeries], funding: Mapping[str, FundingSeries] | None = None,
           cursor: int = 0) -> ReplayedMarket:
        series = list(bars.values())
        timeframe = series[0].timeframe
        clock = np.unique(np.concatenate([s.ts for s in series]))
        columns: dict[str, dict[str, np.ndarray]] = {name: {} for name in ("open", "high", "low", "close", "volume")}
        for symbol, s in bars.items():
            rows = np.searchsorted(clock, s.ts)
            for name in columns:
                values = np.full(clock.size, np.nan)
                values[rows] = getattr(s, name)
                columns[name][symbol] = values
        return cls(timeframe, clock, columns["open"], columns["high"], columns["low"], columns["close"],
                   columns["volume"], dict(funding or {}), cursor)

    @property
    def step(self) -> int:
        return timeframe_ms(self.timeframe)

    @property
    def size(self) -> int:
        return int(self.ts.size)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.open)

    @property
    def ended(self) -> bool:
        return self.cursor >= self.size

    def now(self) -> int:
        """Market time: the open of the forming bar (the last bar's close once every bar has closed)."""
        return int(self.ts[self.cursor]) if not self.ended else int(self.ts[-1]) + self.step

    def price(self, symbol: str) -> float:
        """The price a market order meets now: the forming bar's open, or the last close at the end."""
        if not self.ended:
            value = float(self.open[symbol][self.cursor])
            if value == value:
                return value
        closes = self.close[symbol][: self.cursor]
        known = closes[np.isfinite(closes)]
        return float(known[-1]) if known.size else float("nan")

    def bar_volume(self, symbol: str) -> float:
        row = min(self.cursor, self.size - 1)
        return float(np.nan_to_num(self.volume[symbol][row]))

    def bar(self, symbol: str, row: int) -> tuple[float, float, float, float] | None:
        o = float(self.open[symbol][row])
        if o != o:
            return None
        return o, float(self.high[symbol][row]), float(self.low[symbol][row]), float(self.close[symbol][row])

    def closed_rows(self, symbol: str, start_ms: int | None, end_ms: int | None, limit: int) -> list[int]:
        """Rows of closed bars of ``symbol`` opening in [start, end], oldest first, at most ``limit``
        (the newest ``limit`` when no start is given, as Binance answers)."""
        hi = self.cursor
        lo = 0 if start_ms is None else int(np.searchsorted(self.ts[:hi], start_ms, side="left"))
        if end_ms is not None:
            hi = min(hi, int(np.searchsorted(self.ts, end_ms, side="right")))
        rows = [r for r in range(lo, hi) if self.open[symbol][r] == self.open[symbol][r]]
        return rows[:limit] if start_ms is not None else rows[-limit:]

    def settlements(self, row: int) -> list[tuple[str, int, float]]:
        """Funding settled at the open of bar ``row``: times after the previous bar's open, up to this one's."""
        lo = int(self.ts[row - 1]) if row > 0 else -(2**62)
        hi = int(self.ts[row])
        out = []
        for symbol, series in self.funding.items():
            mask = (series.ts > lo) & (series.ts <= hi)
            out.extend((symbol, int(t), float(r)) for t, r in zip(series.ts[mask], series.rate[mask], strict=True))
        return out

    def funding_now(self, symbol: str) -> tuple[float | None, int]:
        """The last rate settled by now (None before the first) and the next settlement time (every 8 h when the
        replay holds none later)."""
        rate, next_time = None, (self.now() // 28_800_000 + 1) * 28_800_000
        series = self.funding.get(symbol)
        if series is not None and len(series):
            done = series.ts <= self.now()
            if done.any():
                rate = float(series.rate[done][-1])
            later = series.ts[series.ts > self.now()]
            next_time = int(later[0]) if later.size else next_time
        return rate, next_time

    def candle(self, symbol: str, row: int) -> tuple[int, float, float, float, float, float]:
        """(open time, open, high, low, close, volume) of a row."""
        return (int(self.ts[row]), float(self.open[symbol][row]), float(self.high[symbol][row]),
                float(self.low[symbol][row]), float(self.close[symbol][row]), float(self.volume[symbol][row]))
