"""Binance depth snapshot + diff CSVs (the futures tick-level order-book dumps).

Columns ``symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu``;
one message (a snapshot or a diff batch) spans consecutive rows sharing its ids and time.
Diffs are applied by Binance's documented rules for a local book: drop batches whose
``last_update_id`` (u) is below the snapshot's; the first applied batch must straddle the
snapshot (``U <= id + 1`` and ``u >= id``); every later batch's ``pu`` must equal the
previous batch's ``u``; sizes are absolute and ``qty`` 0 removes the level. A broken
chain means lost messages, so it is an error naming the batch's first row, never a
silently wrong book.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantum_trader.data.loaders.book_state import BookRecorder, LevelBook
from quantum_trader.data.loaders.columns import I64, numeric_column, require_column, time_column
from quantum_trader.data.loaders.naming import linear_perp, spot
from quantum_trader.data.loaders.ohlcv_csv import read_csv_lines
from quantum_trader.data.loaders.source import content_bytes
from quantum_trader.data.loaders.table import LoaderError, RawTable
from quantum_trader.domain.market import DataKind

DEPTH_COLUMNS = (
    "symbol",
    "timestamp",
    "first_update_id",
    "last_update_id",
    "side",
    "update_type",
    "price",
    "qty",
    "pu",
)
DEFAULT_LEVELS = 50


def is_depth_header(fields: list[str]) -> bool:
    names = {f.strip().lower() for f in fields}
    return {"first_update_id", "last_update_id", "side", "update_type", "price", "qty"} <= names


@dataclass(frozen=True)
class _DepthRows:
    """One depth file as typed arrays, plus where each message (run of rows) starts."""

    path: Path
    symbol: str | None
    ts: I64
    first_id: I64
    last_id: I64
    pu: npt.NDArray[np.float64]
    is_bid: npt.NDArray[np.bool_]
    is_snap: npt.NDArray[np.bool_]
    price: npt.NDArray[np.float64]
    qty: npt.NDArray[np.float64]
    rows: I64
    starts: I64


def _ids(raw: pd.DataFrame, path: Path, name: str, rows: I64) -> I64:
    values = numeric_column(raw[require_column(raw, path, name)], path, name, rows)
    bad = ~np.isfinite(values)
    if bad.any():
        raise LoaderError(path, "missing update id", row=int(rows[int(np.argmax(bad))]), field=name)
    # Re-read as exact integers: ids exceed 2**53 and must not be rounded through float64.
    return pd.to_numeric(raw[name], errors="raise").to_numpy(dtype=np.int64)


def _coded(
    raw: pd.DataFrame, path: Path, name: str, rows: I64, allowed: tuple[str, ...]
) -> npt.NDArray[np.str_]:
    values = raw[name].astype("string").str.strip().str.lower().fillna("").to_numpy(dtype=str)
    bad = ~np.isin(values, allowed)
    if bad.any():
        index = int(np.argmax(bad))
        raise LoaderError(
            path, f"{values[index]!r} is not one of {allowed}", row=int(rows[index]), field=name
        )
    return values


def _load(path: Path) -> _DepthRows:
    raw, rows = read_csv_lines(path, content_bytes(path))
    for name in DEPTH_COLUMNS[1:8]:
        require_column(raw, path, name)
    raw.columns = pd.Index([str(c).strip().lower() for c in raw.columns])
    if raw.empty:
        raise LoaderError(path, "no depth rows after the header")
    ts = time_column(raw["timestamp"], path, "timestamp", rows)
    first_id, last_id = _ids(raw, path, "first_update_id", rows), _ids(raw, path, "last_update_id", rows)
    side = _coded(raw, path, "side", rows, ("b", "a"))
    kind = _coded(raw, path, "update_type", rows, ("snap", "set"))
    pu = numeric_column(raw["pu"], path, "pu", rows) if "pu" in raw.columns else np.full(len(raw), np.nan)
    keys = np.column_stack([ts, first_id, last_id, kind == "snap"])
    change = np.ones(len(raw), dtype=bool)
    change[1:] = np.any(keys[1:] != keys[:-1], axis=1)
    symbols: list[str] = sorted(set(raw["symbol"].dropna().astype(str))) if "symbol" in raw.columns else []
    if len(symbols) > 1:
        raise LoaderError(path, f"one symbol per file expected, found {symbols}", field="symbol")
    return _DepthRows(
        path=path,
        symbol=symbols[0] if symbols else None,
        ts=ts,
        first_id=first_id,
        last_id=last_id,
        pu=pu,
        is_bid=side == "b",
        is_snap=kind == "snap",
        price=numeric_column(raw["price"], path, "price", rows),
        qty=numeric_column(raw["qty"], path, "qty", rows),
        rows=rows,
        starts=np.flatnonzero(change).astype(np.int64),
    )


class _DepthReplay:
    """Local-book state across one or two files (a snapshot file, then its diff file)."""

    def __init__(self) -> None:
        self.book = LevelBook()
        self.last_id: int | None = None
        self.synced = False

    def apply(self, data: _DepthRows, start: int, stop: int) -> bool:
        """Apply one message; False when it is dropped as older than the snapshot."""
        row = int(data.rows[start])
        first, last = int(data.first_id[start]), int(data.last_id[start])
        if data.is_snap[start]:
            self.book.clear()
            self.synced = False
        elif self.last_id is None:
            raise LoaderError(
                data.path,
                "diff batch before any snapshot; pass the snapshot file too: "
                "read_binance_depth(snapshot, updates)",
                row=row,
            )
        elif not self.synced:
            if last < self.last_id:
                return False
            if first > self.last_id + 1:
                raise LoaderError(
                    data.path,
                    f"gap after snapshot {self.last_id}: first applicable batch starts at update {first}",
                    row=row,
                    field="first_update_id",
                )
            self.synced = True
        elif not self._chains(data, start, first):
            raise LoaderError(
                data.path,
                f"gap: batch does not follow previous last_update_id {self.last_id} "
                f"(pu={data.pu[start]:.0f}, first_update_id={first})",
                row=row,
                field="pu",
            )
        for i in range(start, stop):
            try:
                self.book.apply(bool(data.is_bid[i]), float(data.price[i]), float(data.qty[i]))
            except ValueError as exc:
                raise LoaderError(data.path, str(exc), row=int(data.rows[i]), field="price/qty") from exc
        self.last_id = last
        return True

    def _chains(self, data: _DepthRows, start: int, first: int) -> bool:
        """Futures batches chain by ``pu`` == previous ``u``; spot ones (no ``pu``) by ``U`` == ``u`` + 1."""
        pu = data.pu[start]
        if np.isnan(pu):
            return self.last_id is not None and first == self.last_id + 1
        return bool(pu == self.last_id)


def _replay(data: _DepthRows, replay: _DepthReplay, recorder: BookRecorder | None) -> None:
    bounds = [*data.starts.tolist(), len(data.rows)]
    for start, stop in itertools.pairwise(bounds):
        if replay.apply(data, start, stop) and recorder is not None:
            recorder.record(replay.book, int(data.ts[start]), int(data.rows[stop - 1]))


def _table(path: Path, data: _DepthRows, recorder: BookRecorder) -> RawTable:
    futures = bool(np.isfinite(data.pu).any())  # only the futures diff stream carries 'pu'
    native = data.symbol
    hint = (linear_perp(native) if futures else spot(native)) if native else None
    return RawTable(
        path=path, format="binance_depth", kind=DataKind.BOOK, frame=recorder.frame(), symbol_hint=hint,
        exchange_hint="binanceusdm" if futures else "binance", market_type="perp" if futures else "spot",
    )


def read_binance_depth_file(path: Path, *, levels: int = DEFAULT_LEVELS) -> RawTable:
    """One depth file alone: a row per message, the book being rebuilt from the file's own snapshot(s)."""
    data = _load(path)
    recorder = BookRecorder(levels)
    _replay(data, _DepthReplay(), recorder)
    return _table(path, data, recorder)


def read_binance_depth(snapshot_path: Path, updates_path: Path, *, levels: int = DEFAULT_LEVELS) -> RawTable:
    """The book after each diff batch of ``updates_path``, starting from ``snapshot_path``.

    ``source_row`` is the last line of the batch in the updates file; batches dropped as
    older than the snapshot produce no row.
    """
    snapshot, updates = _load(Path(snapshot_path)), _load(Path(updates_path))
    if snapshot.symbol and updates.symbol and snapshot.symbol != updates.symbol:
        raise LoaderError(
            updates_path, f"symbol {updates.symbol!r} differs from the snapshot's {snapshot.symbol!r}"
        )
    if not snapshot.is_snap.all():
        raise LoaderError(snapshot_path, "expected only 'snap' rows in a snapshot file", field="update_type")
    replay = _DepthReplay()
    _replay(snapshot, replay, None)
    recorder = BookRecorder(levels)
    _replay(updates, replay, recorder)
    return _table(Path(updates_path), updates, recorder)
