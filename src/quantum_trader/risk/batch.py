"""``evaluate_batch``: the intents of one bar close compete for slots and exposure.

Intents are ranked by the policy's ``priority_on_conflict`` (default: higher edge
score, then lower correlation to what is held, then higher liquidity, then input
order) and evaluated in that order against a book to which each approved entry is
added, so two intents can never both take the last slot. An intent that is refused or
cut only because a higher-ranked one was approved first is a *loser*: its decision
gains a ``slot_priority`` reason naming the winners, and the result lists it.

Send the approved orders in ``BatchResult.ranking`` order: each entry was sized on
equity net of the estimated costs of the entries ranked before it, so the limits hold
at every fill in that order (out of order, a limit could be passed by at most the
other entries' fees, under 0.04% of equity with the default policy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from quantum_trader.domain.slot_init import slot_init
from quantum_trader.domain.trading import Intent, RiskDecision, RiskReason, Verdict
from quantum_trader.portfolio.state import LedgerState
from quantum_trader.risk.book import Book, Candidate
from quantum_trader.risk.engine import book_of, decide
from quantum_trader.risk.kill_switch import KillSwitchState
from quantum_trader.risk.limits import CompiledLimits, compile_limits
from quantum_trader.risk.market import MarketView

_APPROVED = Verdict.APPROVED

if TYPE_CHECKING:
    from quantum_trader.config.policy import Policy


_NONE = Decimal(0)
_CONTESTED = frozenset({"max_positions", "slots", "max_total_exposure", "max_correlated_exposure"})
"""Rules whose outcome depends on what earlier intents of the same cycle took."""
_FINAL = frozenset(
    {
        "kill_switch",
        "asset_daily_loss",
        "phase",
        "tier3_edge",
        "sizing",
        "market_data",
        "opposite_position",
        "tier",
    }
)
"""Refusals no ranking can change: an intent refused by one of these did not lose a conflict."""


@dataclass(frozen=True, slots=True)
class Conflict:
    """``loser`` would have fared better had ``winners`` not been approved before it."""

    loser: Intent
    winners: tuple[Intent, ...]
    reason: RiskReason


@slot_init
@dataclass(frozen=True, slots=True)
class BatchResult:
    decisions: tuple[RiskDecision, ...]
    """In the order the intents were given."""
    ranking: tuple[int, ...]
    """Input indices in the order they were evaluated (best first)."""
    conflicts: tuple[Conflict, ...]

    @property
    def approved(self) -> tuple[RiskDecision, ...]:
        return tuple(d for d in self.decisions if d.approved)


def _sort_key(c: Candidate, market: MarketView, priority: Sequence[str], position: int) -> tuple[float, ...]:
    parts: list[float] = []
    for key in priority:
        if key == "edge_score":
            parts.append(-c.intent.edge_score)
        elif key == "correlation_to_existing":
            parts.append(float("inf") if c.corr_missing else c.corr_max)
        else:
            parts.append(-market.depth_1pct.get(c.symbol, 0.0))
    parts.append(float(position))
    return tuple(parts)


def fixed_fraction_batch(intents: Sequence[Intent], fraction: float, symbols: int) -> BatchResult:
    """The comparison profile (``sizing.mode: fixed_fraction``): every intent approved, each sized at the fill
    to an equal share of ``fraction`` of equity over the ``symbols`` traded; no book or market is consulted."""
    share = fraction / max(symbols, 1)
    return BatchResult(tuple([RiskDecision(i, _APPROVED, _NONE, (), share) for i in intents]),
                       tuple(range(len(intents))), ())


def evaluate_batch(
    intents: Sequence[Intent],
    state: LedgerState,
    market: MarketView,
    policy: Policy | CompiledLimits,
    *,
    switch: KillSwitchState,
) -> BatchResult:
    """Decide every intent of one cycle; see the module docstring for the ranking."""
    limits = compile_limits(policy)
    if limits.fixed_fraction is not None:
        return fixed_fraction_batch(intents, limits.fixed_fraction, len(market.index))
    base = book_of(state, market)
    candidates = [Candidate(intent, base, market, limits) for intent in intents]
    order = sorted(range(len(intents)), key=lambda i: _sort_key(candidates[i], market, limits.priority, i))
    book = base
    decisions: dict[int, RiskDecision] = {}
    winners: list[Intent] = []
    conflicts: list[Conflict] = []
    for i in order:
        intent = intents[i]
        c = candidates[i] if book is base else Candidate(intent, book, market, limits)
        decision = decide(c, book, market, limits, switch)
        rules = {r.rule for r in decision.reasons}
        if winners and rules & _CONTESTED and not rules & _FINAL:
            decision, conflict = _against_base(
                decision, candidates[i], base, market, limits, switch, tuple(winners)
            )
            if conflict is not None:
                conflicts.append(conflict)
        decisions[i] = decision
        if decision.approved:
            winners.append(intent)
            book = _add(book, candidates[i], decision, limits)
    return BatchResult(tuple(decisions[i] for i in range(len(intents))), tuple(order), tuple(conflicts))


def _against_base(
    decision: RiskDecision,
    c: Candidate,
    base: Book,
    market: MarketView,
    limits: CompiledLimits,
    switch: KillSwitchState,
    winners: tuple[Intent, ...],
) -> tuple[RiskDecision, Conflict | None]:
    alone = decide(c, base, market, limits, switch)
    if alone.quantity <= decision.quantity:
        return decision, None
    names = ", ".join(f"{w.symbol} (edge {w.edge_score:.2f})" for w in winners)
    reason = RiskReason(
        "slot_priority",
        f"lost to {names}, ranked first by {', '.join(limits.priority)}; alone it would get {alone.quantity}",
        float(decision.quantity),
        float(alone.quantity),
        reduces=decision.approved,
    )
    new = RiskDecision(decision.intent, decision.verdict, decision.quantity, (*decision.reasons, reason))
    return new, Conflict(decision.intent, winners, reason)


def _add(book: Book, c: Candidate, decision: RiskDecision, limits: CompiledLimits) -> Book:
    qty = float(decision.quantity)
    stop = c.intent.stop_price if c.intent.stop_price is not None else 0.0
    notional = qty * c.notional_price
    return book.with_entry(c.symbol, c.tier, c.sign, qty, c.price, stop, notional * limits.cost_rate, notional)
