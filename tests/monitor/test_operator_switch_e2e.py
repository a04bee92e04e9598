"""End to end: a paced ``quantum-trader paper --replay --journal J`` runs in its own process; the operator trips the
kill switch through the dashboard's API (with the token) while it runs, and later resets it. The session's
later bars refuse every entry and close what it held, its run folder and the journal say who tripped it and
why, and after the reset its entries come back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from quantum_trader.cli.dashboard_source import JournalControls, JournalSource
from quantum_trader.config import load_policy
from quantum_trader.journal import TradingJournal
from quantum_trader.monitor.app import Settings, create_app

CLI = str(Path(sys.executable).with_name("quantum-trader"))
CYCLE = str(Path(__file__).with_name("cycling.py")) + ":Cycle"
TOKEN = "e2e-token-0123456789abcdef"
HOST = "testserver"



def _until(what: str, done: Callable[[], bool], process: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if process.poll() is not None:
            raise AssertionError(f"the session ended before {what}: {process.stdout.read() if process.stdout else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_trip_posted_on_the_dashboard_stops_the_running_sessions_entries(catalog: Path, tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    runs = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_JOURNAL", "QT_ACCOUNT", "QT_CRASH_AT")}
    env.update(COLUMNS="160", NO_COLOR="1")
    command = [CLI, "paper", "--replay", "--speed", "150", "--symbols", "BTC,ETH,SOL", "--phase", "3", "--catalog",
               str(catalog), "--start", "2025-01-01", "--end", "2025-01-02", "--strategy", CYCLE, "--runs",
               str(runs), "--journal", str(path)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        reader = TradingJournal(path)
        source = JournalSource(str(path), account="default", policy=load_policy(None))
        client = TestClient(create_app(source, JournalControls(source), Settings(token=TOKEN,
                                                                                allowed_hosts=frozenset({HOST}))),
                            base_url=f"http://{HOST}")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        _until("a position is held", lambda: (r := reader.latest_risk()) is not None and r.positions > 0, process)
        refused = client.post("/api/killswitch/trip", json={"operator": "alice", "reason": "pull the plug"})
        assert refused.status_code == 401  # no token, no action
        tripped = client.post("/api/killswitch/trip", json={"operator": "alice", "reason": "pull the plug"},
                              headers=auth)
        assert tripped.status_code == 200, tripped.text

        def taken(kind: str) -> Callable[[], bool]:
            return lambda: any(c.kind.value == kind and c.session.startswith("paper-")
                               for c in reader.killswitch_history())

        _until("the session takes the trip", taken("trip_drawdown"), process)
        time.sleep(2.0)  # some 300 bars under the trip
        reset = client.post("/api/killswitch/reset", json={"operator": "bob", "reason": "all clear"}, headers=auth)
        assert reset.status_code == 200, reset.text
        _until("the session takes the reset", taken("reset"), process)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output

    history = reader.killswitch_history()
    session = next(c.session for c in history if c.session.startswith("paper-"))
    own = [c for c in history if c.session == session]
    assert [c.kind.value for c in own] == ["trip_drawdown", "reset"]
    tripped_at, reset_at = own[0].ts, own[1].ts
    assert "manual trip by alice: pull the plug" in own[0].reason and "operator bob" in own[1].reason

    (run,) = runs.iterdir()
    events = pd.read_parquet(run / "events.parquet")
    trips = events[events["kind"] == "kill_switch_trip"]
    assert trips["ts"].tolist() == [tripped_at] and "operator alice" in trips["message"].iloc[0]
    assert events[events["kind"] == "kill_switch_reset"]["ts"].tolist() == [reset_at]
    refusals = events[(events["kind"] == "refused") & (events["rule"] == "kill_switch")]
    assert not refusals.empty and refusals["ts"].between(tripped_at, reset_at).all()
    trades = pd.read_parquet(run / "trades.parquet")
    across = trades[(trades["entry_ts"] < tripped_at) & (trades["exit_ts"] > tripped_at)]
    assert (across["exit_reason"] == "kill_switch").all()  # what was held at the trip is closed by it
    assert trades["entry_ts"].between(tripped_at + 1, reset_at).sum() == 0

    entries = [o.order.ts for o in reader.orders() if o.order.purpose.value == "entry"]
    assert any(t < tripped_at for t in entries) and any(t > reset_at for t in entries)
    assert not [t for t in entries if tripped_at < t <= reset_at]
    alerts = [a for a in reader.alerts() if a.kind == "kill_switch_trip"]
    assert len(alerts) == 1 and "alice" in alerts[0].message and alerts[0].session == session
