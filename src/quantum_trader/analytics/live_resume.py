"""Taking a live session again after its process died: the same session, from its first bar, caught up from the journal.

A live session that did not end (its ``sessions`` row has no end: the process was killed, the host went
down) left the exchange holding what it held: positions, their protective stops and targets, resting
entries. Its next start with the same settings (a fingerprint of exchange, network, symbols, timeframe,
strategy and parameters, policy and phase) does not refuse them nor guess about them: it resumes the
session under its own id, so every decision derives the client order id it had.

The kernel is run again from the session's first bar over the exchange's bars (the same warm-up before it),
with the equity the session started with and the kill switch it started with. What the exchange told the
session (each order event and funding payment) is not asked again: the journal holds it with the market time
the session heard it (``journal.heard_io``) and ``engine.catch_up`` hands it to the kernel at that time, so
positions, cash, protection, the trades and the kill switch come out as they were. From the bar forming now
on, the session is live again: the orders still resting are adopted by the exchange client, and a decision
the journal never held is sent as any other. Reconciliation (``engine.reconcile``) has run before: what ended
while the process was down is journalled from the exchange's record, and any difference still refuses the start.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from quantum_trader.analytics.paper_resume import plain, session_detail
from quantum_trader.engine.reconcile import Reconciliation, reconcile
from quantum_trader.journal import SessionMode, SessionRecord, TradingJournal
from quantum_trader.risk import KillSwitchState
from quantum_trader.venues.ccxt.connect import ExchangeSetupError, venue_info

if TYPE_CHECKING:
    from quantum_trader.analytics.live import LiveRequest

FINGERPRINT_KEY = "fingerprint"
START_SWITCH_KEY = "start_switch"
EQUITY_KEY = "initial_equity"


def live_fingerprint(request: LiveRequest, exchange_id: str, phase: int) -> str:
    """What makes two live sessions the same session, hashed."""
    strategy = request.strategy
    params = {k: plain(v) for k, v in sorted(vars(strategy).items()) if not k.startswith("_")}
    described: dict[str, Any] = {
        "mode": request.mode, "exchange": exchange_id, "network": "testnet" if request.testnet else "mainnet",
        "symbols": list(request.symbols), "timeframe": request.timeframe, "phase": phase,
        "strategy": f"{type(strategy).__module__}.{type(strategy).__qualname__}", "params": params,
        "policy": request.policy.model_dump(mode="json"), "warmup": request.warmup_bars, "window": request.window,
        "settings": [request.settings.slippage, request.settings.impact],
    }
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def unfinished_live(journal: TradingJournal, fingerprint: str, exchange_id: str) -> SessionRecord | None:
    """The newest live session of these settings on this exchange that never ended."""
    found = [s for s in journal.sessions() if s.mode is SessionMode.LIVE and s.exchange == exchange_id
             and s.ended_ts is None and session_detail(s).get(FINGERPRINT_KEY) == fingerprint]
    return found[-1] if found else None


def other_unfinished(journal: TradingJournal, exchange_id: str, fingerprint: str) -> list[SessionRecord]:
    """Live sessions on this exchange that never ended and that these settings would not resume."""
    return [s for s in journal.sessions() if s.mode is SessionMode.LIVE and s.exchange == exchange_id
            and s.ended_ts is None and session_detail(s).get(FINGERPRINT_KEY) != fingerprint]


def start_switch(session: SessionRecord) -> KillSwitchState | None:
    saved = session_detail(session).get(START_SWITCH_KEY)
    return None if saved is None else KillSwitchState.from_dict(saved)


def start_equity(session: SessionRecord) -> Decimal | None:
    saved = session_detail(session).get(EQUITY_KEY)
    return None if saved is None else Decimal(str(saved))


async def reconciled_start(exchange: Any, journal: TradingJournal, symbols: tuple[str, ...], now: int, backoff: Any,
                      tell: Callable[[str], None], *, live_from: int, heard_ts: int) -> Reconciliation:
    """The journal and the exchange compared before anything is sent (``engine.reconcile``): the session
    refuses to start while they disagree, now or in an incident an operator has not resolved."""
    found = await reconcile(exchange, journal, venue_info(exchange.id), symbols, now=now, backoff=backoff,
                            live_from=live_from, heard_ts=heard_ts)
    for line in found.lines():
        tell(line)
    open_ = [i for i in journal.unresolved_incidents() if i.kind.startswith("reconciliation:")]
    if open_:
        listed = "; ".join(f"#{i.id} {i.kind.split(':', 1)[1]}: {i.detail}" for i in open_[:5])
        raise ExchangeSetupError(f"journal {journal.url} and {exchange.id} disagree ({listed}): nothing is sent until "
                                 "an operator resolves it (`quantum-trader journal incidents`, then "
                                 "`quantum-trader journal resolve ID --by NAME --resolution WHAT`)")
    return found


def resumable(request: LiveRequest, exchange_id: str, phase: int, journal: TradingJournal | None
               ) -> SessionRecord | None:
    """The unfinished live session these settings take again (``analytics.live_resume``), if any."""
    if journal is None or request.mode != "live":
        return None
    return unfinished_live(journal, live_fingerprint(request, exchange_id, phase), exchange_id)


def held_by(found: Reconciliation | None, resumed: SessionRecord | None, journal: TradingJournal | None,
             exchange_id: str, request: LiveRequest) -> str | None:
    """Who holds the account's positions and resting orders, when a session may start with them: the session
    being resumed, once reconciliation agreed with its journal. None: the account must hold none."""
    if found is None or resumed is None or not found.agrees:
        if found is not None and journal is not None and not found.flat:
            others = other_unfinished(journal, exchange_id, "")
            if others:
                names = ", ".join(s.session for s in others[-3:])
                raise ExchangeSetupError(
                    f"the account holds what unfinished live session(s) {names} left: start live with the settings "
                    "they ran with (symbols, timeframe, strategy, parameters, policy, phase) to resume, or close "
                    "and cancel them on the exchange first")
        return None
    return resumed.session
