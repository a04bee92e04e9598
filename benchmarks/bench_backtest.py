"""Speed of a backtest: our kernel side by side with backtesting.py, and the whole policy on five assets.

Run: .venv/bin/python benchmarks/bench_backtest.py [--days 365] [--repeat 2] [--entry market|limit]

Targets (issue 13, measured in one run on the same machine):
- the whole policy on 5 assets x 1 year of 1m bars at least 5x backtesting.py's bars/s on single-asset
  sma-cross; sma-cross itself at least 2x backtesting.py;
- the event-by-event path (``jump=False``: every bar visited, no fast-forward) at least 50,000 bars/s on
  the whole policy (``--event-days`` of the same market; the result equals the jumping run's, tested).

Earlier targets (issue 5):
- ``sma-cross`` (10/30) on one asset, a year of synthetic 1m bars (525,600), policy plain:
  at least 1.5x backtesting.py's bars per second on the same data, measured in this run.
  Both engines: fills at the next open, commission 0.01% a side, no slippage, sizing with
  all available margin in 1e-8 units (``FractionalBacktest``); our time is signals +
  kernel, backtesting.py's is ``Backtest.run()`` (indicators + loop + its statistics).
  The commission is low on purpose: at 0.05% a side the ~20,000 trades of a 1m SMA cross
  eat the whole account, and once it is below the 5 USDT minimum order our engine stops
  trading while backtesting.py goes on, which would no longer compare like with like.
- ``multi-asset`` with the whole default policy on BTC, ETH, SOL, BNB, XRP x a year of 1m
  bars (2.6M bars): signals + kernel under 15 s, peak memory (ru_maxrss of the process,
  synthetic market generation included) under 2 GB; the run folder's prices.parquet (hourly
  closes sampled from the grid, issue 11) written in under 0.3 s.
Each figure is the best of ``--repeat`` runs (the machine is shared; the best run is the
one least disturbed). The last line gives the two ratios again by processor time
(``time.process_time``, bars per CPU second): on a loaded machine the wall clock of one
engine's run is stretched more than the other's, the processor time much less.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import warnings
from decimal import Decimal

from quantum_trader.analytics.backtest import assemble_market
from quantum_trader.analytics.run_folder import RunFolder, hourly_closes
from quantum_trader.config import load_policy
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.engine.grid import build_grid
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.strategies import MultiAssetStrategy, SmaCrossStrategy
from quantum_trader.testkit.reference import backtesting_frame, backtesting_sma_cross

COMMISSION = 0.0001
FAST, SLOW = 10, 30
CASH = 100_000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _best(times: list[float]) -> float:
    return min(times)


CPU_RATES: dict[str, float] = {}
"""Bars per second of processor time (``time.process_time``), best run of each: on a shared machine the other
processes stretch the wall clock of one engine's run more than the other's, and these do not see them."""


def _cpu(name: str, bars: int, seconds: float) -> None:
    CPU_RATES[name] = max(CPU_RATES.get(name, 0.0), bars / seconds)


def bench_full_policy(days: int, repeat: int, entry: str = "market", event_days: int = 0) -> float:
    assets = ("BTC", "ETH", "SOL", "BNB", "XRP")
    started = time.perf_counter()
    market = generate_market(SynthConfig(days=days, assets=assets))
    data = assemble_market(market.bars, market.funding, market.books)
    setup = time.perf_counter() - started
    bars_total = sum(len(b) for b in market.bars.values())
    policy = load_policy(env={"QT__VENUE__ENTRY__TYPE": entry})
    signal_times, kernel_times, cpu_times = [], [], []
    trades = fills = 0
    for _ in range(repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        decisions = MultiAssetStrategy().prepare(market.bars, policy)
        t1 = time.perf_counter()
        rec = Kernel(data, KernelSettings(policy=policy)).run(decisions)
        t2 = time.perf_counter()
        cpu_times.append(time.process_time() - c0)
        signal_times.append(t1 - t0)
        kernel_times.append(t2 - t1)
        trades, fills = len(rec.trades), rec.fills
    signals, kernel = _best(signal_times), _best(kernel_times)
    total = signals + kernel
    rss = _rss_mb()
    print(f"multi-asset, whole default policy, {entry} entries, {len(assets)} assets x {days} days of 1m bars "
          f"({bars_total:,} bars; market generated and aligned in {setup:.1f} s, not counted):")
    print(f"  signals {signals:6.2f} s   kernel {kernel:6.2f} s   backtest {total:6.2f} s   "
          f"({bars_total / total:,.0f} bars/s; {trades:,} trades, {fills:,} fills)")
    print(f"  peak memory (ru_maxrss, whole process): {rss:,.0f} MB")
    print(f"  target backtest < 15 s: {'PASS' if total < 15 else 'FAIL'};  "
          f"target peak < 2048 MB: {'PASS' if rss < 2048 else 'FAIL'}")
    rows, seconds = _bench_prices(data, repeat)
    print(f"  prices.parquet: {rows:,} hourly closes sampled from the grid and written in {seconds:.3f} s   "
          f"target < 0.3 s: {'PASS' if seconds < 0.3 else 'FAIL'}")
    if event_days:
        _bench_event_path(assets, min(event_days, days), entry)
    CPU_RATES["whole policy"] = bars_total / _best(cpu_times)
    return bars_total / total


def _bench_event_path(assets: tuple[str, ...], days: int, entry: str) -> None:
    market = generate_market(SynthConfig(days=days, assets=assets))
    data = assemble_market(market.bars, market.funding, market.books)
    policy = load_policy(env={"QT__VENUE__ENTRY__TYPE": entry})
    decisions = MultiAssetStrategy().prepare(market.bars, policy)
    bars_total = sum(len(b) for b in market.bars.values())
    t0 = time.perf_counter()
    rec = Kernel(data, KernelSettings(policy=policy), jump=False).run(decisions)
    seconds = time.perf_counter() - t0
    rate = bars_total / seconds
    print(f"  event by event (jump=False, every bar visited), {days} days: kernel {seconds:.2f} s, {rate:,.0f} bars/s "
          f"({len(rec.trades):,} trades)   target >= 50,000 bars/s: {'PASS' if rate >= 50_000 else 'FAIL'}")


def _bench_prices(data: MarketData, repeat: int) -> tuple[int, float]:
    """What ``_write_run`` adds for prices.parquet: ``hourly_closes`` of the grid, then the atomic write."""
    grid = data.grid
    times, rows = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(max(repeat, 3)):
            t0 = time.perf_counter()
            frame = hourly_closes(grid.ts, grid.close, grid.symbols, timeframe_ms(grid.timeframe))
            RunFolder(tmp).write_prices(frame)
            times.append(time.perf_counter() - t0)
            rows = len(frame)
    return rows, _best(times)


def _ours(bars: BarSeries) -> tuple[float, int, float]:
    symbol = bars.symbol
    policy = load_policy(env={"QT__VENUE__FEES__BINANCEUSDM__TAKER": str(COMMISSION)})
    instrument = Instrument(symbol=symbol, tick_size=Decimal("1e-8"), lot_size=Decimal("1e-8"),
                            min_notional=Decimal(0))
    data = MarketData(grid=build_grid({symbol: bars}), instruments={symbol: instrument})
    settings = KernelSettings(policy=policy.as_fixed_fraction(1.0 - sys.float_info.epsilon),
                              initial_equity=Decimal(CASH), slippage=False)
    c0 = time.process_time()
    t0 = time.perf_counter()
    decisions = SmaCrossStrategy(FAST, SLOW).prepare({symbol: bars}, policy)
    rec = Kernel(data, settings).run(decisions)
    seconds = time.perf_counter() - t0
    _cpu("quantum-trader", len(bars), time.process_time() - c0)
    return seconds, len(rec.trades), float(rec.equity[-1][1])


def _reference(bars: BarSeries) -> tuple[float, int, float]:
    from backtesting.lib import FractionalBacktest

    frame = backtesting_frame(bars)
    engine = FractionalBacktest(frame, backtesting_sma_cross(FAST, SLOW), cash=CASH, commission=COMMISSION,
                                finalize_trades=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c0 = time.process_time()
        t0 = time.perf_counter()
        stats = engine.run()
        seconds = time.perf_counter() - t0
        _cpu("backtesting.py", len(bars), time.process_time() - c0)
    return seconds, int(stats["# Trades"]), float(stats["Equity Final [$]"])


def bench_sma_cross(days: int, repeat: int) -> float:
    market = generate_market(SynthConfig(days=days, assets=("BTC",)))
    bars = next(iter(market.bars.values()))
    n = len(bars)
    # Taken in turns (ours, theirs, ours, ...) and the best of each kept: on a shared machine other load comes and
    # goes, and a block of one engine's runs followed by a block of the other's would hand one of them a slow phase.
    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(_ours(bars))
        theirs.append(_reference(bars))
    our_s, their_s = _best([o[0] for o in ours]), _best([t[0] for t in theirs])
    print(f"\nsma-cross {FAST}/{SLOW}, policy plain, 1 asset x {n:,} 1m bars, commission {COMMISSION:.2%} a side:")
    print(f"  {'engine':<16}{'seconds':>9}{'bars/s':>12}{'trades':>9}{'final equity':>15}")
    print(f"  {'quantum-trader':<16}{our_s:>9.2f}{n / our_s:>12,.0f}{ours[0][1]:>9,}{ours[0][2]:>15,.2f}")
    print(f"  {'backtesting.py':<16}{their_s:>9.2f}{n / their_s:>12,.0f}{theirs[0][1]:>9,}{theirs[0][2]:>15,.2f}")
    ratio = their_s / our_s
    print(f"  speed ratio {ratio:.2f}x   target >= 2x: {'PASS' if ratio >= 2 else 'FAIL'}")
    print("  (final equity differs by design at the end: backtesting.py's finalize_trades closes the last"
          " trade at the last bar's open, ours at its close)")
    return n / their_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--entry", choices=("market", "limit"), default="market",
                        help="entry orders of the multi-asset run (venue.entry.type)")
    parser.add_argument("--event-days", type=int, default=90,
                        help="days of the event-by-event run (jump=False) of the whole policy; 0 skips it")
    args = parser.parse_args()
    print(f"command: .venv/bin/python benchmarks/bench_backtest.py --days {args.days} --repeat {args.repeat} "
          f"--entry {args.entry} --event-days {args.event_days}\n")
    full_rate = bench_full_policy(args.days, args.repeat, args.entry, args.event_days)
    reference_rate = bench_sma_cross(args.days, args.repeat)
    ratio = full_rate / reference_rate
    print(f"\nwhole policy on 5 assets vs backtesting.py's sma-cross: {full_rate:,.0f} / {reference_rate:,.0f} bars/s "
          f"= {ratio:.2f}x   target >= 5x: {'PASS' if ratio >= 5 else 'FAIL'}")
    full_cpu, ours_cpu, theirs_cpu = (CPU_RATES["whole policy"], CPU_RATES["quantum-trader"],
                                      CPU_RATES["backtesting.py"])
    print(f"by processor time (bars per CPU second, blind to other load on the machine): whole policy {full_cpu:,.0f}, "
          f"sma-cross {ours_cpu:,.0f}, backtesting.py {theirs_cpu:,.0f}: whole policy "
          f"{full_cpu / theirs_cpu:.2f}x, sma-cross {ours_cpu / theirs_cpu:.2f}x")


if __name__ == "__main__":
    main()
