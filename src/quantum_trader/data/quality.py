"""Quality checks on a freshly read table, and the few repairs that lose nothing.

A bad candle poisons every backtest that touches it, so ingest refuses a file with a
BLOCKING issue (conflicting duplicates, out-of-order rows, NaN/inf, non-positive prices,
OHLC that cannot be, negative volume, rows off the timeframe's grid or dated in the future,
funding beyond a bound, a crossed, one-sided or negative-size book) and says which file
rows. WARNINGS (gaps, zero-volume runs, outlier returns, volume unknown) are facts about
the market as often as faults of the file, so they are reported and stored anyway.

Every issue carries the file's own row numbers (``source_row``: the line a user opens
in an editor). ``repair_frame`` fixes only what is certain: a newest-first file is
reversed, out-of-order rows are sorted, exact duplicate rows are dropped; each change is
listed with its rows. Conflicting duplicates are never resolved here: which value is
right is a question for the user.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantum_trader.data.quality_book import book_issues
from quantum_trader.domain.market import DataKind
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, format_time, timeframe_ms

SOURCE_ROW = "source_row"
PRICE_FIELDS = ("open", "high", "low", "close")
STANDARD_FIELDS: dict[DataKind, tuple[str, ...]] = {
    DataKind.CANDLES: (*PRICE_FIELDS, "volume"),
    DataKind.MARK: (*PRICE_FIELDS, "volume"),
    DataKind.FUNDING: ("rate",),
    DataKind.TRADE_FLOW: ("taker_buy_volume", "taker_sell_volume"),
}

I64 = npt.NDArray[np.int64]


class Severity(StrEnum):
    BLOCKING = "blocking"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class QualityIssue:
    """One finding: what, how bad, and the file rows (1-based ``source_row``) where it is."""

    code: str
    severity: Severity
    message: str
    rows: tuple[int, ...]
    repairable: bool = False
    count: int = 0

    @property
    def blocking(self) -> bool:
        return self.severity is Severity.BLOCKING

    def describe(self, limit: int = 8) -> str:
        where = f" at {rows_text(self.rows, limit)}" if self.rows else ""
        return f"{self.message}{where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "count": self.count,
            "rows": list(self.rows),
            "repairable": self.repairable,
        }


@dataclass(frozen=True, slots=True)
class QualityReport:
    source: str
    kind: DataKind
    rows: int
    issues: tuple[QualityIssue, ...] = field(default_factory=tuple)

    @property
    def blocking(self) -> tuple[QualityIssue, ...]:
        return tuple(i for i in self.issues if i.blocking)

    @property
    def warnings(self) -> tuple[QualityIssue, ...]:
        return tuple(i for i in self.issues if not i.blocking)

    @property
    def ok(self) -> bool:
        """True when nothing blocks storing the data (warnings may remain)."""
        return not self.blocking

    def codes(self) -> set[str]:
        return {i.code for i in self.issues}

    def issue(self, code: str) -> QualityIssue | None:
        return next((i for i in self.issues if i.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind.value,
            "rows": self.rows,
            "ok": self.ok,
            "issues": [i.to_dict() for i in self.issues],
        }


class QualityError(ValueError):
    """A table refused for blocking issues; the one-line message names the file and the rows."""

    def __init__(self, report: QualityReport, hint: str = "") -> None:
        self.report = report
        details = "; ".join(i.describe(limit=5) for i in report.blocking)
        n = len(report.blocking)
        super().__init__(f"{report.source}: refused, {n} blocking issue{'s' * (n != 1)}: {details}{hint}")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Warning thresholds (the defaults flag what a human should look at, not every fat tail) and the
    funding bound (policy ``data_ingest.max_abs_funding_rate``; a rate beyond it is a bad row)."""

    zero_volume_run: int = 3
    outlier_sigma: float = 12.0
    max_abs_funding_rate: float = 0.03


def rows_text(rows: tuple[int, ...] | list[int], limit: int = 8) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" (+{len(rows) - limit} more)" if len(rows) > limit else ""
    return f"row{'s' * (len(rows) != 1)} {shown}{more}"


@dataclass(frozen=True, slots=True)
class _Table:
    """The frame as arrays: file-order ``ts``, ``source_row`` and the value columns checked."""

    ts: I64
    rows: I64
    values: dict[str, npt.NDArray[np.float64]]


def _table(frame: pd.DataFrame, kind: DataKind, source: str) -> _Table:
    if "ts" not in frame.columns:
        raise ValueError(f"{source}: no 'ts' column to check (columns: {', '.join(map(str, frame.columns))})")
    n = len(frame)
    rows = (frame[SOURCE_ROW].to_numpy(np.int64) if SOURCE_ROW in frame.columns
            else np.arange(1, n + 1, dtype=np.int64))
    if kind is DataKind.BOOK:
        names = [c for c in frame.columns if str(c).startswith(("bid_px_", "bid_sz_", "ask_px_", "ask_sz_"))]
    else:
        names = list(STANDARD_FIELDS[kind])
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise ValueError(f"{source}: missing column(s) {', '.join(missing)} for {kind.value} data")
    values = {c: frame[c].to_numpy(np.float64) for c in names}
    return _Table(frame["ts"].to_numpy(np.int64), rows, values)


def _issue(code: str, severity: Severity, message: str, rows: npt.NDArray[Any] | list[int],
           *, repairable: bool = False, count: int | None = None) -> QualityIssue:
    rows_t = tuple(int(r) for r in rows)
    return QualityIssue(code, severity, message, rows_t, repairable, len(rows_t) if count is None else count)


def _nan_equal(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    same: npt.NDArray[np.bool_] = (a == b) | (np.isnan(a) & np.isnan(b))
    return same


def _order_issues(t: _Table) -> list[QualityIssue]:
    """Timestamp order in FILE order: newest-first files, stray rows, duplicates."""
    issues: list[QualityIssue] = []
    ts = t.ts
    if ts.size >= 2:
        step = np.diff(ts)
        if bool(np.all(step <= 0)) and bool(np.any(step < 0)):
            issues.append(_issue("newest_first", Severity.BLOCKING, "file is newest-first (timestamps descend)",
                                 [], repairable=True, count=int(ts.size)))
        else:
            back = np.flatnonzero(step < 0) + 1
            if back.size:
                issues.append(_issue("out_of_order", Severity.BLOCKING,
                                     f"{back.size} timestamp(s) earlier than the row before", t.rows[back],
                                     repairable=True))
    order = np.argsort(ts, kind="stable")
    sts = ts[order]
    dup = np.flatnonzero(sts[1:] == sts[:-1]) + 1
    if dup.size == 0:
        return issues
    # walk each duplicate back to the first row of its group (groups are contiguous after the sort)
    group_start = np.maximum.accumulate(np.where(np.r_[True, sts[1:] != sts[:-1]], np.arange(sts.size), 0))
    first = group_start[dup]
    same = np.ones(dup.size, dtype=bool)
    for values in t.values.values():
        sv = values[order]
        same &= _nan_equal(sv[dup], sv[first])
    conflict_ts = np.unique(sts[dup[~same]])
    if conflict_ts.size:
        rows = np.sort(t.rows[np.isin(ts, conflict_ts)])
        issues.append(_issue("duplicate_conflict", Severity.BLOCKING,
                             f"{conflict_ts.size} timestamp(s) repeated with different values", rows))
    exact = dup[same & ~np.isin(sts[dup], conflict_ts)]
    if exact.size:
        issues.append(_issue("duplicate_exact", Severity.BLOCKING, f"{exact.size} exact duplicate row(s)",
                             np.sort(t.rows[order[exact]]), repairable=True))
    return issues


def volume_unknown(kind: DataKind, volume: npt.NDArray[np.float64]) -> bool:
    """Candles whose file has no volume at all (a TradingView export without it): NaN in every row.

    Mark candles carry no volume by nature. A volume column missing only in some rows is
    damage and stays blocking.
    """
    return kind is DataKind.MARK or (kind is DataKind.CANDLES and volume.size > 0 and bool(np.isnan(volume).all()))


def _value_issues(t: _Table, kind: DataKind, th: Thresholds) -> list[QualityIssue]:
    """Per-row impossibilities: missing numbers, non-positive prices, inconsistent OHLC, funding out of bounds."""
    issues: list[QualityIssue] = []
    bad_ts = t.ts < 0
    if bad_ts.any():
        issues.append(_issue("bad_timestamp", Severity.BLOCKING, "timestamp before 1970", t.rows[bad_ts]))
    if kind is DataKind.BOOK:
        return issues + [_issue(code, Severity.BLOCKING, message, t.rows[mask])
                         for code, message, mask in book_issues(t.values)]
    for name, values in t.values.items():
        nonfinite = ~np.isfinite(values)
        if name == "volume" and volume_unknown(kind, values):
            nonfinite &= ~np.isnan(values)
        if nonfinite.any():
            issues.append(_issue("nan", Severity.BLOCKING, f"NaN/inf in {name}", t.rows[nonfinite]))
    if kind is DataKind.FUNDING:
        issues.extend(_funding_issues(t, th))
    if kind in (DataKind.CANDLES, DataKind.MARK):
        issues.extend(_ohlc_issues(t))
    for name in ("volume", "taker_buy_volume", "taker_sell_volume"):
        if name in t.values:
            with np.errstate(invalid="ignore"):
                neg = t.values[name] < 0
            if neg.any():
                issues.append(_issue("negative_volume", Severity.BLOCKING, f"{name} < 0", t.rows[neg]))
    return issues


def _ohlc_issues(t: _Table) -> list[QualityIssue]:
    issues: list[QualityIssue] = []
    o, h, low, c = (t.values[n] for n in PRICE_FIELDS)
    with np.errstate(invalid="ignore"):
        nonpos = (o <= 0) | (h <= 0) | (low <= 0) | (c <= 0)
        incons = (h < np.maximum(o, c)) | (low > np.minimum(o, c)) | (h < low)
    if nonpos.any():
        issues.append(_issue("non_positive", Severity.BLOCKING, "price <= 0", t.rows[nonpos]))
    if incons.any():
        issues.append(_issue("ohlc_inconsistent", Severity.BLOCKING,
                             "high below open/close or low above them", t.rows[incons]))
    return issues


def _funding_issues(t: _Table, th: Thresholds) -> list[QualityIssue]:
    with np.errstate(invalid="ignore"):
        wild = np.abs(t.values["rate"]) > th.max_abs_funding_rate
    if not wild.any():
        return []
    return [_issue("funding_out_of_bounds", Severity.BLOCKING,
                   f"|funding rate| above {th.max_abs_funding_rate:.2%} per interval "
                   "(policy data_ingest.max_abs_funding_rate)", t.rows[wild])]


_UNTIMED_MARGIN_MS = {DataKind.FUNDING: 8 * MS_PER_HOUR, DataKind.BOOK: MS_PER_MINUTE}


def _time_issues(t: _Table, kind: DataKind, timeframe: str | None, now_ms: int) -> list[QualityIssue]:
    """Rows off the timeframe's grid (a shifted file) and rows dated after now plus one bar."""
    issues: list[QualityIssue] = []
    margin = _UNTIMED_MARGIN_MS.get(kind, MS_PER_MINUTE)
    if timeframe is not None and t.ts.size:
        step = margin = timeframe_ms(timeframe)
        phase = t.ts % step
        if step < MS_PER_DAY:
            off = phase != 0
            where = f"bars open at multiples of {timeframe} UTC"
        else:  # daily sessions may open at any hour: one offset for all rows, the most common one
            values, counts = np.unique(phase, return_counts=True)
            common = int(values[np.argmax(counts)])
            off = phase != common
            where = f"the other bars open at {format_time(common)[11:]} UTC"
        if off.any():
            issues.append(_issue("off_grid", Severity.BLOCKING,
                                 f"{int(off.sum())} row(s) off the {timeframe} grid ({where})", t.rows[off]))
    late = t.ts > now_ms + margin
    if late.any():
        issues.append(_issue("future_timestamp", Severity.BLOCKING,
                             f"timestamp after now + {timeframe or f'{margin // MS_PER_MINUTE} min'} "
                             f"(now {format_time(now_ms)} UTC, first late {format_time(int(t.ts[late][0]))})",
                             t.rows[late]))
    return issues


def _warning_issues(t: _Table, kind: DataKind, timeframe: str | None, th: Thresholds) -> list[QualityIssue]:
    """Gaps, zero-volume runs and outlier returns, measured on the data in time order."""
    issues: list[QualityIssue] = []
    order = np.argsort(t.ts, kind="stable")
    ts, rows = t.ts[order], t.rows[order]
    keep = np.r_[True, ts[1:] != ts[:-1]]
    ts, rows, order = ts[keep], rows[keep], order[keep]
    if timeframe is not None and ts.size >= 2:
        step = timeframe_ms(timeframe)
        jumps = np.diff(ts)
        gap = np.flatnonzero(jumps > step) + 1
        if gap.size:
            missing = int(((jumps[gap - 1] // step) - 1).sum())
            issues.append(_issue("gap", Severity.WARNING,
                                 f"{gap.size} gap(s) totalling {missing} missing {timeframe} bar(s), "
                                 "rows listed are the first after each gap", rows[gap]))
    if kind is DataKind.CANDLES:
        volume = t.values["volume"][order]
        if volume_unknown(kind, volume):
            issues.append(_issue("volume_unknown", Severity.WARNING,
                                 "volume unknown (the file has none, stored as missing): zero-volume runs not "
                                 "checked, and rules that need volume will say unknown", [], count=int(volume.size)))
        else:
            issues.extend(_zero_volume_runs(volume, rows, th.zero_volume_run))
    if kind in (DataKind.CANDLES, DataKind.MARK):
        close = t.values["close"][order]
        issue = _outliers(close, rows, th.outlier_sigma)
        if issue is not None:
            issues.append(issue)
    return issues


def _zero_volume_runs(volume: npt.NDArray[np.float64], rows: I64, min_run: int) -> list[QualityIssue]:
    zero = np.r_[False, volume == 0, False]
    edges = np.flatnonzero(zero[1:] != zero[:-1])
    starts, ends = edges[0::2], edges[1::2]
    long = (ends - starts) >= min_run
    if not long.any():
        return []
    flagged = np.concatenate([np.arange(s, e) for s, e in zip(starts[long], ends[long], strict=True)])
    return [_issue("zero_volume_run", Severity.WARNING,
                   f"{int(long.sum())} run(s) of >= {min_run} zero-volume bars", rows[flagged])]


def _outliers(close: npt.NDArray[np.float64], rows: I64, k: float) -> QualityIssue | None:
    if close.size < 3:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.diff(np.log(close))
    finite = np.isfinite(ret)
    if finite.sum() < 3:
        return None
    med = float(np.median(ret[finite]))
    sigma = 1.4826 * float(np.median(np.abs(ret[finite] - med)))
    if sigma <= 0:
        return None
    out = np.flatnonzero(finite & (np.abs(ret - med) > k * sigma)) + 1
    if out.size == 0:
        return None
    return _issue("outlier_return", Severity.WARNING,
                  f"{out.size} |log return| beyond {k:g} robust sigmas ({k * sigma:.4g})", rows[out])


def _unpack(data: Any, kind: DataKind | None, timeframe: str | None, source: str | None
            ) -> tuple[pd.DataFrame, DataKind, str | None, str]:
    """Accept a loader ``RawTable`` (duck-typed: no import of the loaders) or a bare frame."""
    if isinstance(data, pd.DataFrame):
        if kind is None:
            raise ValueError("check_frame on a bare DataFrame needs kind=")
        return data, kind, timeframe, source or "<frame>"
    frame = data.frame
    return (frame, kind or data.kind, timeframe or data.timeframe_hint, source or str(data.path))


def check_frame(
    data: Any,
    kind: DataKind | None = None,
    *,
    timeframe: str | None = None,
    source: str | None = None,
    thresholds: Thresholds | None = None,
    now_ms: int | None = None,
) -> QualityReport:
    """Check a ``RawTable`` or a standard frame; gaps and the grid are only checked when a timeframe is known.

    ``now_ms`` (default: the clock) bounds timestamps: none may lie beyond now plus one bar.
    """
    frame, kind, timeframe, source = _unpack(data, kind, timeframe, source)
    th = thresholds or Thresholds()
    t = _table(frame, kind, source)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    issues = [*_order_issues(t), *_value_issues(t, kind, th), *_time_issues(t, kind, timeframe, now),
              *_warning_issues(t, kind, timeframe, th)]
    return QualityReport(source, kind, len(frame), tuple(issues))


@dataclass(frozen=True, slots=True)
class RepairAction:
    """One change made by ``repair_frame``: its code, how many rows, and which file rows."""

    code: str
    count: int
    rows: tuple[int, ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "count": self.count, "rows": list(self.rows), "message": self.message}


@dataclass(frozen=True, slots=True)
class RepairResult:
    frame: pd.DataFrame
    actions: tuple[RepairAction, ...]
    report: QualityReport  # the re-check after repair: blocking issues left are not repairable

    @property
    def changed(self) -> bool:
        return bool(self.actions)


def repair_frame(
    data: Any,
    kind: DataKind | None = None,
    *,
    timeframe: str | None = None,
    source: str | None = None,
    thresholds: Thresholds | None = None,
) -> RepairResult:
    """Reverse a newest-first file, sort stray rows, drop exact duplicates; nothing else.

    Conflicting duplicates, NaNs and impossible prices stay: the returned re-check still
    lists them and ingest still refuses the file.
    """
    frame, kind, timeframe, source = _unpack(data, kind, timeframe, source)
    added_rows = SOURCE_ROW not in frame.columns
    if added_rows:  # number rows once, so every action below can name them whatever the reordering
        frame = frame.assign(**{SOURCE_ROW: np.arange(1, len(frame) + 1, dtype=np.int64)})
    before = check_frame(frame, kind, timeframe=timeframe, source=source, thresholds=thresholds)
    actions: list[RepairAction] = []
    if (issue := before.issue("newest_first")) is not None:
        frame = frame.iloc[::-1]
        actions.append(RepairAction("reversed", issue.count, (), f"reversed {issue.count} newest-first rows"))
    elif (issue := before.issue("out_of_order")) is not None:
        frame = frame.iloc[np.argsort(frame["ts"].to_numpy(np.int64), kind="stable")]
        actions.append(RepairAction("sorted", issue.count, issue.rows,
                                    f"sorted by timestamp; {issue.count} row(s) were out of order"))
    if (issue := before.issue("duplicate_exact")) is not None:
        frame = frame[~frame[SOURCE_ROW].isin(issue.rows).to_numpy()]
        actions.append(RepairAction("dropped_duplicates", issue.count, issue.rows,
                                    f"dropped {issue.count} exact duplicate row(s)"))
    frame = frame.reset_index(drop=True)
    after = check_frame(frame, kind, timeframe=timeframe, source=source, thresholds=thresholds)
    if added_rows:
        frame = frame.drop(columns=SOURCE_ROW)
    return RepairResult(frame, tuple(actions), after)
