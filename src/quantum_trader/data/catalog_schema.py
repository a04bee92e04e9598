"""How each series type maps to flat Parquet columns, and back.

Kept apart from the storage code so the mapping is the one place that knows column
names: a book of L levels is stored as ``bid_px_0..bid_px_{L-1}, bid_sz_.., ask_px_.., ask_sz_..``
(the same names the loaders produce), everything else as its field names.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from quantum_trader.domain.market import BarSeries, BookSeries, DataKind, FundingSeries, TradeFlowSeries

Series = BarSeries | FundingSeries | BookSeries | TradeFlowSeries
Columns = dict[str, npt.NDArray[Any]]

BAR_FIELDS = ("open", "high", "low", "close", "volume")
FUNDING_FIELDS = ("rate",)
FLOW_FIELDS = ("taker_buy_volume", "taker_sell_volume")
BOOK_SIDES = ("bid_px", "bid_sz", "ask_px", "ask_sz")

_KINDS: dict[type, tuple[DataKind, ...]] = {
    BarSeries: (DataKind.CANDLES, DataKind.MARK),
    FundingSeries: (DataKind.FUNDING,),
    BookSeries: (DataKind.BOOK,),
    TradeFlowSeries: (DataKind.TRADE_FLOW,),
}


def kind_of(series: Series, requested: DataKind | None) -> DataKind:
    """The dataset kind of a series: its type's default, or the requested one if the type allows it."""
    allowed = _KINDS.get(type(series))
    if allowed is None:
        names = ", ".join(t.__name__ for t in _KINDS)
        raise TypeError(f"cannot store a {type(series).__name__}; expected one of {names}")
    if requested is None:
        return allowed[0]
    if requested not in allowed:
        names = ", ".join(k.value for k in allowed)
        raise ValueError(f"a {type(series).__name__} is stored as {names}, not {requested.value}")
    return requested


def columns_of(series: Series) -> Columns:
    cols: Columns = {"ts": series.ts}
    if isinstance(series, BookSeries):
        for side in BOOK_SIDES:
            levels = getattr(series, side)
            for i in range(levels.shape[1]):
                cols[f"{side}_{i}"] = levels[:, i]
        return cols
    fields = {BarSeries: BAR_FIELDS, FundingSeries: FUNDING_FIELDS, TradeFlowSeries: FLOW_FIELDS}[type(series)]
    for name in fields:
        cols[name] = getattr(series, name)
    return cols


def book_levels(columns: Columns) -> int:
    return sum(1 for name in columns if name.startswith("bid_px_"))


def series_from_columns(kind: DataKind, symbol: str, timeframe: str | None, cols: Columns) -> Series:
    """Build the typed series from stored columns (the series constructor re-checks order and dtype)."""
    ts = cols["ts"].astype(np.int64, copy=False)

    def f(name: str) -> npt.NDArray[np.float64]:
        return cols[name].astype(np.float64, copy=False)

    if kind in (DataKind.CANDLES, DataKind.MARK):
        assert timeframe is not None
        return BarSeries(symbol, timeframe, ts, *(f(name) for name in BAR_FIELDS))
    if kind is DataKind.FUNDING:
        return FundingSeries(symbol, ts, f("rate"))
    if kind is DataKind.TRADE_FLOW:
        assert timeframe is not None
        return TradeFlowSeries(symbol, timeframe, ts, f("taker_buy_volume"), f("taker_sell_volume"))
    levels = book_levels(cols)
    sides = [
        np.column_stack([f(f"{side}_{i}") for i in range(levels)]) if levels else np.empty((ts.size, 0))
        for side in BOOK_SIDES
    ]
    return BookSeries(symbol, ts, *sides)


def equal_rows(old: Columns, old_idx: npt.NDArray[np.intp], new: Columns, new_idx: npt.NDArray[np.intp]
               ) -> npt.NDArray[np.bool_]:
    """Row-wise equality of selected rows, NaN equal to NaN (a stored NaN volume is not a change)."""
    same = np.ones(old_idx.size, dtype=bool)
    for name, values in new.items():
        if name == "ts":
            continue
        a, b = old[name][old_idx], values[new_idx]
        same &= (a == b) | (np.isnan(a) & np.isnan(b))
    return same


def merge_columns(old: Columns, keep_old: npt.NDArray[np.bool_], new: Columns) -> Columns:
    """Kept old rows plus all new rows, sorted by ts (both inputs are sorted, so one stable sort)."""
    ts = np.concatenate([old["ts"][keep_old], new["ts"]])
    order = np.argsort(ts, kind="stable")
    return {name: np.concatenate([old[name][keep_old], new[name]])[order] for name in new}


def table_from_columns(cols: Columns) -> pa.Table:
    arrays = {name: pa.array(values, type=pa.int64() if name == "ts" else pa.float64()) for name, values in
              cols.items()}
    return pa.table(arrays)
