"""Resuming a paper session on a replay after its process died: the same session, taken again from its first bar.

A replay is deterministic: the same catalog, strategy, policy and settings give the same orders and fills.
So a session that did not end (its ``sessions`` row has no end: the process was killed, the machine went
down) is resumed by running it again from its start under the same session id: every client order id
is derived from that id and the decision, so the orders come out under the ids the journal already
holds; the journal's writes are idempotent (an order, an order event, a fill, a decision, a kill-switch
change recorded once), the bars before the feed cursor write no snapshots again, and the run goes on past
the point where the process died exactly as an uninterrupted run would have (tests/cli/test_paper_crash.py
kills it twenty times and compares). The kill switch starts as it was when the session first started,
not as the crash left it: the replay trips it again at the same bar if it tripped.

A request that differs in anything that changes the run (catalog, symbols, period, strategy and its
parameters, policy, equity, phase, slippage) has another fingerprint and starts a new session.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from quantum_trader.analytics.backtest import BacktestRequest
from quantum_trader.journal import SessionMode, SessionRecord, TradingJournal
from quantum_trader.risk import KillSwitchState

FINGERPRINT_KEY = "fingerprint"
START_SWITCH_KEY = "start_switch"


def plain(value: object) -> object:
    """A strategy parameter as JSON can hold it (a fingerprint's ingredient)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return repr(value)


def fingerprint(request: BacktestRequest, phase: int) -> str:
    """What makes two paper replays the same run, hashed."""
    strategy = request.strategy
    params = {k: plain(v) for k, v in sorted(vars(strategy).items()) if not k.startswith("_")}
    settings = request.settings
    described: dict[str, Any] = {
        "catalog": str(request.catalog.resolve()), "symbols": list(request.symbols),
        "strategy": f"{type(strategy).__module__}.{type(strategy).__qualname__}", "params": params,
        "policy": request.policy.model_dump(mode="json"), "exchange": request.exchange,
        "timeframe": request.timeframe, "start": request.start_ms, "end": request.end_ms, "phase": phase,
        "settings": None if settings is None else [str(settings.initial_equity), settings.slippage, settings.impact],
    }
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def unfinished(journal: TradingJournal, fingerprint_: str) -> SessionRecord | None:
    """The newest paper session of this run that never ended."""
    found = [s for s in journal.sessions() if s.mode is SessionMode.PAPER and s.ended_ts is None
             and session_detail(s).get(FINGERPRINT_KEY) == fingerprint_]
    return found[-1] if found else None  # sessions come oldest first


def start_switch(session: SessionRecord) -> KillSwitchState | None:
    """The kill switch the session started with (None: armed)."""
    saved = session_detail(session).get(START_SWITCH_KEY)
    return None if saved is None else KillSwitchState.from_dict(saved)


def session_detail(session: SessionRecord) -> dict[str, Any]:
    """The JSON detail a session was started with (empty when unreadable)."""
    try:
        found = json.loads(session.detail)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
