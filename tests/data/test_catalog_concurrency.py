"""Several writers, and writers killed mid-write: real processes, and every row accounted for afterwards.

Each test starts its writer processes, lets them finish their imports, then releases them
together (one line on stdin), so the writes really overlap instead of depending on luck.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from quantum_trader.data.catalog import Catalog, LockTimeoutError
from quantum_trader.domain.market import BarSeries, DataKind, TradeFlowSeries

BTC = "BTC/USDT:USDT"
MIN = 60_000
T0 = 1_704_067_200_000  # 2024-01-01 UTC

WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from quantum_trader.data.catalog import Catalog
    from quantum_trader.domain.market import BarSeries

    root, k, writers, batches, n = sys.argv[1], *map(int, sys.argv[2:6])
    cat = Catalog(root, lock_wait_s=60)
    print("ready", flush=True)
    sys.stdin.readline()
    for batch in range(batches):
        start = (batch * writers + k) * n  # every process and batch owns its own range of minutes
        ts = {t0} + (np.arange(n, dtype=np.int64) + start) * 60_000
        close = 100.0 + k + np.zeros(n)
        cat.write(BarSeries("BTC/USDT:USDT", "1m", ts, close, close + 1, close - 1, close, np.ones(n)),
                  exchange="binanceusdm")
    """
).format(t0=T0)


def start_together(commands: list[list[str]]) -> list[subprocess.Popen[str]]:
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd in commands]
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.communicate()[1]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return procs


def finish(procs: list[subprocess.Popen[str]], timeout: float = 120.0) -> list[tuple[int, str, str]]:
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=timeout)
        out.append((proc.returncode, stdout, stderr))
    return out


def test_parallel_writers_lose_no_row(tmp_path: Path) -> None:
    writers, batches, n = 3, 8, 3_000
    cmd = [sys.executable, "-c", WRITER, str(tmp_path)]
    procs = start_together([[*cmd, str(k), str(writers), str(batches), str(n)] for k in range(writers)])
    for code, _out, err in finish(procs):
        assert code == 0, err
    bars = Catalog(tmp_path).read_bars(BTC, "1m")
    assert len(bars) == writers * batches * n
    np.testing.assert_array_equal(bars.ts, T0 + np.arange(writers * batches * n, dtype=np.int64) * MIN)
    # each row carries its writer's price: nobody's rows were overwritten by another's
    owner = (np.arange(bars.ts.size) // n) % writers
    np.testing.assert_array_equal(bars.close, 100.0 + owner)
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob(".lock"))


def candles_csv(path: Path, start: int, n: int) -> Path:
    ts = T0 + (np.arange(n, dtype=np.int64) + start) * MIN
    close = 100.0 + (np.arange(n) % 7)
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{t},{c},{c + 1},{c - 1},{c},2.5" for t, c in zip(ts.tolist(), close.tolist(), strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


CLI = textwrap.dedent(
    """
    import sys
    from quantum_trader.cli.data_cmd import app  # the `data` commands, without every other command's imports
    print("ready", flush=True)
    sys.stdin.readline()
    app(sys.argv[1:])
    """
)


def test_two_cli_ingests_of_the_same_dataset_keep_both_files(tmp_path: Path) -> None:
    n = 50_000
    first = candles_csv(tmp_path / "a.csv", 0, n)
    second = candles_csv(tmp_path / "b.csv", n, n)
    cat = str(tmp_path / "cat")
    procs = start_together([
        [sys.executable, "-c", CLI, "ingest", str(path), "--symbol", BTC, "--timeframe", "1m",
         "--catalog", cat]
        for path in (first, second)
    ])
    results = finish(procs)
    for code, out, err in results:
        assert code == 0, out + err
        assert f"{n} added" in out
    assert len(Catalog(cat).read_bars(BTC, "1m")) == 2 * n


def _hold_lock(root: Path, seconds: float) -> subprocess.Popen[str]:
    code = textwrap.dedent(
        f"""
        import sys, time
        from quantum_trader.data.catalog import Catalog
        from quantum_trader.domain.market import DataKind
        with Catalog({str(root)!r}).lock("binanceusdm", "BTC/USDT:USDT", DataKind.CANDLES, "1m"):
            print("locked", flush=True)
            time.sleep({seconds})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked", proc.communicate()[1]
    return proc


def bars(n: int, start: int = 0, price: float = 100.0) -> BarSeries:
    ts = T0 + (np.arange(n, dtype=np.int64) + start) * MIN
    close = price + np.zeros(n)
    return BarSeries(BTC, "1m", ts, close, close + 1, close - 1, close, np.ones(n))


def test_a_held_lock_makes_the_writer_wait_then_fail_clearly(tmp_path: Path) -> None:
    holder = _hold_lock(tmp_path, 30)
    try:
        messages: list[str] = []
        cat = Catalog(tmp_path, lock_wait_s=0.4, on_lock_wait=messages.append)
        t = time.monotonic()
        with pytest.raises(LockTimeoutError) as info:
            cat.write(bars(10), exchange="binanceusdm")
        assert time.monotonic() - t >= 0.4
        text = str(info.value)
        assert f"pid {holder.pid}" in text and "binanceusdm BTC/USDT:USDT candles 1m" in text
        assert "nothing was written" in text and "--wait-lock" in text
        assert len(messages) == 1 and f"pid {holder.pid}" in messages[0] and "waiting" in messages[0]
        assert cat.datasets() == []
    finally:
        holder.kill()
        holder.communicate()


def test_a_waiting_writer_proceeds_when_the_holder_finishes(tmp_path: Path) -> None:
    holder = _hold_lock(tmp_path, 0.6)
    messages: list[str] = []
    result = Catalog(tmp_path, lock_wait_s=30, on_lock_wait=messages.append).write(bars(10), exchange="binanceusdm")
    holder.communicate()
    assert result.rows_added == 10 and len(messages) == 1


def test_a_killed_holder_leaves_no_lock_behind(tmp_path: Path) -> None:
    """The stale-lock rule: a lock whose holder died is free, whatever its file still says."""
    holder = _hold_lock(tmp_path, 30)
    lock_file = next(tmp_path.rglob(".lock"))
    assert f'"pid": {holder.pid}' in lock_file.read_text()
    holder.send_signal(signal.SIGKILL)
    holder.communicate()
    result = Catalog(tmp_path, lock_wait_s=0).write(bars(10), exchange="binanceusdm")
    assert result.rows_added == 10


def test_threads_of_one_process_also_take_turns(tmp_path: Path) -> None:
    def write(k: int) -> None:
        cat = Catalog(tmp_path)
        for batch in range(6):
            cat.write(bars(500, start=(batch * 2 + k) * 500, price=100.0 + k), exchange="binanceusdm")

    with ThreadPoolExecutor(max_workers=2) as pool:
        for done in [pool.submit(write, k) for k in range(2)]:
            done.result()  # re-raises a writer's error here
    assert len(Catalog(tmp_path).read_bars(BTC, "1m")) == 12 * 500


# --------------------------------------------------------------- killed between the renames

KILLED = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    from quantum_trader.data.catalog import Catalog
    from quantum_trader.domain.market import BarSeries, TradeFlowSeries

    root, when = sys.argv[1], sys.argv[2]
    real_replace, real_fsync = os.replace, os.fsync
    renamed = []

    def replace(src, dst):
        real_replace(src, dst)
        if str(dst).endswith("data.parquet"):
            renamed.append(dst)
            if when == "between-renames":
                os.kill(os.getpid(), signal.SIGKILL)

    fsyncs = []

    def fsync(fd):
        real_fsync(fd)
        fsyncs.append(fd)
        if when == "while-staging" and len(fsyncs) == 1:
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace, os.fsync = replace, fsync
    n = 240
    ts = {t0} + np.arange(n, dtype=np.int64) * 60_000
    close = 100.0 + np.zeros(n)
    bars = BarSeries("BTC/USDT:USDT", "1m", ts, close, close + 1, close - 1, close, np.full(n, 3.0))
    flow = TradeFlowSeries("BTC/USDT:USDT", "1m", ts, np.full(n, 1.0), np.full(n, 2.0))
    Catalog(root).write_many([(bars, None), (flow, None)], exchange="binanceusdm")
    """
).format(t0=T0)


def _store_first_hour(root: Path) -> None:
    n = 60
    ts = T0 + np.arange(n, dtype=np.int64) * MIN
    close = 100.0 + np.zeros(n)
    Catalog(root).write_many([
        (BarSeries(BTC, "1m", ts, close, close + 1, close - 1, close, np.full(n, 3.0)), None),
        (TradeFlowSeries(BTC, "1m", ts, np.full(n, 1.0), np.full(n, 2.0)), None),
    ], exchange="binanceusdm")


def _kill_writer(root: Path, when: str) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLED, str(root), when], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def test_killed_between_the_renames_the_next_open_completes_the_commit(tmp_path: Path) -> None:
    _store_first_hour(tmp_path)
    _kill_writer(tmp_path, "between-renames")
    cat = Catalog(tmp_path)
    candles, flow = cat.read_bars(BTC, "1m"), cat.read_trade_flow(BTC, "1m")
    assert len(candles) == len(flow) == 240  # both new: the candles' volume and the flow's still agree
    np.testing.assert_array_equal(candles.volume, flow.taker_buy_volume + flow.taker_sell_volume)
    assert {(i.kind, i.rows) for i in cat.datasets()} == {(DataKind.CANDLES, 240), (DataKind.TRADE_FLOW, 240)}
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob("*.json"))


def test_killed_while_staging_leaves_the_old_data_and_the_next_write_cleans_up(tmp_path: Path) -> None:
    _store_first_hour(tmp_path)
    _kill_writer(tmp_path, "while-staging")
    assert list(tmp_path.rglob("*.tmp"))  # the half-done temp file is there...
    cat = Catalog(tmp_path)
    assert len(cat.read_bars(BTC, "1m")) == len(cat.read_trade_flow(BTC, "1m")) == 60  # ...but never read
    cat.write(bars(10, start=60), exchange="binanceusdm")
    assert not list(tmp_path.rglob("*.tmp"))  # ...and the next write of that dataset removes it

