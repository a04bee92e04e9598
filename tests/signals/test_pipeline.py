"""The whole signal set live, one 1m bar at a time, emits exactly the intents of the batch run."""

from __future__ import annotations

import numpy as np
import pytest

from quantum_trader.config import Policy
from quantum_trader.domain.market import Bar
from quantum_trader.signals.aggregate import aggregate_bars
from quantum_trader.signals.pipeline import SignalSet
from quantum_trader.testkit.random_walk import random_walk_market

SYMS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "BNB/USDT:USDT", "XRP/USDT:USDT"]


def test_live_intents_equal_batch_intents() -> None:
    n = 60 * 24 * 45
    m = random_walk_market(SYMS, n, "1m", seed=8)
    ss = SignalSet(SYMS, Policy())
    batch = ss.batch({s: aggregate_bars(b, "1h") for s, b in m.items()},
                     {s: aggregate_bars(b, "5m") for s, b in m.items()})
    live = ss.stream("1m")
    cols = [(b.ts, b.open, b.high, b.low, b.close, b.volume) for b in m.values()]
    outs = []
    for i in range(n):
        o = live.on_bars([Bar(s, "1m", int(c[0][i]), c[1][i], c[2][i], c[3][i], c[4][i], c[5][i])
                          for s, c in zip(SYMS, cols, strict=True)])
        if o is not None:
            outs.append(o)
    assert len(outs) == len(batch.ts) == n // 60
    total = 0
    sources = set()
    for k, o in enumerate(outs):
        assert o.ts == batch.ts[k]
        np.testing.assert_array_equal(o.decision.regime, [batch.frames[s].decision.regime[k] for s in SYMS])
        expected = batch.intents_at(k)
        assert [(i.symbol, i.side, i.source, i.reasons[0][:20]) for i in o.intents] == [
            (i.symbol, i.side, i.source, i.reasons[0][:20]) for i in expected]
        for a, b in zip(o.intents, expected, strict=True):
            assert a.edge_score == pytest.approx(b.edge_score, rel=1e-9, abs=1e-12)
            assert a.stop_price == pytest.approx(b.stop_price, rel=1e-9)
            assert 0.0 <= a.edge_score <= 1.0 and a.stop_price is not None
            assert (a.stop_price < a.entry_price) == (a.side.value == "long")
        total += len(expected)
        sources |= {i.source for i in expected}
    assert total > 100 and "trend" in sources
    assert len(live.events) == len(batch.correlation.events)  # type: ignore[union-attr]


def test_signal_set_needs_btc() -> None:
    with pytest.raises(ValueError, match="baseline asset BTC"):
        SignalSet(["ETH/USDT:USDT"], Policy())


def test_an_asset_whose_bars_end_earlier_has_no_decision_after_them_and_moves_no_other() -> None:
    m = random_walk_market(SYMS[:2], 3000, "1h", seed=1)
    short = {SYMS[0]: m[SYMS[0]], SYMS[1]: m[SYMS[1]].slice(end_ms=int(m[SYMS[1]].ts[-5]))}
    full = SignalSet(SYMS[:2], Policy()).batch(m)
    cut = SignalSet(SYMS[:2], Policy()).batch(short)
    assert np.array_equal(cut.ts, full.ts)
    btc_full, btc_cut = full.frames[SYMS[0]], cut.frames[SYMS[0]]
    for name in btc_full.features:
        assert np.array_equal(btc_full.features[name], btc_cut.features[name], equal_nan=True)
    tail = cut.frames[SYMS[1]]
    assert np.isnan(tail.features["close"][-4:]).all() and (tail.decision.direction[-4:] == 0).all()
    assert all(i.symbol != SYMS[1] for k in range(len(cut.ts) - 4, len(cut.ts)) for i in cut.intents_at(k))
