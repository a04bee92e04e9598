"""A session taken again after a crash writes what it wrote before a second time: the journal must not change.

Property: for any sequence of a session's writes (orders, their events and fills, decisions, kill-switch
changes, equity snapshots), writing it whole, then any prefix of it again (the replay of a resumed session up
to where the last process died) and then the rest, leaves exactly the journal that writing it once leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantum_trader.domain.trading import (
    Fill,
    Intent,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderPurpose,
    OrderSide,
    OrderType,
    RiskDecision,
    RiskReason,
    Side,
    Verdict,
    client_order_id,
)
from quantum_trader.journal import EquitySnapshot, KillSwitchChange, KillSwitchRecord, TradingJournal
from quantum_trader.portfolio import new_ledger
from quantum_trader.risk import EventKind
from quantum_trader.risk.kill_switch import KillSwitchState

T0 = 1_735_689_600_000
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")
Write = Callable[[TradingJournal], Any]


def _order_writes(k: int, symbol: str, filled: bool) -> list[Write]:
    ts = T0 + 60_000 * k
    order = Order(client_order_id("s", ts, symbol, OrderPurpose.ENTRY), ts, symbol, OrderSide.BUY, OrderType.MARKET,
                  Decimal("0.010"), purpose=OrderPurpose.ENTRY)
    intent = Intent(ts, symbol, Side.LONG, 0.5, 100.0, 90.0)
    decision = RiskDecision(intent, Verdict.APPROVED if filled else Verdict.REFUSED,
                            Decimal("0.010") if filled else Decimal(0), (RiskReason("r", "why", 0.1, 0.2),))
    writes: list[Write] = [lambda j: j.record_decision(decision, ts=ts)]
    if filled:
        fill = Fill(ts + 1, symbol, OrderSide.BUY, Decimal("0.010"), Decimal("100.5"), Decimal("0.01"),
                    order.client_order_id)
        writes += [lambda j: j.record_order(order),
                   lambda j: j.record_order_event(OrderEvent(ts, OrderEventKind.ACCEPTED, order)),
                   lambda j: j.record_order_event(OrderEvent(ts + 1, OrderEventKind.FILLED, order, fill=fill),
                                                  fill_id=f"{order.client_order_id}/1")]
    return writes


def _switch_write(k: int) -> Write:
    ts = T0 + 60_000 * k
    state = KillSwitchState(day_start=T0, drawdown_tripped=True, drawdown_trip_ts=ts)
    record = KillSwitchRecord.of_ledger(state, new_ledger(100_000, T0), ts=ts, trip_reason="drawdown")
    return lambda j: j.save_killswitch(record, KillSwitchChange(ts, EventKind.TRIP_DRAWDOWN, "drawdown"))


def _equity_write(k: int, equity: int) -> Write:
    return lambda j: j.record_equity(EquitySnapshot(T0 + 60_000 * k, Decimal(equity), Decimal(equity)))


@st.composite
def sessions(draw: st.DrawFn) -> list[Write]:
    writes: list[Write] = []
    for k in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["order", "refusal", "switch", "equity"]))
        if kind in ("order", "refusal"):
            writes += _order_writes(k, draw(st.sampled_from(SYMBOLS)), kind == "order")
        elif kind == "switch":
            writes.append(_switch_write(k))
        else:
            writes.append(_equity_write(k, draw(st.integers(90_000, 110_000))))
    return writes


def _contents(journal: TradingJournal) -> tuple[object, ...]:
    return (
        [(o.order, o.status, o.filled_quantity) for o in journal.orders()],
        [[(e.kind, e.ts, e.fill_id) for e in journal.order_events(o.order.client_order_id)] for o in journal.orders()],
        [(f.fill_id, f.fill) for f in journal.fills_since(0)],
        [(d.ts, d.decision) for d in journal.decisions()],
        [(c.ts, c.kind, c.reason) for c in journal.killswitch_history()],
        [(e.ts, e.equity) for e in journal.equity_since(0)],
    )


@settings(max_examples=15, deadline=None)
@given(writes=sessions(), cut=st.floats(0, 1))
def test_writing_a_prefix_again_changes_nothing(tmp_path_factory: pytest.TempPathFactory, writes: list[Write],
                                                cut: float) -> None:
    folder: Path = tmp_path_factory.mktemp("j")
    once = TradingJournal(folder / "once.sqlite", session="s")
    for write in writes:
        write(once)
    crashed = TradingJournal(folder / "crashed.sqlite", session="s")
    died = round(cut * len(writes))
    for write in writes[:died]:
        write(crashed)
    for write in writes:  # the resumed session: from its first write again
        write(crashed)
    assert _contents(crashed) == _contents(once)
    once.close()
    crashed.close()
