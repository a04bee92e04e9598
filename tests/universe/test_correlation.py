"""The rolling correlation picture: batch == live, equal to pandas, spike and breakdown events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from quantum_trader.config import Policy
from quantum_trader.config.limits import CorrelationPolicy
from quantum_trader.domain.market import BarSeries
from quantum_trader.universe.correlation import BREAKDOWN, SPIKE, CorrelationMonitor

ASSETS = ("BTC", "ETH", "SOL", "XRP", "AAVE")


def _live(monitor: CorrelationMonitor, ts: np.ndarray, closes: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    state = monitor.stream()
    n = closes.shape[1]
    mats, longs, events = [], [], []
    for i in range(len(ts)):
        snap = state.update(int(ts[i]), closes[i])
        mats.append(snap.matrix if snap.matrix is not None else np.full((n, n), np.nan))
        longs.append(snap.btc_corr_long)
        events.extend(snap.events)
    return np.array(mats), np.array(longs), events


@pytest.mark.shared_data
def test_batch_equals_live_and_pandas_on_real_hourly_closes(real_1h: dict[str, BarSeries]) -> None:
    pol = Policy(correlation=CorrelationPolicy(returns_timeframe="1h", window="24h", btc_correlation_window="30d"))
    mon = CorrelationMonitor(ASSETS, pol)
    ts = real_1h["BTC"].ts
    closes = np.column_stack([real_1h[a].close for a in ASSETS])
    hist = mon.batch(ts, closes)
    mats, longs, events = _live(mon, ts, closes)
    assert np.array_equal(np.isnan(mats), np.isnan(hist.matrix))
    np.testing.assert_allclose(mats, hist.matrix, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(longs, hist.btc_corr_long, atol=1e-9, equal_nan=True)
    assert [(e.ts, e.kind, e.asset) for e in events] == [(e.ts, e.kind, e.asset) for e in hist.events]
    # an independent reference: pandas' rolling correlation of log returns
    r = pd.DataFrame(np.log(closes[1:] / closes[:-1]), columns=list(ASSETS))
    ref = r["ETH"].rolling(24).corr(r["BTC"]).to_numpy()
    np.testing.assert_allclose(hist.matrix[1:, 1, 0], ref, atol=1e-9, equal_nan=True)
    ref_long = r["SOL"].rolling(720).corr(r["BTC"]).to_numpy()
    np.testing.assert_allclose(hist.btc_corr_long[1:, 2], ref_long, atol=1e-9, equal_nan=True)
    assert 0.5 < np.nanmedian(hist.btc_corr_long[:, 1]) < 0.95  # ETH follows BTC


def _factor_market(n: int, seed: int, loadings: np.ndarray) -> np.ndarray:
    """Log-price paths whose returns load ``loadings[t, j]`` on one common factor."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 1))
    e = rng.normal(size=(n, loadings.shape[1]))
    r = 0.001 * (loadings * f + np.sqrt(1 - loadings**2) * e)
    return 100 * np.exp(np.cumsum(r, axis=0))


def test_live_matrix_does_not_drift_over_a_long_5m_series() -> None:
    n = 120_000  # ~14 months of 5m bars, window 288
    closes = _factor_market(n, 1, np.full((n, 4), 0.6))
    mon = CorrelationMonitor(("BTC", "ETH", "SOL", "BNB"), Policy())
    assert mon.window == 288 and mon.long_window == 25_920
    ts = np.arange(n, dtype=np.int64) * 300_000
    hist = mon.batch(ts, closes)
    mats, longs, _ = _live(mon, ts, closes)
    np.testing.assert_allclose(mats, hist.matrix, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(longs, hist.btc_corr_long, atol=1e-9, equal_nan=True)
    tail = closes[-289:]
    exact = np.corrcoef(np.log(tail[1:] / tail[:-1]).T)
    np.testing.assert_allclose(mats[-1], exact, atol=1e-12)


def test_spike_and_breakdown_events_fire_once_at_onset() -> None:
    n = 6000
    load = np.full((n, 3), 0.8)
    load[3000:, :] = 0.97  # everything starts moving together: a spike
    load[4500:, 2] = 0.0  # SOL decouples from the market: a breakdown
    closes = _factor_market(n, 2, load)
    mon = CorrelationMonitor(("BTC", "ETH", "SOL"), Policy())
    hist = mon.batch(np.arange(n, dtype=np.int64) * 300_000, closes)
    spikes = [e for e in hist.events if e.kind == SPIKE]
    assert spikes and 3000 * 300_000 <= spikes[0].ts <= 3300 * 300_000
    sol = [e for e in hist.events if e.kind == BREAKDOWN and e.asset == "SOL" and e.ts >= 4500 * 300_000]
    assert len(sol) >= 1 and sol[0].ts <= 4800 * 300_000 and sol[0].value < 0.5
    assert not any(e.asset == "BTC" for e in hist.events)
    assert hist.breakdown[-1, 2] and not hist.breakdown[-1, 1]


def test_an_asset_without_bars_yet_leaves_its_pairs_unknown_in_a_batch() -> None:
    """NaN before an asset's first bar: its correlations are NaN, the other pairs are as without it."""
    mon = CorrelationMonitor(("BTC", "ETH", "SOL"), Policy())
    rng = np.random.default_rng(4)
    t = 3 * mon.window
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (t, 3)), axis=0))
    late = closes.copy()
    late[: mon.window, 2] = np.nan
    full = mon.batch(np.arange(t, dtype=np.int64), closes)
    part = mon.batch(np.arange(t, dtype=np.int64), late)
    assert np.array_equal(full.matrix[:, 0, 1], part.matrix[:, 0, 1], equal_nan=True)
    assert np.isnan(part.matrix[mon.window, 0, 2])
    assert np.allclose(part.matrix[-1], full.matrix[-1])
    known = part.average[mon.window + 1]
    assert np.isfinite(known) and known == pytest.approx(part.matrix[mon.window + 1, 0, 1])


def test_bad_input_names_asset_and_row() -> None:
    mon = CorrelationMonitor(("BTC", "ETH"), Policy())
    closes = np.ones((10, 2))
    closes[7, 1] = 0.0
    with pytest.raises(ValueError, match="close of ETH at row 7"):
        mon.batch(np.arange(10, dtype=np.int64), closes)
    closes[7, 1] = np.inf
    with pytest.raises(ValueError, match="close of ETH at row 7"):
        mon.batch(np.arange(10, dtype=np.int64), closes)
    with pytest.raises(ValueError, match="baseline asset BTC"):
        CorrelationMonitor(("ETH", "SOL"), Policy())
    bad = Policy(correlation=CorrelationPolicy(window="7m"))
    with pytest.raises(ValueError, match=r"correlation.window \(7m\)"):
        CorrelationMonitor(("BTC", "ETH"), bad)


def _hourly_market(seed: int, rows: int, late: int) -> tuple[CorrelationMonitor, np.ndarray, np.ndarray]:
    """A monitor on short windows and ``rows`` hourly closes of random walks, the fourth asset listing ``late``."""
    policy = Policy().model_copy(update={"correlation": CorrelationPolicy(
        returns_timeframe="1h", window="7h", btc_correlation_window="19h")})
    rng = np.random.default_rng(seed)
    closes = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, (rows, len(ASSETS))), axis=0))
    closes[: min(late, rows), 3] = np.nan
    return CorrelationMonitor(ASSETS, policy, "BTC"), np.arange(rows, dtype=np.int64) * 3_600_000, closes


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), rows=st.integers(2, 400), block=st.integers(1, 90),
       late=st.integers(0, 120), keep_every=st.integers(1, 13))
@example(seed=1, rows=9, block=1, late=0, keep_every=1)  # the average of one row summed in another order
def test_the_batch_a_block_at_a_time_is_the_whole_history_to_the_last_bit(
        seed: int, rows: int, block: int, late: int, keep_every: int) -> None:
    """Summed a block at a time (``block_rows``), keeping matrices only at some rows, every figure equals the
    batch over the whole array exactly, an asset listing late (NaN closes) included: without the blocks cut on
    ``rolling_sum``'s own boundaries, the sums would be formed in another order and differ in the last bits."""
    monitor, ts, closes = _hourly_market(seed, rows, late)
    whole = monitor.batch(ts, closes, block_rows=10**9)
    keep = np.arange(0, rows, keep_every, dtype=np.int64)
    blocked = monitor.batch(ts, closes, keep=keep, block_rows=block)
    for name in ("average", "btc_corr", "btc_corr_long", "spike", "breakdown"):
        assert np.array_equal(getattr(blocked, name), getattr(whole, name), equal_nan=True), name
    assert blocked.events == whole.events
    assert np.array_equal(blocked.matrix, whole.matrix[keep], equal_nan=True)
    for row in keep[:5]:
        assert np.array_equal(blocked.matrix_at(int(row)), whole.matrix_at(int(row)), equal_nan=True)
    if keep_every > 1 and rows > 1:
        with pytest.raises(KeyError, match="not kept"):
            blocked.matrix_at(1)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), rows=st.integers(2, 400), block=st.integers(1, 90),
       late=st.integers(0, 120), keep_every=st.integers(1, 13))
def test_a_compact_batch_is_the_whole_history_at_the_kept_rows_with_every_rows_events(
        seed: int, rows: int, block: int, late: int, keep_every: int) -> None:
    """``compact=True`` holds each figure at the kept rows only (what a strategy reads at its decisions, the
    per-row BTC columns never whole) and still gives the events of every row: the same numbers, bit for bit, as
    the full history cut at those rows, whatever the blocks."""
    monitor, ts, closes = _hourly_market(seed, rows, late)
    whole = monitor.batch(ts, closes, block_rows=10**9)
    keep = np.arange(rows - 1, -1, -keep_every, dtype=np.int64)[::-1].copy()
    compact = monitor.batch(ts, closes, keep=keep, block_rows=block, compact=True)
    assert compact.kept is None
    assert np.array_equal(compact.ts, ts[keep])
    for name in ("average", "btc_corr", "btc_corr_long", "spike", "breakdown"):
        assert np.array_equal(getattr(compact, name), getattr(whole, name)[keep], equal_nan=True), name
    assert np.array_equal(compact.matrix, whole.matrix[keep], equal_nan=True)
    assert compact.events == whole.events


def test_a_compact_batch_needs_the_rows_to_keep() -> None:
    monitor = CorrelationMonitor(ASSETS, Policy(), "BTC")
    with pytest.raises(ValueError, match="compact history needs the rows to keep"):
        monitor.batch(np.arange(3, dtype=np.int64), np.ones((3, len(ASSETS))), compact=True)
