"""What a stress run did to the account, read from the run's own records.

Every figure is measured from the scenario's start (``Window.start_ms``) to a horizon after
its last injected change, so that what the strategy did weeks earlier or later does not
count for or against the scenario. Losses are positive fractions:

- worst loss: from the equity at the start to the lowest equity in the window;
- drawdown: from the peak (whenever it was) to the lowest point in the window, as the kill
  switch measures it; the whole run's maximum is kept too;
- day loss: from the UTC day's start equity to its lowest, on each day the window touches
  (what the -5% daily kill switch watches);
- a trade's loss: its net P&L against the equity when it opened (the 2% risk budget's base);
- an asset's loss: the P&L of its trades from the start on (a trade opened before the start
  counts from its mark then), against the equity at the start.

The equity curve keeps every bar close's extremes (``engine.recorder``), so the lowest
equity and the deepest drawdown read here are those at every close, not hourly samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantum_trader.analytics.stress.compose import EngineRun, ExitFill
from quantum_trader.domain.time import MS_PER_DAY


@dataclass(frozen=True, slots=True)
class Window:
    start_ms: int
    end_ms: int
    """When the last injected change is over."""
    until_ms: int
    """The end of the measuring window (the horizon after ``end_ms``, at most the end of the data)."""


@dataclass(frozen=True, slots=True)
class TradeLoss:
    symbol: str
    side: str
    entry_ts: int
    exit_ts: int
    loss: float
    """Net loss as a fraction of the equity when the trade opened (negative: a gain)."""
    planned: float
    """Its planned loss at the stop, same base."""
    stop: float
    exit_price: float
    reason: str


@dataclass(frozen=True, slots=True)
class Trip:
    ts: int
    kind: str
    """'daily' or 'drawdown'."""
    figure: float
    """The loss the switch saw when it tripped (positive fraction)."""
    message: str


@dataclass(frozen=True)
class Figures:
    equity_at_start: float
    worst_loss: float
    max_drawdown: float
    """The whole run's deepest drawdown."""
    window_drawdown: float
    worst_day_loss: float
    worst_day: int | None
    """Start (epoch ms) of the UTC day with the deepest loss in the window."""
    trip: Trip | None
    exits: tuple[ExitFill, ...]
    trade_losses: tuple[TradeLoss, ...]
    """Trades closed in the window, worst first."""
    asset_losses: dict[str, float]
    exposure_at_start: float
    """Total exposure (notional / equity) held when the scenario began."""
    net_at_start: float
    """Signed notional held then (long minus short) over equity: which way the book leaned."""
    correlated_exposure: float
    """The largest correlated exposure the kernel measured in the window (its own matrix)."""
    gross_exposure: float
    """The largest total exposure in the window: every position's share when every pair moves as one."""
    gross_risk: float
    """The largest sum of held positions' risk at their stops over equity in the window (the spec's
    ``risk_amount`` measure of the same)."""
    locks: tuple[str, ...]
    """Assets the per-asset daily limit flattened and locked in the window."""
    as_one: bool = False
    """Every pair moved as one in the window (correlation forced to 1): the true correlated exposure is the gross."""

    def correlated(self, measure: str) -> float:
        """The correlated exposure the limit is about: the gross (notional or risk) when everything moved as one,
        else what the kernel measured with its own matrix."""
        if not self.as_one:
            return self.correlated_exposure
        return self.gross_risk if measure == "risk_amount" else self.gross_exposure

    @property
    def worst_exit(self) -> ExitFill | None:
        return max(self.exits, key=lambda e: e.total, default=None)

    @property
    def worst_exit_slippage(self) -> float:
        worst = self.worst_exit
        return 0.0 if worst is None else max(worst.total, 0.0)

    @property
    def worst_trade(self) -> TradeLoss | None:
        return self.trade_losses[0] if self.trade_losses else None

    @property
    def worst_asset(self) -> tuple[str, float] | None:
        if not self.asset_losses:
            return None
        symbol = max(self.asset_losses, key=lambda s: self.asset_losses[s])
        return symbol, self.asset_losses[symbol]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as plain dicts (what a loop over a few trades reads most simply)."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _equity_before(equity: pd.DataFrame, ts: int, initial: float) -> float:
    """The last equity recorded strictly before ``ts``: a row at ``ts`` itself may already hold fills at that
    bar's open (a gap's stops)."""
    rows = equity.loc[equity["ts"] < ts, "equity"]
    return float(rows.iloc[-1]) if len(rows) else initial


def _day_losses(equity: pd.DataFrame, window: Window, initial: float) -> tuple[float, int | None]:
    worst, worst_day = 0.0, None
    first = window.start_ms - window.start_ms % MS_PER_DAY
    for day in range(first, window.until_ms + 1, MS_PER_DAY):
        base = _equity_before(equity, day, initial)
        inside = equity.loc[(equity["ts"] >= day) & (equity["ts"] <= day + MS_PER_DAY), "equity"]
        if not len(inside) or not base > 0:
            continue
        loss = 1.0 - float(inside.min()) / base
        if loss > worst:
            worst, worst_day = loss, day
    return worst, worst_day


def _trip(events: pd.DataFrame, window: Window) -> Trip | None:
    trips = events[(events["kind"] == "kill_switch_trip") & (events["ts"] >= window.start_ms)
                   & (events["ts"] <= window.until_ms)]
    if trips.empty:
        return None
    first = trips.iloc[0]
    message = str(first["message"])
    kind = "daily" if message.startswith("portfolio down") else "drawdown"
    return Trip(int(first["ts"]), kind, -float(first["value"]), message)


def _trade_losses(trades: pd.DataFrame, window: Window) -> tuple[TradeLoss, ...]:
    closed = trades[(trades["exit_ts"] >= window.start_ms) & (trades["exit_ts"] <= window.until_ms)]
    out = [
        TradeLoss(str(t["symbol"]), str(t["side"]), int(t["entry_ts"]), int(t["exit_ts"]),
                  -float(t["pnl"]) / float(t["equity_at_entry"]),
                  float(t["planned_risk"]) / float(t["equity_at_entry"]), float(t["stop"]), float(t["exit_price"]),
                  str(t["exit_reason"]))
        for t in records(closed) if float(t["equity_at_entry"]) > 0
    ]
    return tuple(sorted(out, key=lambda x: -x.loss))


def _asset_losses(run: EngineRun, window: Window, base: float) -> dict[str, float]:
    trades = run.trades
    hit = trades[(trades["exit_ts"] >= window.start_ms) & (trades["entry_ts"] <= window.until_ms)]
    grid = run.grid
    row = int(np.searchsorted(grid.ts, window.start_ms, side="left")) - 1
    out: dict[str, float] = {}
    for t in records(hit):
        symbol = str(t["symbol"])
        pnl = float(t["pnl"])
        if int(t["entry_ts"]) < window.start_ms and row >= 0:  # what it had made or lost before the scenario
            mark = float(grid.mark[row, grid.index(symbol)])
            sign = 1.0 if str(t["side"]) == "long" else -1.0
            if np.isfinite(mark):
                pnl -= (mark - float(t["entry_price"])) * float(t["quantity"]) * sign
        out[symbol] = out.get(symbol, 0.0) - pnl / base
    return out


def _held_at(trades: pd.DataFrame, ts: int) -> pd.DataFrame:
    """Trades held when ``ts`` began (one the shock's first bar closed is among them)."""
    return trades[(trades["entry_ts"] < ts) & (trades["exit_ts"] >= ts)]


def _gross_risk(trades: pd.DataFrame, inside: pd.DataFrame) -> float:
    """Largest (sum of held trades' planned risk) / equity at the window's equity rows."""
    if inside.empty or trades.empty:
        return 0.0
    ts = inside["ts"].to_numpy(dtype=np.int64)[:, None]
    held = (trades["entry_ts"].to_numpy(dtype=np.int64)[None, :] <= ts) & (
        trades["exit_ts"].to_numpy(dtype=np.int64)[None, :] > ts)
    risk = held @ trades["planned_risk"].to_numpy(dtype=float)
    equity = inside["equity"].to_numpy(dtype=float)
    return float(np.max(np.where(equity > 0, risk / np.where(equity > 0, equity, 1.0), 0.0)))


def measure(run: EngineRun, window: Window, *, as_one: bool = False) -> Figures:
    """The figures of one run over the window (see the module docstring); ``as_one``: the scenario forced every
    pair's correlation to 1 there."""
    equity, events = run.equity, run.events
    start_equity = _equity_before(equity, window.start_ms, run.initial_equity)
    inside = equity[(equity["ts"] >= window.start_ms) & (equity["ts"] <= window.until_ms)]
    lowest = float(inside["equity"].min()) if len(inside) else start_equity
    worst_day, day = _day_losses(equity, window, run.initial_equity)
    held = _held_at(run.trades, window.start_ms)
    signed = np.where(held["side"] == "long", 1.0, -1.0) * held["notional_at_entry"].to_numpy(dtype=float)
    locks = events[(events["kind"] == "asset_lock") & (events["ts"] >= window.start_ms)
                   & (events["ts"] <= window.until_ms)]
    return Figures(
        equity_at_start=start_equity,
        worst_loss=max(0.0, 1.0 - lowest / start_equity) if start_equity > 0 else 0.0,
        max_drawdown=max(0.0, -float(equity["drawdown"].min())) if len(equity) else 0.0,
        window_drawdown=max(0.0, -float(inside["drawdown"].min())) if len(inside) else 0.0,
        worst_day_loss=worst_day, worst_day=day, trip=_trip(events, window),
        exits=tuple(e for e in run.exits if window.start_ms <= e.ts <= window.until_ms),
        trade_losses=_trade_losses(run.trades, window),
        asset_losses=_asset_losses(run, window, start_equity) if start_equity > 0 else {},
        exposure_at_start=float(np.abs(signed).sum()) / start_equity if start_equity > 0 else 0.0,
        net_at_start=float(signed.sum()) / start_equity if start_equity > 0 else 0.0,
        correlated_exposure=float(inside["correlated_exposure"].max()) if len(inside) else 0.0,
        gross_exposure=float(inside["total_exposure"].max()) if len(inside) else 0.0,
        gross_risk=_gross_risk(run.trades, inside),
        locks=tuple(str(s) for s in locks["symbol"]), as_one=as_one,
    )
