"""A running session delivers its alerts to the channels while it runs, not when it ends: each alert reaches a
local webhook receiver within a moment of being raised, bars keep coming meanwhile, and a channel that answers
slowly never holds a bar back."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from tests.fakes.receiver import Receiver

from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.journal import TradingJournal

CYCLE = str(Path(__file__).with_name("cycling.py")) + ":Cycle"



def _session(catalog: Path, tmp_path: Path, url: str, speed: float):  # type: ignore[no-untyped-def]
    from quantum_trader.analytics.paper import open_paper
    from quantum_trader.cli.backtest_cmd import run_request

    policy = tmp_path / "alerts.yaml"
    policy.write_text(f"dashboard:\n  alerts:\n    channels:\n      webhook_url: {url}/hook\n"
                      "      max_per_minute: 1000\n      retries: 0\n      timeout_s: 5\n")
    request = run_request(symbols="BTC,ETH,SOL", strategy=CYCLE, param=[], policy=str(policy), set_=[],
                          catalog=catalog, exchange=None, start="2025-01-01", end="2025-01-02", timeframe=None,
                          phase=3, journal=str(tmp_path / "j.sqlite"), equity=100_000.0, runs=tmp_path / "runs",
                          no_slippage=False, entry=None, command="paper")
    return open_paper(request, speed, journal=TradingJournal(tmp_path / "j.sqlite", session="paper-alerts"))


def test_an_alert_raised_mid_session_arrives_while_the_session_runs(catalog: Path, tmp_path: Path) -> None:
    receiver = Receiver()
    with receiver.running() as url:
        session = _session(catalog, tmp_path, url, speed=600)
        watcher = session.alerts
        assert watcher is not None
        raised: dict[str, float] = {}
        arrived: dict[str, float] = {}

        def each(_chunk: MarketChunk) -> None:
            now = time.monotonic()
            for alert in watcher.alerts:
                raised.setdefault(alert.message, now)
            for body in receiver.bodies("/hook"):
                arrived.setdefault(body["message"], now)

        started = time.monotonic()
        asyncio.run(session.run(each))
        ended = time.monotonic()
    assert ended - started > 2.0  # a paced session: seconds of bars after the first alerts
    early = [m for m, t in raised.items() if t < ended - 1.0]
    assert early, "the session raised alerts well before it ended"
    assert all(m in arrived for m in early), "an alert raised mid-session had not arrived when the session ended"
    waits = [arrived[m] - raised[m] for m in early]
    assert max(waits) < 2.0, waits  # within a moment of being raised, seen at the bars that followed
    sent = {(b["kind"], b["message"]) for b in receiver.bodies("/hook")}
    assert {(str(a.kind), a.message) for a in watcher.alerts} == sent  # and none lost at the end


def test_a_slow_channel_never_holds_a_bar_back(catalog: Path, tmp_path: Path) -> None:
    receiver = Receiver()
    gate = threading.Event()
    with receiver.running() as url:
        receiver.hold = gate  # every POST waits until the session is over
        session = _session(catalog, tmp_path, url, speed=None)
        started = time.monotonic()
        stats = asyncio.run(session.run())
        took = time.monotonic() - started
        assert session.alerts is not None and session.alerts.alerts
        gate.set()
    assert stats.bars == session.total and took < 60
    assert max(stats.bar_ns) / 1e9 < 1.0  # no bar waited on the channel's five-second answers
