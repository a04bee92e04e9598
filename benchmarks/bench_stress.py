"""Speed of Monte Carlo stress: N draws over a month of 1m bars for five assets, run serially.

Run: .venv/bin/python benchmarks/bench_stress.py [--runs 200] [--days 30] [--seed 0]

Each draw is two whole-engine runs under the default policy (the draw's unstressed run, which places
the shock, and the stressed run) on a block-bootstrapped 30 d x 5 assets x 1m market (43,200 bars
per asset), plus the resampling and the injections. It prints the wall time of all draws and per
draw: the serial baseline a distributed mapper (Ray) is measured against, since the runner takes the
map over draws as a parameter. Generating the base market is timed apart and not counted.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

from quantum_trader.analytics.stress.market import from_synthetic
from quantum_trader.analytics.stress.montecarlo import (
    Draw,
    DrawResult,
    MonteCarloConfig,
    run_monte_carlo,
    serial_map,
)
from quantum_trader.config import load_policy
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.engine.strategies import MultiAssetStrategy

ASSETS = ("BTC", "ETH", "SOL", "BNB", "XRP")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="Monte Carlo draws (default 200)")
    parser.add_argument("--days", type=int, default=30, help="days of 1m bars (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    args = parser.parse_args()

    started = time.perf_counter()
    market = from_synthetic(generate_market(SynthConfig(days=args.days, seed=7, assets=ASSETS)))
    generated = time.perf_counter() - started
    policy = load_policy(None, env={})
    config = MonteCarloConfig(runs=args.runs, seed=args.seed)
    done = 0

    def counting(fn: Callable[[Draw], DrawResult], items: Sequence[Draw]) -> list[DrawResult]:
        nonlocal done
        out = []
        for item in items:
            out.append(fn(item))
            done += 1
            if done % max(1, args.runs // 10) == 0:
                print(f"  {done}/{args.runs} draws, {time.perf_counter() - started:.0f} s", flush=True)
        return out

    started = time.perf_counter()
    results = run_monte_carlo(market, policy, MultiAssetStrategy, config,
                              mapper=counting if args.runs >= 10 else serial_map)
    wall = time.perf_counter() - started
    bars = args.days * 1440
    print(f"market: {args.days} d x {len(ASSETS)} assets x 1m ({bars:,} bars each), generated in {generated:.2f} s")
    print(f"monte carlo: {len(results)} draws serially in {wall:.1f} s, {wall / len(results):.3f} s per draw "
          f"(2 engine runs each: {wall / len(results) / 2:.3f} s per run)")
    families: dict[str, int] = {}
    for r in results:
        families[r.family] = families.get(r.family, 0) + 1
    print("draws per scenario: " + ", ".join(f"{k} {v}" for k, v in sorted(families.items())))


if __name__ == "__main__":
    main()
