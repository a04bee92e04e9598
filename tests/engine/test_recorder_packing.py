"""The equity curve packed as it grows is the curve kept as rows: the same equity frame, row for row.

A run of years records a few hundred thousand equity rows; the recorder keeps the newest as tuples and
packs the older ones into float arrays (``EQUITY_PACK_ROWS``). Rows at a time already recorded replace
the last one, across a packing too; every column keeps its dtype and value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantum_trader.engine import recorder as recorder_module
from quantum_trader.engine.recorder import Recorder

FIGURE = st.floats(-1e9, 1e9, allow_nan=False)
ROW = st.tuples(st.integers(0, 2), FIGURE, FIGURE, st.floats(0, 5), st.floats(0, 5), st.integers(0, 9),
                st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)))
SPAN = st.lists(st.tuples(st.integers(1, 3), FIGURE, st.floats(0, 5)), min_size=1, max_size=12)
STEP = st.one_of(st.tuples(st.just("row"), ROW), st.tuples(st.just("span"), st.tuples(SPAN, FIGURE, st.integers(0, 9))),
                 st.tuples(st.just("rows"), st.tuples(SPAN, FIGURE, st.integers(0, 9))))


def _record(steps: list[tuple[str, object]]) -> Recorder:
    rec = Recorder()
    ts = 1_600_000_000_000
    for kind, step in steps:
        if kind == "row":
            advance, equity, cash, exposure, correlated, positions, tiers = step  # type: ignore[misc]
            ts += advance * 60_000  # 0: the same time again, which replaces the last row
            rec.equity_row(ts, equity, cash, exposure, correlated, positions, tiers)
            continue
        span, cash, positions = step  # type: ignore[misc]
        times = ts + np.cumsum([a for a, _, _ in span]) * 60_000 - span[0][0] * 60_000  # starts at the last time
        values = np.array([v for _, v, _ in span])
        exposure = np.array([x for _, _, x in span])
        if kind == "span":
            rec.equity_span(times.astype(np.int64), values, cash, exposure, exposure / 2, positions, (1, 0, 2))
        else:
            rec.equity_rows(times.tolist(), values.tolist(), cash, exposure.tolist(), (exposure / 2).tolist(),
                            positions, (1, 0, 2))
        ts = int(times[-1])
    return rec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=60), pack=st.integers(1, 8))
def test_a_packed_curve_is_the_curve_kept_as_rows(monkeypatch: pytest.MonkeyPatch, steps: list[tuple[str, object]],
                                                  pack: int) -> None:
    monkeypatch.setattr(recorder_module, "EQUITY_PACK_ROWS", 10**9)
    expected = _record(steps)
    monkeypatch.setattr(recorder_module, "EQUITY_PACK_ROWS", pack)
    packed = _record(steps)
    assert len(packed.equity) <= pack + 1 and packed.peak == expected.peak
    if len(expected.equity) > pack + 1:
        assert packed.equity_packed, "the curve must have been packed for the comparison to mean anything"
    pd.testing.assert_frame_equal(packed.equity_frame(), expected.equity_frame())
