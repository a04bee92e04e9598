"""What deciding bar by bar costs against the batch accelerator, per built-in strategy (and the example).

Run: .venv/bin/python benchmarks/bench_strategies.py [--days 30] [--repeat 2]

On a synthetic market of five assets' 1m bars, each strategy's decisions are asked at every decision,
as the kernel asks them (exits given what is held, then the intents), two ways: through its batch
accelerator (``prepare``) and through ``on_bar`` (``IncrementalDecisions``). Printed: seconds and
market bars per second each way, and how many times slower ``on_bar`` is. No target: the figures say
what a strategy without an accelerator costs, and how much of a backtest's time its decisions take
(compare ``bench_backtest.py``).
Each figure is the best of ``--repeat`` runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path

from quantum_trader.config import load_policy
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.domain.market import BarSeries
from quantum_trader.engine.incremental import IncrementalDecisions
from quantum_trader.engine.strategies import MultiAssetStrategy, SmaCrossStrategy
from quantum_trader.engine.strategy import BatchStrategy, Decisions, Strategy

ASSETS = ("BTC", "ETH", "SOL", "BNB", "XRP")
EXAMPLE = Path(__file__).parents[1] / "examples" / "breakout.py"


def _example() -> Strategy:
    spec = importlib.util.spec_from_file_location("breakout_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    strategy: Strategy = module.Breakout(window=48)
    return strategy


def _ask_all(decisions: Decisions) -> int:
    """Every decision in the kernel's order, holding nothing; the number of intents and exits."""
    acted = 0
    for k in range(decisions.close_ts.size):
        acted += len(decisions.exits(k, {})) + len(decisions.intents(k))
    return acted


def _best(repeat: int, run: Callable[[], int]) -> tuple[float, int]:
    best, acted = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        acted = run()
        best = min(best, time.perf_counter() - started)
    return best, acted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    bars: dict[str, BarSeries] = dict(generate_market(SynthConfig(days=args.days, seed=7, assets=ASSETS)).bars)
    policy = load_policy(env={})
    total = sum(b.ts.size for b in bars.values())
    print(f"{len(bars)} assets x {args.days} days of 1m bars: {total:,} bars")
    cases: list[tuple[str, Callable[[], Strategy]]] = [
        ("sma-cross 10/30", SmaCrossStrategy),
        ("multi-asset", MultiAssetStrategy),
        ("examples/breakout.py (48h)", _example),
    ]
    for label, make in cases:

        def incremental(make: Callable[[], Strategy] = make) -> int:
            return _ask_all(IncrementalDecisions.replay(make(), bars, policy))

        on_bar_s, acted = _best(args.repeat, incremental)
        line = f"{label:28s} on_bar {on_bar_s:7.2f} s {total / on_bar_s:12,.0f} bars/s"
        strategy = make()
        if isinstance(strategy, BatchStrategy):

            def batch(strategy: BatchStrategy = strategy) -> int:
                return _ask_all(strategy.prepare(bars, policy))

            batch_s, batch_acted = _best(args.repeat, batch)
            assert batch_acted == acted, f"{label}: {batch_acted} != {acted} intents and exits"
            line += f" | batch {batch_s:7.2f} s {total / batch_s:12,.0f} bars/s | {on_bar_s / batch_s:5.1f}x"
        print(f"{line} | {acted:,} intents and exits")

if __name__ == "__main__":
    main()
