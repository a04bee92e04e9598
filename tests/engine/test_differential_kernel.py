"""The engine against itself: its accelerators must take exactly the decisions of its plain paths.

- Active-decision jumping: a strategy that says at which decisions it can act (``active()``)
  lets the replay skip the others. Visiting every decision must not move trades, fills or
  final equity, under the fixed-fraction profile and under the whole policy.
- The sampled equity curve (hourly closes plus every processed bar) must be a subset of the
  dense one recorded when every 1m decision is visited: same values at the same times.
- Jumping between processed bars (the venue's and the loss limits' scans) must equal
  visiting every bar event by event: identical orders, fills, trades, equity and events,
  also when the market arrives in short stretches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from quantum_trader.analytics.backtest import assemble_market
from quantum_trader.config import Policy, load_policy
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.domain.market import F64, I64, BarSeries
from quantum_trader.domain.trading import Intent, Side
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.recorder import HOUR_MS, Recorder, SpanBook, span_figures, span_row
from quantum_trader.engine.strategies import SmaCrossStrategy
from quantum_trader.engine.strategy import Decisions, Held, active_decisions

POLICY = load_policy(env={})


@dataclass
class EveryDecision:
    """Wraps a strategy's decisions without ``active``: the kernel must visit each one."""

    inner: Decisions

    @property
    def close_ts(self) -> I64:
        return self.inner.close_ts

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.inner.symbols

    def intents(self, k: int) -> list[Intent]:
        return self.inner.intents(k)

    def exits(self, k: int, held: Mapping[str, Held]) -> list[tuple[str, str]]:
        return self.inner.exits(k, held)

    def correlation(self, k: int) -> F64 | None:
        return self.inner.correlation(k)

    def correlation_time(self, k: int) -> int | None:
        return self.inner.correlation_time(k)

    def active(self) -> I64:
        return np.arange(self.close_ts.size, dtype=np.int64)


@pytest.fixture(scope="module")
def market() -> tuple[dict[str, BarSeries], MarketData]:
    m = generate_market(SynthConfig(days=6, seed=11, assets=("BTC", "ETH", "SOL")))
    return m.bars, assemble_market(m.bars, m.funding, m.books)


def _run(data: MarketData, decisions: Decisions, *, plain: bool, policy: Policy = POLICY, jump: bool = True,
         chunk_rows: int | None = None, fraction: float = 0.9) -> Recorder:
    settings = KernelSettings(policy=policy.as_fixed_fraction(fraction) if plain else policy, slippage=True)
    return Kernel(data, settings, jump=jump, chunk_rows=chunk_rows).run(decisions)


def _same_trades(a: Recorder, b: Recorder, *, equity: bool = False) -> None:
    pd.testing.assert_frame_equal(a.trades_frame(), b.trades_frame())
    pd.testing.assert_frame_equal(a.events_frame(), b.events_frame())
    assert (a.orders, a.fills, dict(a.refusals)) == (b.orders, b.fills, dict(b.refusals))
    assert a.equity[-1][1] == pytest.approx(b.equity[-1][1], rel=1e-12)
    if equity:
        pd.testing.assert_frame_equal(a.equity_frame(), b.equity_frame())


def test_sma_cross_visits_only_crosses(market: tuple[dict[str, BarSeries], MarketData]) -> None:
    bars, _ = market
    decisions = SmaCrossStrategy(5, 20).prepare(bars, POLICY)
    active = active_decisions(decisions)
    crossed = np.zeros(decisions.close_ts.size, dtype=bool)
    for symbol in decisions.symbols:
        crossed |= decisions.long_cross[symbol] | decisions.short_cross[symbol]
    assert np.array_equal(active, np.flatnonzero(crossed))
    assert 0 < active.size < decisions.close_ts.size / 3
    assert active_decisions(EveryDecision(decisions)).size == decisions.close_ts.size


def test_jumping_between_crosses_trades_as_visiting_every_minute(
    market: tuple[dict[str, BarSeries], MarketData],
) -> None:
    bars, data = market
    decisions = SmaCrossStrategy(5, 20).prepare(bars, POLICY)
    fast = _run(data, decisions, plain=True)
    slow = _run(data, EveryDecision(decisions), plain=True)
    assert len(fast.trades) > 50
    _same_trades(fast, slow)


@pytest.mark.parametrize("seed", range(3))
def test_jumping_under_the_whole_policy_trades_as_visiting_every_decision(
    market: tuple[dict[str, BarSeries], MarketData], seed: int
) -> None:
    bars, data = market
    decisions = _random_stops(bars, seed, entries=60)
    fast = _run(data, decisions, plain=False)
    slow = _run(data, EveryDecision(decisions), plain=False)
    assert len(fast.trades) > 10
    _same_trades(fast, slow)


def test_sampled_equity_curve_is_the_dense_curve_at_fewer_times(
    market: tuple[dict[str, BarSeries], MarketData],
) -> None:
    bars, data = market
    decisions = SmaCrossStrategy(5, 20).prepare(bars, POLICY)
    sampled = _run(data, decisions, plain=True).equity_frame()
    dense = _run(data, EveryDecision(decisions), plain=True).equity_frame()
    assert sampled["ts"].is_monotonic_increasing and sampled["ts"].is_unique
    assert len(sampled) < len(dense) / 3
    hours = np.arange(int(data.grid.ts[0]) + HOUR_MS, int(data.grid.ts[-1]) + 60_000 + 1, HOUR_MS)
    assert set(hours) <= set(sampled["ts"])  # every UTC hour's close is on the curve
    joined = sampled.merge(dense, on="ts", suffixes=("", "_dense"))
    assert len(joined) >= len(hours)
    for column in ("equity", "cash", "total_exposure", "correlated_exposure", "open_positions"):
        np.testing.assert_allclose(joined[column], joined[f"{column}_dense"], rtol=1e-9, atol=1e-9)
    final = sampled.iloc[-1]
    assert final["open_positions"] == 0 and final["equity"] == pytest.approx(final["cash"], abs=1e-9)
    assert (sampled["drawdown"] <= 0).all()


@dataclass
class RandomStops:
    """Entries with tight stops on random closes, so stops (and, levered, liquidations) act."""

    symbols: tuple[str, ...]
    close_ts: I64
    close: Mapping[str, F64]
    rows: Mapping[int, tuple[str, Side, float]]
    exit_rows: Mapping[int, str]
    acting: I64

    def active(self) -> I64:
        return self.acting

    def correlation_time(self, k: int) -> int | None:
        return None

    def intents(self, k: int) -> list[Intent]:
        if k not in self.rows:
            return []
        symbol, side, distance = self.rows[k]
        price = float(self.close[symbol][k])
        stop = price * (1 - distance) if side is Side.LONG else price * (1 + distance)
        return [Intent(int(self.close_ts[k]), symbol, side, 0.5, price, stop, source="random", reasons=("test",))]

    def exits(self, k: int, held: Mapping[str, Held]) -> list[tuple[str, str]]:
        symbol = self.exit_rows.get(k)
        return [(symbol, "signal")] if symbol in held else []

    def correlation(self, k: int) -> F64 | None:
        return None


def _random_stops(bars: Mapping[str, BarSeries], seed: int, *, entries: int) -> RandomStops:
    rng = np.random.default_rng(seed)
    first = next(iter(bars.values()))
    symbols = tuple(bars)
    picks = rng.choice(np.arange(30, first.ts.size - 30), size=2 * entries, replace=False)
    rows = {int(k): (symbols[int(rng.integers(len(symbols)))], Side.LONG if rng.random() < 0.5 else Side.SHORT,
                     float(rng.uniform(0.002, 0.05))) for k in picks[:entries]}
    exit_rows = {int(k): symbols[int(rng.integers(len(symbols)))] for k in picks[entries:]}
    active = np.array(sorted({*rows, *exit_rows}), dtype=np.int64)
    return RandomStops(symbols, first.ts + 60_000, {s: b.close for s, b in bars.items()}, rows, exit_rows, active)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("plain", [True, False])
def test_visiting_every_bar_takes_what_jumping_takes(
    market: tuple[dict[str, BarSeries], MarketData], seed: int, plain: bool
) -> None:
    """Ten times equity per position under the fixed-fraction profile puts liquidation prices a few percent
    away (some nearer than the stop); under the policy, stops, locks and the kill switch act."""
    bars, data = market
    decisions = _random_stops(bars, seed, entries=120)
    jumped = _run(data, decisions, plain=plain, fraction=30.0)
    stepped = _run(data, decisions, plain=plain, fraction=30.0, jump=False)
    if plain:
        assert {"stop", "liquidation"} <= set(jumped.trades_frame()["exit_reason"])
    assert len(jumped.trades) > 30
    _same_trades(jumped, stepped, equity=True)
    stretched = _run(data, decisions, plain=plain, fraction=30.0, chunk_rows=997)
    _same_trades(jumped, stretched)


def test_vectorised_span_rows_equal_the_one_row_floats() -> None:
    rng = np.random.default_rng(4)
    marks = rng.uniform(50, 150, size=(40, 4))
    book = SpanBook(cash=10_000.0, columns=(0, 2, 3), quantity=(30.0, -45.0, 12.5), entry=(100.0, 95.0, 120.0),
                    groups=((0, 1), (0, 1), (2,)), tiers=(1, 1, 0))
    equity, exposure, correlated = span_figures(book, marks)
    for r in range(marks.shape[0]):
        assert (equity[r], exposure[r], correlated[r]) == pytest.approx(span_row(book, marks[r]), rel=1e-12)
    row = marks[0]
    notional = [30.0 * row[0], 45.0 * row[2], 12.5 * row[3]]
    expected_equity = 10_000 + 30 * (row[0] - 100) - 45 * (row[2] - 95) + 12.5 * (row[3] - 120)
    assert equity[0] == pytest.approx(expected_equity)
    assert correlated[0] == pytest.approx(max(notional[0] + notional[1], notional[2]) / expected_equity)
    flat = SpanBook(cash=5.0, columns=(), quantity=(), entry=(), groups=(), tiers=(0, 0, 0))
    assert span_row(flat, row) == (5.0, 0.0, 0.0)
    assert span_figures(flat, marks)[0].tolist() == [5.0] * 40
