"""``evaluate``: one intent against the ledger and the market, through every rule.

Order of work: build the candidate once; run every gate (all of them, so the decision
lists every reason); if the intent can be sized, compute every cap; the quantity is
the smallest cap, shaved by a relative 1e-9 and rounded DOWN to the lot once, in
Decimal, so no limit can be exceeded by rounding. Then:

- a gate refused, or a cap binds while ``sizing.reduce_instead_of_refuse`` is off
  -> ``REFUSED`` with quantity 0;
- the rounded quantity is below the instrument's min quantity / min notional
  -> ``REFUSED`` (rule ``min_notional``);
- a cap other than the 2% risk size binds -> ``REDUCED``; otherwise ``APPROVED``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from quantum_trader.domain.trading import Intent, RiskDecision, RiskReason, Verdict
from quantum_trader.portfolio.state import LedgerState
from quantum_trader.risk.book import Book, Candidate
from quantum_trader.risk.kill_switch import KillSwitchState
from quantum_trader.risk.limits import CompiledLimits, compile_limits
from quantum_trader.risk.market import MarketView
from quantum_trader.risk.rules import CAPS, GATES, SIZING

if TYPE_CHECKING:
    from quantum_trader.config.policy import Policy

_SHAVE = 1.0 - 1e-9
_BINDS = 1.0 - 1e-9
_ZERO = Decimal(0)
_UNSIZABLE = frozenset({"sizing", "market_data"})


def book_of(state: LedgerState, market: MarketView) -> Book:
    """The float snapshot of ``state`` the rules read (tiers from the market view)."""
    return Book.from_figures(state.figures, market.tiers)


def evaluate(
    intent: Intent,
    state: LedgerState,
    market: MarketView,
    policy: Policy | CompiledLimits,
    *,
    switch: KillSwitchState,
) -> RiskDecision:
    """Approve, reduce or refuse one entry intent. ``switch`` is required: a forgotten trip
    must not be possible by omission."""
    limits = compile_limits(policy)
    return evaluate_on_book(intent, book_of(state, market), market, limits, switch)


def evaluate_on_book(
    intent: Intent, book: Book, market: MarketView, limits: CompiledLimits, switch: KillSwitchState
) -> RiskDecision:
    """``evaluate`` against a prepared book (``evaluate_batch`` passes one with earlier winners)."""
    return decide(Candidate(intent, book, market, limits), book, market, limits, switch)


def decide(
    c: Candidate, book: Book, market: MarketView, limits: CompiledLimits, switch: KillSwitchState
) -> RiskDecision:
    """The decision for a candidate prepared against ``book``."""
    intent = c.intent
    reasons: list[RiskReason] = []
    unsizable = False
    for gate in GATES:
        reason = gate.check(c, book, market, limits, switch)
        if reason is not None:
            reasons.append(reason)
            unsizable = unsizable or reason.rule in _UNSIZABLE
    if unsizable:
        return RiskDecision(intent, Verdict.REFUSED, _ZERO, tuple(reasons))
    desired = SIZING.cap(c, book, market, limits)
    allowed = desired
    binding = []
    for rule in CAPS:
        value = rule.cap(c, book, market, limits)
        if value < desired * _BINDS:
            binding.append(rule)
        allowed = min(allowed, value)
    reasons.extend(rule.explain(c, book, limits, desired, allowed) for rule in binding)
    if len(reasons) > len(binding) or (binding and not limits.reduce):
        return RiskDecision(intent, Verdict.REFUSED, _ZERO, tuple(reasons))
    instrument = market.instruments[c.symbol]
    quantity = instrument.round_qty_down(allowed * _SHAVE) if allowed > 0 else _ZERO
    notional = float(quantity) * c.price
    if quantity <= 0 or quantity < instrument.min_qty or notional < float(instrument.min_notional):
        reasons.append(
            RiskReason(
                "min_notional",
                f"quantity {quantity} (${notional:,.2f}) is below the instrument minimum "
                f"({instrument.min_qty} / ${instrument.min_notional})",
                notional,
                float(instrument.min_notional),
            )
        )
        return RiskDecision(intent, Verdict.REFUSED, _ZERO, tuple(reasons))
    return RiskDecision(intent, Verdict.REDUCED if binding else Verdict.APPROVED, quantity, tuple(reasons))
