"""Binance public-data kline dumps (data.binance.vision): 12 columns, with or without header.

Older dumps have no header and millisecond times; newer ones add a header line; spot dumps
from 2025 on use microseconds. The unit is decided per cell by magnitude, so one reader
covers all three and a month spanning the switch still loads. Spot and futures dumps share
their file names, so the market comes from the folders (``spot``, ``futures/um``) or, for
microsecond times, which only spot dumps use, from the content. Taker-buy volume is the
only trade-flow (aggressor side) data these dumps carry, so it is split out into
``extra['trade_flow']`` rather than dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quantum_trader.data.loaders.columns import infer_timeframe, numeric_column, time_column
from quantum_trader.data.loaders.frames import candle_frame, resolve_kind
from quantum_trader.data.loaders.naming import market_of, native_from_name, spot, symbol_from_name
from quantum_trader.data.loaders.ohlcv_csv import read_csv_lines
from quantum_trader.data.loaders.source import content_bytes
from quantum_trader.data.loaders.table import SOURCE_ROW, LoaderError, RawTable
from quantum_trader.domain.market import DataKind

KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)


def is_kline_header(fields: list[str]) -> bool:
    return [f.strip().lower() for f in fields] == list(KLINE_COLUMNS)


def is_kline_row(fields: list[str]) -> bool:
    """A headerless kline line: 12 numeric fields, the first an epoch in ms or us."""
    if len(fields) != len(KLINE_COLUMNS):
        return False
    try:
        values = [float(f) for f in fields]
    except ValueError:
        return False
    return 1e11 <= values[0] < 1e17 and 1e11 <= values[6] < 1e17


def read_binance_kline(path: Path, *, kind: DataKind | None = None) -> RawTable:
    """A kline CSV or the monthly/daily .zip holding one; mark-price klines load with ``kind=MARK``."""
    resolved = resolve_kind(
        path, "binance_kline", kind, (DataKind.CANDLES, DataKind.MARK), default=DataKind.CANDLES
    )
    data = content_bytes(path)
    first_line = data.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()
    has_header = is_kline_header(first_line.split(","))
    raw, rows = read_csv_lines(path, data, header=0 if has_header else None)
    if raw.empty:
        raise LoaderError(path, "no kline rows")
    if raw.shape[1] != len(KLINE_COLUMNS):
        raise LoaderError(
            path, f"a Binance kline file has {len(KLINE_COLUMNS)} columns, found {raw.shape[1]}"
        )
    raw.columns = pd.Index(KLINE_COLUMNS)
    ts = time_column(raw["open_time"], path, "open_time", rows)
    num = {name: numeric_column(raw[name], path, name, rows) for name in KLINE_COLUMNS[1:6]}
    quote = numeric_column(raw["quote_volume"], path, "quote_volume", rows)
    taker_buy = numeric_column(raw["taker_buy_volume"], path, "taker_buy_volume", rows)
    frame = candle_frame(
        ts,
        (num["open"], num["high"], num["low"], num["close"]),
        rows,
        base_volume=num["volume"],
        quote_volume=quote,
    )
    frame.insert(len(frame.columns) - 1, "trade_count", numeric_column(raw["count"], path, "count", rows))
    flow = pd.DataFrame(
        {
            "ts": ts,
            "taker_buy_volume": taker_buy,
            "taker_sell_volume": num["volume"] - taker_buy,
            SOURCE_ROW: rows,
        }
    )
    extra = {} if resolved is DataKind.MARK else {"trade_flow": flow}
    hint = symbol_from_name(path)
    native = native_from_name(path)
    if bool((numeric_column(raw["open_time"], path, "open_time", rows) >= 1e14).any()) and native:
        hint = spot(native)  # microsecond times: a spot dump whatever its folder says
    market = "perp" if resolved is DataKind.MARK else market_of(hint)
    return RawTable(
        path=path,
        format="binance_kline",
        kind=resolved,
        frame=frame,
        symbol_hint=hint,
        timeframe_hint=infer_timeframe(np.asarray(ts)),
        extra=extra,
        exchange_hint={"spot": "binance", "perp": "binanceusdm"}.get(market or ""),
        market_type=market,
    )
