"""The dashboard's source for a finished run folder (``--run``): read once, read-only, never changing.

A run folder keeps the equity curve with exposure, correlated exposure, slots by tier and drawdown at each
bar, the risk events, the closed trades, hourly closes and the correlation matrix at the end. It holds no
journal: no phase history (the policy's start phase is shown), no acknowledgeable alerts (its risk
events are listed), no kill-switch record (its trips are read from the events), no order times.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from quantum_trader.analytics.run_folder import EQUITY_FILE, METRICS_FILE, PRICES_FILE, RunFolder
from quantum_trader.config import Policy
from quantum_trader.domain.time import MS_PER_DAY, utc_day_start
from quantum_trader.monitor.figures import gate_criteria, killswitch_view
from quantum_trader.monitor.source import SourceError
from quantum_trader.monitor.views import (
    AlertItem,
    Alerts,
    Asset,
    CorrelationFrame,
    CorrelationHistory,
    FillMark,
    Gates,
    Portfolio,
    PriceChart,
    Regimes,
    RiskHistory,
    RiskPoint,
    Slots,
    TierSlots,
)

TRIP_KINDS = ("trip_daily", "trip_drawdown")


def check_run_folder(path: Path) -> Path:
    """An existing run folder (a folder holding metrics.json and equity.parquet), resolved; else one line why."""
    folder = path.expanduser().resolve()
    if not folder.is_dir():
        raise ValueError("no such folder (pass runs/<run-id> as written by `quantum-trader backtest`)")
    missing = [name for name in (METRICS_FILE, EQUITY_FILE) if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"not a run folder (it lacks {', '.join(missing)}); pass runs/<run-id>")
    return folder


def _f(value: object) -> float | None:
    x = float(value)  # type: ignore[arg-type]
    return x if math.isfinite(x) else None


def _event_text(symbol: str, message: str) -> str:
    return f"{symbol}: {message}" if symbol else message


def _sample(n: int, points: int) -> list[int]:
    if n == 0:
        return []
    keep = list(range(0, n, max(1, -(-n // points))))
    return keep if keep[-1] == n - 1 else [*keep, n - 1]


class RunFolderSource:
    def __init__(self, folder: Path, *, policy: Policy) -> None:
        self.run = RunFolder(folder)
        self.policy = policy
        self.equity = self.run.equity().sort_values("ts", kind="stable").reset_index(drop=True)
        self.events = self.run.events()
        self.trades = self.run.trades()
        self.description = f"run folder {folder} (finished, read-only)"
        self._version = (int((folder / EQUITY_FILE).stat().st_mtime_ns // 1_000_000),)

    def version(self) -> tuple[int, ...]:
        return self._version

    def _points(self, rows: pd.DataFrame) -> list[RiskPoint]:
        days = rows["ts"].to_numpy(np.int64)
        out = []
        eq = self.equity
        day_of = (eq["ts"].to_numpy(np.int64) // MS_PER_DAY) * MS_PER_DAY
        first_of_day = pd.Series(eq["equity"].to_numpy(np.float64)).groupby(day_of).first()
        for ts, row in zip(days.tolist(), rows.to_dict("records"), strict=True):
            equity = float(row["equity"])
            start = float(first_of_day.get(utc_day_start(ts), equity))
            out.append(RiskPoint(ts=ts, equity=equity, exposure=float(row["total_exposure"]),
                                 correlated_exposure=_f(row["correlated_exposure"]),
                                 daily_loss=(start - equity) / start if start > 0 else None,
                                 drawdown=max(0.0, -float(row["drawdown"])), positions=int(row["open_positions"])))
        return out

    def portfolio(self) -> Portfolio:
        eq = self.equity
        pf = self.policy.portfolio
        last = self._points(eq.tail(1))[0] if len(eq) else None
        pnl = frac = None
        if last is not None:
            before = eq[eq["ts"] <= last.ts - MS_PER_DAY]
            base = float(before["equity"].iloc[-1]) if len(before) else float(eq["equity"].iloc[0])
            pnl, frac = last.equity - base, (last.equity - base) / base if base > 0 else None
        trips = self.events[self.events["kind"].isin(TRIP_KINDS)]
        ks = killswitch_view(self.policy, None, last.equity if last else None, last.ts if last else None,
                             last.daily_loss if last else None, last.drawdown if last else None)
        if len(trips):
            ks = ks.model_copy(update={"tripped": True, "what": str(trips["kind"].iloc[-1]).replace("trip_", ""),
                                       "reason": str(trips["message"].iloc[-1]), "since": int(trips["ts"].iloc[-1]),
                                       "source": "the run's risk events"})
        gates = self.gates()
        return Portfolio(
            ts=last.ts if last else None, equity=last.equity if last else None,
            exposure=last.exposure if last else None, exposure_limit=pf.max_total_exposure,
            exposure_alert=self.policy.dashboard.alerts.portfolio_exposure_above,
            correlated_exposure=last.correlated_exposure if last else None,
            correlated_limit=pf.max_correlated_exposure, pnl_24h=pnl, pnl_24h_fraction=frac,
            positions=last.positions if last else 0, max_positions=pf.max_positions, slots=self._slots(),
            killswitch=ks, phase=gates.phase, phase_name=gates.phase_name, next_gate=gates.next_gate,
            open_alerts=0, feed_lag_ms=None, source=self.description)

    def _slots(self) -> Slots:
        alloc = self.policy.position_slots.allocation_by_tier
        limits = {1: alloc.tier_1.reserved_slots, 2: alloc.tier_2.max_slots, 3: alloc.tier_3.max_slots}
        row = self.equity.iloc[-1] if len(self.equity) else None
        tiers = [TierSlots(tier=t, used=int(row[f"slots_tier_{t}"]) if row is not None else 0, limit=limits[t],
                           assets=[]) for t in (1, 2, 3)]
        return Slots(total=self.policy.position_slots.total_slots, used=sum(t.used for t in tiers),
                     reserved_tier_1=alloc.tier_1.reserved_slots, tiers=tiers)

    def risk_history(self, since: int | None, until: int | None, points: int) -> RiskHistory:
        eq = self.equity
        if since is not None:
            eq = eq[eq["ts"] >= since]
        if until is not None:
            eq = eq[eq["ts"] <= until]
        return RiskHistory(points=self._points(eq.iloc[_sample(len(eq), points)]))

    def correlation_history(self, frames: int) -> CorrelationHistory:
        try:
            matrix = self.run.correlation()
        except ValueError:
            return CorrelationHistory(frames=[])
        values = matrix.to_numpy(np.float64)
        n = values.shape[0]
        upper = values[np.triu_indices(n, k=1)] if n > 1 else np.empty(0)
        finite = upper[np.isfinite(upper)]
        ts = int(self.equity["ts"].iloc[-1]) if len(self.equity) else 0
        return CorrelationHistory(frames=[CorrelationFrame(
            ts=ts, symbols=[str(s) for s in matrix.index], matrix=np.nan_to_num(values).tolist(),
            mean=float(finite.mean()) if finite.size else None)])

    def assets(self) -> list[Asset]:
        """A finished run holds no open position (its last bar closed them): none to show."""
        return []

    def regimes(self) -> Regimes:
        """A run folder keeps no regime (a session's journal does): none to show."""
        return Regimes(ts=None, items=[])

    def price_chart(self, symbol: str, points: int) -> PriceChart:
        if not self.run.has(PRICES_FILE):
            raise SourceError(f"{self.run.path}: no {PRICES_FILE} (a run written before prices were kept)")
        prices = self.run.prices()
        mine = prices[prices["symbol"] == symbol].sort_values("ts")
        if mine.empty:
            raise SourceError(f"symbol {symbol}: not in {self.run.path / PRICES_FILE}")
        keep = _sample(len(mine), points)
        trades = self.trades[self.trades["symbol"] == symbol]
        marks = []
        for t in trades.to_dict("records"):
            buy = str(t["side"]) == "long"
            marks.append(FillMark(ts=int(t["entry_ts"]), side="buy" if buy else "sell", price=float(t["entry_price"]),
                                  quantity=float(t["quantity"]), kind="entry", tag=str(t["signal"])))
            marks.append(FillMark(ts=int(t["exit_ts"]), side="sell" if buy else "buy", price=float(t["exit_price"]),
                                  quantity=float(t["quantity"]), kind="exit", tag=str(t["exit_reason"])))
        return PriceChart(symbol=symbol, ts=[int(x) for x in mine["ts"].iloc[keep]],
                          close=[float(x) for x in mine["close"].iloc[keep]], source=str(self.run.path / PRICES_FILE),
                          fills=marks)

    def alerts(self, limit: int) -> Alerts:
        ev = self.events.reset_index(drop=True)
        counts = {str(k): int(v) for k, v in ev["kind"].value_counts().items()}
        newest = ev.iloc[::-1].head(limit)
        items = [AlertItem(id=int(i) + 1, ts=int(r["ts"]), kind=str(r["kind"]),
                           severity="critical" if str(r["kind"]) in TRIP_KINDS else "info",
                           message=_event_text(str(r["symbol"]), str(r["message"])), category="event")
                 for i, r in zip(newest.index, newest.to_dict("records"), strict=True)]
        return Alerts(items=items, counts=counts)

    def alert_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.events["kind"].value_counts().items()}

    def gates(self) -> Gates:
        return gate_criteria(self.policy, self.policy.expansion.start_phase)

    def order_latencies_ms(self) -> list[float]:
        return []
