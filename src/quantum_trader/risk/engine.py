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

from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.trading import Intent, RiskDecision, RiskReason, Verdict
from quantum_trader.portfolio.state import LedgerState
from quantum_trader.risk.book import Book, Candidate
from quantum_trader.risk.kill_switch import KillSwitchState
from quantum_trader.risk.limits import CompiledLimits, compile_limits
from quantum_trader.risk.market import MarketView
from quantum_trader.risk.rules import CAPS, GATES, SIZING

_REFUSED = Verdict.REFUSED
_REDUCED = Verdict.REDUCED

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


def _rounded(instrument: Instrument, allowed: float) -> Decimal:
    """``allowed`` units rounded down to the lot step (a hair under, so float noise never rounds up)."""
    return instrument.round_qty_down(allowed * _SHAVE) if allowed > 0 else _ZERO


def _tradable(instrument: Instrument, quantity: Decimal, price: float) -> bool:
    return quantity > 0 and quantity >= instrument.min_qty and float(quantity) * price >= float(instrument.min_notional)


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
        return RiskDecision(intent, _REFUSED, _ZERO, tuple(reasons))
    desired = SIZING.cap(c, book, market, limits)
    allowed = desired
    binding = []
    caps: list[float] = []
    for rule in CAPS:
        value = rule.cap(c, book, market, limits)
        if value < desired * _BINDS:
            binding.append(rule)
            caps.append(value)
        allowed = min(allowed, value)
    if reasons:  # a gate refused it; under reduce-or-refuse the caps only say how far it would have been cut
        explained = (rule.explain(c, book, limits, desired, allowed) for rule in binding)
        reasons.extend(r.reducing(limits.reduce) for r in explained)
        return RiskDecision(intent, _REFUSED, _ZERO, tuple(reasons))
    reasons.extend(rule.explain(c, book, limits, desired, allowed) for rule in binding)
    if binding and not limits.reduce:
        return RiskDecision(intent, _REFUSED, _ZERO, tuple(reasons))
    instrument = market.instruments[c.symbol]
    quantity = _rounded(instrument, allowed)
    notional = float(quantity) * c.price
    if not _tradable(instrument, quantity, c.price):
        # the caps that alone would have left a tradable quantity only reduced it; the others refused it
        reasons = [r.reducing(_tradable(instrument, _rounded(instrument, cap), c.price))
                   for r, cap in zip(reasons, caps, strict=True)]
        reasons.append(
            RiskReason(
                "min_notional",
                f"quantity {quantity} (${notional:,.2f}) is below the instrument minimum "
                f"({instrument.min_qty} / ${instrument.min_notional})",
                notional,
                float(instrument.min_notional),
            )
        )
        return RiskDecision(intent, _REFUSED, _ZERO, tuple(reasons))
    if binding:  # it goes ahead, cut by its caps
        return RiskDecision(intent, _REDUCED, quantity, tuple(r.reducing(True) for r in reasons))
    return RiskDecision(intent, Verdict.APPROVED, quantity, ())
