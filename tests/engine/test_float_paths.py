"""The plain-float paths of short windows give what the vectorised ones give, to the last bit.

A processed bar every hour leaves windows of about 60 1m closes between them, where NumPy's cost
per call is most of the work; the loss-limit scan, the equity curve's extreme rows and its span
rows then run element by element in Python floats. They must take the same decisions and record
the same rows as the vectorised code longer windows keep: the same event at the same row, the same
equity at every close (NaN carried as ``np.maximum`` carries it), the same rows kept.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from quantum_trader.config import load_policy
from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.engine.equity_curve import EquityCurve
from quantum_trader.engine.recorder import (
    Recorder,
    SpanBook,
    _extremes_in_floats,
    _extremes_vectorised,
    extreme_rows,
    span_figures,
)
from quantum_trader.engine.window import (
    AccountFigures,
    HeldPosition,
    WindowEvent,
    _scan_block,
    _scan_in_floats,
    _scan_vectorised,
    scan_window_equity,
)

PRICES = st.floats(50.0, 150.0)
ODD = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0])


@st.composite
def closes(draw: st.DrawFn, *, odd: bool = True) -> list[float]:
    values = draw(st.lists(st.one_of(PRICES, st.integers(95, 105).map(float)), min_size=1, max_size=120))
    if odd and draw(st.booleans()):
        values[draw(st.integers(0, len(values) - 1))] = draw(ODD)
    return values


@settings(max_examples=400, deadline=None)
@given(closes(), st.data())
def test_extreme_rows_in_floats_are_the_vectorised_rows(values: list[float], data: st.DataObject) -> None:
    equity = np.asarray(values)
    samples = np.asarray(sorted(data.draw(st.sets(st.integers(0, equity.size - 1), max_size=4))), dtype=np.int64)
    before = data.draw(st.one_of(PRICES, st.sampled_from([0.0, -5.0, math.inf, -math.inf])))
    expected = _extremes_vectorised(equity, samples, before)
    found = _extremes_in_floats(values, samples.tolist(), before)
    assert (samples if found is None else np.asarray(found)).tolist() == expected.tolist()
    assert extreme_rows(equity, samples, before).tolist() == expected.tolist()


@st.composite
def windows(draw: st.DrawFn) -> tuple[int, int, np.ndarray, tuple[HeldPosition, ...], AccountFigures]:
    rows = draw(st.integers(2, 80))
    columns = 3
    mark = np.asarray(draw(st.lists(PRICES, min_size=rows * columns, max_size=rows * columns))).reshape(rows, columns)
    if draw(st.booleans()):
        mark[draw(st.integers(0, rows - 1)), draw(st.integers(0, columns - 1))] = math.nan
    held = draw(st.lists(st.integers(0, columns - 1), unique=True, max_size=columns))
    positions = tuple(
        HeldPosition(column=c, quantity=draw(st.floats(-50.0, 50.0)), entry_price=draw(PRICES), stop_price=None,
                     liquidation_price=None, day_realised=draw(st.floats(-300.0, 300.0)),
                     day_start_unrealised=draw(st.floats(-300.0, 300.0)))
        for c in held)
    account = AccountFigures(
        cash=draw(st.floats(500.0, 6_000.0)), day_start_equity=draw(st.sampled_from([0.0, 1_000.0, 5_000.0])),
        peak_equity=draw(st.one_of(st.floats(500.0, 8_000.0), st.sampled_from([math.nan, math.inf]))),
        max_daily_loss=draw(st.sampled_from([0.05, 0.2, math.inf])),
        max_drawdown=draw(st.sampled_from([0.02, 0.1, math.inf])),
        max_daily_loss_per_asset=draw(st.sampled_from([0.02, 0.1])))
    start = draw(st.integers(0, rows - 1))
    return start, draw(st.integers(start + 1, rows)), mark, positions, account


@settings(max_examples=400, deadline=None)
@given(windows())
def test_the_loss_limit_scan_in_floats_is_the_vectorised_scan(
        window: tuple[int, int, np.ndarray, tuple[HeldPosition, ...], AccountFigures]) -> None:
    start, stop, mark, positions, account = window
    expected, expected_equity = _scan_vectorised(start, stop, mark, mark, mark, positions, account)
    found, equity = _scan_in_floats(start, stop, mark, positions, account)
    assert _event(found) == _event(expected)
    np.testing.assert_array_equal(equity, expected_equity)  # (NaN where NaN)
    assert _event(scan_window_equity(start, stop, mark, mark, mark, positions, account)[0]) == _event(expected)


@settings(max_examples=400, deadline=None)
@given(windows())
def test_the_loss_limit_scan_of_a_block_of_positions_is_the_vectorised_scan(
        window: tuple[int, int, np.ndarray, tuple[HeldPosition, ...], AccountFigures]) -> None:
    """A book of several positions is scanned one (rows, positions) block at a time: the same event, the same
    equity to the last bit, as position by position."""
    start, stop, mark, positions, account = window
    expected, expected_equity = _scan_vectorised(start, stop, mark, mark, mark, positions, account)
    found, equity = _scan_block(start, stop, mark, positions, account)
    assert _event(found) == _event(expected)
    np.testing.assert_array_equal(equity, expected_equity)  # (NaN where NaN)


def _event(event: WindowEvent | None) -> tuple[object, ...] | None:
    """An event's fields, its equity as text (a NaN equity is NaN in both)."""
    return None if event is None else (event.row, event.kind, event.column, repr(event.equity))


@settings(max_examples=300, deadline=None)
@given(closes(odd=False), st.one_of(PRICES, st.sampled_from([0.0, math.inf, -math.inf, math.nan])), st.booleans())
def test_span_rows_in_floats_are_the_vectorised_rows(values: list[float], peak: float, overlap: bool) -> None:
    ts = np.arange(len(values), dtype=np.int64) * 60_000
    equity = np.asarray(values)
    exposure, correlated = equity / 1e4, equity / 2e4
    recorded = []
    for method in ("_rows_in_floats", "_rows_vectorised"):
        rec = Recorder(peak=peak)
        if overlap:  # a row at the span's first time is replaced by it
            rec.equity.append((0, 1.0, 1.0, 0.0, 0.0, 0, 0, 0, 0, 0.0))
        done = getattr(rec, method)(ts, equity, 3.0, exposure, correlated, 2, (1, 1, 0))
        assert done is not False or math.isnan(peak)  # a NaN peak is left to the vectorised rows
        recorded.append((rec.equity, rec.peak))
    if not math.isnan(peak):
        assert recorded[0] == recorded[1]


def test_a_close_without_a_mark_ends_the_drawdown_watch_as_in_the_vectorised_scan() -> None:
    """NumPy's running peak is NaN from a NaN close on: no later close reaches the drawdown (nor in floats)."""
    mark = np.array([[100.0], [math.nan], [100.0], [80.0]])
    held = (HeldPosition(column=0, quantity=10.0, entry_price=100.0, stop_price=None, liquidation_price=None,
                         day_realised=0.0, day_start_unrealised=0.0),)
    account = AccountFigures(cash=1_000.0, day_start_equity=1_000.0, peak_equity=1_000.0, max_daily_loss=math.inf,
                             max_drawdown=0.05, max_daily_loss_per_asset=1.0)
    assert _scan_vectorised(0, 4, mark, mark, mark, held, account)[0] is None
    assert _scan_in_floats(0, 4, mark, held, account)[0] is None
    mark[1, 0] = 100.0  # with the close marked, the drop to 80 is a 16.7% drawdown at row 3
    assert _event(_scan_in_floats(0, 4, mark, held, account)[0]) == _event(
        _scan_vectorised(0, 4, mark, mark, mark, held, account)[0]) == (3, "kill_switch_drawdown", -1, "800.0")


@st.composite
def small_books(draw: st.DrawFn) -> tuple[SpanBook, np.ndarray, list[int]]:
    """A book of at most one position, marks over a few rows (a NaN or a losing book sometimes), rows to record."""
    rows, columns = draw(st.integers(2, 40)), 2
    mark = np.asarray(draw(st.lists(PRICES, min_size=rows * columns, max_size=rows * columns))).reshape(rows, columns)
    if draw(st.booleans()):
        mark[draw(st.integers(0, rows - 1)), draw(st.integers(0, columns - 1))] = math.nan
    cash = draw(st.sampled_from([1_000.0, 10.0, 0.0, -50.0]))
    held = draw(st.lists(st.integers(0, columns - 1), max_size=1))
    quantity = tuple(draw(st.floats(-30.0, 30.0).filter(lambda q: q != 0.0)) for _ in held)
    entry = tuple(draw(PRICES) for _ in held)
    book = SpanBook(cash, tuple(held), quantity, entry, ((0,),) if held else (), (len(held), 0, 0))
    recorded = sorted(draw(st.sets(st.integers(0, rows - 1), min_size=2, max_size=8)))
    return book, mark, recorded


@settings(max_examples=400, deadline=None)
@given(small_books(), st.sampled_from([0.0, 500.0, 5_000.0]))
def test_a_span_of_a_book_of_one_position_in_floats_is_the_vectorised_span(
        case: tuple[SpanBook, np.ndarray, list[int]], peak: float) -> None:
    """``EquityCurve._rows`` (a book of at most one position) writes what ``span_figures`` and ``equity_span`` write,
    or nothing when an equity is NaN (the span then goes to them)."""
    book, mark, rows = case
    step = 60_000
    ts = np.arange(mark.shape[0], dtype=np.int64) * step
    chunk = MarketChunk(("A", "B"), step, ts, mark, mark, mark, mark, np.ones_like(mark),
                        np.ones(mark.shape, dtype=bool), mark)
    fast, plain = Recorder(peak=peak), Recorder(peak=peak)
    curve = EquityCurve(fast, load_policy(), {"A": 0, "B": 1})
    curve.begin(chunk)
    index = np.asarray(rows, dtype=np.int64)
    equity, exposure, correlated = span_figures(book, mark[index])
    plain.equity_span(ts[index] + step, equity, book.cash, exposure, correlated, len(book.columns), book.tiers)
    if curve._rows(rows, book):
        assert (fast.equity, fast.peak) == (plain.equity, plain.peak)
    else:
        assert np.isnan(equity).any() and fast.equity == []
