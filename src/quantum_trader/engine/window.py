"""Between two decisions, find the first thing that must happen, in one vectorised pass.

The replay does not visit every 1m bar in Python. Between two processed bars it asks
this module for the earliest close where a loss limit is reached: an asset's loss for the
UTC day (flatten and lock) or the portfolio's day loss or drawdown (the kill switch).
Nothing happened -> the whole window is skipped; something happened -> the kernel handles
it at that bar and the scan goes on from the next. The bar-by-bar replay (``jump=False``)
and the paced paper driver call the same scan with a one-bar window, so every mode takes
the very same decisions (stops, take-profits and liquidations are the venue's scans,
``venues.simulated.book``).

Equity inside the window is marked at bar closes (the mark the kill switch is defined
on); stops and liquidations are tested against bar highs and lows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from quantum_trader.domain.market import F64
from quantum_trader.domain.slot_init import slot_init


class WindowEventKind(StrEnum):
    STOP = "stop"
    LIQUIDATION = "liquidation"
    TARGET = "target"
    ASSET_DAILY_LOSS = "asset_daily_loss"
    KILL_DAILY = "kill_switch_daily"
    KILL_DRAWDOWN = "kill_switch_drawdown"


# Lower sorts first when two events fall on the same bar: a stop or liquidation fills
# inside the bar, before the close at which losses are measured. (One position's stop
# and liquidation on the same bar are ordered by price, in ``scan_window``.)
PRIORITY = {
    WindowEventKind.LIQUIDATION: 0,
    WindowEventKind.STOP: 1,
    WindowEventKind.ASSET_DAILY_LOSS: 2,
    WindowEventKind.KILL_DRAWDOWN: 3,
    WindowEventKind.KILL_DAILY: 4,
    WindowEventKind.TARGET: 5,
}


@slot_init
@dataclass(frozen=True, slots=True)
class HeldPosition:
    """What the scan needs of one position, in floats (the ledger stays exact elsewhere)."""

    column: int
    quantity: float
    """Signed, base units."""
    entry_price: float
    stop_price: float | None
    liquidation_price: float | None
    day_realised: float
    """This asset's realised P&L today, net of costs."""
    day_start_unrealised: float
    target_price: float | None = None
    target_row: int = 0
    """First grid row where the take-profit may fill: on the bar a limit entry filled in,
    the high (a long's) may have come before the fill."""


@slot_init
@dataclass(frozen=True, slots=True)
class AccountFigures:
    cash: float
    day_start_equity: float
    peak_equity: float
    max_daily_loss: float
    """Portfolio day loss that trips the kill switch, as a fraction (0.05)."""
    max_drawdown: float
    max_daily_loss_per_asset: float


@slot_init
@dataclass(frozen=True, slots=True)
class WindowEvent:
    row: int
    """Absolute grid row of the bar where it happens."""
    kind: WindowEventKind
    column: int
    """Grid column of the asset concerned; -1 for portfolio events."""
    equity: float
    """Equity marked at that bar's close."""


def _first(mask: np.ndarray) -> int:
    if mask.size == 0:
        return -1
    idx = int(np.argmax(mask))
    return idx if bool(mask[idx]) else -1


def _level_event(pos: HeldPosition, hi: F64, lo: F64, start: int = 0) -> tuple[int, WindowEventKind] | None:
    """The first bar (offset) where one of the position's price levels is reached, and which.

    The earlier bar wins; within one bar, the adverse level nearer the price is crossed
    first (a long's higher level, a short's lower one). A take-profit counts only on a bar
    before any adverse level: on a bar touching both, the conservative path (the stop
    first) is assumed.
    """
    long = pos.quantity > 0
    hits: list[tuple[int, float, WindowEventKind]] = []
    for level, kind in ((pos.stop_price, WindowEventKind.STOP),
                        (pos.liquidation_price, WindowEventKind.LIQUIDATION)):
        if level is None:
            continue
        hit = _first(lo <= level) if long else _first(hi >= level)
        if hit >= 0:
            hits.append((hit, level, kind))
    first = min(hits, key=lambda h: (h[0], -h[1] if long else h[1])) if hits else None
    if pos.target_price is not None:
        skip = max(0, pos.target_row - start)
        target = _first(hi[skip:] >= pos.target_price) if long else _first(lo[skip:] <= pos.target_price)
        target = target + skip if target >= 0 else -1
        if target >= 0 and (first is None or target < first[0]):
            return target, WindowEventKind.TARGET
    return None if first is None else (first[0], first[2])


def scan_window(
    start: int,
    stop: int,
    high: F64,
    low: F64,
    mark: F64,
    positions: tuple[HeldPosition, ...],
    account: AccountFigures,
) -> WindowEvent | None:
    """The earliest event in grid rows [start, stop), or None.

    ``high``/``low``/``mark`` are the grid's full (T, N) arrays; only the window is read.
    """
    return scan_window_equity(start, stop, high, low, mark, positions, account)[0]


def scan_window_equity(
    start: int,
    stop: int,
    high: F64,
    low: F64,
    mark: F64,
    positions: tuple[HeldPosition, ...],
    account: AccountFigures,
) -> tuple[WindowEvent | None, F64]:
    """``scan_window``, and the account's equity at every bar close of the window.

    The scan needs that equity for the loss limits anyway; the equity curve takes its
    highs and lows from it, so drawdowns are measured at every bar close, not only at
    the sampled rows.
    """
    if stop <= start:
        return None, np.empty(0)
    n = stop - start
    if all(p.stop_price is None and p.liquidation_price is None and p.target_price is None for p in positions):
        if len(positions) > 1:
            return _scan_block(start, stop, mark, positions, account)
        if n <= _SMALL:
            return _scan_in_floats(start, stop, mark, positions, account)
    return _scan_vectorised(start, stop, high, low, mark, positions, account)


def _scan_vectorised(start: int, stop: int, high: F64, low: F64, mark: F64, positions: tuple[HeldPosition, ...],
                     account: AccountFigures) -> tuple[WindowEvent | None, F64]:
    n = stop - start
    candidates: list[tuple[int, int, WindowEventKind, int]] = []
    unrealised = np.zeros(n)
    for pos in positions:
        level = _level_event(pos, high[start:stop, pos.column], low[start:stop, pos.column], start)
        if level is not None:
            candidates.append((level[0], PRIORITY[level[1]], level[1], pos.column))
        pnl = pos.quantity * (mark[start:stop, pos.column] - pos.entry_price)
        unrealised += pnl
        asset_day = pos.day_realised + pnl - pos.day_start_unrealised
        hit = _first(asset_day <= -account.max_daily_loss_per_asset * account.day_start_equity)
        if hit >= 0:
            candidates.append((hit, PRIORITY[WindowEventKind.ASSET_DAILY_LOSS],
                               WindowEventKind.ASSET_DAILY_LOSS, pos.column))
    return _portfolio_scan(start, account.cash + unrealised, account, candidates)


def _portfolio_scan(start: int, equity: F64, account: AccountFigures,
                    candidates: list[tuple[int, int, WindowEventKind, int]]) -> tuple[WindowEvent | None, F64]:
    """The portfolio's limits over the window's equity, and the earliest of every event found."""
    hit = _first(equity <= account.day_start_equity * (1.0 - account.max_daily_loss))
    if hit >= 0:
        candidates.append((hit, PRIORITY[WindowEventKind.KILL_DAILY], WindowEventKind.KILL_DAILY, -1))
    peaks = np.maximum(account.peak_equity, np.maximum.accumulate(equity))
    hit = _first(equity <= peaks * (1.0 - account.max_drawdown))
    if hit >= 0:
        candidates.append((hit, PRIORITY[WindowEventKind.KILL_DRAWDOWN], WindowEventKind.KILL_DRAWDOWN, -1))
    if not candidates:
        return None, equity
    offset, _, kind, column = min(candidates)
    return WindowEvent(row=start + offset, kind=kind, column=column, equity=float(equity[offset])), equity


def _scan_block(start: int, stop: int, mark: F64, positions: tuple[HeldPosition, ...],
                account: AccountFigures) -> tuple[WindowEvent | None, F64]:
    """``_scan_vectorised`` for a book of several positions and no price level to find: each operation over the
    (rows, positions) block of their marks at once, instead of once per position. Element by element the same
    operations (the P&L summed over positions in their order), so the same event and the same equity."""
    block = mark[start:stop, [p.column for p in positions]]
    pnl = np.array([p.quantity for p in positions]) * (block - np.array([p.entry_price for p in positions]))
    unrealised = np.zeros(stop - start)
    for j in range(len(positions)):
        unrealised += pnl[:, j]
    asset_day = (np.array([p.day_realised for p in positions]) + pnl) - np.array(
        [p.day_start_unrealised for p in positions])
    hits = asset_day <= -account.max_daily_loss_per_asset * account.day_start_equity
    candidates: list[tuple[int, int, WindowEventKind, int]] = []
    if hits.any():
        first = hits.argmax(axis=0).tolist()
        for j, hit in enumerate(hits.any(axis=0).tolist()):
            if hit:
                candidates.append((first[j], _ASSET_DAILY, WindowEventKind.ASSET_DAILY_LOSS, positions[j].column))
    return _portfolio_scan(start, account.cash + unrealised, account, candidates)


_SMALL = 256
"""Windows of at most this many closes, with no price level to find (the loss limits alone), are scanned in
plain floats: an hour of 1m closes between two decisions costs more in NumPy's calls than in arithmetic."""
_ASSET_DAILY = PRIORITY[WindowEventKind.ASSET_DAILY_LOSS]
_DAILY = PRIORITY[WindowEventKind.KILL_DAILY]
_DRAWDOWN = PRIORITY[WindowEventKind.KILL_DRAWDOWN]


def _scan_in_floats(start: int, stop: int, mark: F64, positions: tuple[HeldPosition, ...],
                    account: AccountFigures) -> tuple[WindowEvent | None, F64]:
    """``scan_window_equity`` without price levels, element by element: the same operations in the same order
    (NaN carried by the running peak as ``np.maximum`` carries it), so the same event and the same equity."""
    n = stop - start
    candidates: list[tuple[int, int, WindowEventKind, int]] = []
    unrealised = [0.0] * n
    asset_floor = -account.max_daily_loss_per_asset * account.day_start_equity
    for pos in positions:
        quantity, entry = pos.quantity, pos.entry_price
        realised, baseline = pos.day_realised, pos.day_start_unrealised
        pnl = [quantity * (price - entry) for price in mark[start:stop, pos.column].tolist()]
        unrealised = [u + p for u, p in zip(unrealised, pnl, strict=True)]
        # a sum grows with its terms: above the floor at the lowest P&L, above it everywhere
        if not realised + min(pnl) - baseline > asset_floor:
            first = next((k for k, p in enumerate(pnl) if realised + p - baseline <= asset_floor), -1)
            if first >= 0:
                candidates.append((first, _ASSET_DAILY, WindowEventKind.ASSET_DAILY_LOSS, pos.column))
    cash = account.cash
    equity = [cash + u for u in unrealised]
    daily, drawdown = _portfolio_hits(equity, account)
    if daily >= 0:
        candidates.append((daily, _DAILY, WindowEventKind.KILL_DAILY, -1))
    if drawdown >= 0:
        candidates.append((drawdown, _DRAWDOWN, WindowEventKind.KILL_DRAWDOWN, -1))
    closes = np.array(equity)
    if not candidates:
        return None, closes
    offset, _, kind, column = min(candidates)
    return WindowEvent(row=start + offset, kind=kind, column=column, equity=equity[offset]), closes


def _portfolio_hits(equity: list[float], account: AccountFigures) -> tuple[int, int]:
    """The first close reaching the day's loss and the first reaching the drawdown (-1: none), as the vectorised
    scan finds them (its running peak is ``np.maximum(peak_equity, np.maximum.accumulate(equity))``)."""
    daily_floor = account.day_start_equity * (1.0 - account.max_daily_loss)
    keep = 1.0 - account.max_drawdown
    peak_before = account.peak_equity
    lowest = min(equity)
    if lowest == lowest and lowest > daily_floor and keep >= 0.0:  # (no NaN: min() would not see one first)
        highest = max(equity)
        peak = highest if highest > peak_before else peak_before
        # every close above the floor, and above the highest peak's drawdown floor: no hit (products grow
        # with their factors)
        if not any(value != value for value in equity) and peak_before == peak_before and lowest > peak * keep:
            return -1, -1
    daily = drawdown = -1
    running = equity[0]
    for k, value in enumerate(equity):
        if daily < 0 and value <= daily_floor:
            daily = k
        if k and running == running and (value != value or value > running):
            running = value  # np.maximum.accumulate: the larger, NaN once met
        # np.maximum(peak_before, running): NaN wins
        if running != running or not (peak_before != peak_before or peak_before > running):
            peak = running
        else:
            peak = peak_before
        if drawdown < 0 and value <= peak * keep:
            drawdown = k
    return daily, drawdown
