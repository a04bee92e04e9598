"""The window scan finds the first event exactly where a bar-by-bar walk would."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantum_trader.engine.window import AccountFigures, HeldPosition, WindowEventKind, scan_window

ACCOUNT = AccountFigures(cash=10_000.0, day_start_equity=10_000.0, peak_equity=10_000.0, max_daily_loss=0.05,
                         max_drawdown=0.20, max_daily_loss_per_asset=0.03)


def _arrays(closes: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = np.array(closes)[:, None]
    return c * 1.001, c * 0.999, c


def test_quiet_window_has_no_event() -> None:
    high, low, mark = _arrays([100.0] * 10)
    pos = HeldPosition(0, 10.0, 100.0, 95.0, None, 0.0, 0.0)
    assert scan_window(0, 10, high, low, mark, (pos,), ACCOUNT) is None


def test_stop_found_at_first_touch() -> None:
    high, low, mark = _arrays([100, 99, 97, 94.9, 90])
    pos = HeldPosition(0, 10.0, 100.0, 95.0, None, 0.0, 0.0)
    event = scan_window(0, 5, high, low, mark, (pos,), ACCOUNT)
    assert event is not None and (event.row, event.kind) == (3, WindowEventKind.STOP)


def test_asset_daily_loss_before_stop_when_stop_is_far() -> None:
    high, low, mark = _arrays([100, 99, 97, 96.9, 90])
    pos = HeldPosition(0, 100.0, 100.0, 50.0, None, 0.0, 0.0)  # 3% of 10k = 300 = 3.0 points on 100 units
    event = scan_window(0, 5, high, low, mark, (pos,), ACCOUNT)
    assert event is not None and event.kind is WindowEventKind.ASSET_DAILY_LOSS and event.row == 2


def test_kill_switch_daily_on_portfolio_loss() -> None:
    high = np.full((4, 2), np.inf)
    low = np.full((4, 2), -np.inf)
    mark = np.array([[100.0, 100.0], [98.0, 98.0], [97.4, 97.4], [97.0, 97.0]])
    positions = (HeldPosition(0, 100.0, 100.0, None, None, 0.0, 0.0),
                 HeldPosition(1, 100.0, 100.0, None, None, 0.0, 0.0))
    account = AccountFigures(10_000.0, 10_000.0, 10_000.0, 0.05, 0.20, 0.50)
    event = scan_window(0, 4, high, low, mark, positions, account)
    assert event is not None and event.kind is WindowEventKind.KILL_DAILY and event.row == 2
    assert event.equity == pytest.approx(10_000.0 - 2 * 100 * 2.6)


def test_drawdown_uses_running_peak() -> None:
    high = np.full((3, 1), np.inf)
    low = np.full((3, 1), -np.inf)
    mark = np.array([[150.0], [100.0], [90.0]])
    pos = (HeldPosition(0, 100.0, 100.0, None, None, 0.0, 0.0),)
    account = AccountFigures(10_000.0, 15_000.0, 10_000.0, 0.50, 0.20, 1.0)
    event = scan_window(0, 3, high, low, mark, pos, account)
    assert event is not None and event.kind is WindowEventKind.KILL_DRAWDOWN and event.row == 1


@settings(max_examples=300, deadline=None)
@given(
    closes=st.lists(st.floats(50, 150), min_size=1, max_size=40),
    qty=st.floats(-200, 200).filter(lambda q: abs(q) > 1e-3),
    stop_offset=st.floats(0.01, 0.5),
)
def test_scan_equals_bar_by_bar_walk(closes: list[float], qty: float, stop_offset: float) -> None:
    high, low, mark = _arrays(closes)
    entry = closes[0]
    stop = entry * (1 - stop_offset) if qty > 0 else entry * (1 + stop_offset)
    pos = (HeldPosition(0, qty, entry, stop, None, 0.0, 0.0),)
    whole = scan_window(0, len(closes), high, low, mark, pos, ACCOUNT)
    walked = None
    for i in range(len(closes)):
        walked = scan_window(i, i + 1, high, low, mark, pos, ACCOUNT)
        if walked is not None:
            break
    # A one-bar window cannot see the running peak of earlier bars; give it none to see.
    if whole is not None and whole.kind is WindowEventKind.KILL_DRAWDOWN:
        return
    assert (whole is None) == (walked is None)
    if whole is not None and walked is not None:
        assert (whole.row, whole.kind) == (walked.row, walked.kind)
