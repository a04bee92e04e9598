"""Each trade says which signal opened it, what slippage it paid at entry, and funding as a cost.

A market entry fills at the next bar's open moved against it by the venue's slippage; the
trade row keeps that move as a fraction of the open (positive: paid). A resting limit
fills at its own price as maker, so it paid none. Funding is stored as ``funding_paid``:
positive when the trade paid it, the same sign as ``fees``.
"""

from __future__ import annotations

import pytest

from quantum_trader.domain.trading import Side
from quantum_trader.engine.recorder import OpenTrade, Recorder
from quantum_trader.testkit import MarketBuilder, ScriptedDecisions, intent, long, policy_with, run_kernel

BTC = "BTC/USDT:USDT"


@pytest.mark.parametrize("side", ["long", "short"])
def test_a_market_entry_records_its_signal_and_the_slippage_it_paid(side: str) -> None:
    data = MarketBuilder().bars("BTC", [100.0] * 8).spread("BTC", 0.002).build()
    stop = 95.0 if side == "long" else 105.0
    script = ScriptedDecisions.at_closes(
        data, intents={1: [intent("BTC", side, entry=100, stop=stop, source="btc_divergence")]},
        exits={5: [("BTC", "signal")]})
    trade = run_kernel(data, script, slippage=True).trades_frame().iloc[0]
    assert trade["signal"] == "btc_divergence"
    sign = 1.0 if side == "long" else -1.0
    paid = sign * (trade["entry_price"] - 100.0) / 100.0  # the fill bar opened at 100
    assert paid > 0.0005  # at least half the 0.2% spread
    assert trade["entry_slippage"] == pytest.approx(paid, rel=1e-12)


def test_without_slippage_the_entry_paid_none() -> None:
    data = MarketBuilder().bars("BTC", [100.0] * 8).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=95)]})
    trade = run_kernel(data, script, slippage=False).trades_frame().iloc[0]
    assert (trade["signal"], trade["entry_slippage"]) == ("scripted", 0.0)


def test_a_maker_limit_fill_paid_no_slippage() -> None:
    data = MarketBuilder().bars("BTC", [100, 100, 100, (100, 100.5, 99.5, 100), (100, 100, 98.5, 99), 99, 104]).build()
    script = ScriptedDecisions.at_closes(
        data, intents={1: [long("BTC", entry=99, stop=95, limit=True)]}, exits={5: [("BTC", "signal")]})
    rec = run_kernel(data, script, policy=policy_with(venue={"entry": {"expiry": "4h"}}), slippage=True)
    trade = rec.trades_frame().iloc[0]
    assert trade["entry_price"] == 99.0
    assert (trade["signal"], trade["entry_slippage"]) == ("scripted", 0.0)


def test_funding_paid_is_positive_when_a_long_pays_a_positive_rate() -> None:
    b = MarketBuilder().bars("BTC", [100.0] * 12).funding("BTC", row=8, rate=0.001)
    data = b.build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90)]},
                                         exits={10: [("BTC", "signal")]})
    trade = run_kernel(data, script).trades_frame().iloc[0]
    assert trade["funding_paid"] == pytest.approx(trade["quantity"] * 100.0 * 0.001, abs=0.01)
    assert trade["funding_paid"] > 0
    assert trade["pnl"] == pytest.approx(-trade["fees"] - trade["funding_paid"], abs=1e-9)


def test_a_partial_exit_carries_the_signal_slippage_and_its_share_of_the_costs() -> None:
    rec = Recorder()
    rec.open[BTC] = OpenTrade(symbol=BTC, side=Side.LONG, entry_ts=0, entry_price=100.2, quantity=4.0,
                              notional_at_entry=400.8, equity_at_entry=10_000.0, stop=95.0, planned_risk=20.8,
                              fees=0.4, signal="trend", entry_slippage=0.002)
    rec.open[BTC].funding -= 2.0  # the kernel subtracts each payment: 2 paid
    rec.reduce_trade(BTC, 10, 101.0, 1.0, 0.05, 0.8, "drift_trim")
    rec.close_trade(BTC, 20, 102.0, 0.15, 5.4, "signal")
    part, rest = rec.trades_frame().to_dict("records")
    assert (part["signal"], rest["signal"]) == ("trend", "trend")
    assert part["entry_slippage"] == rest["entry_slippage"] == 0.002
    assert (part["funding_paid"], rest["funding_paid"]) == pytest.approx((0.5, 1.5))
    assert (part["fees"], rest["fees"]) == pytest.approx((0.15, 0.45))
    assert part["pnl"] == pytest.approx(0.8 - 0.15 - 0.5)
    assert rest["pnl"] == pytest.approx(5.4 - 0.45 - 1.5)
