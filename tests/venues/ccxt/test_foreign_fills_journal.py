"""A liquidation the exchange fills in several trades, heard over one or several syncs, is booked whole and
journalled whole: every trade's quantity reaches the ledger and the journal, none is refused as a second fill of
a filled order, and a restart finds the same orders and fills (ids derived from the exchange's order and trades)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import ccxt
from hypothesis import given, settings
from hypothesis import strategies as st

from quantum_trader.domain.clock import ReplayClock
from quantum_trader.engine.journaled import JournaledLiveExecution
from quantum_trader.journal import TradingJournal
from quantum_trader.venues.ccxt.connect import venue_info
from quantum_trader.venues.ccxt.execution import CcxtExecutionClient
from quantum_trader.venues.ccxt.tracking import TradeSeen

BTC = "BTC/USDT:USDT"
MARKET = {"precision": {"amount": 0.001, "price": 0.1}, "limits": {}}


async def _not_found(*_args: object) -> dict[str, object]:
    raise ccxt.OrderNotFound("gone")


@settings(max_examples=25, deadline=None)
@given(batches=st.lists(st.lists(st.integers(1, 30), min_size=1, max_size=3), min_size=1, max_size=3))
def test_a_liquidation_in_several_trades_is_journalled_whole(tmp_path_factory: object, batches: list[list[int]]
                                                             ) -> None:
    path = Path(tmp_path_factory.mktemp("j")) / "j.sqlite"  # type: ignore[attr-defined]
    journal = TradingJournal(path, session="s")
    exchange = SimpleNamespace(id="bybit", markets={BTC: MARKET}, fetch_order=_not_found)
    client = CcxtExecutionClient(exchange, venue_info("bybit"), lambda *_a, **_k: 0.0, ReplayClock(0),
                                 lambda _s: 100.0)
    held = Decimal(sum(map(sum, batches))) / 1000
    client.positions[BTC] = held
    journalled = JournaledLiveExecution(client, journal, ReplayClock(0))
    booked: list[Decimal] = []
    n = 0
    for batch in batches:  # each batch is what one sync hears of the order
        for qty in batch:
            n += 1
            client.take_trade(TradeSeen(f"t{n}", "900", BTC, "sell", 1000 + n, Decimal("99"), Decimal(qty) / 1000,
                                        Decimal("0.01"), False, forced="liquidation"))
        asyncio.run(client._foreign_fills())
        booked += [e.fill.quantity for e in journalled.drain() if getattr(e, "fill", None)]  # type: ignore[union-attr]
    assert sum(booked) == held, "the ledger hears every trade"
    assert client.positions[BTC] == 0
    fills = journal.fills_since(0)
    assert sum(f.fill.quantity for f in fills) == held, "the journal holds every trade"
    assert sum(o.filled_quantity for o in journal.orders()) == held
    assert all(o.status == "filled" and o.filled_quantity == o.order.quantity for o in journal.orders())
