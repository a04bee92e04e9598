"""The universe's tier-3 edge is measured from intents without their reasons: the same schedule.

A backtest hands the universe replay every decision's intents up front; it keeps them without the
reasons (most of an intent's memory, years of them held at once otherwise), which the edge figures never
read. The schedule must be the one the whole intents give, on a market where tier-3 edge decides.
"""

from __future__ import annotations

import numpy as np
from tests.engine.test_golden_replay import CASES, CONFIG

from quantum_trader.analytics.backtest import _edge_intents
from quantum_trader.analytics.universe_replay import ReplayInputs, correlation_clock, replay_universe
from quantum_trader.data.synthetic import generate_market
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.testkit import policy_with
from quantum_trader.universe.tiers import edge_figures


def test_the_schedule_from_intents_without_reasons_is_the_whole_intents_one() -> None:
    bars = dict(generate_market(CONFIG).bars)
    policy = policy_with({**CASES["multi_asset_20d_seed3_short_lookback"], "universe.rescreen_every": "1d",
                          "asset_tiers.tier_3.edge_lookback": "3d"})
    decisions = MultiAssetStrategy().prepare(bars, policy)
    whole = [(int(decisions.close_ts[k]), decisions.intents(k)) for k in range(decisions.close_ts.size)]
    light = list(_edge_intents(decisions))
    assert sum(len(i) for _, i in whole) > 50 and any(i.reasons for _, batch in whole for i in batch)
    assert all(not i.reasons for _, batch in light for i in batch)
    assert [(t, [(i.symbol, i.side, i.edge_score) for i in b]) for t, b in light] == \
        [(t, [(i.symbol, i.side, i.edge_score) for i in b]) for t, b in whole]
    inputs = ReplayInputs(bars=bars, corr_bars=correlation_clock(bars, policy), books={}, funding={},
                          listed={s: None for s in bars})
    start, end = int(decisions.close_ts[0]), int(decisions.close_ts[-1])
    expected = replay_universe(inputs, whole, policy, phase=3, start=start, end=end)
    got = replay_universe(inputs, light, policy, phase=3, start=start, end=end)
    np.testing.assert_array_equal(got.times, expected.times)
    assert got.assignments == expected.assignments
    # read once as they are made (the backtest's way: only the edge lookback's intents held), the same schedule
    streamed = replay_universe(inputs, _edge_intents(decisions), policy, phase=3, start=start, end=end)
    assert streamed.assignments == expected.assignments
    assert len(expected.assignments) > 10
    for at in expected.times.tolist():  # the figures the tiers are assigned from, at every screen
        edges = edge_figures([i for t, b in light if t <= at for i in b], at, "3d")
        assert edges == edge_figures([i for t, b in whole if t <= at for i in b], at, "3d")
    assert edges and all(figure.count > 0 for figure in edges.values())
