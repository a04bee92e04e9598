"""The phase gates judged on operation: every criterion measured from the journal of paper, testnet and live sessions.

Each criterion takes only the segments in scope of the gate (``gates_journal.select``: the right
phase, the right assets) and of a kind the policy accepts for it; the rest are named with the
reason in its detail. How the spec's words are measured:

* *N months profitable*: months of ``month_length`` counted back from the latest bar close of the
  accepted evidence, each with positive P&L (realised and marked: the change of the journalled
  equity within each session, so a restart with another balance is no profit); a month not fully
  covered by the evidence does not count. Old success followed by a losing month does not count;
* *max drawdown experienced*: the worst drawdown journalled at a bar close;
* *kill switch tested*: a trip whose close-out the journal confirms (the session's book flat within
  ``kill_switch_flat_within`` and no reconciliation incident in between), live; a testnet trip only
  when no live trip happened; a paper drill only if the policy accepts ``drill``;
* *operations stable*: uptime share (bar closes no further apart than ``max_feed_gap``, across
  restarts too), feed gaps beyond that bound, restarts per 30 days, unresolved incidents and
  reconciliation differences, each within the policy's thresholds;
* *correlation monitoring working*: the matrix updated, in every accepted segment, never further
  apart (nor from the segment's ends) than ``max_correlation_update_gap``;
* *no portfolio limit breaches*: every entry fill measured at fill prices (``gates_fills``),
  open positions never above the cap, no drawdown past the limit;
* *months stable with N assets*: trailing months each with at least N assets traded and neither
  an incident nor a kill-switch trip;
* *slot management working*, *position sizing validated*: the book at entry fills against the
  slot caps; stopped round trips' loss over the planned risk.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from quantum_trader.analytics.gates import GATES, GateCriterion, GateStatus, GateVerdict, Level
from quantum_trader.analytics.gates_fills import ENTRY_TOLERANCE, EntryBook, entry_books, round_trips
from quantum_trader.analytics.gates_journal import JournalEvidence, Segment, Selection, select
from quantum_trader.config.policy import Policy
from quantum_trader.config.universe import accepted
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import MS_PER_DAY, duration_ms, format_time
from quantum_trader.journal.records import RiskSnapshot
from quantum_trader.risk.events import EventKind

TRIPS = frozenset({EventKind.TRIP_DAILY, EventKind.TRIP_DRAWDOWN})


def _crit(name: str, level: Level, ok: bool | None, value: float | int | None, threshold: str, detail: str,
          sel: Selection | None, source: str) -> GateCriterion:
    status = GateStatus.NO_EVIDENCE if ok is None else GateStatus.PASS if ok else GateStatus.FAIL
    note = "" if sel is None else sel.note()
    text = "; ".join(p for p in (detail, note) if p)
    accepts = "" if sel is None else ",".join(sorted(sel.accepts))
    return GateCriterion(name, level, status, value, threshold, text, source, accepts=accepts)


def _none(name: str, level: Level, threshold: str, sel: Selection, source: str,
          what: str = "operation") -> GateCriterion:
    kinds = ", ".join(sorted(sel.accepts))
    return _crit(name, level, None, None, threshold, f"no {kinds} {what} in scope", sel, source)


@dataclass(frozen=True)
class Months:
    """Trailing months of the accepted evidence: P&L and coverage each, newest first."""

    end: int
    length: int
    pnl: list[float]
    complete: list[bool]
    first: int
    returns: float
    """P&L over the latest ``need`` months (or all the evidence when shorter), over the equity at its start."""

    def streak(self, flags: list[bool]) -> int:
        n = 0
        for ok, full in zip(flags, self.complete, strict=True):
            if not (ok and full):
                break
            n += 1
        return n


def _deltas(segments: tuple[Segment, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bar-close times, equity change since the session's previous bar close, equity."""
    ts: list[int] = []
    delta: list[float] = []
    eq: list[float] = []
    for seg in segments:
        prev = None
        for s in seg.snapshots:
            value = float(s.equity)
            ts.append(s.ts)
            delta.append(0.0 if prev is None else value - prev)
            eq.append(value)
            prev = value
    order = np.argsort(np.asarray(ts, np.int64), kind="stable")
    return (np.asarray(ts, np.int64)[order], np.asarray(delta, np.float64)[order], np.asarray(eq, np.float64)[order])


def months_of(segments: tuple[Segment, ...], length: int, need: int) -> Months:
    ts, delta, eq = _deltas(segments)
    end, first = int(ts[-1]), int(ts[0])
    pnl, complete = [], []
    i = 0
    while end - i * length > first:
        hi, lo = end - i * length, end - (i + 1) * length
        mask = (ts > lo) & (ts <= hi)
        pnl.append(float(delta[mask].sum()))
        complete.append(first <= lo + _step(ts))
        i += 1
    lo = max(first, end - need * length)
    start = int(np.searchsorted(ts, lo, side="left"))
    base = float(eq[start]) if start < eq.size else float(eq[0])
    window = float(delta[ts > lo].sum())
    return Months(end, length, pnl, complete, first, window / base if base > 0 else 0.0)


def _step(ts: np.ndarray) -> int:
    return int(np.median(np.diff(ts))) if ts.size > 1 else 0


def _days(ms: int) -> float:
    return ms / MS_PER_DAY


def months_profitable(ev: JournalEvidence, phase: int, policy: Policy, name: str, need: int, accepts: str,
                      what: str) -> GateCriterion:
    sel = select(ev, phase, policy, accepted(accepts))
    length = duration_ms(policy.expansion.phase_gates.operations.month_length)
    threshold = f">= {need} months of {policy.expansion.phase_gates.operations.month_length}"
    if not sel.accepted:
        return _none(name, Level.REQUIRED, threshold, sel, ev.source)
    m = months_of(sel.accepted, length, need)
    streak = m.streak([p > 0 for p in m.pnl])
    covered = min(_days(m.end - m.first), _days(need * length))
    shown = ", ".join(f"{p:+,.0f}{'' if full else ' (partial)'}" for p, full in zip(m.pnl[:need + 1], m.complete,
                                                                                   strict=False))
    detail = (f"{what}: {covered:.0f} of {_days(need * length):.0f} days, {m.returns:+.1%}; "
              f"{streak} of {need} months profitable in a row (newest first: {shown})")
    return _crit(name, Level.REQUIRED, streak >= need, streak, threshold, detail, sel, ev.source)


def earliest_open(ev: JournalEvidence, phase: int, policy: Policy, need: int, accepts: str) -> int | None:
    """The earliest time the months criterion could pass if every month from now on is profitable."""
    sel = select(ev, phase, policy, accepted(accepts))
    length = duration_ms(policy.expansion.phase_gates.operations.month_length)
    if not sel.accepted:
        return None
    m = months_of(sel.accepted, length, need)
    streak = m.streak([p > 0 for p in m.pnl])
    if streak >= need:
        return m.end
    broken = streak < len(m.pnl) and m.complete[streak]
    start = m.end - streak * length if broken else m.first
    return start + need * length


def max_drawdown(ev: JournalEvidence, phase: int, policy: Policy, limit: float, accepts: str) -> GateCriterion:
    name, threshold = "max_drawdown_experienced", f"> {limit:.2%}"
    sel = select(ev, phase, policy, accepted(accepts))
    dd = [s.drawdown for seg in sel.accepted for s in seg.snapshots if s.drawdown is not None]
    if not dd:
        return _none(name, Level.REQUIRED, threshold, sel, ev.source)
    worst = -max(dd)
    return _crit(name, Level.REQUIRED, worst > limit, worst, threshold,
                 f"worst drawdown {worst:.2%} over {sum(len(s.snapshots) for s in sel.accepted):,} bar closes", sel,
                 ev.source)


def _confirmed(ev: JournalEvidence, session: str, ts: int, within: int) -> bool:
    """The session's book flat in the journal within ``within`` after ``ts``, with no reconciliation incident."""
    snaps = [s for seg in ev.segments if seg.session == session for s in seg.snapshots if ts <= s.ts <= ts + within]
    flat = any(s.positions == 0 for s in snaps)
    disputed = any(i.kind.startswith("reconcil") and i.session == session and ts <= i.ts <= ts + within
                   for i in ev.incidents)
    return flat and not disputed


def kill_switch_tested(ev: JournalEvidence, policy: Policy, accepts: str) -> GateCriterion:
    name, threshold = "kill_switch_tested", "a trip or drill whose close-out the journal confirms"
    kinds = accepted(accepts)
    within = duration_ms(policy.expansion.phase_gates.operations.kill_switch_flat_within)
    trips = [(c, ev.mode_of(c.session)) for c in ev.killswitch if c.kind in TRIPS]
    found: dict[str, list[tuple[int, bool]]] = {}
    for change, mode in trips:
        found.setdefault(mode, []).append((change.ts, _confirmed(ev, change.session, change.ts, within)))
    for d in ev.drills:
        found.setdefault("drill", []).append((d.ts, d.passed))
    sel = Selection((), (), kinds)
    live = found.get("live", [])
    order = ["live"] if live else ["live", "testnet", "paper", "drill"]
    for kind in order:
        if kind not in kinds or kind not in found:
            continue
        good = [t for t, ok in found[kind] if ok]
        if good:
            return _crit(name, Level.REQUIRED, True, len(good), threshold,
                         f"{len(good)} {kind} trip(s)/drill(s) closed out, latest at {format_time(max(good))}", sel,
                         ev.source)
        return _crit(name, Level.REQUIRED, False, 0, threshold,
                     f"{len(found[kind])} {kind} trip(s)/drill(s), none with the book confirmed flat within "
                     f"{policy.expansion.phase_gates.operations.kill_switch_flat_within}", sel, ev.source)
    others = ", ".join(f"{len(v)} {k}" for k, v in sorted(found.items()))
    why = (f"{others}: not accepted (accepts {', '.join(sorted(kinds))}"
           f"{'; a live trip happened, so testnet does not count' if live else ''})") if others else \
        "no kill-switch trip or drill recorded"
    return _crit(name, Level.REQUIRED, None, None, threshold, why, sel, ev.source)


def _gaps(segments: tuple[Segment, ...]) -> tuple[np.ndarray, int]:
    """Time without a bar close beyond the one bar step expected between two (ms, per pair), and that step."""
    ts = np.sort(np.asarray([s.ts for seg in segments for s in seg.snapshots], np.int64))
    step = _step(ts)
    return np.maximum(np.diff(ts) - step, 0), step


def operations_stable(ev: JournalEvidence, phase: int, policy: Policy, accepts: str) -> GateCriterion:
    ops = policy.expansion.phase_gates.operations
    name = "operations_stable"
    threshold = (f"uptime >= {ops.min_uptime_share:.0%}, gaps <= {ops.max_feed_gap}, restarts <= "
                 f"{ops.max_restarts_per_30d}/30d, unresolved incidents <= {ops.max_unresolved_incidents}, "
                 f"reconciliation differences <= {ops.max_reconciliation_differences}")
    sel = select(ev, phase, policy, accepted(accepts))
    if not sel.accepted:
        return _none(name, Level.REQUIRED, threshold, sel, ev.source)
    bound = duration_ms(ops.max_feed_gap)
    gaps, step = _gaps(sel.accepted)
    start = min(s.start for s in sel.accepted)
    span = max(s.end for s in sel.accepted) - start
    down = int(gaps[gaps > bound].sum()) if gaps.size else 0
    uptime = 1.0 - down / span if span > 0 else 1.0
    sessions = {s.session for s in sel.accepted}
    restarts = len(sessions) - 1
    allowed_restarts = ops.max_restarts_per_30d * max(1.0, span / (30 * MS_PER_DAY))
    unresolved = [i for i in ev.incidents if i.resolved_ts is None]
    recon = [i for i in ev.incidents if i.kind.startswith("reconcil") and i.session in sessions]
    problems = []
    if uptime < ops.min_uptime_share:
        problems.append(f"uptime {uptime:.2%}")
    wide = gaps[gaps > bound] if gaps.size else gaps
    if wide.size:
        first_wide = int(np.argmax(gaps > bound))
        at = start + int(np.cumsum(gaps + step)[first_wide] - gaps[first_wide] - step)
        longest = _days(int(wide.max())) * 24
        problems.append(f"{wide.size} feed gap(s) beyond {ops.max_feed_gap}, first from {format_time(at)}, "
                        f"longest {longest:.1f}h")
    if restarts > allowed_restarts:
        problems.append(f"{restarts} restarts")
    if len(unresolved) > ops.max_unresolved_incidents:
        first = unresolved[0]
        problems.append(f"{len(unresolved)} unresolved incident(s), first {first.kind} at {format_time(first.ts)}: "
                        f"{first.detail}")
    if len(recon) > ops.max_reconciliation_differences:
        problems.append(f"{len(recon)} reconciliation difference(s)")
    figures = (f"uptime {uptime:.2%} over {_days(span):.0f} days, {wide.size} gaps beyond {ops.max_feed_gap}, "
               f"{restarts} restarts, {len(unresolved)} unresolved incidents, {len(recon)} reconciliation differences")
    detail = f"unstable: {'; '.join(problems)}" if problems else figures
    return _crit(name, Level.REQUIRED, not problems, len(problems), threshold, detail, sel, ev.source)


def _returns(segments: tuple[Segment, ...]) -> np.ndarray:
    ts, delta, eq = _deltas(segments)
    if ts.size < 2:
        return np.zeros(0)
    days = ts // MS_PER_DAY
    out = []
    for day in np.unique(days):
        mask = days == day
        base = float(eq[mask][0] - delta[mask][0])
        out.append(float(delta[mask].sum()) / base if base > 0 else 0.0)
    return np.asarray(out)


def sharpe(ev: JournalEvidence, phase: int, policy: Policy, name: str, need: float, accepts: str) -> GateCriterion:
    threshold = f"> {need:g}"
    sel = select(ev, phase, policy, accepted(accepts))
    returns = _returns(sel.accepted)
    if returns.size < 2 or float(returns.std()) == 0.0:
        return _crit(name, Level.RECOMMENDED, None, None, threshold, "fewer than 2 daily returns or flat equity",
                     sel, ev.source)
    value = float(returns.mean() / returns.std(ddof=1) * np.sqrt(365))
    return _crit(name, Level.RECOMMENDED, value > need, value, threshold,
                 f"annualised (365) over {returns.size} daily returns", sel, ev.source)


def win_rate(ev: JournalEvidence, phase: int, policy: Policy, need: float, accepts: str, asset: str) -> GateCriterion:
    threshold = f"> {need:.0%}"
    sel = select(ev, phase, policy, accepted(accepts))
    trips = [t for t in round_trips([f for s in sel.accepted for f in s.fills], ev.orders, ev.decisions)
             if asset_of(t.symbol) == asset]
    if not trips:
        return _crit("win_rate", Level.RECOMMENDED, None, None, threshold, f"no {asset} round trip", sel, ev.source)
    value = sum(t.pnl > 0 for t in trips) / len(trips)
    return _crit("win_rate", Level.RECOMMENDED, value > need, value, threshold, f"{len(trips)} {asset} round trips",
                 sel, ev.source)


def asset_performance(ev: JournalEvidence, phase: int, policy: Policy, asset: str, accepts: str) -> GateCriterion:
    name, threshold = f"{asset.lower()}_performance_positive", "> 0"
    sel = select(ev, phase, policy, accepted(accepts))
    trips = [t for t in round_trips([f for s in sel.accepted for f in s.fills], ev.orders, ev.decisions)
             if asset_of(t.symbol) == asset]
    if not trips:
        return _crit(name, Level.RECOMMENDED, None, None, threshold, f"no {asset} round trip", sel, ev.source)
    pnl = sum(t.pnl for t in trips)
    return _crit(name, Level.RECOMMENDED, pnl > 0, pnl, threshold, f"net P&L of {len(trips)} {asset} round trips",
                 sel, ev.source)


def correlation_monitoring(ev: JournalEvidence, phase: int, policy: Policy, max_gap: str, accepts: str
                           ) -> GateCriterion:
    name, limit = "correlation_monitoring_working", duration_ms(max_gap)
    threshold = f"updates <= {max_gap} apart"
    sel = select(ev, phase, policy, accepted(accepts))
    if not sel.accepted:
        return _none(name, Level.REQUIRED, threshold, sel, ev.source)
    worst, at, count = 0, 0, 0
    for seg in sel.accepted:
        points = [seg.start, *seg.correlation_updates, seg.end]
        count += len(seg.correlation_updates)
        for a, b in itertools.pairwise(points):
            if b - a > worst:
                worst, at = b - a, a
    if count == 0:
        return _crit(name, Level.REQUIRED, None, None, threshold, "no correlation update journalled", sel, ev.source)
    return _crit(name, Level.REQUIRED, worst <= limit, worst / 3_600_000, threshold,
                 f"{count} updates; longest gap {worst / 3_600_000:.2f}h from {format_time(at)}", sel, ev.source)


def _snapshots(sel: Selection) -> dict[str, list[RiskSnapshot]]:
    out: dict[str, list[RiskSnapshot]] = {}
    for seg in sel.accepted:
        out.setdefault(seg.session, []).extend(seg.snapshots)
    return out


def _tiers(policy: Policy) -> dict[str, int]:
    tiers = policy.asset_tiers
    return {a: n for n, t in ((1, tiers.tier_1), (2, tiers.tier_2), (3, tiers.tier_3)) for a in t.assets}


def limit_breaches(ev: JournalEvidence, phase: int, policy: Policy, accepts: str) -> GateCriterion:
    name, threshold = "no_portfolio_limit_breaches", "0 breaches (entry fills at fill prices)"
    sel = select(ev, phase, policy, accepted(accepts))
    if not sel.accepted:
        return _none(name, Level.REQUIRED, threshold, sel, ev.source)
    pa, pf = policy.per_asset, policy.portfolio
    tol = 1.0 + ENTRY_TOLERANCE
    risk_measure = policy.correlation.exposure_measure != "notional"
    books = entry_books([f for s in sel.accepted for f in s.fills], _snapshots(sel), _tiers(policy),
                        policy.correlation.high_correlation_threshold)
    found: list[str] = []
    checks: list[tuple[str, Callable[[EntryBook], bool], float]] = [
        ("position size", lambda b: b.position_share > pa.max_position_size * tol, pa.max_position_size),
        ("total exposure", lambda b: b.total_exposure > pf.max_total_exposure * tol, pf.max_total_exposure),
        ("open positions", lambda b: b.positions > pf.max_positions, pf.max_positions)]
    if not risk_measure:
        checks.append(("correlated exposure", lambda b: b.correlated is not None
                       and b.correlated > pf.max_correlated_exposure * tol, pf.max_correlated_exposure))
    for label, over, limit in checks:
        hits = [b for b in books if over(b)]
        if hits:
            found.append(f"{len(hits)} entry fill(s) above {label} {limit:g}, first {hits[0].symbol} at "
                         f"{format_time(hits[0].ts)}")
    dd = [s for seg in sel.accepted for s in seg.snapshots if s.drawdown is not None
          and s.drawdown > pf.max_drawdown_portfolio * tol]
    if dd:
        found.append(f"drawdown past {pf.max_drawdown_portfolio:.0%} at {format_time(dd[0].ts)}")
    detail = "; ".join(found) if found else f"{len(books)} entry fills measured at fill prices, none above a limit"
    return _crit(name, Level.REQUIRED, not found, len(found), threshold, detail, sel, ev.source)


def months_stable_assets(ev: JournalEvidence, phase: int, policy: Policy, need: int, min_assets: int,
                         accepts: str) -> GateCriterion:
    name, threshold = f"{need}_months_stable_{min_assets}_assets", f">= {need} months"
    sel = select(ev, phase, policy, accepted(accepts))
    if not sel.accepted:
        return _none(name, Level.REQUIRED, threshold, sel, ev.source)
    length = duration_ms(policy.expansion.phase_gates.operations.month_length)
    m = months_of(sel.accepted, length, need)
    fills = [f for s in sel.accepted for f in s.fills]
    bad = [i.ts for i in ev.incidents] + [c.ts for c in ev.killswitch if c.kind in TRIPS]
    flags, parts = [], []
    for i in range(len(m.pnl)):
        hi, lo = m.end - i * length, m.end - (i + 1) * length
        assets = {asset_of(f.fill.symbol) for f in fills if lo < f.fill.ts <= hi}
        trouble = sum(lo < t <= hi for t in bad)
        flags.append(len(assets) >= min_assets and trouble == 0)
        parts.append(f"{len(assets)} assets{f', {trouble} incidents/trips' if trouble else ''}")
    streak = m.streak(flags)
    return _crit(name, Level.REQUIRED, streak >= need, streak, threshold,
                 f"newest first: {'; '.join(parts[:need + 1])}", sel, ev.source)


def slot_management(ev: JournalEvidence, phase: int, policy: Policy, accepts: str) -> GateCriterion:
    name, threshold = "slot_management_working", "0 slot violations"
    sel = select(ev, phase, policy, accepted(accepts))
    books = entry_books([f for s in sel.accepted for f in s.fills], _snapshots(sel), _tiers(policy), 1.0)
    if not books or max(b.positions for b in books) < 2:
        return _crit(name, Level.REQUIRED, None, None, threshold, "never two positions at once: slots never shared",
                     sel, ev.source)
    slots = policy.position_slots
    alloc = slots.allocation_by_tier
    shared = slots.total_slots - alloc.tier_1.reserved_slots
    bad = [b for b in books if b.tiers[1] > alloc.tier_2.max_slots or b.tiers[2] > alloc.tier_3.max_slots
           or b.positions > slots.total_slots or b.tiers[1] + b.tiers[2] > shared]
    sessions = {s.session for s in sel.accepted}
    conflicts = sum(1 for d in ev.decisions if d.session in sessions
                    and any("slot" in r.rule for r in d.decision.refused_by))
    detail = (f"{conflicts} slot conflicts refused by the risk engine; peak {max(b.positions for b in books)} "
              "positions")
    if bad:
        detail = f"first violation at {format_time(bad[0].ts)} (tiers {bad[0].tiers}); " + detail
    return _crit(name, Level.REQUIRED, not bad, len(bad), threshold, detail, sel, ev.source)


def position_sizing(ev: JournalEvidence, phase: int, policy: Policy, tolerance: float, accepts: str) -> GateCriterion:
    name, threshold = "position_sizing_validated", f"mean loss/planned risk within 1 ± {tolerance:g}"
    sel = select(ev, phase, policy, accepted(accepts))
    trips = [t for t in round_trips([f for s in sel.accepted for f in s.fills], ev.orders, ev.decisions)
             if t.stopped and t.planned_risk]
    if not trips:
        return _crit(name, Level.REQUIRED, None, None, threshold, "no stopped round trip with a planned risk", sel,
                     ev.source)
    ratio = np.asarray([-t.pnl / float(t.planned_risk or 1.0) for t in trips])
    mean = float(ratio.mean())
    return _crit(name, Level.REQUIRED, abs(mean - 1.0) <= tolerance, mean, threshold,
                 f"{ratio.size} stopped round trips; ratio {ratio.min():.2f} .. {ratio.max():.2f}", sel, ev.source)


def evaluate_journal_gate(from_phase: int, ev: JournalEvidence, policy: Policy) -> GateVerdict:
    """The gate out of ``from_phase`` on the journal's operation: the verdict that may open it."""
    gates = policy.expansion.phase_gates
    baseline = policy.signals.model.baseline_asset
    if from_phase == 0:
        g, e = gates.phase_0_to_1, gates.phase_0_to_1.evidence
        need = g.required.months_profitable_btc
        criteria = [
            months_profitable(ev, 0, policy, f"{need}_months_profitable_{baseline.lower()}", need,
                              e.months_profitable_btc, f"profitable {baseline} operation"),
            max_drawdown(ev, 0, policy, g.required.max_drawdown_experienced, e.max_drawdown_experienced),
            kill_switch_tested(ev, policy, e.kill_switch_tested),
            operations_stable(ev, 0, policy, e.operations_stable),
            sharpe(ev, 0, policy, "sharpe_ratio", g.recommended.sharpe_ratio, e.sharpe_ratio),
            win_rate(ev, 0, policy, g.recommended.win_rate, e.win_rate, baseline),
        ]
    elif from_phase == 1:
        g1, e1 = gates.phase_1_to_2, gates.phase_1_to_2.evidence
        need = g1.required.months_profitable_multi
        criteria = [
            months_profitable(ev, 1, policy, f"{need}_months_profitable_multi", need, e1.months_profitable_multi,
                              "profitable multi-asset operation"),
            correlation_monitoring(ev, 1, policy, g1.required.max_correlation_update_gap,
                                   e1.correlation_monitoring_working),
            limit_breaches(ev, 1, policy, e1.no_portfolio_limit_breaches),
            asset_performance(ev, 1, policy, "ETH", e1.eth_performance_positive),
            sharpe(ev, 1, policy, "portfolio_sharpe", g1.recommended.portfolio_sharpe, e1.portfolio_sharpe),
        ]
    elif from_phase == 2:
        g2, e2 = gates.phase_2_to_3.required, gates.phase_2_to_3.evidence
        criteria = [
            months_stable_assets(ev, 2, policy, g2.months_stable_assets, g2.min_assets, e2.months_stable_assets),
            slot_management(ev, 2, policy, e2.slot_management_working),
            position_sizing(ev, 2, policy, g2.sizing_tolerance, e2.position_sizing_validated),
        ]
    else:
        raise ValueError(f"no gate out of phase {from_phase}: gates lead out of phases 0, 1 and 2")
    return GateVerdict(GATES[from_phase], from_phase, from_phase + 1, tuple(criteria))
