"""Speed of the signal layer: live update per 1m bar, and batch over a year of 1m bars.

Run: .venv/bin/python benchmarks/bench_signals.py [--days-batch 365] [--warmup-days 65]
Targets (issue 4): one new 1m bar for 5 assets (all signals + correlation matrix) < 300 us;
batch over 5 assets x 1 year of 1m bars < 10 s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from quantum_trader.config import Policy
from quantum_trader.domain.market import Bar, BarSeries
from quantum_trader.signals.aggregate import aggregate_bars
from quantum_trader.signals.pipeline import SignalSet
from quantum_trader.testkit.random_walk import random_walk_market
from quantum_trader.universe.market_picture import MarketPicture

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "BNB/USDT:USDT", "XRP/USDT:USDT"]


def _bars_at(m: dict[str, BarSeries], i: int) -> list[Bar]:
    return [Bar(s, "1m", int(b.ts[i]), float(b.open[i]), float(b.high[i]), float(b.low[i]), float(b.close[i]),
                float(b.volume[i])) for s, b in m.items()]


def bench_live(warmup_days: int, measure_days: int) -> None:
    n_warm, n_meas = warmup_days * 1440, measure_days * 1440
    m = random_walk_market(SYMBOLS, n_warm + n_meas, "1m", seed=1)
    live = SignalSet(SYMBOLS, Policy()).stream("1m")
    for i in range(n_warm):
        live.on_bars(_bars_at(m, i))
    bars = [_bars_at(m, i) for i in range(n_warm, n_warm + n_meas)]
    every, hour_close, five_close, intents = [], [], [], 0
    clock = time.perf_counter_ns
    for row in bars:
        t0 = clock()
        out = live.on_bars(row)
        dt = (clock() - t0) / 1e3
        every.append(dt)
        minute = (row[0].ts // 60_000) % 60
        if out is not None:
            hour_close.append(dt)
            intents += len(out.intents)
        elif minute % 5 == 4:
            five_close.append(dt)
    p99 = float(np.percentile(every, 99))
    print(f"live, 5 assets, one new 1m bar ({n_meas} bars measured after {warmup_days} days of warm-up):")
    print(f"  all minutes:            mean {statistics.fmean(every):7.1f} us   p99 {p99:7.1f} us")
    print(f"  5m close (corr matrix): mean {statistics.fmean(five_close):7.1f} us   max {max(five_close):7.1f} us")
    print(f"  1h close (everything):  mean {statistics.fmean(hour_close):7.1f} us   max {max(hour_close):7.1f} us"
          f"   ({len(hour_close)} hour closes, {intents} intents built)")
    verdict = "PASS" if statistics.fmean(hour_close) < 300 else "FAIL"
    print(f"  target < 300 us on the full-update (hour-close) bar: {verdict}")


def bench_batch(days: int) -> None:
    n = days * 1440
    m = random_walk_market(SYMBOLS, n, "1m", seed=2)
    pol = Policy()
    sset = SignalSet(SYMBOLS, pol)
    t0 = time.perf_counter()
    hourly = {s: aggregate_bars(b, "1h") for s, b in m.items()}
    five = {s: aggregate_bars(b, "5m") for s, b in m.items()}
    t1 = time.perf_counter()
    res = sset.batch(hourly, five)
    t2 = time.perf_counter()
    picture = MarketPicture([s.split("/")[0] for s in SYMBOLS], pol.market_reference, lookback=24)
    picture.batch({s.split("/")[0]: hourly[s].close for s in SYMBOLS})
    t3 = time.perf_counter()
    n_int = sum(len(res.intents_at(i)) for i in range(len(res.ts)))
    t4 = time.perf_counter()
    total = t3 - t0
    print(f"batch, 5 assets x {days} days of 1m bars ({n:,} bars each):")
    print(f"  aggregate 1m->1h,5m {t1 - t0:6.2f} s | models+cross-asset+correlation {t2 - t1:6.2f} s | "
          f"market picture {t3 - t2:5.2f} s | total {total:6.2f} s")
    print(f"  (building all {n_int} Intent objects with reasons afterwards: {t4 - t3:5.2f} s)")
    print(f"  target < 10 s: {'PASS' if total < 10 else 'FAIL'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--days-batch", type=int, default=365)
    ap.add_argument("--warmup-days", type=int, default=65)
    ap.add_argument("--measure-days", type=int, default=3)
    args = ap.parse_args()
    bench_batch(args.days_batch)
    bench_live(args.warmup_days, args.measure_days)


if __name__ == "__main__":
    main()
