"""``read_table``: one entry point that picks a reader by detected (or named) format.

Options that only make sense for some formats are refused for the others rather than
ignored, so a caller who believes they set a volume unit or a depth never gets a table
read without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from quantum_trader.data.loaders.binance_aggtrades import read_binance_aggtrades
from quantum_trader.data.loaders.binance_depth import read_binance_depth_file
from quantum_trader.data.loaders.binance_kline import read_binance_kline
from quantum_trader.data.loaders.bybit_orderbook import read_bybit_orderbook
from quantum_trader.data.loaders.cryptodatadownload import read_cryptodatadownload
from quantum_trader.data.loaders.detect import FORMATS, detect_format
from quantum_trader.data.loaders.frames import VolumeUnit
from quantum_trader.data.loaders.freqtrade_feather import read_freqtrade_feather
from quantum_trader.data.loaders.ohlcv_csv import read_ohlcv_csv, read_ohlcv_parquet
from quantum_trader.data.loaders.table import LoaderError, RawTable
from quantum_trader.data.loaders.tardis import read_tardis_book
from quantum_trader.data.loaders.tradingview import read_tradingview
from quantum_trader.domain.market import DataKind

DEFAULT_BOOK_LEVELS = 50


@dataclass(frozen=True)
class _Options:
    kind: DataKind | None
    volume_unit: VolumeUnit | None
    levels: int | None
    snapshot_every_ms: int
    timeframe: str | None = None


def _book_levels(options: _Options, default: int) -> int:
    return default if options.levels is None else options.levels


_READERS: dict[str, tuple[Callable[[Path, _Options], RawTable], frozenset[str]]] = {
    "ohlcv_csv": (
        lambda p, o: read_ohlcv_csv(p, kind=o.kind, volume_unit=o.volume_unit),
        frozenset({"kind", "volume_unit"}),
    ),
    "ohlcv_parquet": (
        lambda p, o: read_ohlcv_parquet(p, kind=o.kind, volume_unit=o.volume_unit),
        frozenset({"kind", "volume_unit"}),
    ),
    "binance_kline": (lambda p, o: read_binance_kline(p, kind=o.kind), frozenset({"kind"})),
    "cryptodatadownload": (lambda p, o: read_cryptodatadownload(p, kind=o.kind), frozenset({"kind"})),
    "freqtrade_feather": (lambda p, o: read_freqtrade_feather(p, kind=o.kind), frozenset({"kind"})),
    "tardis_book": (lambda p, o: read_tardis_book(p, levels=o.levels), frozenset({"kind", "levels"})),
    "bybit_orderbook": (
        lambda p, o: read_bybit_orderbook(
            p, levels=_book_levels(o, DEFAULT_BOOK_LEVELS), snapshot_every_ms=o.snapshot_every_ms
        ),
        frozenset({"kind", "levels", "snapshot_every_ms"}),
    ),
    "binance_depth": (
        lambda p, o: read_binance_depth_file(p, levels=_book_levels(o, DEFAULT_BOOK_LEVELS)),
        frozenset({"kind", "levels"}),
    ),
    "binance_aggtrades": (
        lambda p, o: read_binance_aggtrades(p, timeframe=o.timeframe),
        frozenset({"kind", "timeframe"}),
    ),
    "tradingview": (
        lambda p, o: read_tradingview(p, kind=o.kind, volume_unit=o.volume_unit),
        frozenset({"kind", "volume_unit"}),
    ),
}
_BOOK_FORMATS = frozenset({"tardis_book", "bybit_orderbook", "binance_depth"})
assert set(_READERS) == set(FORMATS), "every detected format needs a reader"


def _check_options(path: Path, fmt: str, options: _Options) -> None:
    given = {
        name
        for name, value in (
            ("kind", options.kind),
            ("volume_unit", options.volume_unit),
            ("levels", options.levels),
            ("snapshot_every_ms", options.snapshot_every_ms or None),
            ("timeframe", options.timeframe),
        )
        if value is not None
    }
    refused = sorted(given - _READERS[fmt][1])
    if refused:
        raise LoaderError(path, f"option(s) {refused} do not apply to format {fmt!r}")
    if fmt in _BOOK_FORMATS and options.kind not in (None, DataKind.BOOK):
        raise LoaderError(path, f"format {fmt!r} holds order books, not {options.kind}")
    if fmt == "binance_aggtrades" and options.kind not in (None, DataKind.TRADE_FLOW):
        raise LoaderError(path, f"format {fmt!r} holds trades (stored as trade_flow), not {options.kind}")
    if options.levels is not None and options.levels < 1:
        raise LoaderError(path, f"levels must be >= 1, got {options.levels}")


def read_table(
    path: Path | str,
    fmt: str | None = None,
    *,
    kind: DataKind | None = None,
    volume_unit: VolumeUnit | None = None,
    levels: int | None = None,
    snapshot_every_ms: int = 0,
    timeframe: str | None = None,
) -> RawTable:
    """Read ``path`` with the named reader, or the one ``detect_format`` picks from its content.

    ``kind`` overrides what the file name suggests (freqtrade ``-mark``/``-funding_rate``);
    ``volume_unit='quote'`` declares a bare ``volume`` column to be quote volume (OHLCV
    files only, since such files cannot say so); ``levels`` caps book depth per side
    (default: all for tardis, 50 for rebuilt books); ``snapshot_every_ms`` thins Bybit's
    per-message books; ``timeframe`` is the bar Binance aggTrades are summed into (default 1m).
    """
    path = Path(path)
    if not path.is_file():
        raise LoaderError(path, "no such file")
    if fmt is not None and fmt not in _READERS:
        raise LoaderError(path, f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    name = fmt if fmt is not None else detect_format(path)
    options = _Options(kind=kind, volume_unit=volume_unit, levels=levels, snapshot_every_ms=snapshot_every_ms,
                       timeframe=timeframe)
    _check_options(path, name, options)
    return _READERS[name][0](path, options)
