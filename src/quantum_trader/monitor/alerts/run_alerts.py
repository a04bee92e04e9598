"""The alert rules over a finished run (backtest, paper replay, live): what the operator would have been told.

A run folder holds every input the rules read: the equity curve's exposure, the kill-switch and lock events
and the incidents (events.parquet), the correlation matrices the strategy computed, the universe's tier
changes and, where the catalog has books, the depth and spread of each snapshot. Each rule key's latch
depends on its own series alone, so each series is fed to one ``AlertRuleBook`` on its own (the long
ones only where their latch changes, entering or re-arming past its margin: the latch sees the same
transitions as if fed every row) and the alerts are put in time order at the end.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quantum_trader.monitor.alerts.liquidity import F64, I64, trailing_medians
from quantum_trader.monitor.alerts.model import ALERT_COLUMNS, Alert
from quantum_trader.monitor.alerts.rules import AlertRuleBook, RuleSettings
from quantum_trader.monitor.alerts.shapes import DecisionsLike, RunMarketLike
from quantum_trader.risk import EventKind, RiskEvent

RISK_KINDS = {
    "kill_switch_rearm": EventKind.REARM, "kill_switch_reset": EventKind.RESET,
    "asset_lock": EventKind.LOCK, "asset_unlock": EventKind.UNLOCK,
}
"""Run-folder event kinds (``engine.recorder.EVENT_NAMES``) back to the risk engine's."""


@dataclass(frozen=True, slots=True)
class TierChangeRow:
    ts: int
    asset: str
    from_tier: int | None
    to_tier: int | None
    message: str


@dataclass(frozen=True, slots=True)
class RunIncident:
    ts: int
    kind: str
    message: str
    symbol: str


@dataclass(frozen=True)
class RunInputs:
    """What a finished run holds, as the rules read it."""

    equity: pd.DataFrame
    """The equity curve (``ts``, ``total_exposure``)."""
    events: pd.DataFrame
    """The run's events (``ts``, ``kind``, ``symbol``, ``rule``, ``message``, ``value``, ``limit``)."""
    symbols: tuple[str, ...] = ()
    correlations: Sequence[tuple[int, F64 | None, float | None]] = ()
    """Each update of the matrix: (time computed, matrix in ``symbols`` order or None, its mean pairwise
    correlation)."""
    tier_changes: Sequence[TierChangeRow] = ()
    depth: Mapping[str, tuple[I64, F64]] = field(default_factory=dict)
    """Per symbol: book snapshot times and depth within 1% (USD)."""
    spreads: Mapping[str, tuple[I64, F64]] = field(default_factory=dict)
    """Per symbol: book snapshot times and relative spread."""


def run_alerts(inputs: RunInputs, settings: RuleSettings) -> list[Alert]:
    book = AlertRuleBook(settings)
    found: list[Alert] = []
    found += _exposure(book, inputs.equity)
    for at, matrix, mean in inputs.correlations:
        found += book.correlation(at, inputs.symbols, None if matrix is None else matrix.tolist(), mean)
    for row in inputs.tier_changes:
        found += book.tier(row.ts, row.asset, row.to_tier, row.message, was=row.from_tier)
    found += _risk_and_incidents(book, inputs.events)
    for symbol, (times, depth) in inputs.depth.items():
        found += _depth(book, symbol, times, depth, settings)
    for symbol, (times, spread) in inputs.spreads.items():
        now = trailing_medians(times, spread, settings.short_window_ms, 1, current=True)
        with np.errstate(invalid="ignore"):
            state = latched(now > settings.max_spread, now <= settings.spread_rearm)
        for i in _changes(state):
            found += book.liquidity(int(times[i]), symbol, None, None, float(now[i]))
    found.sort(key=lambda a: a.ts)  # stable: within a time, the order above
    return found


def mean_pairwise(matrix: F64) -> float | None:
    n = matrix.shape[0]
    if n < 2:
        return None
    upper = matrix[np.triu_indices(n, k=1)]
    known = upper[np.isfinite(upper)]
    return float(known.mean()) if known.size else None


def latched(fires: np.ndarray, rearms: np.ndarray) -> np.ndarray:
    """A level rule's latch along a series (``Latch.crossing`` a row at a time): set where ``fires``, cleared where
    ``rearms``, unchanged between (the two never hold together: the re-arm line is past the level)."""
    signal = np.where(fires, 1, np.where(rearms, -1, 0))
    last = np.maximum.accumulate(np.where(signal != 0, np.arange(signal.size), -1))
    return np.asarray((last >= 0) & (signal[np.maximum(last, 0)] == 1), dtype=bool)


def _changes(condition: np.ndarray) -> Iterable[int]:
    """Rows where a boolean series differs from the row before (the first row: where it is True)."""
    flags = np.asarray(condition, dtype=bool)
    before = np.concatenate([[False], flags[:-1]])
    return (int(i) for i in np.flatnonzero(flags != before))


def _exposure(book: AlertRuleBook, equity: pd.DataFrame) -> list[Alert]:
    if equity.empty:
        return []
    ts = equity["ts"].to_numpy(dtype=np.int64)
    exposure = equity["total_exposure"].to_numpy(dtype=float)
    found: list[Alert] = []
    with np.errstate(invalid="ignore"):
        state = latched(exposure > book.s.exposure_above, exposure <= book.s.exposure_rearm)
    for i in _changes(state):
        found += book.exposure(int(ts[i]), float(exposure[i]))
    return found


def _depth(book: AlertRuleBook, symbol: str, ts: I64, depth: F64, settings: RuleSettings) -> list[Alert]:
    medians = trailing_medians(ts, depth, settings.median_window_ms)
    now = trailing_medians(ts, depth, settings.short_window_ms, 1, current=True)
    floor = (1.0 - settings.liquidity_drop) * medians  # rules.depth_levels, a row at a time
    rearm = floor + settings.depth_margin * medians
    with np.errstate(invalid="ignore"):
        state = latched(now < floor, now >= rearm)
    found: list[Alert] = []
    for i in _changes(state):
        median = float(medians[i])
        found += book.liquidity(int(ts[i]), symbol, float(now[i]), median if math.isfinite(median) else None)
    return found


def _risk_and_incidents(book: AlertRuleBook, events: pd.DataFrame) -> list[Alert]:
    found: list[Alert] = []
    if events.empty:
        return found
    wanted = events[events["kind"].isin([*RISK_KINDS, "kill_switch_trip", "incident"])]
    for row in wanted.to_dict("records"):
        ts, kind, symbol, message = int(row["ts"]), str(row["kind"]), str(row["symbol"]), str(row["message"])
        if kind == "incident":
            found += book.incident(RunIncident(ts, str(row["rule"]), message, symbol))
            continue
        if kind == "kill_switch_trip":
            risk_kind = EventKind.TRIP_DRAWDOWN if message.startswith("drawdown") else EventKind.TRIP_DAILY
        else:
            risk_kind = RISK_KINDS[kind]
        found += book.risk_event(RiskEvent(ts, risk_kind, message, figure=_number(row["value"]),
                                           limit=_number(row["limit"]), symbol=symbol or None))
    return found


def _number(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def alerts_frame(alerts: Sequence[Alert]) -> pd.DataFrame:
    """``alerts.parquet`` rows (``ALERT_COLUMNS``)."""
    rows = [(a.ts, str(a.kind), str(a.severity), a.symbol, a.message, a.key,
             math.nan if a.value is None else a.value, math.nan if a.limit is None else a.limit) for a in alerts]
    return pd.DataFrame(rows, columns=list(ALERT_COLUMNS)).astype({"ts": "int64", "value": "float64",
                                                                  "limit": "float64"})


def correlation_updates(decisions: DecisionsLike, events: pd.DataFrame,
                        until: int) -> list[tuple[int, F64 | None, float | None]]:
    """Each matrix the strategy computed, known by ``until``: (time computed, matrix, its mean).

    A live session's decisions answer only the newest decision (``GrowingDecisions``): its run folder has the
    ``correlation_update`` events' means alone (the pair rule then ran in the session itself)."""
    out: list[tuple[int, F64 | None, float | None]] = []
    last: int | None = None
    stop = int(np.searchsorted(decisions.close_ts, until, side="right"))
    try:
        for k in range(stop):
            at = decisions.correlation_time(k)
            if at is None or at == last:
                continue
            matrix = decisions.correlation(k)
            if matrix is None:
                continue
            last = int(at)
            values = np.asarray(matrix, dtype=np.float64)
            out.append((last, values, mean_pairwise(values)))
    except IndexError:
        updates = events[events["kind"] == "correlation_update"] if not events.empty else events
        return [(int(t), None, float(v) if math.isfinite(float(v)) else None)
                for t, v in zip(updates["ts"].tolist(), updates["value"].tolist(), strict=True)]
    return out


def inputs_of_run(data: RunMarketLike, decisions: DecisionsLike, equity: pd.DataFrame, events: pd.DataFrame,
                  end: int) -> RunInputs:
    """The rules' inputs from what a finished run went through, up to ``end`` (its last bar's close).

    Depth, not spread: a run streamed from the catalog keeps each snapshot's depth but not its books, and a
    run folder must not depend on how its bars were read (tests/analytics/test_streamed_backtest.py)."""
    symbols = tuple(data.grid.symbols)
    universe = data.universe
    tiers = [] if universe is None else [
        TierChangeRow(int(e.ts), e.asset, e.from_tier, e.to_tier,
                      f"{e.message}: {'; '.join(e.evidence)}" if e.evidence else e.message)
        for e in universe.events() if int(e.ts) <= end]
    depth = {s: (np.asarray(data.depth_ts[s], dtype=np.int64), np.asarray(data.depth[s], dtype=np.float64))
             for s in symbols if s in data.depth_ts and s in data.depth}
    keep = {s: _upto(t, d, end) for s, (t, d) in depth.items()}
    return RunInputs(equity=equity, events=events, symbols=symbols,
                     correlations=correlation_updates(decisions, events, end), tier_changes=tiers, depth=keep)


def _upto(ts: I64, values: F64, end: int) -> tuple[I64, F64]:
    """The snapshots at or before ``end``: views of the arrays where the times ascend (a copy of five years of
    five books' depth otherwise doubled them at the run's write), else the rows picked."""
    if ts.size < 2 or bool((ts[1:] >= ts[:-1]).all()):
        stop = int(np.searchsorted(ts, end, side="right"))
        return ts[:stop], values[:stop]
    inside = ts <= end
    return ts[inside], values[inside]


def alert_counts(alerts: Sequence[Alert]) -> dict[str, object]:
    """metrics.json's ``alerts``: how many, and how many of each kind."""
    kinds = Counter(str(a.kind) for a in alerts)
    return {"count": len(alerts), "by_kind": dict(sorted(kinds.items()))}
