"""Start-up time of the command line: ``--help``, ``policy show`` and ``data list``, as a user runs them.

Targets (median wall time of the whole process): ``--help`` < 0.5 s, ``policy show`` < 1 s,
``data list`` < 1 s. Each command runs RUNS times as a subprocess (after one warm-up run
that fills the OS file cache and Python's bytecode cache); the median, min and max of the
wall time and the median CPU time (user + system, which a loaded machine inflates less)
are printed, with the heavy libraries the command imported, so a regression names its cause.
``data list`` reads a small catalog written first to a temporary folder (8 assets, 1m and 1h).

Run: .venv/bin/python benchmarks/bench_startup.py
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from quantum_trader.data.catalog import Catalog
from quantum_trader.domain.market import BarSeries

RUNS = 7
HEAVY = ("numpy", "pandas", "pyarrow", "duckdb", "sqlalchemy", "pydantic", "scipy", "ccxt", "plotly", "empyrical")
T0 = 1_735_689_600_000  # 2025-01-01 UTC
COMMANDS = (("--help", ("--help",), 0.5), ("policy show", ("policy", "show"), 1.0),
            ("data list", ("data", "list"), 1.0))
PROBE = """
import sys
from quantum_trader.cli.main import app
sys.argv = ["quantum-trader", *sys.argv[1:]]
try:
    app()
except SystemExit:
    pass
print("IMPORTED", " ".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def command() -> list[str]:
    """The installed console script beside this interpreter, else the module."""
    script = Path(sys.executable).with_name("quantum-trader")
    return [str(script)] if script.exists() else [sys.executable, "-m", "quantum_trader.cli.main"]


def write_catalog(root: Path) -> None:
    cat = Catalog(root)
    rng = np.random.default_rng(0)
    for asset in ("BTC", "ETH", "SOL", "BNB", "XRP", "AVAX", "LINK", "DOGE"):
        for timeframe, step, n in (("1m", 60_000, 43_200), ("1h", 3_600_000, 720)):
            ts = T0 + np.arange(n, dtype=np.int64) * step
            close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
            open_ = np.r_[close[0], close[:-1]]
            cat.write(BarSeries(f"{asset}/USDT:USDT", timeframe, ts, open_, np.maximum(open_, close) * 1.0005,
                                np.minimum(open_, close) * 0.9995, close, rng.gamma(2.0, 5.0, n)),
                      exchange="binanceusdm")


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def imported(args: tuple[str, ...], env: dict[str, str]) -> str:
    probe = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], env=env, text=True,
                           capture_output=True, check=False)
    line = next((x for x in probe.stderr.splitlines() if x.startswith("IMPORTED")), "IMPORTED ?")
    return line.removeprefix("IMPORTED").strip() or "none of them"


def main() -> None:
    base = command()
    with tempfile.TemporaryDirectory() as tmp:
        write_catalog(Path(tmp) / "catalog")
        env = {**os.environ, "QT_CATALOG": str(Path(tmp) / "catalog"), "COLUMNS": "120"}
        print(f"{' '.join(base)}: median of {RUNS} runs after 1 warm-up; cpu = user + system")
        for label, args, target in COMMANDS:
            timed([*base, *args], env)
            runs = [timed([*base, *args], env) for _ in range(RUNS)]
            walls = sorted(w for w, _ in runs)
            wall, cpu = statistics.median(walls), statistics.median(c for _, c in runs)
            verdict = "within" if wall < target else "OVER"
            print(f"{label:12s}: {wall:.3f} s wall (min {walls[0]:.3f}, max {walls[-1]:.3f}), {cpu:.3f} s cpu; "
                  f"target < {target} s: {verdict}; heavy imports: {imported(args, env)}")


if __name__ == "__main__":
    main()
