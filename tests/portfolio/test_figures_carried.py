"""A mark carries the float figures over from the state it marks (when they were read), as computed afresh.

The risk engine and the kill switch read ``figures`` at every decision, right after the decision's mark;
only the marked positions' notional and day P&L, equity and the peak can move, so the rest is carried.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from quantum_trader.domain.trading import Fill, OrderSide
from quantum_trader.portfolio import apply_fill, apply_funding, mark, new_ledger
from quantum_trader.portfolio.state import LedgerState, _figures

T0 = 1_767_225_600_000
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT")
PRICE = st.decimals(min_value=Decimal("0.5"), max_value=Decimal("900"), places=2)


@st.composite
def books(draw: st.DrawFn) -> LedgerState:
    state = new_ledger("100000", T0)
    ts = T0
    for _ in range(draw(st.integers(0, 8))):
        ts += draw(st.integers(0, 3_600_000))
        symbol = draw(st.sampled_from(SYMBOLS))
        if draw(st.integers(0, 4)) == 0 and symbol in state.positions:
            state = apply_funding(state, symbol, draw(st.floats(-0.001, 0.001)), ts)
            continue
        side = draw(st.sampled_from(OrderSide))
        quantity = draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("40"), places=2))
        stop = draw(st.one_of(st.none(), PRICE))
        state = apply_fill(state, Fill(ts, symbol, side, quantity, draw(PRICE), Decimal("0.1")), stop_price=stop)
    return state


@settings(max_examples=300, deadline=None)
@given(books(), st.data())
def test_a_mark_carries_the_figures_computed_afresh(state: LedgerState, data: st.DataObject) -> None:
    assert state.figures.equity == float(state.equity)  # read: the next mark carries them over
    for _ in range(data.draw(st.integers(1, 3))):
        marked = data.draw(st.lists(st.sampled_from(SYMBOLS), unique=True, max_size=4))
        prices = {s: data.draw(st.floats(0.5, 1_500.0)) for s in marked}
        later = mark(state, prices, state.ts + data.draw(st.integers(0, 600_000)))
        carried = later.figures
        assert carried == _figures(later)
        assert list(carried.day_pnl) == list(_figures(later).day_pnl)  # the same order too
        state = later


def test_a_mark_of_a_state_whose_figures_were_never_read_computes_them_when_read() -> None:
    state = apply_fill(new_ledger("1000", T0), Fill(T0, SYMBOLS[0], OrderSide.BUY, Decimal("1"), Decimal("100"),
                                                     Decimal("0")))
    later = mark(state, {SYMBOLS[0]: 110.0}, T0 + 60_000)
    assert later.figures.notional[SYMBOLS[0]] == 110.0 and later.figures.equity == 1010.0
