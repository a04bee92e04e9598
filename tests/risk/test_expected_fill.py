"""Entries are sized at their expected fill, so the limits hold at the price they fill at.

A market entry decided at price p fills a bar later at that bar's open (within the policy's
``sizing.fill_buffer`` of p) plus or minus the venue's slippage. Sized at the worst such
price, the position, the book and the risk at the stop stay within their limits at any fill
in that band; a resting limit fills at its own price and is sized there.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.risk.builders import PRICES, T0, intent, ledger_with, market, policy_with

from quantum_trader.domain.trading import OrderType, Side, Verdict
from quantum_trader.risk import armed, compile_limits, evaluate
from quantum_trader.risk.book import expected_fill

EQ = 100_000.0
LOT = 0.001


def _sized(side: Side, stop_pct: float, slip: float, buffer: float, held: dict[str, float] | None = None):  # type: ignore[no-untyped-def]
    limits = compile_limits(policy_with(sizing={"fill_buffer": buffer}))
    m = market(limits, entry_slippage=slip)
    state = ledger_with(held or {})
    return evaluate(intent("ETH", side, stop_pct=stop_pct), state, m, limits, switch=armed(T0)), limits, state


def test_a_long_is_sized_at_the_decision_price_moved_up_by_buffer_and_slippage() -> None:
    d, limits, _ = _sized(Side.LONG, 0.1, slip=0.001, buffer=0.0005)
    assert d.verdict is Verdict.REDUCED and {r.rule for r in d.reasons} == {"max_position_size"}
    worst = PRICES["ETH"] * 1.0005 * 1.001
    notional = float(d.quantity) * worst
    assert notional / (EQ - limits.cost_rate * notional) <= 0.10
    more = (float(d.quantity) + LOT) * worst
    assert more / (EQ - limits.cost_rate * more) > 0.10  # the largest lot count that holds at the worst fill


def test_a_limit_entry_is_sized_at_its_own_price() -> None:
    limits = compile_limits(policy_with(sizing={"fill_buffer": 0.01}))
    m = market(limits, entry_slippage=0.01)
    order = intent("ETH", stop_pct=0.1)
    limit = type(order)(order.ts, order.symbol, order.side, order.edge_score, order.entry_price, order.stop_price,
                        order.source, order_type=OrderType.LIMIT)
    assert expected_fill(limit, m, limits) == (PRICES["ETH"], PRICES["ETH"])
    d = evaluate(limit, ledger_with({}), m, limits, switch=armed(T0))
    notional = float(d.quantity) * PRICES["ETH"]
    assert 0.0999 < notional / (EQ - limits.cost_rate * notional) <= 0.10


def test_without_a_venue_estimate_the_policys_slippage_estimate_is_assumed() -> None:
    limits = compile_limits(policy_with(sizing={"fill_buffer": 0.0}))
    m = market(limits, assets=("BTC", "ETH"))
    bare = type(m)(**{**{f: getattr(m, f) for f in m.__dataclass_fields__}, "entry_slippage": {}})
    price, notional = expected_fill(intent("ETH"), bare, limits)
    assert price == notional == PRICES["ETH"] * (1 + limits.slippage_estimate)


@settings(max_examples=300, deadline=None)
@given(
    side=st.sampled_from(Side),
    stop_pct=st.floats(0.005, 0.5),
    slip=st.floats(0.0, 0.01),
    buffer=st.floats(0.0, 0.01),
    open_move=st.floats(-1.0, 1.0),
    held=st.dictionaries(st.sampled_from(["BTC", "SOL", "BNB"]), st.floats(1_000, 12_000), max_size=3),
)
def test_every_fill_in_the_band_keeps_the_limits(side: Side, stop_pct: float, slip: float, buffer: float,
                                                 open_move: float, held: dict[str, float]) -> None:
    """At any open within the buffer of the decision price, plus the venue's slippage, the position,
    the book's exposure and the risk at the stop stay within their limits."""
    d, limits, state = _sized(side, stop_pct, slip, buffer, held)
    if not d.approved:
        return
    p = PRICES["ETH"]
    fill = p * (1 + open_move * buffer) * (1 + side.sign * slip)
    qty = float(d.quantity)
    fee = 0.0005 * qty * fill  # the venue's taker fee, within the policy's cost estimate
    equity = float(state.equity) - fee
    assert qty * fill / equity <= limits.position_size * (1 + 1e-9)
    assert (state.figures.total_notional + qty * fill) / equity <= limits.total_exposure * (1 + 1e-9)
    stop = float(d.intent.stop_price)
    loss = qty * abs(fill - stop) + fee + qty * stop * limits.cost_rate
    assert loss <= limits.risk_per_trade * float(state.equity) * (1 + 1e-9)
    assert Decimal(str(qty)) == d.quantity
