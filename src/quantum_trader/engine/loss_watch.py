"""Where, in a stretch of bar closes, the loss limits are first reached: the kill switch and the asset locks.

Inside a stretch without events positions and cash are constant, so equity at every close
is one vectorised expression of the marks, and the first close where the day's loss, the
drawdown or an asset's day loss reaches its limit is found without visiting bars one by one
(``window.scan_window_equity`` with the positions' price levels left to the venue). Visiting
a single bar is the same call over one row.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from quantum_trader.domain.market import F64
from quantum_trader.engine.window import (
    PRIORITY,
    AccountFigures,
    HeldPosition,
    WindowEvent,
    WindowEventKind,
    scan_window_equity,
)
from quantum_trader.portfolio import LedgerState
from quantum_trader.risk import CompiledLimits, KillSwitchState

_ZERO = Decimal(0)
_ASSET_PRIORITY = PRIORITY[WindowEventKind.ASSET_DAILY_LOSS]
_DAILY_PRIORITY = PRIORITY[WindowEventKind.KILL_DAILY]
_DRAWDOWN_PRIORITY = PRIORITY[WindowEventKind.KILL_DRAWDOWN]


def held_positions(ledger: LedgerState, column: dict[str, int]) -> tuple[HeldPosition, ...]:
    """The ledger's positions as the scan reads them (their stops and targets rest at the venue)."""
    return tuple(
        HeldPosition(column=column[s], quantity=float(p.quantity), entry_price=float(p.entry_price),
                     stop_price=None, liquidation_price=None,
                     day_realised=float(ledger.day_realised.get(s, _ZERO)),
                     day_start_unrealised=float(ledger.day_start_unrealised.get(s, _ZERO)))
        for s, p in ledger.positions.items()
    )


def account(ledger: LedgerState, limits: CompiledLimits, switch: KillSwitchState,
            peak_seen: float = 0.0) -> AccountFigures:
    """The account's figures and the limits still to watch (a tripped switch has nothing more to find there)."""
    f = ledger.figures
    return AccountFigures(cash=float(ledger.cash), day_start_equity=f.day_start_equity,
                          peak_equity=max(f.peak_equity, peak_seen),
                          max_daily_loss=np.inf if switch.daily_tripped else limits.daily_loss_portfolio,
                          max_drawdown=np.inf if switch.drawdown_tripped else limits.drawdown,
                          max_daily_loss_per_asset=limits.daily_loss_asset)


def first_breach(start: int, stop: int, high: F64, low: F64, mark: F64, held: tuple[HeldPosition, ...],
                 ledger: LedgerState, limits: CompiledLimits, switch: KillSwitchState, peak_seen: float = 0.0
                 ) -> tuple[WindowEvent | None, F64]:
    """The first close in rows [start, stop) where a loss limit is reached, and equity at every close.

    Flat, equity cannot move: the only breach is one the last fills already realised (a stop
    that emptied the book past the day's limit), found at the first close.
    """
    if stop <= start:
        return None, np.empty(0)
    figures = account(ledger, limits, switch, peak_seen)
    if not held:
        f = ledger.figures
        equity = np.full(stop - start, f.equity)
        daily = f.equity - f.day_start_equity <= -figures.max_daily_loss * f.day_start_equity
        drawdown = figures.peak_equity - f.equity >= figures.max_drawdown * figures.peak_equity
        if daily or drawdown:
            kind = WindowEventKind.KILL_DAILY if daily else WindowEventKind.KILL_DRAWDOWN
            return WindowEvent(row=start, kind=kind, column=-1, equity=f.equity), equity
        return None, equity
    if stop - start == 1 and all(p.stop_price is None and p.liquidation_price is None and p.target_price is None
                                 for p in held):
        return _one_close(start, mark, held, figures)
    return scan_window_equity(start, stop, high, low, mark, held, figures)


def _one_close(row: int, mark: F64, held: tuple[HeldPosition, ...], account: AccountFigures
               ) -> tuple[WindowEvent | None, F64]:
    """``scan_window_equity`` over the single close of ``row`` (every processed bar asks for one), in plain
    floats: the same operations in the same order as the vectorised scan, without its per-call cost."""
    candidates: list[tuple[int, int, WindowEventKind, int]] = []
    unrealised = 0.0
    for pos in held:
        pnl = pos.quantity * (float(mark[row, pos.column]) - pos.entry_price)
        unrealised += pnl
        asset_day = pos.day_realised + pnl - pos.day_start_unrealised
        if asset_day <= -account.max_daily_loss_per_asset * account.day_start_equity:
            candidates.append((0, _ASSET_PRIORITY, WindowEventKind.ASSET_DAILY_LOSS, pos.column))
    equity = account.cash + unrealised
    if equity <= account.day_start_equity * (1.0 - account.max_daily_loss):
        candidates.append((0, _DAILY_PRIORITY, WindowEventKind.KILL_DAILY, -1))
    peak = account.peak_equity
    # np.maximum: NaN wins
    peak = peak if peak != peak else equity if equity != equity or equity > peak else peak
    if equity <= peak * (1.0 - account.max_drawdown):
        candidates.append((0, _DRAWDOWN_PRIORITY, WindowEventKind.KILL_DRAWDOWN, -1))
    closes = np.array([equity])
    if not candidates:
        return None, closes
    _, _, kind, column = min(candidates)
    return WindowEvent(row=row, kind=kind, column=column, equity=equity), closes
