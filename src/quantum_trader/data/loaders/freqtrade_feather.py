"""freqtrade's Feather candle store: ``date,open,high,low,close,volume`` with a tz-aware ``date``.

freqtrade writes candles, mark-price candles and funding rates with the same six columns
and tells them apart only by the file name (``-futures``, ``-mark``, ``-funding_rate``),
putting the funding rate in ``open``. The name therefore decides the kind unless the
caller overrides it, and the symbol comes from freqtrade's safe spelling (XRP_USDT_USDT).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather

from quantum_trader.data.loaders.columns import infer_timeframe
from quantum_trader.data.loaders.frames import funding_from_columns, ohlcv_from_columns, resolve_kind
from quantum_trader.data.loaders.naming import market_of, symbol_from_name
from quantum_trader.data.loaders.table import LoaderError, RawTable
from quantum_trader.domain.market import DataKind

_KINDS = (DataKind.CANDLES, DataKind.MARK, DataKind.FUNDING)


def read_freqtrade_feather(path: Path, *, kind: DataKind | None = None) -> RawTable:
    """Candles, mark candles or funding rates from a freqtrade .feather file."""
    resolved = resolve_kind(path, "freqtrade_feather", kind, _KINDS, default=DataKind.CANDLES)
    try:
        raw = feather.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise LoaderError(path, f"not a readable Feather file: {exc}") from exc
    rows = np.arange(1, len(raw) + 1, dtype=np.int64)
    if resolved is DataKind.FUNDING:
        frame = funding_from_columns(path, raw, rows, ("open",))
        timeframe = None
    else:
        frame = ohlcv_from_columns(path, raw, rows, kind=resolved, volume_unit=None)
        timeframe = infer_timeframe(frame["ts"].to_numpy(dtype=np.int64))
    hint = symbol_from_name(path)
    return RawTable(
        path=path,
        format="freqtrade_feather",
        kind=resolved,
        frame=frame,
        symbol_hint=hint,
        timeframe_hint=timeframe,
        market_type=market_of(hint),
    )
