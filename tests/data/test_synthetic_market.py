"""The synthetic market: deterministic, realistic in level and shape, internally consistent."""

from __future__ import annotations

import numpy as np
import pytest

from quantum_trader.data.synthetic import (
    Regime,
    SynthConfig,
    SynthConfigError,
    SyntheticMarket,
    btc_dominance,
    generate_market,
    market_caps,
)
from quantum_trader.data.synthetic.book import depth_within, relative_spread
from quantum_trader.domain.time import MS_PER_HOUR, MS_PER_MINUTE, parse_time

BTC, SOL = "BTC/USDT:USDT", "SOL/USDT:USDT"
TIER3 = ("AVAX/USDT:USDT", "LINK/USDT:USDT", "MATIC/USDT:USDT")


@pytest.fixture(scope="module")
def demo() -> SyntheticMarket:
    return generate_market()


def _all_arrays(m: SyntheticMarket) -> list[np.ndarray]:
    out: list[np.ndarray] = [m.regimes]
    for s in m.bars:
        b, k, f, bk, t = m.bars[s], m.mark[s], m.funding[s], m.books[s], m.trade_flow[s]
        out += [b.ts, b.open, b.high, b.low, b.close, b.volume, k.open, k.close, f.ts, f.rate]
        out += [bk.ts, bk.bid_px, bk.bid_sz, bk.ask_px, bk.ask_sz, t.taker_buy_volume, t.taker_sell_volume]
    return out


def test_same_seed_is_bit_identical_and_other_seed_differs() -> None:
    cfg = SynthConfig(days=3, seed=11)
    a, b = generate_market(cfg), generate_market(cfg)
    for x, y in zip(_all_arrays(a), _all_arrays(b), strict=True):
        assert x.tobytes() == y.tobytes()
    c = generate_market(SynthConfig(days=3, seed=12))
    assert not np.array_equal(a.bars[BTC].close, c.bars[BTC].close)
    assert not np.array_equal(a.books[SOL].bid_sz, c.books[SOL].bid_sz)


def test_default_market_has_eight_perps_of_1m_bars_at_realistic_prices(demo: SyntheticMarket) -> None:
    expected = {"BTC": (60e3, 100e3), "ETH": (2.5e3, 3.5e3), "SOL": (120, 180), "BNB": (500, 700),
                "XRP": (0.5, 0.7), "AVAX": (30, 40), "LINK": (12, 18), "MATIC": (0.6, 0.8)}
    assert list(demo.bars) == [f"{a}/USDT:USDT" for a in expected]
    start = parse_time("2025-01-01")
    for asset, (lo, hi) in expected.items():
        bars = demo.bars[f"{asset}/USDT:USDT"]
        assert bars.timeframe == "1m" and len(bars) == 90 * 1440
        assert bars.ts[0] == start and np.all(np.diff(bars.ts) == MS_PER_MINUTE)
        assert lo <= bars.open[0] <= hi


def test_ohlc_is_consistent(demo: SyntheticMarket) -> None:
    for bars in demo.bars.values():
        assert np.all(bars.low > 0)
        assert np.all(bars.high >= np.maximum(bars.open, bars.close))
        assert np.all(bars.low <= np.minimum(bars.open, bars.close))
        np.testing.assert_allclose(bars.open[1:], bars.close[:-1], rtol=1e-12)
        # wicks exist but are not absurd: typical 1m range of a few basis points
        med_range = np.median((bars.high - bars.low) / bars.close)
        assert 1e-5 < med_range < 5e-3


def test_usd_volume_levels_and_taker_split(demo: SyntheticMarket) -> None:
    days = 90
    btc = demo.bars[BTC]
    assert 10e9 <= np.sum(btc.close * btc.volume) / days <= 30e9
    for sym in TIER3:
        b = demo.bars[sym]
        assert 0.2e9 <= np.sum(b.close * b.volume) / days <= 1e9
    for sym, flow in demo.trade_flow.items():
        bars = demo.bars[sym]
        np.testing.assert_allclose(flow.taker_buy_volume + flow.taker_sell_volume, bars.volume, rtol=1e-12)
        share = flow.taker_buy_volume / bars.volume
        up, down = bars.close > bars.open, bars.close < bars.open
        assert share[up].mean() > 0.55 > 0.45 > share[down].mean()


def test_funding_settles_at_00_08_16_utc_and_stays_realistic(demo: SyntheticMarket) -> None:
    for funding in demo.funding.values():
        assert len(funding) == 90 * 3
        assert set(((funding.ts // MS_PER_HOUR) % 24).tolist()) == {0, 8, 16}
        assert np.all(np.abs(funding.rate) <= 0.003)
        assert 0.00003 < np.median(funding.rate) < 0.0002
        assert np.median(np.abs(funding.rate)) < 0.001  # the spec's "< 0.1% per 8h typical"


def test_funding_leans_with_the_trend(demo: SyntheticMarket) -> None:
    leans = []
    for sym, funding in demo.funding.items():
        close = demo.bars[sym].close
        idx = (funding.ts[1:] - demo.bars[sym].ts[0]) // MS_PER_MINUTE - 1
        trailing = np.log(close[idx]) - np.log(close[idx - 479])
        leans.append(np.corrcoef(trailing, funding.rate[1:])[0, 1])
    assert np.mean(leans) > 0.2


def test_mark_tracks_last_price_within_a_few_basis_points(demo: SyntheticMarket) -> None:
    for sym, mark in demo.mark.items():
        rel = mark.close / demo.bars[sym].close - 1.0
        assert np.max(np.abs(rel)) < 0.003
        assert np.all(mark.high >= np.maximum(mark.open, mark.close))


def test_books_are_well_formed_and_match_the_snapshot_rule(demo: SyntheticMarket) -> None:
    for sym, book in demo.books.items():
        assert book.levels == 10 and len(book) == 90 * 288
        assert np.all(np.diff(book.ts) == 5 * MS_PER_MINUTE)
        assert np.all(book.bid_px[:, 0] < book.ask_px[:, 0])
        assert np.all(np.diff(book.bid_px, axis=1) < 0) and np.all(np.diff(book.ask_px, axis=1) > 0)
        assert np.all(book.bid_sz > 0) and np.all(book.ask_sz > 0)
        bid, ask = depth_within(book, 0.01)
        snap = book.snapshot(1234)
        assert snap.depth_within(0.01) == pytest.approx((bid[1234], ask[1234]), rel=1e-12)
        # the book's mid is the traded price at snapshot time
        np.testing.assert_allclose((book.bid_px[:, 0] + book.ask_px[:, 0]) / 2, demo.bars[sym].open[::5])


def test_depth_and_spread_levels_match_the_spec_scale(demo: SyntheticMarket) -> None:
    btc_bid, btc_ask = depth_within(demo.books[BTC])
    assert 10e6 <= np.median(np.minimum(btc_bid, btc_ask)) <= 50e6
    sol = np.median(np.minimum(*depth_within(demo.books[SOL])))
    assert 2e6 <= sol <= 12e6
    fail_shares = [np.mean(np.minimum(*depth_within(demo.books[s])) < 5e6) for s in TIER3]
    assert any(0.05 < f < 0.95 for f in fail_shares), fail_shares  # sometimes fails the $5M screen
    for sym, book in demo.books.items():
        spread = relative_spread(book)
        assert 0.0001 <= np.median(spread) <= 0.0005, sym


def test_depth_thins_and_spread_widens_when_volatility_rises(demo: SyntheticMarket) -> None:
    book = demo.books[BTC]
    bars = demo.bars[BTC]
    hourly_ret = np.abs(np.diff(np.log(bars.close[59::60])))
    busy = np.repeat(np.concatenate([[0.0], hourly_ret]) > np.quantile(hourly_ret, 0.8), 12)
    depth = np.minimum(*depth_within(book))
    assert np.median(depth[busy]) < np.median(depth[~busy])
    assert np.median(relative_spread(book)[busy]) > np.median(relative_spread(book)[~busy])


def test_regimes_cover_all_four_states_and_shape_returns() -> None:
    m = generate_market(SynthConfig(days=365, seed=5))
    codes = m.regimes
    assert codes.size == len(m.bars[BTC])
    assert set(np.unique(codes).tolist()) == {r.value for r in Regime}
    hourly_codes = codes[::60][1:]
    means_up, means_down, vol_range, vol_high = [], [], [], []
    for bars in m.bars.values():
        r = np.diff(np.log(bars.close[59::60]))
        means_up.append(r[hourly_codes == Regime.TRENDING_UP].mean())
        means_down.append(r[hourly_codes == Regime.TRENDING_DOWN].mean())
        vol_range.append(r[hourly_codes == Regime.RANGING].std())
        vol_high.append(r[hourly_codes == Regime.HIGH_VOL].std())
    assert np.mean(means_up) > 0 > np.mean(means_down)
    assert np.mean(vol_high) > 1.5 * np.mean(vol_range)


def test_crashes_hit_every_asset_together_and_raise_correlation(demo: SyntheticMarket) -> None:
    assert len(demo.crashes) >= 1
    start = demo.bars[BTC].ts[0]
    minute_r = np.array([np.diff(np.log(b.close)) for b in demo.bars.values()])
    inside = np.zeros(minute_r.shape[1], dtype=bool)
    for crash in demo.crashes:
        lo = (crash.start_ms - start) // MS_PER_MINUTE
        drop = np.log(np.array([b.close[lo + crash.drop_minutes] / b.open[lo] for b in demo.bars.values()]))
        assert np.all(drop < -0.03), drop
        inside[lo : (crash.end_ms - start) // MS_PER_MINUTE] = True
        regimes = demo.regimes[lo : lo + crash.drop_minutes]
        assert np.all(regimes == Regime.HIGH_VOL)
    corr_in = np.corrcoef(minute_r[:, inside])[np.triu_indices(8, 1)].mean()
    corr_out = np.corrcoef(minute_r[:, ~inside])[np.triu_indices(8, 1)].mean()
    assert corr_in > corr_out + 0.1


def test_market_caps_and_dominance_use_the_policy_supply(demo: SyntheticMarket) -> None:
    from quantum_trader.config import load_policy

    supply = load_policy().market_reference.circulating_supply
    caps = market_caps(demo)
    np.testing.assert_allclose(caps[BTC], demo.bars[BTC].close * supply["BTC"])
    dom = btc_dominance(demo)
    assert dom.shape == demo.bars[BTC].close.shape
    assert np.all((dom > 0.5) & (dom < 0.95))
    unit = tuple((a, 1.0) for a in ("BTC", "ETH", "SOL", "BNB", "XRP", "AVAX", "LINK", "MATIC"))
    other = generate_market(SynthConfig(days=2, supply=unit))
    assert other.supply[BTC] == 1.0


def test_asset_subset_by_code_or_symbol_and_dominance_needs_btc() -> None:
    m = generate_market(SynthConfig(days=2, assets=("ETH/USDT:USDT", "SOL")))
    assert list(m.bars) == ["ETH/USDT:USDT", SOL]
    with pytest.raises(ValueError, match="no BTC/USDT:USDT"):
        btc_dominance(m)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"assets": ("BTC", "DOGE")}, "DOGE"),
        ({"assets": ("BTC", "BTC/USDT:USDT")}, "listed twice"),
        ({"days": 0}, "days"),
        ({"start": "2025-01-01T00:30:00"}, "whole UTC hour"),
        ({"book_interval": "30s"}, "book_interval"),
        ({"book_levels": 0}, "book_levels"),
    ],
)
def test_bad_settings_get_one_clear_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SynthConfigError, match=message):
        SynthConfig(**kwargs)  # type: ignore[arg-type]


def test_book_interval_and_levels_are_honoured() -> None:
    m = generate_market(SynthConfig(days=1, assets=("BTC",), book_interval="15m", book_levels=3))
    book = m.books[BTC]
    assert len(book) == 96 and book.levels == 3
    assert np.all(np.diff(book.ts) == 15 * MS_PER_MINUTE)
