"""What the phase gates read: a run's trades, equity and events, and the journal's drills, as one value.

A gate criterion is only as good as its evidence, so every table keeps the name of the
file it came from and a missing file is ``None`` (the criterion then says "no
evidence"), never an empty table that would read as "nothing went wrong".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantum_trader.analytics.run_folder import EQUITY_FILE, EVENTS_FILE, METRICS_FILE, TRADES_FILE, RunFolder
from quantum_trader.domain.symbols import asset_of
from quantum_trader.journal.store import DrillRecord

INCIDENT_KINDS = frozenset({"error", "unhandled_error", "exception", "incident", "liquidation", "data_outage"})
"""Event kinds that mean operations were not stable (a liquidation is an operational failure too)."""
CORRELATION_UPDATE = "correlation_update"
"""Event kind a run or journal writes each time the correlation matrix is refreshed."""
LIMIT_BREACH_KINDS = frozenset({"drift_exposure_breach", "kill_switch_trip", "limit_breach"})
"""Event kinds recording a portfolio limit reached or exceeded after entry."""


@dataclass(frozen=True)
class Evidence:
    """Tables of one run (None when the run lacks the file) plus the drills recorded in a journal."""

    source: str
    trades: pd.DataFrame | None = None
    equity: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    drills: tuple[DrillRecord, ...] = ()
    drill_source: str = ""
    files: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    """The run's metrics.json (figures the engine measured during the run, e.g. ``limits_at_fill``)."""

    def where(self, table: str) -> str:
        """Human name of a table's origin, for the evidence column."""
        return self.files.get(table, f"{self.source} ({table}: absent)")

    @classmethod
    def from_run(cls, path: str | Path, *, drills: tuple[DrillRecord, ...] = (), drill_source: str = "") -> Evidence:
        """Read a run folder; files it lacks stay None. Malformed files raise ``RunFolderError``."""
        run = RunFolder(path)
        if not run.path.is_dir():
            raise FileNotFoundError(f"{run.path}: no such run folder")
        files: dict[str, str] = {}
        tables: dict[str, pd.DataFrame | None] = {}
        for name, file, reader in (("trades", TRADES_FILE, run.trades), ("equity", EQUITY_FILE, run.equity),
                                   ("events", EVENTS_FILE, run.events)):
            if run.has(file):
                tables[name] = reader()
                files[name] = f"run {run.run_id}/{file}"
            else:
                tables[name] = None
        metrics = None
        if run.has(METRICS_FILE):
            metrics = run.metrics()
            files["metrics"] = f"run {run.run_id}/{METRICS_FILE}"
        return cls(f"run {run.run_id}", tables["trades"], tables["equity"], tables["events"], drills, drill_source,
                   files, metrics)


@dataclass(frozen=True, slots=True)
class Month:
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m")


def complete_months(equity: pd.DataFrame) -> list[Month]:
    """Calendar months (UTC) entirely covered by the equity curve, oldest first.

    Each row reports the state one sampling step after the previous one, so the curve
    covers one step before its first row (a run starting at 00:00 records its first hourly
    row at 01:00) and up to its last row; the step is the median spacing.
    """
    if equity.empty:
        return []
    ts = equity["ts"].to_numpy(np.int64)
    step = int(np.median(np.diff(ts))) if ts.size > 1 else 0
    first = pd.Timestamp(int(ts[0]) - step, unit="ms", tz="UTC")
    last = pd.Timestamp(int(ts[-1]), unit="ms", tz="UTC")
    months: list[Month] = []
    start = first.normalize().replace(day=1)
    if start < first:
        start = start + pd.offsets.MonthBegin(1)
    while True:
        end = start + pd.offsets.MonthBegin(1)
        if end > last:
            break
        months.append(Month(start, end))
        start = end
    return months


def _ms(t: pd.Timestamp) -> int:
    return int(t.value // 1_000_000)


def monthly_equity_pnl(equity: pd.DataFrame, months: list[Month]) -> list[float]:
    """Equity change over each month: last value before the month's end minus the last before its start."""
    ts = equity["ts"].to_numpy(np.int64)
    eq = equity["equity"].to_numpy(np.float64)
    out = []
    for m in months:
        i0 = int(np.searchsorted(ts, _ms(m.start), side="left")) - 1
        i1 = int(np.searchsorted(ts, _ms(m.end), side="left")) - 1
        out.append(float(eq[i1] - eq[max(i0, 0)]))
    return out


def monthly_trade_pnl(trades: pd.DataFrame, months: list[Month], asset: str | None = None) -> list[float]:
    """Net P&L of trades closed in each month, of one asset or of all."""
    # a boolean array, not a list: an empty list would select no columns instead of no rows
    chosen = trades if asset is None else trades[np.array([asset_of(s) == asset for s in trades["symbol"]], bool)]
    exits = chosen["exit_ts"].to_numpy(np.int64)
    pnl = chosen["pnl"].to_numpy(np.float64)
    return [float(pnl[(exits >= _ms(m.start)) & (exits < _ms(m.end))].sum()) for m in months]


def trailing_streak(flags: list[bool]) -> int:
    """How many of the latest months in a row satisfy the condition (promotion looks at recent evidence)."""
    n = 0
    for flag in reversed(flags):
        if not flag:
            break
        n += 1
    return n


def assets_traded(trades: pd.DataFrame, start_ms: int | None = None, end_ms: int | None = None) -> set[str]:
    """Assets with a trade open at some time in ``[start_ms, end_ms)`` (all time when unbounded)."""
    entry = trades["entry_ts"].to_numpy(np.int64)
    exit_ = trades["exit_ts"].to_numpy(np.int64)
    mask = np.ones(entry.size, dtype=bool)
    if start_ms is not None:
        mask &= exit_ >= start_ms
    if end_ms is not None:
        mask &= entry < end_ms
    return {asset_of(str(s)) for s in trades["symbol"].to_numpy()[mask]}


def events_of(events: pd.DataFrame, kinds: frozenset[str] | set[str]) -> pd.DataFrame:
    return events[events["kind"].isin(sorted(kinds))]
