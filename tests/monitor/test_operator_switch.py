"""A running paper session takes an operator's trip and reset from the journal at its next bar
(``engine/operator_switch.py``), written as the dashboard writes them (``JournalControls``).

The session runs in this process, so the trip lands after a known bar: the next bar's close trips the
session's kill switch, the position it holds is closed, every entry after it is refused by the kill
switch, the run's events and the journal name the operator and the reason; the reset re-arms it and the
entries come back. ``test_operator_switch_e2e.py`` does the same from another process over HTTP.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd

from quantum_trader.cli.dashboard_source import JournalControls, JournalSource
from quantum_trader.config import load_policy
from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.journal import TradingJournal
from quantum_trader.journal.store import Journal

CYCLE = str(Path(__file__).with_name("cycling.py")) + ":Cycle"
TRIP_FROM, RESET_AFTER = 300, 400
"""The operator trips at the first bar from the 300th where a position is held, and resets 400 bars later (the
session takes each at the bar after)."""
WALL = 1_900_000_000_000
"""The dashboard's wall clock (the replay's bars are of January 2025)."""



def _session(catalog: Path, path: Path, runs: Path):  # type: ignore[no-untyped-def]
    from quantum_trader.analytics.paper import open_paper
    from quantum_trader.cli.backtest_cmd import run_request

    request = run_request(symbols="BTC,ETH,SOL", strategy=CYCLE, param=[], policy="default", set_=[],
                          catalog=catalog, exchange=None, start="2025-01-01", end="2025-01-02", timeframe=None,
                          phase=3, journal=str(path), equity=100_000.0, runs=runs, no_slippage=False, entry=None,
                          command="paper")
    return open_paper(request, None, journal=TradingJournal(path, session="paper-op"))


def test_an_operators_trip_and_reset_reach_the_running_session_at_its_next_bar(catalog: Path,
                                                                                tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    session = _session(catalog, path, tmp_path / "runs")
    controls = JournalControls(JournalSource(str(path), account="default", policy=load_policy(None),
                                             clock=lambda: WALL))
    said: list[str] = []
    at: dict[str, int] = {}

    def operator(_chunk: MarketChunk) -> None:
        bars = session.replay.stats.bars
        if "trip" not in at and bars >= TRIP_FROM and session.kernel.ledger.positions:
            at["trip"] = bars
            assert session.recorder is not None
            session.recorder.flush()  # the dashboard measures the switch on the equity the journal holds
            said.append(controls.trip("alice", "drill from the dashboard").message)
        elif "trip" in at and bars == at["trip"] + RESET_AFTER:
            at["reset"] = bars
            assert session.recorder is not None
            session.recorder.flush()
            said.append(controls.reset("bob", "drill over", False).message)

    asyncio.run(session.run(operator))
    result = session.write()
    grid = session.prepared.data.grid
    step = 60_000
    tripped_at = int(grid.ts[at["trip"]]) + step  # the close of the bar after the one the trip was written at
    reset_at = int(grid.ts[at["reset"]]) + step
    assert said[0].startswith("kill switch tripped by alice") and said[1].startswith("kill switch reset by bob")

    events = pd.read_parquet(result.run.path / "events.parquet")
    trips = events[events["kind"] == "kill_switch_trip"]
    assert trips["ts"].tolist() == [tripped_at]
    assert "manual trip by alice: drill from the dashboard" in trips["message"].iloc[0]
    assert "operator alice" in trips["message"].iloc[0]
    resets = events[events["kind"] == "kill_switch_reset"]
    assert resets["ts"].tolist() == [reset_at] and "operator bob" in resets["message"].iloc[0]
    assert "drill over" in resets["message"].iloc[0]

    refused = events[(events["kind"] == "refused") & (events["rule"] == "kill_switch")]
    assert len(refused) > 5 and refused["ts"].between(tripped_at, reset_at).all()

    trades = pd.read_parquet(result.run.path / "trades.parquet")
    closed = trades[trades["exit_reason"] == "kill_switch"]
    assert len(closed) == 1 and int(closed["exit_ts"].iloc[0]) >= tripped_at  # what was held is closed

    journal = TradingJournal(path)
    entries = [o.order.ts for o in journal.orders() if o.order.purpose.value == "entry"]
    assert any(t < tripped_at for t in entries)
    assert not [t for t in entries if tripped_at < t <= reset_at], "an entry went out while tripped"
    assert any(t > reset_at for t in entries), "entries resume after the reset"

    history = journal.killswitch_history()
    assert [(c.kind.value, c.operator, c.session) for c in history if c.session == "dashboard"] == [
        ("trip_drawdown", "alice", "dashboard"), ("reset", "bob", "dashboard")]
    own = [c for c in history if c.session == "paper-op"]
    assert [c.ts for c in own] == [tripped_at, reset_at] and all("taken from the journal" in c.reason for c in own)
    record = journal.load_killswitch()
    assert record is not None and not record.tripped
    alerts = [a for a in journal.alerts() if a.kind == "kill_switch_trip"]
    assert len(alerts) == 1 and alerts[0].ts == tripped_at and "alice" in alerts[0].message
    assert Journal(journal.db).phase_history() == []  # an operator's trip is no drawdown: no demotion


def test_a_session_starts_from_what_the_journal_already_says(catalog: Path, tmp_path: Path) -> None:
    """Changes made before the session started are the switch it starts with (``restored_switch``): they are
    not taken again as news."""
    path = tmp_path / "j.sqlite"
    first = _session(catalog, path, tmp_path / "runs")
    asyncio.run(first.run())
    controls = JournalControls(JournalSource(str(path), account="default", policy=load_policy(None),
                                             clock=lambda: WALL))
    controls.trip("alice", "stop everything")
    second = _session(catalog, path, tmp_path / "runs")  # a new session of the same run would resume: end it
    asyncio.run(second.run())
    events = pd.read_parquet(second.write().run.path / "events.parquet")
    assert events[events["kind"] == "kill_switch_trip"].empty
    assert (events[events["kind"] == "refused"]["rule"] == "kill_switch").all()
