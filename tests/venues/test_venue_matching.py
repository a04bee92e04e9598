"""A bar that touches both the stop and the target: finer bars decide which came first.

Without finer data the stop is assumed first (the conservative convention); with the
minutes inside the hour, the first minute to reach a level decides, a minute gapping
through the stop fills at that minute's open, and a minute touching both is still a stop.
"""

from __future__ import annotations

import numpy as np
import pytest

from quantum_trader.domain.market import BarSeries
from quantum_trader.venues.simulated.matching import BarExit, ExitKind, resolve_bar


def _finer(*bars: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(open, high, low) rows of the finer bars."""
    arr = np.array(bars, dtype=np.float64)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def test_without_finer_bars_the_stop_is_assumed_first() -> None:
    assert resolve_bar(True, 95.0, 110.0, 100.0, 111.0, 94.0) == BarExit(ExitKind.STOP, 95.0)
    assert resolve_bar(False, 105.0, 90.0, 100.0, 106.0, 89.0) == BarExit(ExitKind.STOP, 105.0)


def test_finer_bars_confirm_the_stop_came_first() -> None:
    finer = _finer((100, 100.5, 94.0), (95, 111, 95))
    assert resolve_bar(True, 95.0, 110.0, 100.0, 111.0, 94.0, finer=finer) == BarExit(ExitKind.STOP, 95.0)


def test_a_finer_bar_gapping_through_the_stop_fills_at_its_open() -> None:
    # The hour opened at 100 and traded above the stop; a later minute opened at 93.
    finer = _finer((100, 101, 99), (93, 94, 92), (93, 111, 93))
    assert resolve_bar(True, 95.0, 110.0, 100.0, 111.0, 92.0, finer=finer) == BarExit(ExitKind.STOP_GAP, 93.0)


def test_a_finer_bar_gapping_through_the_target_fills_at_the_target() -> None:
    finer = _finer((100, 101, 99), (112, 113, 111), (111, 111, 94))
    assert resolve_bar(True, 95.0, 110.0, 100.0, 113.0, 94.0, finer=finer) == BarExit(ExitKind.TARGET_GAP, 110.0)


def test_short_target_first_in_finer_bars() -> None:
    finer = _finer((100, 100, 89), (90, 106, 90))
    assert resolve_bar(False, 105.0, 90.0, 100.0, 106.0, 89.0, finer=finer) == BarExit(ExitKind.TARGET, 90.0)


def test_one_finer_bar_touching_both_is_still_a_stop() -> None:
    finer = _finer((100, 100, 99), (100, 111, 94))
    assert resolve_bar(True, 95.0, 110.0, 100.0, 111.0, 94.0, finer=finer) == BarExit(ExitKind.STOP, 95.0)


def test_finer_bars_that_touch_neither_fall_back_to_the_stop() -> None:
    # Inconsistent data (the coarse bar's range is not in its minutes): stay conservative.
    finer = _finer((100, 101, 99), (100, 102, 98))
    assert resolve_bar(True, 95.0, 110.0, 100.0, 111.0, 94.0, finer=finer) == BarExit(ExitKind.STOP, 95.0)


def test_a_coarse_gap_wins_over_any_finer_path() -> None:
    finer = _finer((112, 113, 94),)
    assert resolve_bar(True, 95.0, 110.0, 112.0, 113.0, 94.0, finer=finer) == BarExit(ExitKind.TARGET_GAP, 110.0)


def _walk(long: bool, stop: float, target: float, o: np.ndarray, h: np.ndarray, lo: np.ndarray) -> BarExit | None:
    """An independent minute-by-minute oracle, written for this test only."""
    for op, hi, low in zip(o.tolist(), h.tolist(), lo.tolist(), strict=True):
        stop_hit = low <= stop if long else hi >= stop
        target_hit = hi >= target if long else low <= target
        stop_gap = op <= stop if long else op >= stop
        target_gap = op >= target if long else op <= target
        if stop_gap:
            return BarExit(ExitKind.STOP_GAP, op)
        if target_gap:
            return BarExit(ExitKind.TARGET_GAP, target)
        if stop_hit:
            return BarExit(ExitKind.STOP, stop)
        if target_hit:
            return BarExit(ExitKind.TARGET, target)
    return None


@pytest.mark.parametrize("long", [True, False])
def test_real_hours_resolved_by_their_minutes_match_a_minute_walk(real_1m: BarSeries, long: bool) -> None:
    """Real BTC perpetual minutes: every hour whose range reaches both levels is decided by its minutes."""
    n = (real_1m.ts.size // 60) * 60
    shape = (-1, 60)
    o, h, lo = (a[:n].reshape(shape) for a in (real_1m.open, real_1m.high, real_1m.low))
    checked = differed = 0
    for i in range(o.shape[0]):
        hi, low, op = float(h[i].max()), float(lo[i].min()), float(o[i, 0])
        if hi - low <= 0:
            continue
        # Levels 70% of the way from the open to each extreme: both are reached in every such hour.
        down, up = op - (op - low) * 0.7, op + (hi - op) * 0.7
        stop, target = (down, up) if long else (up, down)
        if not (low < down < op < up < hi):
            continue
        got = resolve_bar(long, stop, target, op, hi, low, finer=(o[i], h[i], lo[i]))
        assert got == _walk(long, stop, target, o[i], h[i], lo[i]), f"hour {i}"
        checked += 1
        differed += got is not None and got.kind is not ExitKind.STOP
    assert checked > 200
    assert differed > 0.2 * checked  # the finer data really changes the answer, often
