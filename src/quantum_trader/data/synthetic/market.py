"""The deterministic synthetic multi-asset perpetual market: one seed, one bit-identical market.

This is the embedded default behind the demo, the tests and the stress scenarios, so
it must run anywhere (no data files), fast (a year of 1m bars for 8 assets in seconds),
and be the same on every run for a given seed. Every random component draws from its
own child of one ``SeedSequence``, so changing e.g. the book interval does not change
the price path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from quantum_trader.data.synthetic.book import simulate_book
from quantum_trader.data.synthetic.crashes import (
    Crash,
    crash_betas,
    crash_overlay,
    diffusive_scale,
    schedule_crashes,
)
from quantum_trader.data.synthetic.microstructure import (
    funding_rates,
    funding_times,
    mark_factor,
    taker_buy_share,
    usd_volume,
)
from quantum_trader.data.synthetic.params import ASSET_ORDER, AssetParams, asset_params, cholesky
from quantum_trader.data.synthetic.regimes import simulate_regimes
from quantum_trader.data.synthetic.returns import ohlc_from_returns, simulate_returns
from quantum_trader.domain.market import BarSeries, BookSeries, FundingSeries, TradeFlowSeries
from quantum_trader.domain.symbols import asset_of, perp_symbol
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, parse_time, timeframe_ms

F64 = npt.NDArray[np.float64]

POST_CRASH_HIGH_VOL_HOURS: Final = 6
"""Hours after a crash's rebound that stay in the high-volatility regime."""


class SynthConfigError(ValueError):
    """A synthetic-market setting that cannot be honoured; the message names the field."""


@dataclass(frozen=True)
class SynthConfig:
    """Settings of the synthetic market; the defaults give the demo market (90 days, seed 7).

    ``assets`` accepts short codes (``BTC``) or unified symbols (``BTC/USDT:USDT``).
    ``supply`` overrides the policy's circulating-supply table (pairs of asset, supply).
    """

    days: int = 90
    seed: int = 7
    start: str = "2025-01-01"
    assets: tuple[str, ...] = ASSET_ORDER
    book_interval: str = "5m"
    book_levels: int = 10
    crash_rate_per_year: float = 4.0
    min_crashes: int = 1
    supply: tuple[tuple[str, float], ...] | None = None

    def __post_init__(self) -> None:
        if self.days < 1:
            raise SynthConfigError(f"days: must be at least 1, got {self.days}")
        if not self.assets:
            raise SynthConfigError("assets: at least one asset is needed")
        codes = [asset_of(a) for a in self.assets]
        if len(set(codes)) != len(codes):
            raise SynthConfigError(f"assets: listed twice in {list(self.assets)}")
        for code in codes:
            try:
                asset_params(code)
            except ValueError as exc:
                raise SynthConfigError(f"assets: {exc}") from None
        try:
            start_ms = parse_time(self.start)
            interval = timeframe_ms(self.book_interval)
        except ValueError as exc:
            raise SynthConfigError(f"start/book_interval: {exc}") from None
        if start_ms % MS_PER_HOUR:
            raise SynthConfigError(f"start: must fall on a whole UTC hour, got {self.start!r}")
        if interval % MS_PER_MINUTE or interval > MS_PER_DAY:
            raise SynthConfigError(
                f"book_interval: must be whole minutes up to 1d, got {self.book_interval!r}"
            )
        if self.book_levels < 1:
            raise SynthConfigError(f"book_levels: must be at least 1, got {self.book_levels}")
        if self.crash_rate_per_year < 0 or self.min_crashes < 0:
            raise SynthConfigError("crash_rate_per_year and min_crashes: must not be negative")

    @property
    def start_ms(self) -> int:
        return parse_time(self.start)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(asset_of(a) for a in self.assets)


@dataclass(frozen=True)
class SyntheticMarket:
    """Every series of the synthetic market, keyed by unified symbol (``BTC/USDT:USDT``)."""

    bars: dict[str, BarSeries]
    mark: dict[str, BarSeries]
    funding: dict[str, FundingSeries]
    books: dict[str, BookSeries]
    trade_flow: dict[str, TradeFlowSeries]
    regimes: npt.NDArray[np.int8]
    """Market regime per minute (``Regime`` codes), aligned with every bar series."""
    supply: dict[str, float]
    crashes: tuple[Crash, ...] = field(default=())
    """The correlated crashes placed in this market, for tests, plots and stress reports."""

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.bars)


def _supply_table(config: SynthConfig, params: tuple[AssetParams, ...]) -> dict[str, float]:
    if config.supply is not None:
        table: Mapping[str, float] = dict(config.supply)
    else:
        from quantum_trader.config import load_policy

        table = load_policy().market_reference.circulating_supply
    return {perp_symbol(p.asset): float(table.get(p.asset, p.supply_fallback)) for p in params}


def _forced_high_vol(crashes: tuple[Crash, ...], start_ms: int, n_hours: int) -> npt.NDArray[np.bool_]:
    forced = np.zeros(n_hours, dtype=bool)
    for crash in crashes:
        lo = (crash.start_ms - start_ms) // MS_PER_HOUR
        hi = -(-(crash.end_ms - start_ms) // MS_PER_HOUR) + POST_CRASH_HIGH_VOL_HOURS
        forced[lo:min(hi, n_hours)] = True
    return forced


def generate_market(config: SynthConfig = SynthConfig()) -> SyntheticMarket:
    """Simulate the whole market for ``config``; identical seeds give bit-identical arrays."""
    params = tuple(asset_params(code) for code in config.codes)
    symbols = tuple(perp_symbol(p.asset) for p in params)
    start_ms = config.start_ms
    n_hours = config.days * 24
    n_min = n_hours * 60
    children = np.random.SeedSequence(config.seed).spawn(7)
    crash_rng, regime_rng, return_rng, ohlc_rng, flow_rng, funding_rng = (
        np.random.default_rng(s) for s in children[:6]
    )
    book_rngs = [np.random.default_rng(s) for s in children[6].spawn(len(params))]

    vols = np.array([p.annual_vol for p in params])
    crashes = schedule_crashes(crash_rng, n_min, start_ms, config.crash_rate_per_year, config.min_crashes)
    betas = crash_betas(vols, asset_params("BTC").annual_vol)
    crash_idx, crash_val = crash_overlay(crashes, start_ms, n_min, betas)
    regimes = simulate_regimes(regime_rng, n_hours, _forced_high_vol(crashes, start_ms, n_hours))
    paths = simulate_returns(
        return_rng, params, cholesky(config.codes), start_ms, regimes, crash_idx, crash_val,
        diffusive_scale(crashes, n_min),
    )
    start_prices = np.array([p.start_price for p in params])
    open_, high, low, close = ohlc_from_returns(ohlc_rng, paths.log_returns, paths.minute_sigma, start_prices)

    usd = usd_volume(flow_rng, paths, params)
    base_volume = usd / close
    buy = base_volume * taker_buy_share(flow_rng, paths)
    sell = base_volume - buy

    ts = start_ms + np.arange(n_min, dtype=np.int64) * MS_PER_MINUTE
    f_times = funding_times(start_ms, start_ms + n_min * MS_PER_MINUTE)
    log_path = np.vstack([np.log(start_prices)[None, :], np.log(close)])
    rates = funding_rates(funding_rng, f_times, start_ms, log_path, params)
    factor = mark_factor(funding_rng, n_min, start_ms, f_times, rates)

    step = timeframe_ms(config.book_interval) // MS_PER_MINUTE
    book_idx = np.arange(0, n_min, step, dtype=np.int64)
    vol_ratio = paths.hour_level / np.median(paths.hour_level, axis=0, keepdims=True)

    bars: dict[str, BarSeries] = {}
    mark: dict[str, BarSeries] = {}
    funding: dict[str, FundingSeries] = {}
    books: dict[str, BookSeries] = {}
    flow: dict[str, TradeFlowSeries] = {}
    zeros = np.zeros(n_min)
    for i, (sym, p) in enumerate(zip(symbols, params, strict=True)):
        col = np.s_[:, i]
        o, h, lo_, c = (np.ascontiguousarray(a[col]) for a in (open_, high, low, close))
        bars[sym] = BarSeries(sym, "1m", ts, o, h, lo_, c, np.ascontiguousarray(base_volume[col]))
        m = np.ascontiguousarray(factor[col])
        mark[sym] = BarSeries(sym, "1m", ts, o * m, h * m, lo_ * m, c * m, zeros)
        funding[sym] = FundingSeries(sym, f_times, np.ascontiguousarray(rates[col]))
        flow[sym] = TradeFlowSeries(
            sym, "1m", ts, np.ascontiguousarray(buy[col]), np.ascontiguousarray(sell[col])
        )
        books[sym] = simulate_book(
            book_rngs[i], sym, p, ts[book_idx], o[book_idx], vol_ratio[book_idx // 60, i], config.book_levels
        )
    return SyntheticMarket(
        bars=bars,
        mark=mark,
        funding=funding,
        books=books,
        trade_flow=flow,
        regimes=np.repeat(regimes, 60),
        supply=_supply_table(config, params),
        crashes=crashes,
    )


def market_caps(market: SyntheticMarket) -> dict[str, F64]:
    """Per-minute market capitalisation (close x circulating supply) of each symbol, in USD."""
    return {sym: bars.close * market.supply[sym] for sym, bars in market.bars.items()}


def total_market_cap(market: SyntheticMarket) -> F64:
    caps = list(market_caps(market).values())
    return np.asarray(np.sum(caps, axis=0), dtype=np.float64)


def btc_dominance(market: SyntheticMarket) -> F64:
    """BTC's share of the market cap of the assets in this market (not of all crypto), per minute."""
    btc = perp_symbol("BTC")
    if btc not in market.bars:
        raise ValueError(f"btc_dominance: the market has no {btc}; it holds {', '.join(market.bars)}")
    btc_cap = market.bars[btc].close * market.supply[btc]
    return np.asarray(btc_cap / total_market_cap(market), dtype=np.float64)
