"""No shipped indicator or signal changes a past value when the data ends earlier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantum_trader.analytics.user_signals import SignalLoadError, load_signal
from quantum_trader.config import Policy
from quantum_trader.domain.market import BarSeries
from quantum_trader.signals.aggregate import aggregate_bars
from quantum_trader.signals.cross_asset import BtcDivergence, SectorMomentum
from quantum_trader.signals.lookahead import check_lookahead, shipped_signals
from quantum_trader.signals.pipeline import SignalSet
from quantum_trader.testkit.random_walk import random_walk_bars, random_walk_market

SYMS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]


@pytest.mark.parametrize("name", sorted(shipped_signals()))
def test_shipped_signal_has_no_lookahead_on_synthetic_bars(name: str) -> None:
    bars = random_walk_bars("SOL/USDT:USDT", 2500, seed=11)
    report = check_lookahead(load_signal(name), bars, name, n_cuts=12, seed=1)
    assert report.ok, report.changed[:5]
    assert len(report.cuts) == 12


@pytest.mark.shared_data
def test_shipped_signals_have_no_lookahead_on_real_btc(real_1h: dict[str, BarSeries]) -> None:
    bars = real_1h["BTC"].slice(end_ms=int(real_1h["BTC"].ts[4000]))
    for name, fn in shipped_signals().items():
        assert check_lookahead(fn, bars, name, n_cuts=6, seed=2).ok, name


def _centred_mean(bars: BarSeries) -> np.ndarray:
    return pd.Series(bars.close).rolling(5, center=True).mean().to_numpy()


def test_a_leaky_signal_is_caught_and_the_changed_timestamps_are_named() -> None:
    bars = random_walk_bars("BTC/USDT:USDT", 300, seed=4)
    report = check_lookahead(_centred_mean, bars, "centred", n_cuts=5, seed=0)
    assert not report.ok
    cut_ts, key, ts = report.changed[0]
    assert key == "centred" and cut_ts - 2 * 3_600_000 <= ts <= cut_ts


USER_MODULE = """
import numpy as np

def wrapped_momentum(bars):
    # np.roll wraps the LAST close into position 0: a look-ahead at the first bar
    return np.log(bars.close / np.roll(bars.close, 1))

def clean_momentum(bars):
    out = np.full(len(bars), np.nan)
    out[1:] = np.log(bars.close[1:] / bars.close[:-1])
    return {"mom": out}

def not_an_array(bars):
    return bars
"""


def test_a_user_module_function_is_loaded_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "user_signals_la.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    bars = random_walk_bars("BTC/USDT:USDT", 200, seed=9)
    leaky = check_lookahead(load_signal("user_signals_la:wrapped_momentum"), bars, "wrapped", n_cuts=4)
    assert not leaky.ok and {ts for _, _, ts in leaky.changed} == {int(bars.ts[0])}
    assert check_lookahead(load_signal("user_signals_la:clean_momentum"), bars, "clean", n_cuts=4).ok
    with pytest.raises(ValueError, match="not an array of numbers"):
        check_lookahead(load_signal("user_signals_la:not_an_array"), bars, "bad")
    with pytest.raises(SignalLoadError, match="unknown signal"):
        load_signal("no_such_signal")
    with pytest.raises(SignalLoadError, match="cannot import"):
        load_signal("no_such_module_xyz:f")
    with pytest.raises(SignalLoadError, match="no callable"):
        load_signal("user_signals_la:missing")


def _truncate(m: dict[str, BarSeries], end: int) -> dict[str, BarSeries]:
    return {s: b.slice(end_ms=end) for s, b in m.items()}


def test_cross_asset_signals_and_pipeline_have_no_lookahead() -> None:
    pol = Policy()
    m = random_walk_market(SYMS, 60 * 24 * 70, "1m", seed=3)
    hourly = {s: aggregate_bars(b, "1h") for s, b in m.items()}
    five = {s: aggregate_bars(b, "5m") for s, b in m.items()}
    ss = SignalSet(SYMS, pol)
    full = ss.batch(hourly, five)
    div = BtcDivergence(pol.signals.cross_asset.btc_divergence, "1h")
    sm = SectorMomentum(pol.signals.cross_asset.sector_momentum, pol.market_reference, "1h")
    rng = np.random.default_rng(0)
    n = len(full.ts)
    for k in rng.choice(np.arange(800, n - 1), size=4, replace=False):
        # the 1m data ends one minute into hour k+1: hour k is closed, hour k+1 is not
        end = int(full.ts[k]) + 3_600_000 + 60_000
        part_m = _truncate(m, end)
        part = ss.batch({s: aggregate_bars(b, "1h") for s, b in part_m.items()},
                        {s: aggregate_bars(b, "5m") for s, b in part_m.items()})
        assert len(part.ts) == k + 1
        for s in SYMS:
            for name in ("edge", "stop", "direction"):
                np.testing.assert_array_equal(getattr(part.frames[s].decision, name), getattr(full.frames[s].decision,
                                                                                             name)[: k + 1])
        np.testing.assert_array_equal(part.btc_corr, full.btc_corr[: k + 1])
        for s in SYMS[1:]:
            np.testing.assert_array_equal(part.divergence[s]["z"], full.divergence[s]["z"][: k + 1])
        assert [str(i) for i in part.intents_at(int(k))] == [str(i) for i in full.intents_at(int(k))]
        b = div.batch(hourly[SYMS[1]].close[: k + 1], hourly[SYMS[0]].close[: k + 1])["z"]
        np.testing.assert_array_equal(b, full.divergence[SYMS[1]]["z"][: k + 1])
    rets = {"SOL": sm.returns.batch(hourly[SYMS[2]].close), "BTC": sm.returns.batch(hourly[SYMS[0]].close)}
    sig = {"SOL": np.full(n, 0.01), "BTC": np.full(n, 0.01)}
    _, full_sec = sm.decide(rets, sig)
    _, part_sec = sm.decide({a: r[:500] for a, r in rets.items()}, {a: s[:500] for a, s in sig.items()})
    np.testing.assert_array_equal(part_sec["SOL"][0], full_sec["SOL"][0][:500])


def test_correlation_monitor_and_market_picture_have_no_lookahead() -> None:
    from quantum_trader.universe.correlation import CorrelationMonitor
    from quantum_trader.universe.market_picture import MarketPicture

    pol = Policy()
    m = random_walk_market(SYMS, 4000, "5m", seed=6)
    closes = np.column_stack([m[s].close for s in SYMS])
    ts = m[SYMS[0]].ts
    mon = CorrelationMonitor(("BTC", "ETH", "SOL"), pol)
    pic = MarketPicture(("BTC", "ETH", "SOL"), pol.market_reference, lookback=288)
    full = mon.batch(ts, closes)
    full_pic = pic.batch({a: closes[:, j] for j, a in enumerate(("BTC", "ETH", "SOL"))})
    for k in (300, 1234, 3999):
        part = mon.batch(ts[: k + 1], closes[: k + 1])
        np.testing.assert_array_equal(part.matrix, full.matrix[: k + 1])
        np.testing.assert_array_equal(part.spike, full.spike[: k + 1])
        assert part.events == tuple(e for e in full.events if e.ts <= ts[k])
        part_pic = pic.batch({a: closes[: k + 1, j] for j, a in enumerate(("BTC", "ETH", "SOL"))})
        np.testing.assert_array_equal(part_pic.btc_dominance, np.asarray(full_pic.btc_dominance)[: k + 1])
        np.testing.assert_array_equal(part_pic.sector_returns["L1"], np.asarray(full_pic.sector_returns["L1"])[: k + 1])
