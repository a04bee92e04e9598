"""Walk-forward folds: a test window never overlaps its train window or another test window."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantum_trader.research.objective import chain
from quantum_trader.research.optimize import step_windows
from quantum_trader.research.trial import TrialOutcome, Window
from quantum_trader.research.walkforward import WalkForwardError, splits

DAY = 86_400_000
START = 1_735_689_600_000  # 2025-01-01


@given(span_days=st.integers(10, 800), folds=st.integers(1, 8), anchored=st.booleans(),
       train_days=st.one_of(st.none(), st.integers(1, 400)), test_days=st.one_of(st.none(), st.integers(1, 100)),
       warmup_days=st.integers(0, 10))
def test_folds_never_overlap_and_end_with_the_data(span_days: int, folds: int, anchored: bool,
                                                   train_days: int | None, test_days: int | None,
                                                   warmup_days: int) -> None:
    end = START + span_days * DAY
    try:
        plan = splits(START, end, folds, train_ms=None if train_days is None else train_days * DAY,
                      test_ms=None if test_days is None else test_days * DAY, anchored=anchored,
                      warmup_ms=warmup_days * DAY)
    except WalkForwardError as exc:
        assert "\n" not in str(exc)
        return
    assert len(plan) == folds
    assert plan[-1].test.end == end
    for k, fold in enumerate(plan):
        assert START <= fold.train.start < fold.train.end <= fold.test.start < fold.test.end <= end
        assert fold.test.load_from is None or START <= fold.test.load_from <= fold.test.start
        if anchored:
            assert fold.train.start == START
        if k:
            assert plan[k - 1].test.end == fold.test.start  # back to back: the tests cover one stretch
            if not anchored:
                assert fold.train.end - fold.train.start == plan[0].train.end - plan[0].train.start


def test_default_lengths_fill_the_data_with_a_train_three_tests_long() -> None:
    plan = splits(START, START + 70 * DAY, 4)
    assert [(f.test.end - f.test.start) // DAY for f in plan] == [10, 10, 10, 10]
    assert plan[0].train == Window(START, START + 30 * DAY)


def test_folds_that_do_not_fit_are_one_line() -> None:
    with pytest.raises(WalkForwardError, match=r"4 folds need 130.0 days \(train \+ 4 x test\) but the data spans "
                                               r"60.0 days"):
        splits(START, START + 60 * DAY, 4, train_ms=90 * DAY, test_ms=10 * DAY)


def test_steps_cut_a_window_into_consecutive_parts() -> None:
    parts = step_windows(Window(START, START + 10 * DAY), 3, warmup_ms=DAY, data_start=START)
    assert parts[0].start == START and parts[-1].end == START + 10 * DAY
    assert all(a.end == b.start for a, b in itertools.pairwise(parts))
    assert parts[0].load_from == START and parts[1].load_from == parts[1].start - DAY


def _outcome(start_day: int, values: list[float]) -> TrialOutcome:
    ts = START + (start_day + np.arange(len(values))) * DAY
    return TrialOutcome(metrics={"trades": 2, "fees_paid": 1.0, "funding_paid": 0.5, "kill_switch_trips": 0},
                        equity_ts=ts.astype(np.int64), equity=np.array(values, dtype=float))


def test_chained_windows_compound_as_one_account() -> None:
    joined = chain([_outcome(0, [100.0, 110.0, 120.0]), _outcome(3, [100.0, 90.0]), _outcome(5, [100.0, 150.0])])
    assert joined.equity[0] == 100.0
    assert joined.equity[-1] == pytest.approx(100.0 * 1.2 * 0.9 * 1.5)
    assert joined.metrics["total_return"] == pytest.approx(1.2 * 0.9 * 1.5 - 1)
    assert joined.metrics["trades"] == 6 and joined.metrics["fees_paid"] == 3.0
    assert np.all(np.diff(joined.equity_ts) > 0)
