"""Time the synthetic market generator: 8 assets x 90 days (demo) and x 365 days (4.2M bars).

Run: .venv/bin/python benchmarks/bench_synthetic.py [--repeat N]
Prints wall-clock seconds (best of N) and bars per second; the target is < 20 s for a year.
"""

from __future__ import annotations

import argparse
import time

from quantum_trader.data.synthetic import SynthConfig, generate_market


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    generate_market(SynthConfig(days=2))  # warm-up: imports, scipy special functions
    for days in (90, 365):
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            market = generate_market(SynthConfig(days=days))
            best = min(best, time.perf_counter() - t0)
        bars = sum(len(b) for b in market.bars.values())
        snaps = sum(len(b) for b in market.books.values())
        print(f"8 assets x {days:3d} days: {best:6.2f} s  ({bars:,} 1m bars, {snaps:,} book snapshots, "
              f"{bars / best / 1e6:.2f} M bars/s, best of {args.repeat})")


if __name__ == "__main__":
    main()
