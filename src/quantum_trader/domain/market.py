"""Market data as columnar NumPy series (for replay and research) and scalar events (for live).

The engine's per-bar loop reads arrays, never DataFrames, so series are plain frozen
containers of aligned int64/float64 arrays. Constructors check alignment, order and
dtype once; after that every consumer may trust them without re-checking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quantum_trader.domain.kinds import DataKind as DataKind

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def _check_time_index(name: str, ts: I64) -> None:
    if ts.dtype != np.int64 or ts.ndim != 1:
        raise ValueError(f"{name}: timestamps must be a 1-d int64 array of epoch ms, got {ts.dtype}")
    if ts.size > 1 and not bool(np.all(ts[1:] > ts[:-1])):
        bad = int(np.argmax(ts[1:] <= ts[:-1])) + 1
        raise ValueError(f"{name}: timestamps not strictly increasing at row {bad}")


def _check_columns(name: str, n: int, columns: dict[str, F64]) -> None:
    for col, arr in columns.items():
        if arr.dtype != np.float64 or arr.shape != (n,):
            raise ValueError(
                f"{name}: column {col!r} must be float64 of length {n}, got {arr.dtype} {arr.shape}"
            )


@dataclass(frozen=True, slots=True)
class BarSeries:
    """OHLCV bars of one symbol and timeframe; ``ts`` is the bar's open time (left label).

    ``volume`` is in base units; quote volume is derived where needed as close*volume
    unless a loader had the exchange's own quote volume.
    """

    symbol: str
    timeframe: str
    ts: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64

    def __post_init__(self) -> None:
        name = f"{self.symbol} {self.timeframe} bars"
        _check_time_index(name, self.ts)
        _check_columns(
            name,
            self.ts.size,
            {"open": self.open, "high": self.high, "low": self.low, "close": self.close, "volume": self.volume},
        )

    def __len__(self) -> int:
        return int(self.ts.size)

    def slice(self, start_ms: int | None = None, end_ms: int | None = None) -> BarSeries:
        """Bars with ``start_ms <= ts < end_ms``."""
        lo = 0 if start_ms is None else int(np.searchsorted(self.ts, start_ms, side="left"))
        hi = self.ts.size if end_ms is None else int(np.searchsorted(self.ts, end_ms, side="left"))
        return BarSeries(
            self.symbol,
            self.timeframe,
            self.ts[lo:hi],
            self.open[lo:hi],
            self.high[lo:hi],
            self.low[lo:hi],
            self.close[lo:hi],
            self.volume[lo:hi],
        )


@dataclass(frozen=True, slots=True)
class FundingSeries:
    """Funding settlements: ``rate`` is the fraction paid per period (0.0001 = 0.01%/8h).

    A positive rate means longs pay shorts.
    """

    symbol: str
    ts: I64
    rate: F64

    def __post_init__(self) -> None:
        name = f"{self.symbol} funding"
        _check_time_index(name, self.ts)
        _check_columns(name, self.ts.size, {"rate": self.rate})

    def __len__(self) -> int:
        return int(self.ts.size)


@dataclass(frozen=True, slots=True)
class TradeFlowSeries:
    """Taker buy and sell volume (base units) per interval: the aggressor's side of trade flow."""

    symbol: str
    timeframe: str
    ts: I64
    taker_buy_volume: F64
    taker_sell_volume: F64

    def __post_init__(self) -> None:
        name = f"{self.symbol} trade flow"
        _check_time_index(name, self.ts)
        _check_columns(
            name,
            self.ts.size,
            {"taker_buy_volume": self.taker_buy_volume, "taker_sell_volume": self.taker_sell_volume},
        )

    def __len__(self) -> int:
        return int(self.ts.size)


@dataclass(frozen=True, slots=True)
class BookSeries:
    """L2 snapshots: level arrays of shape (n, levels), best level first.

    Missing levels (a thin book) are NaN price and 0 size, so every snapshot has the
    same width and depth sums need no ragged handling.
    """

    symbol: str
    ts: I64
    bid_px: F64
    bid_sz: F64
    ask_px: F64
    ask_sz: F64

    def __post_init__(self) -> None:
        name = f"{self.symbol} book"
        _check_time_index(name, self.ts)
        shape = self.bid_px.shape
        if len(shape) != 2 or shape[0] != self.ts.size:
            raise ValueError(f"{name}: level arrays must be (rows, levels), got {shape}")
        for col, arr in (("bid_sz", self.bid_sz), ("ask_px", self.ask_px), ("ask_sz", self.ask_sz)):
            if arr.shape != shape or arr.dtype != np.float64:
                raise ValueError(f"{name}: {col} must be float64 {shape}, got {arr.dtype} {arr.shape}")

    def __len__(self) -> int:
        return int(self.ts.size)

    @property
    def levels(self) -> int:
        return int(self.bid_px.shape[1])

    def snapshot(self, i: int) -> BookSnapshot:
        bids = tuple((float(p), float(s)) for p, s in zip(self.bid_px[i], self.bid_sz[i], strict=True) if s > 0)
        asks = tuple((float(p), float(s)) for p, s in zip(self.ask_px[i], self.ask_sz[i], strict=True) if s > 0)
        return BookSnapshot(self.symbol, int(self.ts[i]), bids, asks)


@dataclass(frozen=True, slots=True)
class Bar:
    """One closed bar, as a live feed delivers it."""

    symbol: str
    timeframe: str
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class FundingRate:
    symbol: str
    ts: int
    rate: float


@dataclass(frozen=True, slots=True)
class MarkPrice:
    symbol: str
    ts: int
    price: float


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """One L2 snapshot; bids descending, asks ascending, as (price, size) in base units."""

    symbol: str
    ts: int
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]

    @property
    def mid(self) -> float:
        if not self.bids or not self.asks:
            raise ValueError(f"{self.symbol} book at {self.ts}: one side is empty, no mid price")
        return (self.bids[0][0] + self.asks[0][0]) / 2.0

    @property
    def spread(self) -> float:
        """Relative bid-ask spread, (ask - bid) / mid."""
        return (self.asks[0][0] - self.bids[0][0]) / self.mid

    def depth_within(self, fraction: float) -> tuple[float, float]:
        """Quote-currency depth (bid side, ask side) within ``fraction`` of mid, bounds included.

        The bounds get a relative tolerance of 1e-12: ``100 * 1.015`` is 101.49999... in
        floating point, and a level exactly 1.5% away must still count.
        """
        mid = self.mid
        lo = mid * (1.0 - fraction) * (1.0 - 1e-12)
        hi = mid * (1.0 + fraction) * (1.0 + 1e-12)
        bid = sum(p * s for p, s in self.bids if p >= lo)
        ask = sum(p * s for p, s in self.asks if p <= hi)
        return bid, ask


@dataclass(frozen=True, slots=True)
class TradeFlow:
    symbol: str
    ts: int
    taker_buy_volume: float
    taker_sell_volume: float
