"""Positions netted from fills as the ledger nets them: the net quantity is the signed sum of the fills, the entry is
the average of the open leg's fills, and P&L is realised only by reducing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from quantum_trader.monitor.positions import FillRow, net_fills

fills = st.lists(st.tuples(st.booleans(), st.integers(1, 50), st.integers(50, 150)), min_size=1, max_size=30)


@given(fills)
def test_net_quantity_is_the_signed_sum_and_entry_lies_within_the_open_legs_prices(rows: list[tuple[bool, int, int]]
                                                                                     ) -> None:
    given_fills = [FillRow(i, "BTC/USDT:USDT", buy, float(q), float(p), 0.0, tag=f"t{i}")
                   for i, (buy, q, p) in enumerate(rows)]
    book = net_fills(given_fills)["BTC/USDT:USDT"]
    signed = sum(q if buy else -q for buy, q, _ in rows)
    assert abs(book.quantity - signed) < 1e-9
    if signed == 0:
        assert book.opened_ts is None and book.signal == ""
        return
    assert book.opened_ts is not None
    opened = [f for f in given_fills if f.ts >= book.opened_ts]
    assert min(f.price for f in opened) - 1e-9 <= book.entry_price <= max(f.price for f in opened) + 1e-9
    assert book.signal == f"t{book.opened_ts}"


def test_adding_averages_reducing_realises_and_flipping_reopens() -> None:
    rows = [FillRow(1, "ETH", True, 1, 100, 0.1, "a"), FillRow(2, "ETH", True, 1, 110, 0.1, "b"),
            FillRow(3, "ETH", False, 1, 120, 0.1), FillRow(4, "ETH", False, 3, 90, 0.1, "c")]
    book = net_fills(rows)["ETH"]
    assert book.quantity == -2 and book.entry_price == 90 and book.opened_ts == 4 and book.signal == "c"
    realised = sum(book.realised_by_day.values())
    assert abs(realised - ((120 - 105) * 1 + (90 - 105) * 1 - 0.4)) < 1e-9
    assert [m.kind for m in book.marks] == ["entry", "entry", "exit", "exit"]
