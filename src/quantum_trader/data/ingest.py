"""File -> loader -> quality check -> (repair) -> catalog, all or nothing.

Everything that can refuse a file (reading, symbol and timeframe resolution, quality,
repair) runs before the first byte is written, and the catalog then swaps the new
files in together, so a refused ingest leaves the catalog byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantum_trader.data.catalog import DEFAULT_EXCHANGE, Catalog, WriteResult
from quantum_trader.data.catalog_schema import Series
from quantum_trader.data.loaders import read_table
from quantum_trader.data.quality import (
    QualityError,
    QualityReport,
    RepairResult,
    Thresholds,
    check_frame,
    repair_frame,
)
from quantum_trader.domain.market import BarSeries, BookSeries, DataKind, FundingSeries, TradeFlowSeries
from quantum_trader.domain.symbols import parse_symbol
from quantum_trader.domain.time import timeframe_ms

_TIMEFRAMED = (DataKind.CANDLES, DataKind.MARK, DataKind.TRADE_FLOW)

__all__ = ["IngestError", "IngestResult", "ingest_file", "ingest_table", "series_from_frame"]


class IngestError(ValueError):
    """A file that cannot be stored as asked (unknown symbol or timeframe, spacing that contradicts it)."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    path: Path
    format: str
    kind: DataKind
    symbol: str
    timeframe: str | None
    exchange: str
    rows_read: int
    report: QualityReport
    repair: RepairResult | None
    writes: tuple[WriteResult, ...]
    extra_reports: tuple[QualityReport, ...] = ()

    @property
    def write(self) -> WriteResult:
        """The main dataset's write (candles, funding...); ``writes[1:]`` are extras such as trade flow."""
        return self.writes[0]

    @property
    def rows_added(self) -> int:
        return self.writes[0].rows_added


def ingest_file(
    catalog: Catalog,
    path: Path | str,
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    exchange: str = DEFAULT_EXCHANGE,
    fmt: str | None = None,
    kind: DataKind | None = None,
    repair: bool = False,
    thresholds: Thresholds | None = None,
    volume_unit: Literal["base", "quote"] | None = None,
) -> IngestResult:
    """Read a market-data file and store it; raises (storing nothing) on any blocking issue.

    ``symbol`` overrides the file's own hint (e.g. to file spot candles as a perpetual
    stand-in); a timeframe is checked against the rows' actual spacing. ``volume_unit``
    says what a bare ``volume`` column holds when the file cannot say (the catalog stores
    base units; quote volume is divided by the close).
    """
    options: dict[str, Any] = {"kind": kind}
    if volume_unit is not None:
        options["volume_unit"] = volume_unit
    raw = read_table(Path(path), fmt, **options)
    return ingest_table(catalog, raw, symbol=symbol, timeframe=timeframe, exchange=exchange, repair=repair,
                        thresholds=thresholds)


def ingest_table(
    catalog: Catalog,
    raw: Any,
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    exchange: str = DEFAULT_EXCHANGE,
    repair: bool = False,
    thresholds: Thresholds | None = None,
) -> IngestResult:
    """Store an already-read ``RawTable`` (anything with its fields); see ``ingest_file``."""
    source = str(raw.path)
    kind: DataKind = raw.kind
    symbol = _resolve_symbol(source, symbol, raw.symbol_hint)
    tf = _resolve_timeframe(source, kind, timeframe, raw.timeframe_hint)
    frame, report, repaired = _checked(raw.frame, kind, tf, source, repair, thresholds)
    items: list[tuple[Series, DataKind | None]] = [(series_from_frame(frame, kind, symbol, tf), kind)]
    extra_reports: list[QualityReport] = []
    flow = raw.extra.get("trade_flow") if raw.extra else None
    if flow is not None and len(flow):
        flow_tf = tf or _resolve_timeframe(source, DataKind.TRADE_FLOW, None, raw.timeframe_hint)
        flow_frame, flow_report, _ = _checked(flow, DataKind.TRADE_FLOW, flow_tf, f"{source} (trade flow)",
                                              repair, thresholds)
        extra_reports.append(flow_report)
        items.append((series_from_frame(flow_frame, DataKind.TRADE_FLOW, symbol, flow_tf), DataKind.TRADE_FLOW))
    writes = catalog.write_many(items, exchange=exchange)
    return IngestResult(Path(raw.path), str(raw.format), kind, symbol, tf, exchange, len(raw.frame), report,
                        repaired, tuple(writes), tuple(extra_reports))


def _checked(
    frame: pd.DataFrame, kind: DataKind, timeframe: str | None, source: str, repair: bool,
    thresholds: Thresholds | None,
) -> tuple[pd.DataFrame, QualityReport, RepairResult | None]:
    _check_spacing(source, timeframe, frame["ts"].to_numpy(np.int64))
    report = check_frame(frame, kind, timeframe=timeframe, source=source, thresholds=thresholds)
    if report.ok:
        return frame, report, None
    if not repair:
        fixable = any(i.repairable for i in report.blocking)
        raise QualityError(report, " (--repair / repair=True fixes the repairable ones)" if fixable else "")
    result = repair_frame(frame, kind, timeframe=timeframe, source=source, thresholds=thresholds)
    if not result.report.ok:
        raise QualityError(result.report, " (not repairable: fix the file)")
    return result.frame, result.report, result


def _resolve_symbol(source: str, symbol: str | None, hint: str | None) -> str:
    chosen = symbol or hint
    if chosen is None:
        raise IngestError(f"{source}: the file does not say its symbol; pass --symbol (e.g. BTC/USDT:USDT)")
    try:
        parse_symbol(chosen)
    except ValueError as exc:
        raise IngestError(f"{source}: {exc}") from None
    return chosen


def _resolve_timeframe(source: str, kind: DataKind, timeframe: str | None, hint: str | None) -> str | None:
    if kind not in _TIMEFRAMED:
        return None
    chosen = timeframe or hint
    if chosen is None:
        raise IngestError(f"{source}: the file does not say its timeframe; pass --timeframe (e.g. 1m, 1h)")
    try:
        timeframe_ms(chosen)
    except ValueError as exc:
        raise IngestError(f"{source}: {exc}") from None
    return chosen


def _check_spacing(source: str, timeframe: str | None, ts: np.ndarray[Any, Any]) -> None:
    """A 1h file filed as 1m would be stored as 59-bar gaps forever: compare the rows' typical step."""
    if timeframe is None or ts.size < 3:
        return
    steps = np.diff(np.unique(ts))
    if steps.size == 0:
        return
    step = int(np.median(steps))
    expected = timeframe_ms(timeframe)
    if step != expected or bool(np.any(steps < expected)):
        raise IngestError(
            f"{source}: rows are typically {step // 1000}s apart (smallest {int(steps.min()) // 1000}s) "
            f"but the timeframe is {timeframe} ({expected // 1000}s)"
        )


def series_from_frame(frame: pd.DataFrame, kind: DataKind, symbol: str, timeframe: str | None) -> Series:
    """Typed series from a checked standard frame (sorted, unique ``ts``)."""
    ts = frame["ts"].to_numpy(np.int64)

    def f(name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.ascontiguousarray(frame[name].to_numpy(np.float64))

    if kind in (DataKind.CANDLES, DataKind.MARK):
        assert timeframe is not None
        return BarSeries(symbol, timeframe, ts, f("open"), f("high"), f("low"), f("close"), f("volume"))
    if kind is DataKind.FUNDING:
        return FundingSeries(symbol, ts, f("rate"))
    if kind is DataKind.TRADE_FLOW:
        assert timeframe is not None
        return TradeFlowSeries(symbol, timeframe, ts, f("taker_buy_volume"), f("taker_sell_volume"))
    levels = sum(1 for c in frame.columns if str(c).startswith("bid_px_"))
    sides = [np.column_stack([f(f"{side}_{i}") for i in range(levels)])
             for side in ("bid_px", "bid_sz", "ask_px", "ask_sz")]
    return BookSeries(symbol, ts, *sides)
