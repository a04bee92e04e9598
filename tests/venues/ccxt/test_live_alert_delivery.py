"""A live session hands what its alert channels still hold to the operator when it ends, not when the process
exits: alerts past the channel's rate limit are held for one summary message, and a session that ends (its
last bar, Ctrl-C, ``--max-bars``) sends that summary before ``run`` returns. A long-running process (the
dashboard beside it, a supervisor starting sessions) would otherwise keep it until it exits, or lose it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from tests.fakes.receiver import Receiver
from tests.fakes.server import FakeBinance
from tests.venues.ccxt.conftest import KEY
from tests.venues.ccxt.test_session import _request, replay  # noqa: F401 (the module's replay fixture)

from quantum_trader.analytics.live import open_live
from quantum_trader.domain.market import BarSeries, FundingSeries
from quantum_trader.journal import TradingJournal
from quantum_trader.monitor.alerts import AlertWatcher
from quantum_trader.monitor.alerts.model import Alert, AlertKind


def test_alerts_held_by_the_rate_limit_reach_the_operator_when_the_session_ends(
        replay: tuple[dict[str, BarSeries], dict[str, FundingSeries]], tmp_path: Path) -> None:  # noqa: F811
    bars, funding = replay
    receiver = Receiver()
    with receiver.running() as hook_url:
        request = _request(bars, "live", 3)
        dashboard = request.policy.dashboard
        channels = dashboard.alerts.channels.model_copy(
            update={"webhook_url": f"{hook_url}/hook", "max_per_minute": 1, "retries": 0})
        alerts = dashboard.alerts.model_copy(update={"channels": channels})
        policy = request.policy.model_copy(update={"dashboard": dashboard.model_copy(update={"alerts": alerts})})
        journal = TradingJournal(tmp_path / "j.sqlite", session="alerting")
        fake = FakeBinance.of(bars, funding, cursor=1, api_key=KEY)

        async def go() -> None:
            session = await open_live(replace(request, api_url=url, policy=policy, journal=journal))
            assert session.recorder is not None
            watcher = next(w for w in session.recorder.watchers if isinstance(w, AlertWatcher))
            start = int(bars["BTC/USDT:USDT"].ts[1])
            watcher.emit([Alert.of(start + i, AlertKind.ASSET_LOCK, f"asset {i} locked", f"lock {i}")
                          for i in range(3)])
            await session.run()

        with fake.running() as url:
            asyncio.run(go())
        hooks = receiver.bodies("/hook")  # read at once: the process is still running, nothing at exit yet
    assert [h.get("message") for h in hooks[:1]] == ["asset 0 locked"]
    assert hooks[-1]["kind"] == "alert_summary" and hooks[-1]["count"] == 2, hooks
