"""Where a resting stop or target fills inside a bar, honestly.

Rules (the conservative conventions of a careful backtest):
- a stop that the bar OPENS beyond (a gap) fills at the open, not at the stop;
- a stop touched inside the bar fills at the stop price (slippage is added by the caller);
- a take-profit fills at its price, even when the bar opens beyond it: a resting limit
  was in the book while the price travelled from the last close to that open (crypto
  trades around the clock), so it was taken at its own price on the way. A gap is
  still named (``target_gap``) so a report can show it;
- when one bar touches both the stop and the target, the stop is assumed first unless a
  finer timeframe says otherwise (see ``first_touch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from quantum_trader.domain.market import F64


class ExitKind(StrEnum):
    STOP = "stop"
    STOP_GAP = "stop_gap"
    TARGET = "target"
    TARGET_GAP = "target_gap"


@dataclass(frozen=True, slots=True)
class BarExit:
    kind: ExitKind
    price: float


def stop_fill(long: bool, stop: float, bar_open: float, bar_high: float, bar_low: float) -> BarExit | None:
    """The fill of a position's protective stop in one bar, or None if untouched."""
    if long:
        if bar_open <= stop:
            return BarExit(ExitKind.STOP_GAP, bar_open)
        if bar_low <= stop:
            return BarExit(ExitKind.STOP, stop)
        return None
    if bar_open >= stop:
        return BarExit(ExitKind.STOP_GAP, bar_open)
    if bar_high >= stop:
        return BarExit(ExitKind.STOP, stop)
    return None


def target_fill(long: bool, target: float, bar_open: float, bar_high: float, bar_low: float) -> BarExit | None:
    if long:
        if bar_open >= target:
            return BarExit(ExitKind.TARGET_GAP, target)
        if bar_high >= target:
            return BarExit(ExitKind.TARGET, target)
        return None
    if bar_open <= target:
        return BarExit(ExitKind.TARGET_GAP, target)
    if bar_low <= target:
        return BarExit(ExitKind.TARGET, target)
    return None


def resolve_bar(
    long: bool,
    stop: float | None,
    target: float | None,
    bar_open: float,
    bar_high: float,
    bar_low: float,
    finer: tuple[F64, F64, F64] | None = None,
) -> BarExit | None:
    """The exit of a bar for a position with an optional stop and target.

    ``finer`` is (open, high, low) of the finer bars inside this one, when the catalog
    has them: they decide which level was touched first. Without them the stop wins.
    """
    s = stop_fill(long, stop, bar_open, bar_high, bar_low) if stop is not None else None
    t = target_fill(long, target, bar_open, bar_high, bar_low) if target is not None else None
    if s is None or t is None:
        return s or t
    if s.kind is ExitKind.STOP_GAP or t.kind is ExitKind.TARGET_GAP:
        return s if s.kind is ExitKind.STOP_GAP else t
    if finer is not None:
        first = first_touch(long, stop, target, *finer)  # type: ignore[arg-type]
        if first is not None:
            return first
    return s


def first_touch(long: bool, stop: float, target: float, opens: F64, highs: F64, lows: F64) -> BarExit | None:
    """Walk finer bars in order; the first that touches either level decides (stop first within one)."""
    for o, h, lo in zip(opens, highs, lows, strict=True):
        exit_ = resolve_bar(long, stop, target, float(o), float(h), float(lo))
        if exit_ is not None:
            return exit_
    return None


def first_stop_index(long: bool, stop: float, highs: F64, lows: F64) -> int:
    """Index of the first bar whose range reaches ``stop``, or -1: one vectorised scan.

    The engine uses this to jump between decision points instead of visiting every
    minute in Python.
    """
    hit = lows <= stop if long else highs >= stop
    idx = int(np.argmax(hit))
    return idx if hit.size and bool(hit[idx]) else -1
