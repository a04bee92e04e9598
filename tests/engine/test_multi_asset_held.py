"""What the multi-asset decisions hold through a replay: only what the kernel reads, the same answers.

``MultiAssetStrategy.prepare`` keeps the correlation history at the rows its decisions read
(``decision_rows``) and the intents of the latest decisions asked (``INTENTS_CACHED``): a replay of years
holds neither a per-5m-row history nor a Python object per intent of the whole history. Both must answer
every decision exactly as the whole history does.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.engine.test_golden_replay import CASES, CONFIG

from quantum_trader.data.synthetic import generate_market
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.engine.incremental import on_timeframe
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.engine.strategies.multi_asset import INTENTS_CACHED, MultiAssetDecisions
from quantum_trader.signals.pipeline import SignalSet, carried_closes
from quantum_trader.testkit import policy_with

POLICY = policy_with(CASES["multi_asset_20d_seed3_short_lookback"])


@pytest.fixture(scope="module")
def bars() -> dict[str, BarSeries]:
    return dict(generate_market(CONFIG).bars)


@pytest.fixture(scope="module")
def decisions(bars: dict[str, BarSeries]) -> MultiAssetDecisions:
    return MultiAssetStrategy().prepare(bars, POLICY)


def test_the_kept_rows_give_each_decision_the_matrix_and_time_of_the_whole_history(
        bars: dict[str, BarSeries], decisions: MultiAssetDecisions) -> None:
    corr_tf = POLICY.correlation.returns_timeframe
    signals = SignalSet(tuple(bars), POLICY)
    corr_bars = on_timeframe(bars, corr_tf)
    history = signals.monitor.batch(*carried_closes([corr_bars[s] for s in signals.symbols]))  # every row
    assert decisions.result.correlation is not None
    assert decisions.result.correlation.ts.size < history.ts.size / 6, "only the decisions' rows are held"
    rows = np.searchsorted(history.ts, decisions.close_ts - timeframe_ms(corr_tf), side="right") - 1
    known = 0
    for k, row in enumerate(rows.tolist()):
        matrix, at = decisions.correlation(k), decisions.correlation_time(k)
        if row < 0:
            assert matrix is None and at is None
            continue
        np.testing.assert_array_equal(matrix, history.matrix_at(row))
        assert at == int(history.ts[row]) + timeframe_ms(corr_tf)
        known += int(np.isfinite(matrix).all())
    assert known > 100, "the comparison must cover filled matrices"


def test_intents_asked_in_any_order_are_the_signals_own_and_few_are_kept(decisions: MultiAssetDecisions) -> None:
    size = int(decisions.close_ts.size)
    order = [*range(size), *range(size - 1, -1, -7), 3, 3, size - 1]
    for k in order:
        assert decisions.intents(k) == decisions.result.intents_at(k)
        assert len(decisions._intents) <= INTENTS_CACHED
    assert sum(len(decisions.intents(k)) for k in range(size)) > 50
