"""Where and when the kernel fills: next-bar opens, missing bars, stops and gaps, taker fees.

Every market here is typed in by hand (``quantum_trader.testkit``), so each expected price
and each cent of cash is worked out in the test, not read back from the engine.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

import pandas as pd
import pytest

from quantum_trader.config import PolicyError
from quantum_trader.engine.recorder import Recorder
from quantum_trader.portfolio import MONEY_QUANTUM
from quantum_trader.testkit import (
    INITIAL_EQUITY,
    MarketBuilder,
    ScriptedDecisions,
    long,
    policy_with,
    run_kernel,
    short,
)
from quantum_trader.venues.simulated.fees import FeeModel
from quantum_trader.venues.simulated.venue import SimulatedVenue

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
TAKER = Decimal("0.0005")
"""binanceusdm taker fee in the default policy's venue table."""


def d(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def taker_fee(qty: float, price: float, rate: Decimal = TAKER) -> Decimal:
    """Notional times the rate, in USDT's 8 decimals (as the exchange books it)."""
    return (d(qty) * d(price) * rate).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def final_cash(rec: Recorder) -> float:
    equity = rec.equity_frame()
    return float(equity["cash"].iloc[-1])


def only_trade(rec: Recorder) -> pd.Series:
    trades = rec.trades_frame()
    assert len(trades) == 1, trades
    return trades.iloc[0]


def test_intent_decided_at_close_fills_at_next_bar_open() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, (100, 101, 99, 100), (102, 103, 101, 102), 102, 102]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90)]})
    trade = only_trade(run_kernel(data, script))
    assert trade["entry_ts"] == b.ts(2) == script.close_ts[0]
    assert trade["entry_price"] == 102.0
    assert trade["exit_reason"] == "end_of_data" and trade["exit_price"] == 102.0


def test_latency_bars_two_fills_two_bars_after_the_decision() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, (102, 102, 102, 102), (104, 104, 104, 104), 104]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90)]})
    trade = only_trade(run_kernel(data, script, policy=policy_with(venue={"latency_bars": 2})))
    assert (trade["entry_ts"], trade["entry_price"]) == (b.ts(3), 104.0)


def test_latency_zero_is_refused_by_the_policy() -> None:
    """Latency 0 would fill at the open of the bar whose close made the decision: look-ahead."""
    with pytest.raises(PolicyError, match="venue.latency_bars"):
        policy_with(venue={"latency_bars": 0})


def test_no_fill_on_a_missing_bar_refused_with_rule_no_bar() -> None:
    b = MarketBuilder()
    data = (b.bars("BTC", [100, 100, None, 100, 100])
             .bars("ETH", [50, 50, 50, 50, 50]).build())
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90),
                                                            long("ETH", entry=50, stop=45)]})
    rec = run_kernel(data, script)
    trades = rec.trades_frame()
    assert list(trades["symbol"]) == [ETH]
    assert trades.iloc[0]["entry_ts"] == b.ts(2)
    refused = rec.events_frame().query("kind == 'refused'")
    assert list(zip(refused["symbol"], refused["rule"], strict=True)) == [(BTC, "no_bar")]
    assert refused.iloc[0]["ts"] == b.ts(2)
    assert rec.refusals["no_bar"] == 1


def test_exit_on_a_missing_bar_fills_at_the_next_valid_open() -> None:
    b = MarketBuilder()
    data = (b.bars("BTC", [100, 100, 100, 100, None, (103, 104, 102, 103), 103])
             .bars("ETH", [50] * 7).build())
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90)]},
                                         exits={3: [("BTC", "signal")]})
    trade = only_trade(run_kernel(data, script))
    assert (trade["exit_ts"], trade["exit_price"], trade["exit_reason"]) == (b.ts(5), 103.0, "signal")


def test_reversal_on_a_missing_bar_is_refused_and_keeps_the_position() -> None:
    b = MarketBuilder()
    data = (b.bars("BTC", [100, 100, 100, 100, None, 100, 100])
             .bars("ETH", [50] * 7).build())
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90)],
                                                        3: [short("BTC", entry=100, stop=110)]})
    rec = run_kernel(data, script)
    trade = only_trade(rec)
    assert trade["side"] == "long" and trade["exit_reason"] == "end_of_data"
    assert rec.refusals["no_bar"] == 1


def test_gap_through_stop_exits_at_the_open_not_the_stop() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, (100, 101, 99, 100), (90, 92, 88, 91), 91]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=95)]})
    rec = run_kernel(data, script)
    trade = only_trade(rec)
    q = trade["quantity"]
    assert (trade["exit_price"], trade["exit_reason"], trade["exit_ts"]) == (90.0, "stop_gap", b.ts(3))
    assert trade["stop"] == 95.0
    expected = INITIAL_EQUITY + d(q) * (d(90) - d(100)) - taker_fee(q, 100) - taker_fee(q, 90)
    assert final_cash(rec) == float(expected)
    assert trade["pnl"] == pytest.approx(float(expected - INITIAL_EQUITY), abs=1e-9)


def test_gap_through_stop_with_slippage_pays_half_the_spread_on_both_fills() -> None:
    # volume 0: no participation impact, so the only cost is half the 0.1% spread.
    b = MarketBuilder()
    data = (b.bars("BTC", [100, 100, (100, 101, 99, 100), (90, 92, 88, 91), 91], volume=0.0)
             .spread("BTC", 0.001).build())
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=95)]})
    rec = run_kernel(data, script, slippage=True)
    trade = only_trade(rec)
    q = trade["quantity"]
    assert trade["entry_price"] == 100.05 and trade["exit_price"] == 89.955
    assert trade["exit_reason"] == "stop_gap"
    expected = (INITIAL_EQUITY + d(q) * (d(89.955) - d(100.05))
                - taker_fee(q, 100.05) - taker_fee(q, 89.955))
    # One USDT quantum of tolerance: the exit fee is a half-way case the kernel rounds in
    # float (see test_fees_are_booked_exactly_in_usdt_quanta).
    assert final_cash(rec) == pytest.approx(float(expected), abs=1.01e-8)


def test_fees_are_booked_exactly_in_usdt_quanta() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, 100, 89.955, 89.955]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90)]},
                                         exits={3: [("BTC", "signal")]})
    rec = run_kernel(data, script)
    trade = only_trade(rec)
    # 10% of equity at the expected fill: 100 moved up by the 5 bp latency buffer (no slippage here),
    # after the entry's estimated cost: 10,000 / (100.05 * 1.0001) rounded down to the lot.
    assert (trade["quantity"], trade["exit_price"]) == (99.94, 89.955)
    fees = taker_fee(99.94, 100) + taker_fee(99.94, 89.955)
    assert final_cash(rec) == float(INITIAL_EQUITY + d(99.94) * (d(89.955) - d(100)) - fees)


def test_short_stop_gap_exits_at_the_higher_open() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, (110, 112, 109, 111), 111]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [short("BTC", entry=100, stop=105)]})
    trade = only_trade(run_kernel(data, script))
    assert (trade["side"], trade["exit_price"], trade["exit_reason"]) == ("short", 110.0, "stop_gap")


def test_stop_touched_inside_a_bar_fills_at_the_stop() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, (99, 99.5, 94, 96), 96]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=95)]})
    rec = run_kernel(data, script)
    trade = only_trade(rec)
    q = trade["quantity"]
    assert (trade["exit_price"], trade["exit_reason"], trade["exit_ts"]) == (95.0, "stop", b.ts(3))
    expected = INITIAL_EQUITY + d(q) * (d(95) - d(100)) - taker_fee(q, 100) - taker_fee(q, 95)
    assert final_cash(rec) == float(expected)


@pytest.mark.parametrize(("exchange", "taker"), [("binanceusdm", "0.0005"), ("bybit", "0.00055")])
def test_entry_and_exit_fees_are_notional_times_the_venue_taker_rate(exchange: str, taker: str) -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, 100, (110, 110, 110, 110), 110]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90)]},
                                         exits={3: [("BTC", "signal")]})
    policy = policy_with(venue={"exchange": exchange})
    rec = run_kernel(data, script, policy=policy)
    trade = only_trade(rec)
    q = trade["quantity"]
    rate = Decimal(taker)
    fees = taker_fee(q, 100, rate) + taker_fee(q, 110, rate)
    assert trade["fees"] == pytest.approx(float(fees), abs=1e-9)
    maker = Decimal(repr(policy.venue.fees[exchange].maker))
    assert not math.isclose(trade["fees"], float(taker_fee(q, 100, maker) + taker_fee(q, 110, maker)))
    assert final_cash(rec) == float(INITIAL_EQUITY + d(q) * d(10) - fees)
    assert (trade["exit_price"], trade["exit_reason"]) == (110.0, "signal")


@pytest.mark.parametrize("plain", [False, True])
def test_two_stops_in_the_same_bar_both_fill_in_that_bar(plain: bool) -> None:
    """After one stop fills, the rest of that bar is still looked at: every other level it touched fills too."""
    b = MarketBuilder()
    drop = (100, 100.5, 94, 96)
    data = b.bars("BTC", [100, 100, 100, drop, 96, 96]).bars("ETH", [100, 100, 100, drop, 96, 96]).build()
    script = ScriptedDecisions.at_closes(
        data, intents={1: [long("BTC", entry=100, stop=95, edge=0.6), long("ETH", entry=100, stop=95)]})
    trades = run_kernel(data, script, plain=plain).trades_frame().set_index("symbol")
    assert set(trades.index) == {BTC, ETH}
    for symbol in (BTC, ETH):
        assert (trades.at[symbol, "exit_price"], trades.at[symbol, "exit_reason"],
                trades.at[symbol, "exit_ts"]) == (95.0, "stop", b.ts(3))


class _OnePercentWorse:
    """A user's own, pessimistic cost assumption: every taker order 1% through its reference."""

    def taker_price(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
                    bar_volume: float) -> float:
        return reference * (1.01 if buy else 0.99)


def test_an_injected_venue_prices_every_taker_fill_and_charges_its_own_fees() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, 100, 110, 110]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90)]},
                                         exits={3: [("BTC", "signal")]})
    venue = SimulatedVenue(fees=FeeModel(maker=0.0, taker=0.001), slippage=_OnePercentWorse())
    rec = run_kernel(data, script, venue=venue)
    trade = only_trade(rec)
    assert (trade["entry_price"], trade["exit_price"]) == (101.0, 108.9)
    q = trade["quantity"]
    rate = Decimal("0.001")
    assert trade["fees"] == pytest.approx(float(taker_fee(q, 101, rate) + taker_fee(q, 108.9, rate)), abs=1e-9)


def test_the_default_venue_is_the_policys() -> None:
    policy = policy_with(venue={"exchange": "bybit", "entry": {"fill": "touch", "post_only": False}})
    venue = SimulatedVenue.from_policy(policy, slippage=False)
    assert (venue.fees.taker, venue.limit_fill, venue.post_only) == (0.00055, "touch", False)
    assert venue.slippage.taker_price(BTC, 100.0, 1.0, buy=True, ts=0, bar_volume=0.0) == 100.0
    with_impact = SimulatedVenue.from_policy(policy, spread={BTC: 0.01})
    assert with_impact.slippage.taker_price(BTC, 100.0, 1.0, buy=True, ts=0, bar_volume=0.0) == pytest.approx(100.5)


def test_an_exit_with_an_entry_the_other_way_still_reverses() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 101, 102, 103, 104]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90)],
                                                        3: [short("BTC", entry=102, stop=110)]},
                                         exits={3: [("BTC", "signal")]})
    trades = run_kernel(data, script).trades_frame()
    assert list(trades["side"]) == ["long", "short"] and trades["exit_ts"].iloc[0] == b.ts(4)
