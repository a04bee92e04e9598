"""Research at scale: what Ray buys on this machine, and what a walk-forward optimisation costs.

Run: .venv/bin/python benchmarks/bench_research.py [--tasks 16] [--trials 50] [--folds 4] [--workers 2]

1. N independent backtests (multi-asset strategy, whole policy; 30 days x 5 assets x 1m bars with books),
   run serially and as Ray tasks on ``--workers`` CPUs: wall time of each, the speed-up, and the overhead
   Ray adds per task (the wall time of N tasks that do nothing but receive the shared market, per task;
   and the Ray wall time beyond the ideal serial / workers, per task). Ray's start-up is printed apart.
2. A walk-forward optimisation over a year of 1h bars (5 assets, 1m bars beside them for the stop/target
   order, books): ``--folds`` rolling folds, ``--trials`` Optuna trials per fold on Ray: wall time, and the
   peak memory of the driver and of the whole process tree (driver, Ray's processes and workers), sampled.

The synthetic catalogs are generated once under ``.bench/`` and reused.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import threading
import time
from pathlib import Path

ASSETS = ("BTC", "ETH", "SOL", "BNB", "XRP")
BENCH = Path(".bench")


def _catalog(name: str, days: int, hourly: bool) -> Path:
    """A synthetic catalog of ``days`` of 1m bars (and 1h candles and marks when ``hourly``), made once."""
    from quantum_trader.data.catalog import Catalog
    from quantum_trader.data.resample import resample_bars
    from quantum_trader.data.synthetic import SynthConfig, generate_market
    from quantum_trader.data.synthetic.writer import write_market
    from quantum_trader.domain.kinds import DataKind

    root = BENCH / name
    if (root / ".complete").exists():
        return root
    print(f"generating {root}: {len(ASSETS)} assets x {days} days of 1m bars with books (once) ...", flush=True)
    market = generate_market(SynthConfig(days=days, seed=7, assets=ASSETS))
    store = Catalog(root)
    write_market(market, store)
    if hourly:
        items = [(resample_bars(b, "1h"), None) for b in market.bars.values()]
        items += [(resample_bars(m, "1h"), DataKind.MARK) for m in market.mark.values()]
        store.write_many(items, exchange="synthetic")
    (root / ".complete").write_text("ok\n")
    return root


def _setup(root: Path, timeframe: str) -> object:
    from quantum_trader.analytics.backtest import default_settings
    from quantum_trader.cli.research_cmd import make_strategy
    from quantum_trader.config import load_policy
    from quantum_trader.data.catalog import Catalog
    from quantum_trader.domain.symbols import perp_symbol
    from quantum_trader.research.market import read_inputs
    from quantum_trader.research.trial import StudySetup

    policy = load_policy(None)
    if timeframe == "1h":
        policy = policy.model_copy(update={"correlation": policy.correlation.model_copy(
            update={"returns_timeframe": "1h"})})
    inputs = read_inputs(Catalog(root), tuple(perp_symbol(a) for a in ASSETS), timeframe=timeframe,
                         exchange="synthetic", start_ms=None, end_ms=None)
    return StudySetup(market=inputs, policy=policy, settings=default_settings(policy, phase=3, plain=False),
                      make_strategy=functools.partial(make_strategy, "multi-asset"))


def _noop(_setup: object, item: int) -> int:
    return item


def bench_tasks(tasks: int, workers: int) -> None:
    from quantum_trader.research.runner import RayRunner, SerialRunner
    from quantum_trader.research.trial import StudySetup, TrialTask, Window, run_trial

    setup = _setup(_catalog("research-30d", 30, hourly=False), "1m")
    assert isinstance(setup, StudySetup)
    window = Window(setup.market.start_ms, setup.market.end_ms)
    stops = ["1.5", "1.75", "2", "2.25", "2.5", "2.75", "3", "3.25"]
    from quantum_trader.config import load_policy

    policies = [load_policy(None, env={"QT__SIGNALS__MODEL__STOP_ATR_MULTIPLE": stops[i % len(stops)]})
                for i in range(tasks)]
    items = [TrialTask({}, window, policy) for policy in policies]
    serial = SerialRunner()
    started = time.perf_counter()
    serial_out = serial.map_shared(run_trial, serial.share(setup), items)
    serial_s = time.perf_counter() - started
    started = time.perf_counter()
    ray_runner = RayRunner(num_cpus=workers)
    init_s = time.perf_counter() - started
    try:
        started = time.perf_counter()
        shared = ray_runner.share(setup)
        put_s = time.perf_counter() - started
        started = time.perf_counter()
        cold_out = ray_runner.map_shared(run_trial, shared, items)
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        ray_out = ray_runner.map_shared(run_trial, shared, items)
        ray_s = time.perf_counter() - started
        started = time.perf_counter()
        ray_runner.map_shared(_noop, shared, list(range(tasks)))
        noop_s = time.perf_counter() - started
    finally:
        ray_runner.close()
    same = all(a.metrics == b.metrics == c.metrics for a, b, c in zip(serial_out, cold_out, ray_out, strict=True))
    per_task = serial_s / tasks
    print(f"\n{tasks} independent backtests (multi-asset, whole policy, 30 days x {len(ASSETS)} assets x 1m bars; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):")
    print(f"  serial            {serial_s:7.1f} s  ({per_task:.2f} s a backtest)")
    print(f"  Ray, {workers} CPUs       {ray_s:7.1f} s  (speed-up {serial_s / ray_s:.2f}x; ideal {workers}x; "
          "workers warm)")
    print(f"  Ray, first map    {cold_s:7.1f} s  (workers start and import the engine: once per study)")
    print(f"  Ray start-up      {init_s:7.1f} s  (once per study; market into the object store {put_s:.2f} s, once)")
    print(f"  per-task overhead {noop_s / tasks * 1000:7.1f} ms  (a task that only receives the shared market); "
          f"{(ray_s - serial_s / workers) / tasks * 1000:.0f} ms beyond serial / {workers} per backtest")
    print(f"  same results serial and on Ray: {same}")


def _tree_rss() -> int:
    """Resident bytes of this process and all its descendants (Linux /proc; Ray's processes are descendants)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid and child not in tree]
        tree.update(children)
        frontier.extend(children)
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


class _PeakMemory:
    """Samples the resident memory of this process and of all its descendants (Ray's processes and workers)."""

    def __init__(self) -> None:
        self.peak_tree = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_tree = max(self.peak_tree, _tree_rss())
            self._stop.wait(0.25)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def bench_walk_forward(trials: int, folds: int, workers: int) -> None:
    from quantum_trader.research.objective import Objective
    from quantum_trader.research.optimize import OptimizeSettings
    from quantum_trader.research.runner import RayRunner
    from quantum_trader.research.space import Space
    from quantum_trader.research.trial import StudySetup
    from quantum_trader.research.walkforward import splits, walk_forward

    setup = _setup(_catalog("research-1y", 365, hourly=True), "1h")
    assert isinstance(setup, StudySetup)
    market = setup.market
    space = Space.parse(["signals.model.stop_atr_multiple=1:4", "signals.model.atr_period=7:28"])
    base = setup.policy

    def policy_for(values: dict[str, str]) -> object:
        from quantum_trader.config import load_policy

        pol = load_policy(None, env={f"QT__{k.upper().replace('.', '__')}": v for k, v in values.items()})
        return pol.model_copy(update={"correlation": base.correlation})

    settings = OptimizeSettings(Objective("sharpe"), trials=trials, seed=7, batch=4)
    plan = splits(market.start_ms, market.end_ms, folds)
    with _PeakMemory() as memory:
        started = time.perf_counter()
        runner = RayRunner(num_cpus=workers)
        try:
            result = walk_forward(space, settings, plan, runner, runner.share(setup),
                                  policy_for, market.start_ms)  # type: ignore[arg-type]
        finally:
            runner.close()
        wall = time.perf_counter() - started
    driver_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    train_days = (plan[0].train.end - plan[0].train.start) / 86_400_000
    test_days = (plan[0].test.end - plan[0].test.start) / 86_400_000
    backtests = sum(len(f.study.records) for f in result.folds) + len(result.folds)
    stitched = result.stitched
    print(f"\nwalk-forward: {folds} rolling folds (train {train_days:.0f} d, test {test_days:.0f} d) x {trials} "
          f"trials, a year of 1h bars x {len(ASSETS)} assets, multi-asset strategy, Ray on {workers} CPUs:")
    print(f"  wall time         {wall:7.1f} s  ({backtests} backtests, Ray start-up included)")
    print(f"  peak memory       {driver_mb:7.0f} MB driver; {memory.peak_tree / 2**20:.0f} MB process tree "
          "(driver + Ray + workers, sampled every 0.25 s)")
    if stitched is not None:
        print(f"  out of sample     total return {stitched.metrics['total_return']:+.2%}, "
              f"Sharpe {stitched.metrics['sharpe']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=24)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-tasks", action="store_true")
    parser.add_argument("--skip-walk-forward", action="store_true")
    args = parser.parse_args()
    if not args.skip_tasks:
        bench_tasks(args.tasks, args.workers)
    if not args.skip_walk_forward:
        bench_walk_forward(args.trials, args.folds, args.workers)


if __name__ == "__main__":
    main()
