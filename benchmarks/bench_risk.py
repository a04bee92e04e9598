"""Per-call cost of the risk engine: ``evaluate`` and ``evaluate_batch`` (issue 3 targets).

Setup: 5 open positions (BTC, ETH, SOL, BNB, AVAX), a 10 x 10 correlation matrix, the
default policy compiled once. Prints median and p99 of ``evaluate`` (target < 20 us /
< 100 us), median and p99 of ``evaluate_batch`` of 10 intents (target < 300 us), and
the evaluations per minute one core sustains beside the spec's capacity table.

Run: ``.venv/bin/python benchmarks/bench_risk.py``
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

import numpy as np

from quantum_trader.config.policy import Policy
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.symbols import perp_symbol
from quantum_trader.domain.trading import Fill, Intent, OrderSide, Side
from quantum_trader.portfolio import LedgerState, apply_fill, new_ledger
from quantum_trader.risk import (
    CompiledLimits,
    MarketView,
    armed,
    build_market_view,
    compile_limits,
    evaluate,
    evaluate_batch,
)

T0 = 1_767_225_600_000
ASSETS = ("BTC", "ETH", "SOL", "BNB", "XRP", "AVAX", "LINK", "MATIC", "DOGE", "ADA")
PRICES = (100_000.0, 4_000.0, 200.0, 600.0, 2.0, 40.0, 20.0, 0.5, 0.2, 1.0)


def _setup() -> tuple[CompiledLimits, MarketView, LedgerState, list[Intent]]:
    policy = Policy()
    limits = compile_limits(policy)
    rng = np.random.default_rng(7)
    loadings = rng.uniform(0.3, 0.9, size=len(ASSETS))
    corr = np.outer(loadings, loadings)
    np.fill_diagonal(corr, 1.0)
    symbols = [perp_symbol(a) for a in ASSETS]
    market = build_market_view(
        limits,
        ts=T0,
        phase=3,
        symbols=symbols,
        correlation=corr,
        depth_1pct=dict.fromkeys(symbols, 20_000_000.0),
        marks=dict(zip(symbols, PRICES, strict=True)),
        instruments=[Instrument(s, Decimal("0.0001"), Decimal("0.001"), Decimal("5")) for s in symbols],
        edge_assets=("AVAX",),
    )
    state = new_ledger(Decimal(1_000_000), T0)
    for asset in ("BTC", "ETH", "SOL", "BNB", "AVAX"):
        i = ASSETS.index(asset)
        qty = Decimal(repr(round(20_000 / PRICES[i], 3)))
        state = apply_fill(
            state,
            Fill(T0, symbols[i], OrderSide.BUY, qty, Decimal(repr(PRICES[i])), Decimal(0)),
            stop_price=Decimal(repr(PRICES[i] * 0.97)),
        )
    intents = [
        Intent(T0, s, Side.LONG if k % 2 else Side.SHORT, 0.5 + k / 40, p, p * (0.98 if k % 2 else 1.02))
        for k, (s, p) in enumerate(zip(symbols, PRICES, strict=True))
    ]
    return limits, market, state, intents


def _timed(call: Callable[[], object], calls: int) -> list[int]:
    """Per-call nanoseconds; the collector is paused so its pauses do not land in one sample."""
    samples = []
    gc.disable()
    try:
        for _ in range(calls):
            start = time.perf_counter_ns()
            call()
            samples.append(time.perf_counter_ns() - start)
    finally:
        gc.enable()
    return samples


def _p(samples: list[int], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q)) / 1_000.0


def main() -> None:
    limits, market, state, intents = _setup()
    switch = armed(T0)
    one = intents[4]  # XRP: refused by several gates; every gate and every cap still runs
    for _ in range(2_000):
        evaluate(one, state, market, limits, switch=switch)
    single = _timed(lambda: evaluate(one, state, market, limits, switch=switch), 50_000)
    rotating = _timed(
        lambda: [evaluate(i, state, market, limits, switch=switch) for i in intents],
        5_000,
    )
    batch = _timed(lambda: evaluate_batch(intents, state, market, limits, switch=switch), 5_000)
    median = statistics.median(single) / 1_000.0
    print("evaluate (5 open positions, 10x10 correlation), 50,000 calls")
    print(f"  median {median:8.2f} us   p99 {_p(single, 99):8.2f} us   (targets < 20 us / < 100 us)")
    print(f"  all 10 symbols in turn: {statistics.median(rotating) / 10_000.0:8.2f} us per evaluate (median)")
    print("evaluate_batch of 10 intents, 5,000 calls")
    batch_median = statistics.median(batch) / 1_000.0
    print(f"  median {batch_median:8.2f} us   p99 {_p(batch, 99):8.2f} us   (target < 300 us)")
    per_minute = 60e6 / median
    print(f"evaluations per minute on one core: {per_minute:,.0f}")
    print(f"  {'capacity row':<16}{'spec evals/min':>16}{'measured/spec':>16}")
    for name, row in Policy().capacity_scaling.items():
        print(
            f"  {name:<16}{row.evaluations_per_minute:>16,}{per_minute / row.evaluations_per_minute:>15,.0f}x"
        )


if __name__ == "__main__":
    main()
