"""The crash test of live trading: a live session against the fake exchange, killed with SIGKILL twenty times and more.

The process (``tests/venues/ccxt/live_child.py``: ``open_live`` on the fake Binance USD-M exchange, which runs
here in the test's process and so outlives every kill) dies exactly between an order's journal row and its
send, between a fill heard and its journal row, after a flush of bar snapshots, and at random moments; each
time it is started again with the same settings and resumes its session (``analytics.live_resume``). At the
end the journal's orders (with their statuses), fills, positions, cash and kill switch equal those of a
session that ran without a kill; no client order id reached the exchange twice; the exchange holds nothing;
no reconciliation incident is left open.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.server import FakeBinance
from tests.venues.ccxt.conftest import KEY
from tests.venues.ccxt.test_live_resume import SYMBOLS

from quantum_trader.data.resample import resample_bars
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.domain.market import BarSeries, FundingSeries
from quantum_trader.journal import SessionMode, TradingJournal

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def market() -> tuple[dict[str, BarSeries], dict[str, FundingSeries]]:
    found = generate_market(SynthConfig(days=12, seed=7, assets=("BTC", "ETH", "SOL")))
    return {s: resample_bars(b, "1h") for s, b in found.bars.items()}, found.funding


def _run(url: str, journal: Path, rows: int, crash_at: str = "", kill_after: float | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_CRASH_AT", "QT_JOURNAL")}
    if crash_at:
        env["QT_CRASH_AT"] = crash_at
    process = subprocess.Popen([sys.executable, "-m", "tests.venues.ccxt.live_child", url, str(journal), str(rows)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after is not None:
        try:
            process.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            process.kill()
    _, err = process.communicate(timeout=600)
    if process.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"live child failed ({process.returncode}): {err.decode()[-3000:]}")
    return process.returncode


def _state(path: Path) -> dict[str, Any]:
    journal = TradingJournal(path)
    try:
        switch = journal.load_killswitch()
        equity = journal.latest_equity()
        net: dict[str, Any] = {}
        for r in journal.fills_since(0):
            net[r.fill.symbol] = net.get(r.fill.symbol, 0) + r.fill.quantity * r.fill.side.sign
        return {
            "orders": [(r.order.client_order_id, r.order.type.value, r.order.side.value, str(r.order.quantity),
                        str(r.order.stop_price), r.status.value, str(r.filled_quantity)) for r in journal.orders()],
            "fills": sorted((r.fill_id, r.fill.ts, r.fill.symbol, r.fill.side.value, str(r.fill.quantity),
                             str(r.fill.price), str(r.fill.fee)) for r in journal.fills_since(0)),
            "positions": {s: q for s, q in net.items() if q},
            "cash": None if equity is None else (equity.ts, str(equity.cash), str(equity.equity)),
            "switch": None if switch is None else (switch.state.to_dict(), str(switch.peak_equity)),
            "sessions": [(s.mode.value, s.ended_ts is not None) for s in journal.sessions()
                         if s.mode is SessionMode.LIVE],
            "open_incidents": [i.kind for i in journal.unresolved_incidents()],
        }
    finally:
        journal.close()


def _ended(path: Path) -> bool:
    return path.exists() and any(ended for _, ended in _state(path)["sessions"])


def _plan(rng: random.Random, duration: float) -> list[tuple[str, float | None]]:
    """Each run dies at an early pass of one point (a resumed run passes only what it does live, from the bar
    forming when it restarted), or at a random moment."""
    plan: list[tuple[str, float | None]] = [("bar-journalled:1", None)]
    for n in range(40):
        if n % 10 == 5:
            plan.append(("", rng.uniform(0.1, 0.35) * duration))
        else:
            plan.append((f"{rng.choice(['order-journalled', 'fill-heard'])}:{rng.randint(1, 2)}", None))
    return plan


def test_a_live_session_killed_twenty_times_journals_what_an_uninterrupted_one_does(
        market: tuple[dict[str, BarSeries], dict[str, FundingSeries]], tmp_path: Path) -> None:
    import time

    bars, funding = market
    assert tuple(bars) == SYMBOLS
    rows = len(bars["BTC/USDT:USDT"]) - 1
    whole = tmp_path / "whole.sqlite"
    with FakeBinance.of(bars, funding, cursor=1, api_key=KEY).running() as url:
        started = time.perf_counter()
        assert _run(url, whole, rows) == 0
        duration = time.perf_counter() - started
    expected = _state(whole)
    assert len(expected["fills"]) >= 15 and expected["sessions"] == [("live", True)]

    crashed = tmp_path / "crashed.sqlite"
    fake = FakeBinance.of(bars, funding, cursor=1, api_key=KEY)
    kills, outcomes = 0, []
    with fake.running() as url:
        for crash_at, after in _plan(random.Random(20261201), duration):
            if _ended(crashed):
                break
            code = _run(url, crashed, rows, crash_at, after)
            kills += code == -signal.SIGKILL
            outcomes.append(f"{crash_at or f'timer {after:.1f}s'}: {code}")
        if not _ended(crashed):
            assert _run(url, crashed, rows) == 0
    print("crash plan:", "; ".join(outcomes))
    found = _state(crashed)
    for key in expected:
        assert found[key] == expected[key], f"{key} differs after {kills} kills"
    assert kills >= 20, f"only {kills} kills landed: {outcomes}"
    assert set(fake.exchange.received.values()) == {1}, "no client order id reached the exchange twice"
    assert not any(h.qty for h in fake.exchange.positions.values())
