"""What a journalled session on an exchange is wired to: the journal's keepers and recorder, and the execution path.

Split from ``analytics.live`` (which composes the session): a session with a journal keeps its kill switch and
locks there (``SwitchKeeper``), raises alerts, follows the journal's phase and records each bar; its orders go
through the journal before they leave (``JournaledLiveExecution``), and a resumed session's through its catch-up
first (``engine.catch_up``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from quantum_trader.analytics.live_resume import start_switch
from quantum_trader.config import Policy
from quantum_trader.domain.clock import ReplayClock
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.trading import Order
from quantum_trader.engine.catch_up import MISSED, CatchUpExecution
from quantum_trader.engine.core import TradingKernel
from quantum_trader.engine.journaled import JournaledLiveExecution, SwitchKeeper, restored_switch
from quantum_trader.engine.live import LiveExecution
from quantum_trader.engine.operator_switch import OperatorSwitch
from quantum_trader.engine.phase_follow import DrawdownDemotion, PhaseFollower
from quantum_trader.engine.reconcile import Reconciliation
from quantum_trader.engine.session_record import SessionRecorder
from quantum_trader.journal import SessionRecord, TradingJournal
from quantum_trader.journal.store import Journal
from quantum_trader.monitor.alerts import AlertWatcher
from quantum_trader.risk import KillSwitchState, RiskEvent
from quantum_trader.venues.ccxt.credentials import Redactor
from quantum_trader.venues.ccxt.execution import CcxtExecutionClient
from quantum_trader.venues.ccxt.incidents import Incident, IncidentKind

RiskListener = Callable[[TradingKernel, int, tuple[RiskEvent, ...]], None]


def live_execution(client: CcxtExecutionClient, journal: TradingJournal | None, bar_clock: ReplayClock,
                    resumed: SessionRecord | None, live_from: int, found: Reconciliation | None,
                    session: Any) -> LiveExecution:
    """The exchange's client, journalled when there is a journal, and for a resumed session behind its catch-up."""
    if journal is None:
        return client
    journalled = JournaledLiveExecution(client, journal, bar_clock)
    if resumed is None:
        return journalled
    assert found is not None

    def missed(order: Order) -> None:
        session.incident(Incident(bar_clock.now(), IncidentKind.DECISION_MISSED, f"{order.symbol} "
                                  f"{order.purpose.value} {order.client_order_id}: {MISSED}", order.symbol,
                                  action="alert"))

    return CatchUpExecution(journalled, client, journal, bar_clock, live_from, found.exchange_ids, on_missed=missed)


def journal_wiring(journal: TradingJournal, policy: Policy, redactor: Redactor, resumed: SessionRecord | None,
                    start_ts: int, feed_name: str, on_incident: Callable[[Incident], None] | None,
                    tell: Callable[[str], None], history: Mapping[str, BarSeries]
                    ) -> tuple[list[RiskListener], SessionRecorder, PhaseFollower,
                                                          KillSwitchState | None, Callable[[Incident], None]]:
    """What a journalled session writes and follows: the kill switch it starts with (a resumed session's as it
    started; else the journal's), its keeper, the alert rules, the phase follower and the bar recorder."""
    alerts = AlertWatcher.of_policy(policy, journal, scrub=redactor.scrub)
    switch = start_switch(resumed) if resumed is not None else restored_switch(journal, start_ts)
    if switch is not None and switch.tripped:
        tell(f"kill switch tripped in journal {journal.url} ({'drawdown' if switch.drawdown_tripped else 'daily'}): "
             "no entries until `quantum-trader killswitch reset`")
    phases = Journal(journal.db, account=journal.account)  # the session follows the journal's phase
    keeper: list[RiskListener] = [
        SwitchKeeper(journal), alerts.on_risk, DrawdownDemotion(phases)]
    recorder = SessionRecorder(journal, feed=feed_name, watchers=[alerts, OperatorSwitch(journal)],
                               resume_after=None if resumed is None else journal.feed_cursor(feed_name),
                               warmup=history)
    return (keeper, recorder, PhaseFollower(phases, journal, policy), switch,
            alerts.incidents_then(on_incident))

