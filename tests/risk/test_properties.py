"""Property test: one intent against any book the engine could have built respects every limit.

The state machines (engine + ledger + kill switch driven by random sequences of marks,
intents, fills, funding, stops and day changes) are in test_machine_notional.py and
test_machine_risk_amount.py, one file each so that ``-n 2 --dist loadfile`` runs them
side by side. Example budget per run under the default profile (``budget.examples``
raises each by half under the ``ci`` profile): ``RiskMachine`` 1,500 + ``RiskAmountMachine``
1,000 sequences of up to 25 steps, plus this test's 4,000 examples. Run with
``--hypothesis-show-statistics`` to see how many entries were filled and checked and
what the machines' runs reached.

Batches are filled in ``BatchResult.ranking`` order, as the engine sends them: each
entry's limits are computed on equity net of the estimated costs of the entries ranked
before it, so filled out of order a limit could be exceeded by at most the other
entries' fees (< 0.04% of equity with the default policy).
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.risk.budget import examples
from tests.risk.builders import ASSETS, PRICES, T0, instrument, sym
from tests.risk.machine import FEE_RATE, TIERS, TRADED, build_market, check_entry

from quantum_trader.config.policy import Policy
from quantum_trader.domain.trading import Fill, Intent, OrderSide, Side, Verdict
from quantum_trader.portfolio import apply_fill, new_ledger
from quantum_trader.risk import armed, compile_limits, evaluate

LIMITS = compile_limits(Policy())


def _slots_ok(held: dict[str, float]) -> bool:
    tiers = [TIERS.tier_of(a) for a in held]
    return tiers.count(2) <= 2 and tiers.count(3) <= 1


HELD = st.dictionaries(st.sampled_from(TRADED), st.floats(500, 15_000), max_size=5).filter(_slots_ok)
"""Books the engine could have built: tier caps hold (exposures may be anywhere, prices move)."""


@settings(max_examples=examples(4_000), deadline=None)
@given(
    held=HELD,
    asset=st.sampled_from(TRADED),
    side=st.sampled_from(Side),
    stop_pct=st.floats(0.001, 0.9),
    loadings=st.lists(st.floats(0.0, 0.99), min_size=len(ASSETS), max_size=len(ASSETS)),
    depth=st.floats(1e4, 1e8),
    edge=st.floats(0.0, 1.0),
)
def test_single_evaluation_respects_every_limit(
    held: dict[str, float],
    asset: str,
    side: Side,
    stop_pct: float,
    loadings: list[float],
    depth: float,
    edge: float,
) -> None:
    state = new_ledger(Decimal(100_000), T0)
    for a, notional in held.items():
        qty = instrument(a).round_qty_down(Decimal(repr(notional / PRICES[a])))
        if qty > 0:
            state = apply_fill(
                state,
                Fill(T0, sym(a), OrderSide.BUY, qty, Decimal(repr(PRICES[a])), Decimal(0)),
                stop_price=Decimal(repr(PRICES[a] * 0.95)),
            )
    market = build_market(LIMITS, loadings, depth, dict(PRICES), T0)
    price = PRICES[asset]
    intent = Intent(T0, sym(asset), side, edge, price, price * (1 - side.sign * stop_pct), "prop")
    d = evaluate(intent, state, market, LIMITS, switch=armed(T0))
    assert d.quantity >= 0 and (d.quantity == 0) is (not d.approved)
    assert all(r.rule and r.message for r in d.reasons)
    # a refusal always names a rule that refused; an entry that goes ahead names none
    assert bool(d.refused_by) is (d.verdict is Verdict.REFUSED)
    if d.approved:
        order = OrderSide.BUY if side is Side.LONG else OrderSide.SELL
        if state.positions.get(sym(asset)) is not None:
            assert state.positions[sym(asset)].side is side
        fee = (d.quantity * Decimal(repr(price)) * FEE_RATE).quantize(Decimal("0.00000001"))
        after = apply_fill(
            state,
            Fill(T0, sym(asset), order, d.quantity, Decimal(repr(price)), fee),
            stop_price=Decimal(repr(intent.stop_price)),
        )
        check_entry(LIMITS, market, state, after, [d])
