"""Speed of Monte Carlo stress: N draws over a month of 1m bars for five assets, run serially.

Run: .venv/bin/python benchmarks/bench_stress.py [--runs 200] [--days 30] [--seed 0] [--ray 2] [--skip-serial]

Each draw is two whole-engine runs under the default policy (the draw's unstressed run, which places
the shock, and the stressed run) on a block-bootstrapped 30 d x 5 assets x 1m market (43,200 bars
per asset), plus the resampling and the injections. It prints the wall time of all draws and per
draw: the serial baseline a distributed mapper (Ray) is measured against, since the runner takes the
map over draws as a parameter. Generating the base market is timed apart and not counted.

``--ray N`` runs the same draws as tasks of a local Ray with N CPUs (``research.runner``: the market
put in the object store once) and prints its wall time beside the serial one, Ray's start-up apart,
the speed-up, and what Ray adds per task (its wall time times N over the serial time, per draw); the
draws must come out equal to the serial ones.
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


def _warm(_: int) -> int:
    """A task that loads the engine in a Ray worker (the first task of each worker pays these imports)."""
    import quantum_trader.analytics.stress.montecarlo  # noqa: F401

    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="Monte Carlo draws (default 200)")
    parser.add_argument("--days", type=int, default=30, help="days of 1m bars (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    parser.add_argument("--ray", type=int, default=0, help="also run the draws on a local Ray with N CPUs")
    parser.add_argument("--skip-serial", action="store_true", help="with --ray: the Ray run alone")
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

    bars = args.days * 1440
    print(f"market: {args.days} d x {len(ASSETS)} assets x 1m ({bars:,} bars each), generated in {generated:.2f} s")
    results: list[DrawResult] = []
    wall = 0.0
    if not args.skip_serial:
        started = time.perf_counter()
        results = run_monte_carlo(market, policy, MultiAssetStrategy, config,
                                  mapper=counting if args.runs >= 10 else serial_map)
        wall = time.perf_counter() - started
        print(f"monte carlo: {len(results)} draws serially in {wall:.1f} s, {wall / len(results):.3f} s per draw "
              f"(2 engine runs each: {wall / len(results) / 2:.3f} s per run)")
    if args.ray:
        from quantum_trader.analytics.stress.summary import draws_frame
        from quantum_trader.research.runner import RayRunner

        started = time.perf_counter()
        runner = RayRunner(num_cpus=args.ray)
        runner.map(_warm, list(range(args.ray * 2)))  # each worker imports the engine once, before the clock
        boot = time.perf_counter() - started
        started = time.perf_counter()
        on_ray = run_monte_carlo(market, policy, MultiAssetStrategy, config, runner=runner)
        ray_wall = time.perf_counter() - started
        runner.close()
        print(f"on Ray ({args.ray} CPUs): {len(on_ray)} draws in {ray_wall:.1f} s (+ {boot:.1f} s to start Ray and "
              "import the engine in its workers), "
              f"{ray_wall / len(on_ray):.3f} s per draw")
        if results:
            same = draws_frame(on_ray).equals(draws_frame(results))
            overhead = (ray_wall * args.ray - wall) / len(results)
            print(f"speed-up {wall / ray_wall:.2f}x on {args.ray} CPUs; Ray adds {overhead * 1000:.0f} ms per task "
                  f"(CPU-seconds beyond the serial run); draws equal to the serial ones: {same}")
        results = results or on_ray
    families: dict[str, int] = {}
    for r in results:
        families[r.family] = families.get(r.family, 0) + 1
    print("draws per scenario: " + ", ".join(f"{k} {v}" for k, v in sorted(families.items())))


if __name__ == "__main__":
    main()
