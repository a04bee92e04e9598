"""File -> loader -> quality check -> (repair) -> catalog, all or nothing.

Everything that can refuse a file (reading, symbol and timeframe resolution, quality,
repair) runs before the first byte is written; the catalog then merges under the
dataset's lock, refuses rows already stored with other values (unless ``replace``) and a
file that looks like another instrument, and swaps the new files in together, so a
refused ingest leaves the catalog byte-identical. Its refusals come back naming the
file's own row numbers. Each write records its source (file, loader, venue, spot or perp).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantum_trader.config.policy import Policy
from quantum_trader.data.catalog import DEFAULT_EXCHANGE, Catalog, WriteRefusedError, WriteResult, WriteSource
from quantum_trader.data.catalog_merge import RowOf
from quantum_trader.data.catalog_schema import Series
from quantum_trader.data.catalog_source import MarketType
from quantum_trader.data.loaders import detect_format, read_binance_depth, read_table
from quantum_trader.data.quality import (
    SOURCE_ROW,
    QualityError,
    QualityReport,
    RepairResult,
    Thresholds,
    check_frame,
    repair_frame,
)
from quantum_trader.domain.market import BarSeries, BookSeries, DataKind, FundingSeries, TradeFlowSeries
from quantum_trader.domain.symbols import is_perpetual, parse_symbol
from quantum_trader.domain.time import timeframe_ms

_TIMEFRAMED = (DataKind.CANDLES, DataKind.MARK, DataKind.TRADE_FLOW)
DEFAULT_FLOW_TIMEFRAME = "1m"

__all__ = ["IngestError", "IngestResult", "IngestRules", "ingest_file", "ingest_table", "series_from_frame"]


class IngestError(ValueError):
    """A file that cannot be stored as asked (unknown symbol or timeframe, spacing that contradicts it,
    rows that conflict with stored ones, another instrument's prices)."""


@dataclass(frozen=True, slots=True)
class IngestRules:
    """The policy's ingest refusals (``data_ingest`` section); the defaults are the default policy's."""

    instrument_price_tolerance: float = 0.05
    max_abs_funding_rate: float = 0.03

    @classmethod
    def from_policy(cls, policy: Policy) -> IngestRules:
        rules = policy.data_ingest
        return cls(rules.instrument_price_tolerance, rules.max_abs_funding_rate)


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
    source: WriteSource = field(default_factory=WriteSource)
    """What was recorded as the rows' source (venue, spot or perp, file, loader)."""

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
    exchange: str | None = None,
    fmt: str | None = None,
    kind: DataKind | None = None,
    repair: bool = False,
    thresholds: Thresholds | None = None,
    volume_unit: Literal["base", "quote"] | None = None,
    replace: bool = False,
    rules: IngestRules | None = None,
    updates: Path | str | None = None,
    market_type: MarketType | None = None,
) -> IngestResult:
    """Read a market-data file and store it; raises (storing nothing) on any blocking issue.

    ``symbol`` overrides the file's own hint (e.g. to file spot candles as a perpetual
    stand-in; the source then records them as spot); a timeframe is checked against the
    rows' actual spacing (for Binance aggTrades it is the bar the trades are summed into,
    1m by default). ``volume_unit`` says what a bare ``volume`` column holds when the file
    cannot say (the catalog stores base units; quote volume is divided by the close).
    ``exchange`` defaults to the venue the file names (a Bybit book goes under ``bybit``),
    else ``binanceusdm``. ``updates`` is the Binance depth diff file applied to the snapshot
    file ``path``. ``replace`` accepts rows that differ from stored ones (the old values are
    kept beside the dataset); without it they are refused, listed side by side.
    """
    path = Path(path)
    if updates is not None:
        if fmt not in (None, "binance_depth") or kind not in (None, DataKind.BOOK):
            raise IngestError(f"{path}: --updates applies to a Binance depth snapshot (format binance_depth)")
        raw = read_binance_depth(path, Path(updates))
    else:
        name = fmt if fmt is not None else detect_format(path)
        options: dict[str, Any] = {"kind": kind}
        if volume_unit is not None:
            options["volume_unit"] = volume_unit
        if name == "binance_aggtrades":
            options["timeframe"] = timeframe or DEFAULT_FLOW_TIMEFRAME
        raw = read_table(path, name, **options)
    return ingest_table(catalog, raw, symbol=symbol, timeframe=timeframe, exchange=exchange, repair=repair,
                        thresholds=thresholds, replace=replace, rules=rules, market_type=market_type)


def ingest_table(
    catalog: Catalog,
    raw: Any,
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    exchange: str | None = None,
    repair: bool = False,
    thresholds: Thresholds | None = None,
    replace: bool = False,
    rules: IngestRules | None = None,
    market_type: MarketType | None = None,
) -> IngestResult:
    """Store an already-read ``RawTable`` (anything with its fields); see ``ingest_file``."""
    source = str(raw.path)
    kind: DataKind = raw.kind
    rules = rules or IngestRules()
    th = dataclasses.replace(thresholds or Thresholds(), max_abs_funding_rate=rules.max_abs_funding_rate)
    symbol = _resolve_symbol(source, symbol, raw.symbol_hint)
    tf = _resolve_timeframe(source, kind, timeframe, raw.timeframe_hint)
    frame, report, repaired = _checked(raw.frame, kind, tf, source, repair, th)
    items: list[tuple[Series, DataKind | None]] = [(series_from_frame(frame, kind, symbol, tf), kind)]
    extra_reports: list[QualityReport] = []
    flow = raw.extra.get("trade_flow") if raw.extra else None
    if flow is not None and len(flow):
        flow_tf = tf or _resolve_timeframe(source, DataKind.TRADE_FLOW, None, raw.timeframe_hint)
        flow_frame, flow_report, _ = _checked(flow, DataKind.TRADE_FLOW, flow_tf, f"{source} (trade flow)",
                                              repair, th)
        extra_reports.append(flow_report)
        items.append((series_from_frame(flow_frame, DataKind.TRADE_FLOW, symbol, flow_tf), DataKind.TRADE_FLOW))
    venue = getattr(raw, "exchange_hint", None)
    where = exchange or venue or DEFAULT_EXCHANGE
    origin = WriteSource(file=source, loader=str(raw.format), venue=venue,
                         market_type=_market_type(market_type, raw, symbol))
    try:
        writes = catalog.write_many(items, exchange=where, conflicts="replace" if replace else "refuse",
                                    instrument_tolerance=rules.instrument_price_tolerance, source=origin)
    except WriteRefusedError as exc:
        raise IngestError(f"{source}: {exc.render(_row_lookup(frame))}") from exc
    return IngestResult(Path(raw.path), str(raw.format), kind, symbol, tf, where, len(raw.frame), report,
                        repaired, tuple(writes), tuple(extra_reports), origin)


def _market_type(option: MarketType | None, raw: Any, symbol: str) -> MarketType | None:
    """The caller's word, else the loader's (content, file name, folders), else a spot symbol's; else unknown.

    A perpetual symbol alone proves nothing: spot files are filed under perpetual symbols as
    stand-ins, which is exactly what must not be forgotten.
    """
    if option is not None:
        return option
    hinted = getattr(raw, "market_type", None)
    if hinted in ("spot", "perp"):
        return hinted  # type: ignore[no-any-return]
    hint = raw.symbol_hint
    if hint is not None:
        return "perp" if is_perpetual(hint) else "spot"
    return None if is_perpetual(symbol) else "spot"


def _row_lookup(frame: pd.DataFrame) -> RowOf | None:
    """ts -> the file line of that row, for messages about stored-vs-new rows."""
    if SOURCE_ROW not in frame.columns:
        return None
    ts = frame["ts"].to_numpy(np.int64)
    rows = frame[SOURCE_ROW].to_numpy(np.int64)

    def row_of(t: int) -> int | None:
        i = int(np.searchsorted(ts, t))
        return int(rows[i]) if i < ts.size and ts[i] == t else None

    return row_of


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
    ordered = bool(np.all(ts[1:] >= ts[:-1]))  # the usual case: de-duplicate in one pass, no hash table
    steps = np.diff(ts[np.r_[True, ts[1:] != ts[:-1]]] if ordered else np.unique(ts))
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
