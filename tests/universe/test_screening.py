"""Screening on hand-made series: each criterion passes, fails, or is unknown exactly when it should."""

from __future__ import annotations

import numpy as np
import pytest

from quantum_trader.config import Policy
from quantum_trader.domain.market import BarSeries, BookSeries, FundingSeries
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR
from quantum_trader.universe.screening import (
    CORRELATION,
    CRITERIA,
    DEPTH,
    FEED,
    FUNDING_SHARE,
    FUNDING_TYPICAL,
    LISTED,
    VOLUME,
    ScreeningInputs,
    Status,
    perpetual_listed,
    records,
    screen_asset,
)

T0 = 1_735_689_600_000  # 2025-01-01
POLICY = Policy()


def hourly(symbol: str, days: int, closes: np.ndarray | None = None, volume: float = 1.0) -> BarSeries:
    n = days * 24
    ts = T0 + np.arange(n, dtype=np.int64) * MS_PER_HOUR
    c = np.full(n, 100.0) if closes is None else closes[:n]
    return BarSeries(symbol, "1h", ts, c.copy(), c.copy(), c.copy(), c.copy(), np.full(n, volume))


def book_with_depth(per_level_usd: float, levels: int = 20, spacing: float = 0.001) -> BookSeries:
    """Levels every 0.1% out to 2%: a deep, untruncated book, ``per_level_usd`` on each level."""
    mid = 100.0
    bid_px = mid * (1 - spacing / 2 - spacing * np.arange(levels))
    ask_px = mid * (1 + spacing / 2 + spacing * np.arange(levels))
    ts = np.array([T0], dtype=np.int64)
    return BookSeries("SOL/USDT:USDT", ts, bid_px[None, :], (per_level_usd / bid_px)[None, :], ask_px[None, :],
                      (per_level_usd / ask_px)[None, :])


def test_missing_data_is_unknown_for_every_criterion_never_a_pass() -> None:
    screen = screen_asset(ScreeningInputs("SOL/USDT:USDT"), POLICY)
    assert [c.criterion for c in screen.criteria] == list(CRITERIA)
    assert {c.status for c in screen.criteria} == {Status.UNKNOWN}
    assert screen.status is Status.UNKNOWN and not screen.passed


def test_btc_is_not_screened_for_correlation_to_itself() -> None:
    screen = screen_asset(ScreeningInputs("BTC/USDT:USDT"), POLICY)
    assert screen.result(CORRELATION).status is Status.NOT_APPLICABLE


def test_volume_is_usd_over_the_last_24h_and_needs_24h_of_history() -> None:
    # 31 days at $25M an hour: 24h hold $600M >= $500M
    bars = hourly("SOL/USDT:USDT", 31, volume=250_000.0)
    v = screen_asset(ScreeningInputs("SOL/USDT:USDT", bars=bars), POLICY).result(VOLUME)
    assert v.value == pytest.approx(24 * 250_000 * 100.0) and v.status is Status.PASS
    thin = hourly("SOL/USDT:USDT", 31, volume=100_000.0)
    assert screen_asset(ScreeningInputs("SOL/USDT:USDT", bars=thin), POLICY).result(VOLUME).status is Status.FAIL
    short = hourly("SOL/USDT:USDT", 31).slice(T0 + 30 * MS_PER_DAY + 2 * MS_PER_HOUR)
    assert screen_asset(ScreeningInputs("SOL/USDT:USDT", bars=short), POLICY).result(VOLUME).status is Status.UNKNOWN


def test_feed_gaps_count_missing_candles_over_the_reliability_window() -> None:
    bars = hourly("SOL/USDT:USDT", 31)
    keep = np.ones(len(bars), dtype=bool)
    keep[-100:-90] = False  # 10 of the last 720 hourly candles missing: 1.39% > 1%
    gappy = BarSeries(bars.symbol, "1h", bars.ts[keep], bars.open[keep], bars.high[keep], bars.low[keep],
                      bars.close[keep], bars.volume[keep])
    result = screen_asset(ScreeningInputs("SOL/USDT:USDT", bars=gappy), POLICY).result(FEED)
    assert result.value == pytest.approx(10 / 720) and result.status is Status.FAIL
    full = screen_asset(ScreeningInputs("SOL/USDT:USDT", bars=bars), POLICY).result(FEED)
    assert full.value == 0.0 and full.status is Status.PASS
    young = hourly("SOL/USDT:USDT", 20)
    assert screen_asset(ScreeningInputs("SOL/USDT:USDT", bars=young), POLICY).result(FEED).status is Status.UNKNOWN


def test_depth_of_a_deep_book_passes_or_fails_on_the_threshold() -> None:
    # levels at 0.05%, 0.15% ... 0.95% lie within 1%: 10 levels per side
    deep = screen_asset(ScreeningInputs("SOL/USDT:USDT", book=book_with_depth(600_000.0)), POLICY).result(DEPTH)
    assert deep.value == pytest.approx(6_000_000.0) and deep.status is Status.PASS
    shallow = screen_asset(ScreeningInputs("SOL/USDT:USDT", book=book_with_depth(400_000.0)), POLICY).result(DEPTH)
    assert shallow.value == pytest.approx(4_000_000.0) and shallow.status is Status.FAIL


def test_correlation_fails_for_a_btc_clone_passes_for_independent_moves_unknown_when_short() -> None:
    rng = np.random.default_rng(7)
    btc_close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 95 * 24)))
    other = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 95 * 24)))
    btc = hourly("BTC/USDT:USDT", 95, btc_close)
    clone = screen_asset(ScreeningInputs("SOL/USDT:USDT", bars=hourly("SOL/USDT:USDT", 95, btc_close * 2),
                                         btc_bars=btc), POLICY).result(CORRELATION)
    assert clone.value == pytest.approx(1.0) and clone.status is Status.FAIL
    free = screen_asset(ScreeningInputs("SOL/USDT:USDT", bars=hourly("SOL/USDT:USDT", 95, other), btc_bars=btc),
                        POLICY).result(CORRELATION)
    assert abs(float(free.value or 1.0)) < 0.2 and free.status is Status.PASS
    short = screen_asset(ScreeningInputs("SOL/USDT:USDT", bars=hourly("SOL/USDT:USDT", 60, other),
                                         btc_bars=hourly("BTC/USDT:USDT", 60, btc_close)), POLICY).result(CORRELATION)
    assert short.status is Status.UNKNOWN and "less than 90d" in short.evidence


def test_funding_of_other_intervals_is_scaled_to_8h() -> None:
    # hourly settlements of 0.002%: 0.016% per 8h, below 0.1%; 0.015%/h is 0.12% per 8h, above
    ts = T0 + np.arange(31 * 24, dtype=np.int64) * MS_PER_HOUR
    low = FundingSeries("SOL/USDT:USDT", ts, np.full(ts.size, 0.00002))
    result = screen_asset(ScreeningInputs("SOL/USDT:USDT", funding=low), POLICY)
    assert result.result(FUNDING_TYPICAL).value == pytest.approx(0.00016)
    assert result.result(FUNDING_TYPICAL).status is Status.PASS
    high = FundingSeries("SOL/USDT:USDT", ts, np.full(ts.size, -0.00015))
    result = screen_asset(ScreeningInputs("SOL/USDT:USDT", funding=high), POLICY)
    assert result.result(FUNDING_TYPICAL).status is Status.FAIL
    assert result.result(FUNDING_SHARE).value == 1.0 and result.result(FUNDING_SHARE).status is Status.FAIL


def test_perpetual_listing_reads_ccxt_market_metadata() -> None:
    markets = {
        "SOL/USDT:USDT": {"symbol": "SOL/USDT:USDT", "type": "swap", "swap": True, "active": True},
        "BNB/USDT:USDT": {"symbol": "BNB/USDT:USDT", "type": "swap", "swap": True, "active": False},
        "XRP/USDT": {"symbol": "XRP/USDT", "type": "spot", "swap": False, "active": True},
    }
    assert perpetual_listed(markets, "SOL/USDT:USDT")
    assert not perpetual_listed(markets, "BNB/USDT:USDT")
    assert not perpetual_listed(markets, "XRP/USDT:USDT")
    listed = screen_asset(ScreeningInputs("SOL/USDT:USDT", listed=True, sources={"markets": "m.json"}), POLICY)
    assert listed.result(LISTED).status is Status.PASS and listed.result(LISTED).evidence == "m.json"
    unlisted = screen_asset(ScreeningInputs("SOL/USDT:USDT", listed=False), POLICY)
    assert unlisted.result(LISTED).status is Status.FAIL and unlisted.status is Status.FAIL


def test_records_are_one_flat_row_per_asset_and_criterion() -> None:
    rows = records([screen_asset(ScreeningInputs("SOL/USDT:USDT"), POLICY)])
    assert len(rows) == len(CRITERIA)
    assert {r["status"] for r in rows} == {"unknown"}
    assert set(rows[0]) == {"asset", "symbol", "asset_status", "criterion", "status", "value", "comparison",
                            "threshold", "unit", "evidence"}
