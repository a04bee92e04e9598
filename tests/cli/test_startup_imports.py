"""Start-up stays fast because commands import only what they use (benchmarks/bench_startup.py has the timings).

A timed test would be flaky on a shared machine; which libraries a command imports is not,
and it is what made ``--help`` take 5-7 s (empyrical, ccxt and plotly at start-up).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("numpy", "pandas", "pyarrow", "duckdb", "sqlalchemy", "pydantic", "yaml", "scipy", "ccxt", "plotly",
         "empyrical", "rich")
PROBE = """
import sys
from quantum_trader.cli.main import app
sys.argv = ["quantum-trader", *sys.argv[1:]]
try:
    app()
except SystemExit:
    pass
print("IMPORTED", *sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def imported(*args: str, cwd: Path) -> set[str]:
    probe = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], capture_output=True, text=True,
                           cwd=cwd, env={"PATH": "/usr/bin:/bin", "COLUMNS": "120"}, check=False, timeout=120)
    line = next(x for x in probe.stderr.splitlines() if x.startswith("IMPORTED"))
    return set(line.split()[1:])


@pytest.mark.parametrize("args", [("--help",), ("data", "--help"), ("backtest", "--help"), ("phase", "--help")])
def test_help_imports_none_of_the_heavy_libraries(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert imported(*args, cwd=tmp_path) <= {"pydantic"}  # Typer converts option values with pydantic


def test_policy_show_reads_the_policy_and_nothing_else(tmp_path: Path) -> None:
    assert imported("policy", "show", cwd=tmp_path) <= {"pydantic", "yaml", "rich"}


def test_data_list_reads_parquet_metadata_without_pandas_or_exchanges(tmp_path: Path) -> None:
    (tmp_path / "catalog").mkdir()
    loaded = imported("data", "list", cwd=tmp_path)
    assert "pyarrow" in loaded
    assert not loaded & {"pandas", "sqlalchemy", "scipy", "ccxt", "plotly", "empyrical"}


@pytest.mark.parametrize("args", [
    ("backtest", "--start", "2025-13-01"),
    ("backtest", "--symbols", "BTC/"),
    ("signals", "--symbols", "BTC,ETH", "--at", "noon"),
    ("gates", "no-such-run"),
    ("phase", "show"),
])
def test_bad_input_is_refused_before_the_engine_is_loaded(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert not imported(*args, cwd=tmp_path) & {"pandas", "scipy", "ccxt", "plotly", "empyrical"}
