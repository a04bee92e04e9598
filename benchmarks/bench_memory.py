"""Peak memory of a streamed backtest: 5 assets x 1, 3 and 5 years of 1m bars with books, from the catalog.

Run: .venv/bin/python benchmarks/bench_memory.py [--years 1 3 5] [--catalog .bench/memory-catalog]

Target (issue 13): the whole policy (multi-asset strategy, every limit) over 5 assets x 5 years of
1m bars with order books (5m snapshots, 10 levels) under 1.5 GB peak RSS, and nearly flat across
1, 3 and 5 years. The catalog is generated once (one synthetic asset at a time, so generating it
is not what is measured) and reused; each measurement runs in its own process, whose peak RSS
(``VmHWM``: ``ru_maxrss`` would also count the parent's memory at the fork, the catalog's generation
on a first run) is the peak of everything ``quantum-trader backtest`` does (``run_backtest``): reading
the books' depth, the signals' 5m bars read and resampled window by window, the universe screens, the
strategy, the kernel fed by ``CatalogFeed`` a window of 32 days at a time, the run folder and its
report. "other s" is everything but the kernel. The peak RSS reached by the end of each stage is
printed under the table (load: the books' depth and the feed; signals: the decision bars and the
strategy's batch; universe: the screens; kernel; write: the run folder and the report), so a growth
shows where it happens. For comparison, the same run on 1 year loaded whole (``--load-whole``) is
printed with ``--whole``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ASSETS = ("BTC", "ETH", "SOL", "BNB", "XRP")
START = "2021-01-01"
"""Five years from here end before today: the catalog refuses bars dated in the future."""


def _build(catalog: Path, years: int) -> None:
    from quantum_trader.data.catalog import Catalog
    from quantum_trader.data.synthetic import SynthConfig, generate_market
    from quantum_trader.data.synthetic.writer import write_market

    marker = catalog / f".complete-{years}y"
    if any((catalog / f".complete-{y}y").exists() for y in range(years, 51)):
        return  # a catalog of as many years or more holds these (runs read from its first day)
    print(f"generating the catalog: {len(ASSETS)} assets x {years} years of 1m bars with books (once) ...",
          flush=True)
    started = time.perf_counter()
    store = Catalog(catalog)
    for i, asset in enumerate(ASSETS):
        market = generate_market(SynthConfig(days=365 * years, seed=7 + i, start=START, assets=(asset,)))
        write_market(market, store)
        del market
    marker.touch()
    print(f"  written in {time.perf_counter() - started:.0f} s to {catalog}", flush=True)


def _child(catalog: Path, years: int, whole: bool) -> None:
    """One backtest as ``quantum-trader backtest`` runs it (``run_backtest``: universe, signals, kernel, run folder,
    report), streamed from the catalog or (``whole``) loaded whole; prints peak RSS and the stages' times."""
    import tempfile

    from quantum_trader.analytics.backtest import BacktestRequest, default_settings, run_backtest
    from quantum_trader.config import load_policy
    from quantum_trader.domain.time import MS_PER_DAY, parse_time
    from quantum_trader.engine.strategies import MultiAssetStrategy

    policy = load_policy()
    start = parse_time(START)
    peaks: dict[str, float] = {}
    t0 = time.perf_counter()

    def heard(message: str, _fraction: float) -> None:
        stage = message.split(" ")[0]
        if stage not in peaks:  # the peak so far closes the stage before this one
            peaks[stage] = _peak_mb()

    with tempfile.TemporaryDirectory() as runs:
        request = BacktestRequest(catalog=catalog, symbols=tuple(f"{a}/USDT:USDT" for a in ASSETS),
                                  strategy=MultiAssetStrategy(), policy=policy, start_ms=start,
                                  end_ms=start + 365 * years * MS_PER_DAY, runs_dir=Path(runs), stream=not whole,
                                  settings=default_settings(policy, phase=3, plain=False))
        result = run_backtest(request, progress=heard)
    t2 = time.perf_counter()
    peak = _peak_mb()
    ends = [peaks.get(s, float("nan")) for s in ("computing", "screening", "running", "writing")] + [peak]
    print(" ".join(f"{name}={value:.0f}" for name, value in zip(STAGES, ends, strict=True)))
    rows = int(result.metrics["run"]["bars"])  # type: ignore[index]
    print(f"{peak:.0f} {rows} {t2 - t0 - result.seconds:.1f} {result.seconds:.1f} {len(result.recorder.trades)}")


STAGES = ("load", "signals", "universe", "kernel", "write")
"""The stages whose end the peak RSS is printed at (``run_backtest``'s progress messages delimit them)."""


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM, Linux; ``ru_maxrss`` elsewhere), MB."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _measure(catalog: Path, years: int, whole: bool) -> tuple[float, int, float, float, int, str]:
    out = subprocess.run([sys.executable, __file__, "--child", str(years), "--catalog", str(catalog),
                          *(["--whole"] if whole else [])], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"the {years}-year run failed:\n{out.stderr}")
    *_, stages, last = out.stdout.strip().splitlines()
    peak, rows, load, run, trades = last.split()
    return float(peak), int(rows), float(load), float(run), int(trades), stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--catalog", type=Path, default=Path(".bench/memory-catalog"))
    parser.add_argument("--whole", action="store_true", help="also run 1 year loaded whole, for comparison")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.catalog, args.child, args.whole)
        return
    print(f"command: .venv/bin/python benchmarks/bench_memory.py --years {' '.join(map(str, args.years))}"
          f"{' --whole' if args.whole else ''}\n")
    _build(args.catalog, max(args.years))
    print(f"multi-asset, whole default policy, {len(ASSETS)} assets of 1m bars with books, streamed from the catalog:")
    print(f"  {'years':>5}{'bars':>14}{'peak RSS MB':>13}{'other s':>11}{'kernel s':>10}{'bars/s':>10}{'trades':>8}")
    peaks, stages = [], []
    for years in args.years:
        peak, rows, load, run, trades, by_stage = _measure(args.catalog, years, whole=False)
        peaks.append(peak)
        stages.append(f"  {years:>5}  {by_stage}")
        bars = rows * len(ASSETS)
        print(f"  {years:>5}{bars:>14,}{peak:>13,.0f}{load:>11.1f}{run:>10.1f}{bars / run:>10,.0f}{trades:>8,}",
              flush=True)
    print(f"  target peak < 1536 MB at every length: {'PASS' if max(peaks) < 1536 else 'FAIL'};  "
          f"growth from the shortest to the longest: {peaks[-1] / peaks[0]:.2f}x")
    print("  peak RSS MB by the end of each stage:")
    print("\n".join(stages))
    if args.whole:
        peak, rows, load, run, _, _ = _measure(args.catalog, min(args.years), whole=True)
        print(f"  loaded whole, {min(args.years)} year(s): peak RSS {peak:,.0f} MB (load {load:.1f} s, kernel "
              f"{run:.1f} s)")


if __name__ == "__main__":
    main()
