"""Funding settlements and liquidations through the kernel, to the last USDT quantum.

Funding: at a settlement the account receives ``-q * mark * rate`` (longs pay a positive
rate, shorts receive it), the mark being the settlement bar's open. Liquidation: a
position far beyond what the risk policy allows (plain mode, five times equity) is closed
at the cross-margin liquidation price the ledger's ``margin_summary`` states.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from quantum_trader.domain.trading import Fill, OrderSide
from quantum_trader.engine.recorder import Recorder
from quantum_trader.portfolio import MONEY_QUANTUM, apply_fill, margin_summary, new_ledger
from quantum_trader.testkit import (
    INITIAL_EQUITY,
    T0,
    MarketBuilder,
    ScriptedDecisions,
    intent,
    long,
    policy_with,
    run_kernel,
)

BTC = "BTC/USDT:USDT"
TAKER = Decimal("0.0005")


def d(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def usdt(x: Decimal) -> Decimal:
    return x.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def fee(qty: float, price: float) -> Decimal:
    return usdt(d(qty) * d(price) * TAKER)


def final_cash(rec: Recorder) -> float:
    return float(rec.equity_frame()["cash"].iloc[-1])


def _funding_market(rate: float) -> MarketBuilder:
    """Flat 100, a settlement at 08:00 (row 8) whose bar opens at 101, then 101 to the end."""
    bars: list[float | tuple[float, float, float, float]] = [100.0] * 8 + [(101, 101, 100, 101)] + [101.0] * 4
    return MarketBuilder().bars("BTC", bars).funding("BTC", row=0, rate=0.0003).funding("BTC", row=8, rate=rate)


@pytest.mark.parametrize("side", ["long", "short"])
@pytest.mark.parametrize("rate", [0.0001, -0.0002])
def test_funding_at_a_settlement_moves_cash_by_q_mark_rate_with_the_side_sign(side: str, rate: float) -> None:
    b = _funding_market(rate)
    data = b.build()
    stop = 90.0 if side == "long" else 110.0
    script = ScriptedDecisions.at_closes(data, intents={1: [intent("BTC", side, entry=100, stop=stop)]},
                                         exits={9: [("BTC", "signal")]})
    rec = run_kernel(data, script)
    trades = rec.trades_frame()
    assert len(trades) == 1
    trade = trades.iloc[0]
    q = d(trade["quantity"])
    sign = 1 if side == "long" else -1
    assert (trade["entry_price"], trade["exit_price"], trade["exit_ts"]) == (100.0, 101.0, b.ts(10))
    received = usdt(-sign * q * d(101) * d(rate))
    # The 00:00 settlement (rate 0.0003) came before the entry: nobody held, nobody paid.
    expected = INITIAL_EQUITY + sign * q * (d(101) - d(100)) - fee(trade["quantity"], 100) \
        - fee(trade["quantity"], 101) + received
    assert final_cash(rec) == float(expected)
    assert trade["funding_paid"] == pytest.approx(-float(received), abs=1e-12)
    assert trade["pnl"] == pytest.approx(float(expected - INITIAL_EQUITY), abs=1e-9)


def test_every_settlement_while_held_is_paid_once() -> None:
    bars: list[float | tuple[float, float, float, float]] = [100.0] * 8 + [(102, 102, 100, 102)] + [102.0] * 7
    bars += [(104, 104, 102, 104)] + [104.0] * 3
    data = (MarketBuilder().bars("BTC", bars)
            .funding("BTC", row=8, rate=0.0001).funding("BTC", row=16, rate=0.0003).build())
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90)]})
    rec = run_kernel(data, script)
    trade = rec.trades_frame().iloc[0]
    q = d(trade["quantity"])
    paid = usdt(q * d(102) * d(0.0001)) + usdt(q * d(104) * d(0.0003))
    assert trade["funding_paid"] == pytest.approx(float(paid), abs=1e-12)
    assert trade["exit_reason"] == "end_of_data" and trade["exit_price"] == 104.0
    expected = INITIAL_EQUITY + q * d(4) - fee(trade["quantity"], 100) - fee(trade["quantity"], 104) - paid
    assert final_cash(rec) == float(expected)


def test_funding_on_a_settlement_without_a_bar_uses_the_last_mark() -> None:
    bars: list[float | None] = [100.0] * 8 + [None] + [100.0] * 4
    data = (MarketBuilder().bars("BTC", bars).bars("ETH", [50.0] * 13)
            .funding("BTC", row=8, rate=0.0001).build())
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90)]})
    rec = run_kernel(data, script)
    trade = rec.trades_frame().iloc[0]
    assert trade["funding_paid"] == pytest.approx(float(usdt(d(trade["quantity"]) * d(100) * d(0.0001))), abs=1e-12)


# Liquidation -------------------------------------------------------------------------------

LEVERED = policy_with({"margin.leverage": 10.0})


def _liquidation_price(qty: float, entry: float) -> Decimal:
    """What the ledger says right after the entry fill (single position: cash and entry decide)."""
    state = new_ledger(INITIAL_EQUITY, T0)
    state = apply_fill(state, Fill(T0, BTC, OrderSide.BUY, d(qty), d(entry), fee(qty, entry)))
    price = margin_summary(state, LEVERED.margin).liquidation_prices[BTC]
    assert price is not None
    return price


def test_liquidation_at_the_ledgers_liquidation_price() -> None:
    b = MarketBuilder()
    path = [100, 100, 100, (100, 100, 95, 96), (96, 96, 88, 89), (89, 89, 80, 81), 81]
    data = b.bars("BTC", path).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=None)]})
    # Plain sizing puts five times equity in one position: the policy's limits would never allow it.
    rec = run_kernel(data, script, policy=LEVERED, plain=True, plain_fraction=5.0)
    trades = rec.trades_frame()
    assert len(trades) == 1
    trade = trades.iloc[0]
    q = trade["quantity"]
    assert q * trade["entry_price"] > 4 * float(INITIAL_EQUITY)
    liquidation = _liquidation_price(q, 100)
    price = data.instruments[BTC].round_price(liquidation)
    assert 80 < liquidation < 89  # inside the bar of row 5, which opens above it
    assert (trade["exit_reason"], trade["exit_ts"]) == ("liquidation", b.ts(5))
    assert trade["exit_price"] == float(price)
    events = rec.events_frame().query("kind == 'liquidation'")
    assert list(events["symbol"]) == [BTC] and events.iloc[0]["ts"] == b.ts(5)
    expected = INITIAL_EQUITY + d(q) * (price - d(100)) - fee(q, 100) - fee(q, float(price))
    assert final_cash(rec) == pytest.approx(float(expected), abs=2.01e-8)


def test_a_stop_above_the_liquidation_price_fills_first_in_the_same_bar() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, (100, 100, 80, 81), 81]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=95)]})
    rec = run_kernel(data, script, policy=LEVERED, plain=True, plain_fraction=5.0)
    trade = rec.trades_frame().iloc[0]
    assert (trade["exit_reason"], trade["exit_price"]) == ("stop", 95.0)
