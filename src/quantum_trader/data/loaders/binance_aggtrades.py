"""Binance aggTrades dumps (data.binance.vision), summed into trade-flow bars.

Futures (USD-M) dumps: ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,
transact_time,is_buyer_maker`` (a header in newer files); spot dumps: the same seven plus
``is_best_match``, never a header, times in microseconds from 2025. Both are decided from
the content, which also says the market (spot has eight columns).

``is_buyer_maker`` true means the seller hit the bid: the taker SOLD. Each bar of the
chosen timeframe gets the summed taker buy and sell quantity (base units); a bar inside
the file's span without trades gets zeros, which is what happened. Aggregate trade ids
must increase: a repeated or out-of-order id would count a trade twice or mean a mangled
file, so it is refused with its line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quantum_trader.data.loaders.columns import I64, numeric_column, time_column
from quantum_trader.data.loaders.naming import linear_perp, native_from_name, spot
from quantum_trader.data.loaders.ohlcv_csv import read_csv_lines
from quantum_trader.data.loaders.source import content_bytes
from quantum_trader.data.loaders.table import SOURCE_ROW, LoaderError, RawTable
from quantum_trader.domain.market import DataKind
from quantum_trader.domain.time import timeframe_ms

AGG_COLUMNS = ("agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time",
               "is_buyer_maker")
SPOT_COLUMNS = (*AGG_COLUMNS, "is_best_match")
DEFAULT_TIMEFRAME = "1m"
_BOOLS = {"true": True, "false": False}

__all__ = ["AGG_COLUMNS", "is_aggtrades_header", "is_aggtrades_row", "read_binance_aggtrades"]


def is_aggtrades_header(fields: list[str]) -> bool:
    return [f.strip().lower() for f in fields] == list(AGG_COLUMNS)


def is_aggtrades_row(fields: list[str]) -> bool:
    """A headerless aggTrades line: ids, price, quantity, an epoch in ms or us, and true/false flags."""
    if len(fields) not in (len(AGG_COLUMNS), len(SPOT_COLUMNS)):
        return False
    try:
        ids = [int(fields[i]) for i in (0, 3, 4)]
        epoch = int(fields[5])
        float(fields[1]), float(fields[2])
    except ValueError:
        return False
    flags = [f.strip().lower() for f in fields[6:]]
    return min(ids) >= 0 and 1e11 <= epoch < 1e17 and all(f in _BOOLS for f in flags)


def _flags(raw: pd.DataFrame, path: Path, rows: I64) -> np.ndarray:
    text = raw["is_buyer_maker"].astype("string").str.strip().str.lower()
    known = text.isin(list(_BOOLS)).to_numpy(dtype=bool)
    if not known.all():
        i = int(np.argmax(~known))
        raise LoaderError(path, f"{raw['is_buyer_maker'].iloc[i]!r} is not true/false", row=int(rows[i]),
                          field="is_buyer_maker")
    return (text == "true").to_numpy(dtype=bool)


def _ids(raw: pd.DataFrame, path: Path, rows: I64) -> I64:
    values = numeric_column(raw["agg_trade_id"], path, "agg_trade_id", rows)
    if not np.isfinite(values).all():
        raise LoaderError(path, "missing aggregate trade id", row=int(rows[int(np.argmax(~np.isfinite(values)))]),
                          field="agg_trade_id")
    ids = pd.to_numeric(raw["agg_trade_id"], errors="raise").to_numpy(dtype=np.int64)
    back = np.flatnonzero(np.diff(ids) <= 0)
    if back.size:
        i = int(back[0]) + 1
        raise LoaderError(path, f"aggregate trade id {ids[i]} does not increase past {ids[i - 1]} "
                                "(a repeated or out-of-order trade would be counted wrongly)",
                          row=int(rows[i]), field="agg_trade_id")
    return ids


def _bars(ts: I64, qty: np.ndarray, taker_sells: np.ndarray, rows: I64, step: int) -> pd.DataFrame:
    first = int(ts.min()) // step * step
    index = (ts - first) // step
    bins = int(index.max()) + 1
    buy = np.bincount(index[~taker_sells], weights=qty[~taker_sells], minlength=bins)
    sell = np.bincount(index[taker_sells], weights=qty[taker_sells], minlength=bins)
    last_row = np.zeros(bins, dtype=np.int64)
    np.maximum.at(last_row, index, rows)
    last_row = np.maximum.accumulate(last_row)  # an empty bar points at the last line before it
    return pd.DataFrame({
        "ts": first + np.arange(bins, dtype=np.int64) * step,
        "taker_buy_volume": buy.astype(np.float64),
        "taker_sell_volume": sell.astype(np.float64),
        SOURCE_ROW: last_row,
    })


def read_binance_aggtrades(path: Path, *, timeframe: str | None = None) -> RawTable:
    """Trade flow per ``timeframe`` bar (default 1m) from one aggTrades CSV or its zip."""
    tf = timeframe or DEFAULT_TIMEFRAME
    try:
        step = timeframe_ms(tf)
    except ValueError as exc:
        raise LoaderError(path, str(exc)) from None
    data = content_bytes(path)
    first_line = data.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", errors="replace")
    has_header = is_aggtrades_header(first_line.split(","))
    raw, rows = read_csv_lines(path, data, header=0 if has_header else None)
    if raw.empty:
        raise LoaderError(path, "no trades")
    if raw.shape[1] not in (len(AGG_COLUMNS), len(SPOT_COLUMNS)):
        raise LoaderError(path, f"an aggTrades file has 7 (futures) or 8 (spot) columns, found {raw.shape[1]}")
    is_spot = raw.shape[1] == len(SPOT_COLUMNS)
    raw.columns = pd.Index(SPOT_COLUMNS if is_spot else AGG_COLUMNS)
    _ids(raw, path, rows)
    ts = time_column(raw["transact_time"], path, "transact_time", rows)
    qty = numeric_column(raw["quantity"], path, "quantity", rows)
    bad = ~(qty > 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise LoaderError(path, f"quantity must be > 0, got {raw['quantity'].iloc[i]!r}", row=int(rows[i]),
                          field="quantity")
    frame = _bars(ts, qty, _flags(raw, path, rows), rows, step)
    native = native_from_name(path)
    coin_margined = "_PERP" in path.name.upper()  # BTCUSD_PERP: quantities in contracts, not base units
    hint = (spot(native) if is_spot else linear_perp(native)) if native and not coin_margined else None
    return RawTable(
        path=path,
        format="binance_aggtrades",
        kind=DataKind.TRADE_FLOW,
        frame=frame,
        symbol_hint=hint,
        timeframe_hint=tf,
        exchange_hint="binance" if is_spot else "binanceusdm",
        market_type="spot" if is_spot else "perp",
    )
