"""Each rule fires once on entering its condition, stays silent while it holds, and re-arms when it clears (a level
rule: once its value is back past its margin, ``test_alerts_rearm.py``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantum_trader.config.policy import Policy
from quantum_trader.monitor.alerts import AlertKind, AlertRuleBook, RuleSettings, Severity
from quantum_trader.monitor.alerts.liquidity import TrailingMedian, trailing_medians
from quantum_trader.risk import EventKind, RiskEvent

H = 3_600_000


@pytest.fixture
def book() -> AlertRuleBook:
    return AlertRuleBook(RuleSettings.of_policy(Policy()))


def test_settings_come_from_the_policy() -> None:
    s = RuleSettings.of_policy(Policy())
    assert (s.spike_threshold, s.exposure_above, s.liquidity_drop, s.pair_jump) == (0.85, 0.35, 0.5, 0.30)
    assert (s.median_window_ms, s.short_window_ms) == (7 * 24 * H, H)
    assert s.max_spread == 0.0005


def test_exposure_fires_on_entry_and_rearms(book: AlertRuleBook) -> None:
    series = [0.10, 0.30, 0.36, 0.39, 0.38, 0.34, 0.20, 0.37, 0.40]
    fired = [(i, a) for i, x in enumerate(series) for a in book.exposure(i * H, x)]
    assert [i for i, _ in fired] == [2, 7]
    alert = fired[0][1]
    assert alert.kind is AlertKind.EXPOSURE and alert.severity is Severity.WARNING
    assert alert.message == "portfolio exposure 36.0% above 35.0%"
    assert alert.key == "exposure" and alert.ts == 2 * H
    assert book.exposure(99 * H, 0.35) == []  # at the line is not above it


def _matrix(c: float, n: int = 3) -> list[list[float]]:
    m = np.full((n, n), c)
    np.fill_diagonal(m, 1.0)
    return m.tolist()


def test_mean_correlation_spike_at_089_fires_once(book: AlertRuleBook) -> None:
    symbols = ("BTC", "ETH", "SOL")
    means = [0.60, 0.80, 0.89, 0.90, 0.88, 0.70, 0.86]
    fired = []
    for i, c in enumerate(means):
        fired += [(i, a) for a in book.correlation(i * H, symbols, _matrix(c), c) if a.key == "correlation_mean"]
    assert [i for i, _ in fired] == [2, 6]
    assert fired[0][1].message == "mean pairwise 24h correlation 0.89 above 0.85 (3 assets)"
    assert fired[0][1].kind is AlertKind.CORRELATION_SPIKE


def test_one_pair_jumping_is_a_spike(book: AlertRuleBook) -> None:
    symbols = ("BTC", "ETH", "SOL")
    m = np.array(_matrix(0.3))
    assert book.correlation(0, symbols, m.tolist(), 0.3) == []  # first update: nothing to compare with
    m2 = m.copy()
    m2[0, 2] = m2[2, 0] = 0.65  # BTC/SOL +0.35
    fired = book.correlation(H, symbols, m2.tolist(), float(np.mean([0.3, 0.65, 0.3])))
    assert [a.key for a in fired] == ["correlation_pair:BTC/SOL"]
    assert "BTC/SOL 24h correlation jumped 0.30 -> 0.65 (+0.35, more than 0.30 between updates)" in fired[0].message
    m3 = m2.copy()
    m3[0, 2] = m3[2, 0] = 0.97  # a second jump while the first has not cleared: silent
    assert book.correlation(2 * H, symbols, m3.tolist(), 0.5) == []
    assert book.correlation(3 * H, symbols, m3.tolist(), 0.5) == []  # no change: clears
    m4 = m3.copy()
    m4[0, 2] = m4[2, 0] = 0.4
    assert book.correlation(4 * H, symbols, m4.tolist(), 0.4) == []  # a fall is no spike
    m4[0, 2] = m4[2, 0] = 0.75
    assert [a.key for a in book.correlation(5 * H, symbols, m4.tolist(), 0.5)] == ["correlation_pair:BTC/SOL"]


def test_correlation_spike_can_be_switched_off() -> None:
    policy = Policy.model_validate({"dashboard": {"alerts": {"correlation_spike": False}}})
    book = AlertRuleBook(RuleSettings.of_policy(policy))
    assert book.correlation(0, ("A", "B"), _matrix(0.95, 2), 0.95) == []


def test_tier_removal_fires_for_tier_1_and_2_only(book: AlertRuleBook) -> None:
    assert book.tier(0, "SOL", 2, "") == []
    fired = book.tier(H, "SOL", None, "removed: depth 3.1M below 5M")
    assert [a.message for a in fired] == ["SOL removed from tier 2 (out of the universe): removed: depth 3.1M below 5M"]
    assert book.tier(2 * H, "SOL", 3, "demoted") == []  # still out of tier 1/2
    assert book.tier(3 * H, "SOL", 2, "restored") == []
    assert len(book.tier(4 * H, "SOL", 3, "demoted")) == 1  # re-armed
    assert book.tier(5 * H, "DOGE", 3, "") == [] and book.tier(6 * H, "DOGE", None, "") == []  # never tier 1/2
    assert len(book.tier(7 * H, "XRP", None, "screened out", was=1)) == 1  # the first update a change


def test_liquidity_drop_of_depth_and_spread(book: AlertRuleBook) -> None:
    assert book.liquidity(0, "BTC", 6e6, 10e6) == []
    fired = book.liquidity(H, "BTC", 4e6, 10e6)
    assert [a.key for a in fired] == ["liquidity_depth:BTC"]
    assert fired[0].message == "BTC depth within 1% 4,000,000 USD is 40% of its usual 10,000,000 (alert below 50%)"
    assert book.liquidity(2 * H, "BTC", 3e6, 10e6) == []
    assert book.liquidity(3 * H, "BTC", 5.5e6, 10e6) == []  # above the line, not yet half-way back: holds
    assert book.liquidity(4 * H, "BTC", 4.5e6, 10e6) == []  # a flicker is no second alert
    assert book.liquidity(5 * H, "BTC", 7.5e6, 10e6) == []  # back to 75% of usual: re-armed
    assert len(book.liquidity(6 * H, "BTC", 1e6, 10e6)) == 1
    assert book.liquidity(7 * H, "ETH", 1e6, None) == []  # no usual depth yet: no judgement
    spread = book.liquidity(8 * H, "ETH", None, None, 0.0008)
    assert [a.message for a in spread] == ["ETH spread 0.0800% above its limit 0.0500%"]
    assert book.liquidity(9 * H, "ETH", None, None, 0.0009) == []


def test_kill_switch_and_locks_rearm_on_their_events(book: AlertRuleBook) -> None:
    trip = RiskEvent(H, EventKind.TRIP_DAILY, "portfolio down 5.10% on the UTC day", figure=-0.051, limit=-0.05)
    fired = book.risk_event(trip)
    assert fired[0].kind is AlertKind.KILL_SWITCH and fired[0].severity is Severity.CRITICAL
    assert fired[0].message == "kill switch tripped (daily, -5.1% against -5.0%): portfolio down 5.10% on the UTC day"
    assert book.risk_event(trip) == []
    assert len(book.risk_event(RiskEvent(2 * H, EventKind.TRIP_DRAWDOWN, "drawdown 20%"))) == 1
    book.risk_event(RiskEvent(3 * H, EventKind.REARM, "new day"))
    assert len(book.risk_event(trip)) == 1
    assert book.risk_event(RiskEvent(4 * H, EventKind.TRIP_DRAWDOWN, "drawdown 21%")) == []  # needs a reset
    lock = RiskEvent(H, EventKind.LOCK, "SOL down 3.2%", figure=-0.032, limit=-0.03, symbol="SOL/USDT:USDT")
    assert [a.kind for a in book.risk_event(lock)] == [AlertKind.ASSET_LOCK]
    assert book.risk_event(lock) == []
    book.risk_event(RiskEvent(5 * H, EventKind.UNLOCK, "new day", symbol="SOL/USDT:USDT"))
    assert len(book.risk_event(lock)) == 1


@dataclass(frozen=True)
class _Incident:
    ts: int
    kind: str
    message: str
    symbol: str = ""


def test_stale_feed_and_reconciliation_incidents(book: AlertRuleBook) -> None:
    stale = _Incident(H, "stale_feed", "no closed bar for 2 intervals")
    assert [a.kind for a in book.incident(stale)] == [AlertKind.STALE_FEED]
    assert book.incident(stale) == []
    assert book.incident(_Incident(2 * H, "feed_resumed", "bars again")) == []
    assert len(book.incident(stale)) == 1
    unknown = _Incident(H, "order_unknown", "order abc not found", "BTC/USDT:USDT")
    fired = book.incident(unknown)
    assert fired[0].kind is AlertKind.RECONCILIATION and fired[0].severity is Severity.CRITICAL
    assert fired[0].message == "order_unknown BTC/USDT:USDT: order abc not found"
    fill = _Incident(H, "foreign_fill", "a fill we did not send", "ETH/USDT:USDT")
    assert len(book.incident(fill)) == 1 and len(book.incident(fill)) == 1  # each foreign fill is news
    assert book.incident(_Incident(H, "retried", "timeout, retried")) == []


@given(st.lists(st.floats(0.0, 0.8), min_size=1, max_size=60))
def test_without_a_margin_exposure_fires_exactly_at_each_entry(series: list[float]) -> None:
    policy = Policy.model_validate({"dashboard": {"alerts": {"rearm": {"portfolio_exposure": 0.0}}}})
    book = AlertRuleBook(RuleSettings.of_policy(policy))
    fired = [i for i, x in enumerate(series) if book.exposure(i, x)]
    above = [x > 0.35 for x in series]
    assert fired == [i for i, a in enumerate(above) if a and (i == 0 or not above[i - 1])]


@given(st.lists(st.tuples(st.integers(1, 600_000), st.floats(1.0, 1e7)), min_size=1, max_size=80), st.booleans())
def test_trailing_median_equals_the_batch_one(rows: list[tuple[int, float]], current: bool) -> None:
    ts = np.cumsum([r[0] for r in rows]).astype(np.int64)
    depth = np.array([r[1] for r in rows])
    window = 3_600_000
    batch = trailing_medians(ts, depth, window, min_samples=3, current=current)
    live = TrailingMedian(window, min_samples=3, current=current)
    streamed = [live.push(int(t), float(d)) for t, d in zip(ts, depth, strict=True)]
    assert [None if np.isnan(b) else pytest.approx(b) for b in batch] == streamed


@given(st.lists(st.tuples(st.integers(0, 900_000), st.one_of(st.floats(1.0, 1e7), st.just(float("nan")))),
                min_size=1, max_size=120), st.booleans(), st.integers(1, 40), st.integers(1, 5))
def test_trailing_medians_a_chunk_at_a_time_are_the_whole_historys(
        rows: list[tuple[int, float]], current: bool, chunk: int, min_samples: int) -> None:
    """A run's history rolled ``chunk_rows`` snapshots at a time (its write holds one chunk, not the years) gives
    every median of the history rolled at once, bit for bit: repeated times, gaps longer than the window and
    missing depth included."""
    ts = np.cumsum([r[0] for r in rows]).astype(np.int64)
    depth = np.array([r[1] for r in rows])
    window = 3_600_000
    whole = trailing_medians(ts, depth, window, min_samples, current=current, chunk_rows=10**9)
    chunked = trailing_medians(ts, depth, window, min_samples, current=current, chunk_rows=chunk)
    assert np.array_equal(chunked, whole, equal_nan=True)


class _LiveDecisions:
    """A live session's decisions: only the newest decision answers (``GrowingDecisions``)."""

    close_ts = np.array([H, 2 * H], dtype=np.int64)

    def correlation(self, k: int) -> np.ndarray | None:
        raise IndexError(f"decision {k} is not the newest")

    def correlation_time(self, k: int) -> int | None:
        raise IndexError(f"decision {k} is not the newest")


def test_a_live_run_folder_reads_the_correlation_means_from_its_events() -> None:
    import pandas as pd

    from quantum_trader.monitor.alerts.run_alerts import correlation_updates

    events = pd.DataFrame({"ts": [H, 2 * H, 3 * H], "kind": ["correlation_update", "refused", "correlation_update"],
                           "value": [0.5, float("nan"), 0.9]})
    assert correlation_updates(_LiveDecisions(), events, 3 * H) == [(H, None, 0.5), (3 * H, None, 0.9)]
