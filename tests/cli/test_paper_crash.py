"""The crash test: a journalled paper session on a replay, killed with SIGKILL twenty times and more, at random
moments and exactly between an order's journal row and its send, between a fill and its journal row, and
after a flush of bar snapshots, then restarted each time. At the end its journal holds what an uninterrupted
run of the same replay holds: the same orders with the same statuses and events, the same fills, the same
decisions, the same equity at every bar, the same kill switch; one session, ended; no incident.

The process is the real command line (``quantum-trader paper``), killed from outside (a timer) or by itself
at an armed point (``engine/crash_points.py``: ``QT_CRASH_AT``), as ``kill -9`` would.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.journal.conftest import BACKENDS, fresh_journal
from typer.testing import CliRunner

from quantum_trader.cli.main import app
from quantum_trader.journal import TradingJournal

CLI = str(Path(sys.executable).with_name("quantum-trader"))
SMA = ("--strategy", "sma-cross", "--param", "fast=20", "--param", "slow=60", "--policy", "plain",
       "--start", "2025-01-01", "--end", "2025-01-02")
"""Plain sizing and a fast crossing: over a hundred orders in a day of 1m bars, many moments to die at."""
TRIPPING = ("--start", "2025-01-01", "--end", "2025-01-04", "--set", "portfolio.max_drawdown_portfolio=0.008",
            "--set", "portfolio.max_daily_loss_portfolio=0.006", "--set", "per_asset.max_daily_loss_per_asset=0.006",
            "--set", "per_asset.max_risk_per_trade=0.006", "--set", "expansion.demotion.on_drawdown_trip=false")
"""The whole policy with limits the replay breaks: the kill switch trips mid-run. The trip's automatic demotion is
off: a resumed session does not take a phase change made during it again at the same bar (not built)."""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog")
    result = CliRunner().invoke(app, ["data", "synth", "--days", "12", "--seed", "3", "--catalog", str(root),
                                      "--assets", "BTC,ETH,SOL"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    return root


def _command(catalog: Path, runs: Path, journal: str, extra: tuple[str, ...]) -> list[str]:
    return [CLI, "paper", "--replay", "--speed", "max", "--symbols", "BTC,ETH,SOL", "--phase", "3", "--catalog",
            str(catalog), "--runs", str(runs), "--journal", str(journal), *extra]


def _env(crash_at: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_CRASH_AT", "QT_JOURNAL", "QT_ACCOUNT")}
    env.update(COLUMNS="160", NO_COLOR="1")
    if crash_at:
        env["QT_CRASH_AT"] = crash_at
    return env


def _run(command: list[str], crash_at: str = "", kill_after: float | None = None) -> int:
    """The process's return code: negative SIGKILL when it was killed."""
    process = subprocess.Popen(command, env=_env(crash_at), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after is not None:
        try:
            process.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            process.kill()
    _, err = process.communicate(timeout=600)
    if process.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"{' '.join(command)} failed ({process.returncode}): {err.decode()[-2000:]}")
    return process.returncode


def _state(path: str) -> dict[str, Any]:
    """Everything the journal holds of the session, with client order ids (derived from the session's id, which
    differs between the two journals) replaced by what they are derived from: the decision's time, the symbol,
    the purpose, and the order's rank among those."""
    journal = TradingJournal(path)
    records = journal.orders()
    ranks: dict[tuple[int, str, str], int] = {}
    key: dict[str, tuple[int, str, str, int]] = {}
    for record in records:
        o = record.order
        base = (o.ts, o.symbol, o.purpose.value)
        ranks[base] = ranks.get(base, -1) + 1
        key[o.client_order_id] = (*base, ranks[base])
    orders = sorted((key[r.order.client_order_id], r.order.side.value, r.order.type.value, str(r.order.quantity),
                     str(r.order.price), str(r.order.stop_price), r.status.value, str(r.filled_quantity))
                    for r in records)
    events = sorted((key[cid], e.kind.value, e.ts, (e.fill_id or "").rsplit("/", 1)[-1], e.reason)
                    for cid in key for e in journal.order_events(cid))
    fills = [(key[f.fill.client_order_id], f.fill_id.rsplit("/", 1)[-1], f.fill.symbol, f.fill.side.value,
              str(f.fill.quantity), str(f.fill.price), str(f.fill.fee), f.fill.ts) for f in journal.fills_since(0)]
    switch = journal.load_killswitch()
    state = {
        "orders": orders, "events": events, "fills": sorted(fills),
        "decisions": [(d.ts, d.decision.intent.symbol, d.decision.verdict.value, str(d.decision.quantity))
                      for d in journal.decisions()],
        "bars": [(r.ts, str(r.equity), r.exposure, r.positions, r.correlation) for r in journal.risk_snapshots()],
        "cash": [(e.ts, str(e.cash), str(e.equity)) for e in journal.equity_since(0)][-1:],
        "switch": None if switch is None else (switch.state.to_dict(), str(switch.peak_equity),
                                               str(switch.day_start_equity), switch.trip_reason),
        "switch_history": [(c.ts, c.kind.value, c.reason) for c in journal.killswitch_history()],
        "locks": [(lock.asset, lock.ts, lock.until, lock.cleared_ts) for lock in journal.locks()],
        "incidents": [(i.kind, i.detail) for i in journal.incidents()],
        "alerts": sorted((a.ts, a.kind, a.severity.value, a.message) for a in journal.alerts()),
    }
    sessions = journal.sessions()
    state["sessions"] = [(s.mode.value, s.ended_ts is not None, s.end_reason) for s in sessions]
    journal.close()
    return state


def _trades(runs: Path) -> pd.DataFrame:
    run = max(runs.iterdir(), key=lambda p: p.stat().st_mtime)
    return pd.read_parquet(run / "trades.parquet")


def _ended(journal: str) -> bool:
    store = TradingJournal(journal)
    try:
        return any(s.ended_ts is not None for s in store.sessions())
    finally:
        store.close()


def _crash_until_done(command: list[str], journal: str, plan: list[tuple[str, float | None]]) -> int:
    """Run ``command`` through the crashes of ``plan`` (an armed point, or a timer) until its session has ended (a
    timer may land after the end is journalled: the same command would then start another session, as it should),
    then to its end; the kills."""
    kills = 0
    outcomes = []
    for crash_at, after in plan:
        if _ended(journal):
            outcomes.append("ended")
            break
        code = _run(command, crash_at, after)
        kills += code == -signal.SIGKILL
        outcomes.append(f"{crash_at or f'timer {after:.1f}s'}: {code}")
    print("crash plan:", "; ".join(outcomes))
    for _ in range(5):
        if _ended(journal) or _run(command) == 0:
            return kills
    raise AssertionError("the session never finished")


def _plan(rng: random.Random, orders: int, fills: int, duration: float) -> list[tuple[str, float | None]]:
    """Armed points at increasing passes (a resumed run passes the earlier ones again, so each crash lands
    further on): the first flushes of bar snapshots, then orders and fills in the order they come, with timer
    kills at random moments in between."""
    steps: list[tuple[float, str]] = []
    for point, total in (("order-journalled", orders), ("fill-heard", fills)):
        for count in rng.sample(range(1, total + 1), min(12, total)):
            steps.append((count / total, f"{point}:{count}"))
    # a second's bars are flushed at a time, and a run's last ones when it ends: the first flush always comes
    plan: list[tuple[str, float | None]] = [("bar-journalled:1", None)]
    plan += [(name, None) for _, name in sorted(steps)]
    for _ in range(4):  # inserted among the first two thirds, each shorter than what is left to run after it (a
        # timer landing after the session's end would end the plan there, the armed points after it lost)
        plan.insert(rng.randrange(1, len(plan) * 2 // 3), ("", rng.uniform(0.05, 0.25) * duration))
    return plan


def test_a_session_killed_twenty_times_journals_what_an_uninterrupted_one_does(catalog: Path,
                                                                              tmp_path: Path) -> None:
    whole = str(tmp_path / "whole.sqlite")
    started = time.perf_counter()
    assert _run(_command(catalog, tmp_path / "runs-whole", whole, SMA)) == 0
    duration = time.perf_counter() - started
    expected = _state(whole)
    assert len(expected["orders"]) > 100 and expected["sessions"] == [("paper", True, "end of data")]

    crashed = str(tmp_path / "crashed.sqlite")
    plan = _plan(random.Random(20261201), len(expected["orders"]), len(expected["fills"]), duration)
    kills = _crash_until_done(_command(catalog, tmp_path / "runs-crashed", crashed, SMA), crashed, plan)
    assert kills >= 20, f"only {kills} kills landed (the plan's outcomes are printed above)"
    found = _state(crashed)
    for key in expected:
        assert found[key] == expected[key], f"{key} differs after {kills} kills"
    assert found["incidents"] == []
    pd.testing.assert_frame_equal(_trades(tmp_path / "runs-crashed"), _trades(tmp_path / "runs-whole"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_kill_switch_trip_is_taken_again_exactly_across_kills(catalog: Path, tmp_path: Path, backend: str) -> None:
    """The tripped switch a crashed session left is not the one it resumes with: it resumes with the switch it
    started with, and trips again at the same bar, so history holds one trip, not two. On SQLite and PostgreSQL."""
    with fresh_journal(backend, tmp_path) as whole, fresh_journal(backend, tmp_path) as crashed:
        _kill_switch_across_kills(catalog, tmp_path, whole, crashed)


def _kill_switch_across_kills(catalog: Path, tmp_path: Path, whole: str, crashed: str) -> None:
    assert _run(_command(catalog, tmp_path / "runs-whole", whole, TRIPPING)) == 0
    expected = _state(whole)
    assert expected["switch"] is not None and expected["switch"][0]["drawdown_tripped"]
    assert [kind for _, kind, _ in expected["switch_history"]].count("trip_drawdown") == 1

    plan: list[tuple[str, float | None]] = [("order-journalled:1", None), ("fill-heard:1", None),
                                            ("order-journalled:2", None), ("fill-heard:2", None),
                                            ("order-journalled:3", None), ("bar-journalled:2", None)]
    kills = _crash_until_done(_command(catalog, tmp_path / "runs-crashed", crashed, TRIPPING), crashed, plan)
    assert kills >= 5
    found = _state(crashed)
    for key in expected:
        assert found[key] == expected[key], f"{key} differs after {kills} kills"
    assert json.dumps(found["switch"]) == json.dumps(expected["switch"])
