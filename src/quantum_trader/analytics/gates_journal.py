"""What a journal proves about operation: its sessions cut into phase segments, each with its provenance and scope.

A gate judges *operation*, so its evidence is what paper, testnet and live sessions wrote to the journal
(``engine.session_record``): a ``sessions`` row (mode, exchange, phase, symbols), a risk snapshot at every bar
close, the correlation updates, every risk decision, the orders and fills, the kill switch's history and the
incidents. A session whose phase changed while it ran (``engine.phase_follow`` notes each change as a
``phase_change`` alert at the market time it took effect) is cut there, so each segment ran in one phase.

A segment is *in scope* of the gate out of phase ``p`` when it ran in phase ``p`` and traded what that phase
is about (``scope_problems``): 0 -> 1 is operation on the baseline (BTC) alone, 1 -> 2 operation with BTC and
ETH, 2 -> 3 operation within phase 2's assets (three of them traded over the period is the criterion's own
test). A segment out of scope is named with the reason, never silently dropped. Which *kinds* of evidence
(live, paper, testnet, drill) a criterion accepts is the policy's (``expansion.phase_gates.*.evidence``).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from quantum_trader.config.policy import Policy
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import format_time
from quantum_trader.journal.database import Database
from quantum_trader.journal.records import (
    DecisionRecord,
    FillRecord,
    Incident,
    KillSwitchChange,
    OrderRecord,
    RiskSnapshot,
    SessionRecord,
)
from quantum_trader.journal.schema import DEFAULT_ACCOUNT
from quantum_trader.journal.store import DrillRecord, Journal, PhaseChange
from quantum_trader.journal.trading import TradingJournal

PHASE_CHANGE_ALERT = "phase_change"
"""The alert kind a running session writes when it takes a new phase from the journal (``engine.phase_follow``)."""
_TO_PHASE = re.compile(r"^phase \d -> (\d)\b")


@dataclass(frozen=True)
class Segment:
    """A stretch of one session in one phase: the unit of evidence a gate accepts or names and rejects."""

    session: str
    kind: str
    """The session's mode: live, paper, testnet (or backtest: never accepted)."""
    phase: int | None
    exchange: str
    symbols: tuple[str, ...]
    start: int
    end: int
    """First and last bar close in the segment (market time)."""
    snapshots: tuple[RiskSnapshot, ...]
    correlation_updates: tuple[int, ...]
    fills: tuple[FillRecord, ...]

    @property
    def traded(self) -> frozenset[str]:
        return frozenset(asset_of(f.fill.symbol) for f in self.fills)

    def name(self) -> str:
        return (f"session {self.session} ({self.kind}, phase {'?' if self.phase is None else self.phase}, "
                f"{format_time(self.start)[:10]}..{format_time(self.end)[:10]})")


@dataclass(frozen=True)
class JournalEvidence:
    """Everything the gates read from one account's journal, read once."""

    source: str
    segments: tuple[Segment, ...]
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    decisions: tuple[DecisionRecord, ...] = ()
    incidents: tuple[Incident, ...] = ()
    killswitch: tuple[KillSwitchChange, ...] = ()
    drills: tuple[DrillRecord, ...] = ()
    phase_history: tuple[PhaseChange, ...] = ()
    sessions: tuple[SessionRecord, ...] = ()

    def mode_of(self, session: str) -> str:
        """The kind of evidence a session is (live on a testnet is ``testnet``)."""
        return next((_detail(s)[0] for s in self.sessions if s.session == session), "unknown")

    @classmethod
    def read(cls, target: str | Path | Database | TradingJournal, *, account: str = DEFAULT_ACCOUNT
             ) -> JournalEvidence:
        """The journal at ``target`` (a SQLite path, a database URL, or an open journal); reading creates nothing."""
        trading = target if isinstance(target, TradingJournal) else TradingJournal(target, account=account)
        store = Journal(trading.db, account=trading.account)
        sessions = tuple(trading.sessions())
        risk = trading.risk_snapshots()
        updates = {(s.session, s.ts) for s in trading.risk_snapshots(correlation_only=True)}
        fills = trading.fills_after(None)
        alerts = [a for a in trading.alerts() if a.kind == PHASE_CHANGE_ALERT]
        segments = _segments(sessions, risk, updates, fills, alerts)
        return cls(f"journal {trading.url}", segments, {o.order.client_order_id: o for o in trading.orders()},
                   tuple(trading.decisions()), tuple(trading.incidents()), tuple(trading.killswitch_history()),
                   tuple(store.drills()), tuple(store.phase_history()), sessions)


def _detail(session: SessionRecord) -> tuple[str, int | None, tuple[str, ...]]:
    """The session's kind of evidence, phase and symbols. A live session on an exchange's testnet is journalled
    with mode ``live`` and ``network: testnet``: it is testnet evidence, never live."""
    try:
        detail = json.loads(session.detail or "{}")
    except ValueError:
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    phase, symbols = detail.get("phase"), detail.get("symbols", [])
    kind = str(session.mode)
    if kind == "live" and detail.get("network", "mainnet") != "mainnet":
        kind = "testnet"
    return (kind, phase if isinstance(phase, int) and not isinstance(phase, bool) else None,
            tuple(str(s) for s in symbols) if isinstance(symbols, list) else ())


def _segments(sessions: Iterable[SessionRecord], risk: list[RiskSnapshot], updates: set[tuple[str, int]],
              fills: list[FillRecord], alerts: Iterable[object]) -> tuple[Segment, ...]:
    by_session: dict[str, list[RiskSnapshot]] = defaultdict(list)
    for snap in risk:
        by_session[snap.session].append(snap)
    fills_of: dict[str, list[FillRecord]] = defaultdict(list)
    for f in fills:
        fills_of[f.session].append(f)
    changes: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for alert in alerts:
        found = _TO_PHASE.match(getattr(alert, "message", ""))
        if found:
            changes[getattr(alert, "session", "")].append((int(getattr(alert, "ts", 0)), int(found.group(1))))
    out: list[Segment] = []
    for session in sessions:
        snaps = sorted(by_session.get(session.session, []), key=lambda s: s.ts)
        if not snaps:
            continue
        kind, phase, symbols = _detail(session)
        cuts = [(snaps[0].ts - 1, phase), *sorted(changes.get(session.session, []))]
        for i, (since, in_phase) in enumerate(cuts):
            until = cuts[i + 1][0] if i + 1 < len(cuts) else None
            own = [s for s in snaps if s.ts > since and (until is None or s.ts <= until)]
            if not own:
                continue
            lo, hi = own[0].ts, own[-1].ts
            lower = since if i else None
            mine = tuple(f for f in fills_of.get(session.session, [])
                         if (lower is None or f.fill.ts > lower) and (until is None or f.fill.ts <= until))
            out.append(Segment(session.session, kind, in_phase, session.exchange, symbols, lo, hi,
                               tuple(own), tuple(s.ts for s in own if (session.session, s.ts) in updates), mine))
    return tuple(sorted(out, key=lambda s: s.start))


def scope_problems(segment: Segment, phase: int, policy: Policy) -> list[str]:
    """Why ``segment`` is not evidence of operation for the gate out of ``phase`` (empty: in scope)."""
    problems = []
    if segment.phase != phase:
        problems.append(f"ran in phase {'unknown' if segment.phase is None else segment.phase}, not phase {phase}")
    traded = segment.traded
    baseline = policy.signals.model.baseline_asset
    admitted = set(policy.phase_assets(phase))
    if phase == 0:
        if traded - {baseline}:
            problems.append(f"traded {', '.join(sorted(traded))}: not {baseline}-only operation")
    else:
        outside = traded - admitted
        if outside:
            problems.append(f"traded {', '.join(sorted(outside))}, outside phase {phase}'s "
                            f"{', '.join(sorted(admitted))}")
        if phase == 1:
            missing = sorted(set(policy.phase_assets(1)) - traded)
            if missing:
                problems.append(f"traded {', '.join(sorted(traded)) or 'nothing'}: not "
                                f"{' and '.join(policy.phase_assets(1))} operation ({', '.join(missing)} never traded)")
    return problems


@dataclass(frozen=True)
class Selection:
    """The segments a criterion judges, and those it named and set aside (with why)."""

    accepted: tuple[Segment, ...]
    rejected: tuple[str, ...]
    accepts: frozenset[str]

    def note(self) -> str:
        """The rejections, short: the first two named, the rest counted."""
        if not self.rejected:
            return ""
        shown = "; ".join(self.rejected[:2])
        more = f"; and {len(self.rejected) - 2} more" if len(self.rejected) > 2 else ""
        return f"rejected: {shown}{more}"


def select(ev: JournalEvidence, phase: int, policy: Policy, accepts: frozenset[str]) -> Selection:
    """The segments in scope of the gate out of ``phase`` and of an accepted kind."""
    accepted: list[Segment] = []
    rejected: list[str] = []
    for seg in ev.segments:
        problems = scope_problems(seg, phase, policy)
        if seg.kind not in accepts:
            problems.insert(0, f"{seg.kind} is not accepted here (accepts {', '.join(sorted(accepts))})")
        if problems:
            rejected.append(f"{seg.name()}: {'; '.join(problems)}")
        else:
            accepted.append(seg)
    return Selection(tuple(accepted), tuple(rejected), accepts)
