"""TradingView "Export chart data" CSVs: ``time,open,high,low,close``, then ``Volume`` when the chart
shows it, then one column per indicator plot on the chart.

``time`` is UNIX seconds or ISO-8601 with an offset, as chosen at export. Exports carry no
volume when the chart had none, which is a fact about the file, not damage: volume is then
stored as missing (NaN) and the quality report says volume rules cannot be checked.
Indicator columns (``Volume MA``, ``Plot``...) are ignored. The file name says the market:
``BINANCE_BTCUSDT.P, 60.csv`` is Binance's BTCUSDT perpetual (``.P``), ``BYBIT_ETHUSDT, 1D.csv``
Bybit's spot pair.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from quantum_trader.data.loaders.columns import find_column, infer_timeframe, numeric_column, time_column
from quantum_trader.data.loaders.frames import VolumeUnit, candle_frame, resolve_kind
from quantum_trader.data.loaders.naming import linear_perp, market_of, spot, symbol_from_name
from quantum_trader.data.loaders.ohlcv_csv import read_csv_lines
from quantum_trader.data.loaders.source import content_bytes
from quantum_trader.data.loaders.table import LoaderError, RawTable
from quantum_trader.domain.market import DataKind

TV_HEAD = ("time", "open", "high", "low", "close")
_NAME_RE = re.compile(r"^(?P<venue>[A-Z0-9]+)_(?P<ticker>[A-Z0-9]+?)(?P<perp>\.P|PERP)?,", re.IGNORECASE)
# TradingView venue prefixes -> ccxt ids, spot and perpetual.
_VENUES = {
    "BINANCE": ("binance", "binanceusdm"), "BYBIT": ("bybit", "bybit"), "OKX": ("okx", "okx"),
    "BITGET": ("bitget", "bitget"), "COINBASE": ("coinbase", None), "KRAKEN": ("kraken", None),
    "KUCOIN": ("kucoin", None), "BITSTAMP": ("bitstamp", None),
}

__all__ = ["is_tradingview_header", "read_tradingview"]


def is_tradingview_header(fields: list[str]) -> bool:
    """The export's first five columns, spelled as TradingView writes them (lower case)."""
    return tuple(f.strip() for f in fields[:5]) == TV_HEAD


def _market(path: Path) -> tuple[str | None, str | None]:
    """(symbol hint, exchange) from the export's file name, else from its folders."""
    match = _NAME_RE.match(path.name)
    if match is None:
        return symbol_from_name(path), None
    venue = _VENUES.get(match.group("venue").upper())
    perp = match.group("perp") is not None
    symbol = (linear_perp if perp else spot)(match.group("ticker"))
    return symbol, venue[1 if perp else 0] if venue else None


def read_tradingview(path: Path, *, kind: DataKind | None = None, volume_unit: VolumeUnit | None = None) -> RawTable:
    """A TradingView chart export; ``volume_unit='quote'`` if the chart's volume was in the quote currency."""
    resolved = resolve_kind(path, "tradingview", kind, (DataKind.CANDLES, DataKind.MARK), default=DataKind.CANDLES)
    raw, rows = read_csv_lines(path, content_bytes(path))
    if raw.empty:
        raise LoaderError(path, "no data rows after the header")
    if not is_tradingview_header([str(c) for c in raw.columns]):
        raise LoaderError(path, f"expected a TradingView header starting {','.join(TV_HEAD)}, found "
                                f"{','.join(map(str, raw.columns[:5]))}")
    ts = time_column(raw["time"], path, "time", rows)
    prices = [numeric_column(raw[c], path, c, rows) for c in TV_HEAD[1:]]
    volume_col = find_column(raw.columns, "volume")
    volume = None if volume_col is None else numeric_column(raw[volume_col], path, volume_col, rows)
    base, quote = (None, volume) if volume_unit == "quote" else (volume, None)
    if base is None and quote is None:
        base = np.full(ts.size, np.nan)  # no volume in the export: stored as missing, never as zero
    frame = candle_frame(ts, (prices[0], prices[1], prices[2], prices[3]), rows, base_volume=base,
                         quote_volume=quote)
    symbol, exchange = _market(path)
    return RawTable(
        path=path,
        format="tradingview",
        kind=resolved,
        frame=frame,
        symbol_hint=symbol,
        timeframe_hint=infer_timeframe(ts),
        exchange_hint=exchange,
        market_type=market_of(symbol),
    )
