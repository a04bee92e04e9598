"""Limit entries: resting at the venue, filled as maker, lapsing at expiry, checked again at the fill.

Markets are 1h bars typed in by hand. A decision at the close of row 1 reaches the venue
at the open of row 2, so a limit placed then rests from row 2 on.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pandas as pd
import pytest

from quantum_trader.domain.trading import Intent, OrderType, Side
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

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
MAKER, TAKER = Decimal("0.0002"), Decimal("0.0005")


def fee(qty: float, price: float, rate: Decimal) -> Decimal:
    notional = Decimal(repr(float(qty))) * Decimal(repr(float(price)))
    return (notional * rate).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def entry_policy(**entry: Any) -> Any:
    return policy_with(venue={"entry": {"expiry": "4h", **entry}})


def events(rec: Recorder, kind: str) -> pd.DataFrame:
    frame = rec.events_frame()
    return frame[frame["kind"] == kind]


def only_trade(rec: Recorder) -> dict[str, Any]:
    trades = rec.trades_frame()
    assert len(trades) == 1, trades
    return dict(trades.iloc[0])


@pytest.mark.parametrize("plain", [False, True])
def test_a_buy_limit_rests_and_fills_at_its_price_as_maker_when_a_bar_trades_through(plain: bool) -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, (100, 100.5, 99.5, 100), (100, 100, 98.5, 99), 99, 104]).build()
    script = ScriptedDecisions.at_closes(
        data, intents={1: [long("BTC", entry=99, stop=95, limit=True)]}, exits={5: [("BTC", "signal")]})
    rec = run_kernel(data, script, policy=entry_policy(), plain=plain)
    trade = only_trade(rec)
    assert (trade["entry_ts"], trade["entry_price"]) == (b.ts(4), 99.0)   # row 3 only reached 99.5
    q = trade["quantity"]
    assert trade["fees"] == pytest.approx(float(fee(q, 99, MAKER) + fee(q, 104, TAKER)), abs=1e-9)
    cash = float(rec.equity_frame()["cash"].iloc[-1])
    assert cash == float(INITIAL_EQUITY + Decimal(repr(float(q))) * 5 - fee(q, 99, MAKER) - fee(q, 104, TAKER))
    assert (rec.orders, rec.fills) == (3, 2)  # the limit, its protective stop (never filled), the exit
    assert rec.limit_entries["placed"] == rec.limit_entries["filled"] == 1


def test_a_short_limit_fills_when_the_high_trades_through() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, (100, 101.5, 99.5, 101), 101]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [short("BTC", entry=101, stop=105, limit=True)]})
    trade = only_trade(run_kernel(data, script, policy=entry_policy()))
    assert (trade["side"], trade["entry_ts"], trade["entry_price"]) == ("short", b.ts(3), 101.0)


@pytest.mark.parametrize(("fill", "filled"), [("through", False), ("touch", True)])
def test_a_bar_that_only_touches_the_limit_fills_it_only_under_touch(fill: str, filled: bool) -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, (100, 100, 99, 100), 100, 100, 100, 100]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=99, stop=95, limit=True)]})
    rec = run_kernel(data, script, policy=entry_policy(fill=fill))
    assert len(rec.trades_frame()) == int(filled)


def test_a_gap_through_the_limit_still_fills_at_the_limit_not_the_better_open() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, (97, 97.5, 96.5, 97), 97]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=99, stop=90, limit=True)]})
    assert only_trade(run_kernel(data, script, policy=entry_policy()))["entry_price"] == 99.0


def test_an_unfilled_limit_lapses_at_its_expiry_and_a_fill_on_the_expiry_bar_is_too_late() -> None:
    b = MarketBuilder()
    # Placed at the open of row 2 with a 4h expiry: live on rows 2..5, gone at the open of row 6.
    data = b.bars("BTC", [100, 100, 100, 100, 100, 100, (100, 100, 97, 98), 98]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=99, stop=95, limit=True)]})
    rec = run_kernel(data, script, policy=entry_policy())
    assert rec.trades_frame().empty
    expired = events(rec, "limit_expired")
    assert list(expired["ts"]) == [b.ts(6)] and list(expired["symbol"]) == [BTC]
    assert (rec.orders, rec.fills, rec.limit_entries["expired"]) == (1, 0, 1)


def test_post_only_rejects_a_limit_that_would_cross_on_arrival() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, (98.5, 99, 98, 98.5), 98.5, 98.5]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=99, stop=95, limit=True)]})
    rec = run_kernel(data, script, policy=entry_policy())
    assert rec.trades_frame().empty
    rejected = events(rec, "limit_rejected")
    assert list(rejected["rule"]) == ["post_only"] and list(rejected["value"]) == [98.5]


def test_without_post_only_a_crossing_limit_fills_at_once_as_taker_never_beyond_its_limit() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, (98.9, 99, 98.5, 98.8), 98.8, 98.8]).spread("BTC", 0.01).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=99, stop=95, limit=True)]})
    rec = run_kernel(data, script, policy=entry_policy(post_only=False), slippage=True)
    trade = only_trade(rec)
    # Half a 1% spread above an open of 98.9 is 99.39: the limit holds the price at 99.
    assert (trade["entry_ts"], trade["entry_price"]) == (b.ts(2), 99.0)
    q = trade["quantity"]
    entry_fee = fee(q, 99, TAKER)
    assert trade["fees"] > float(entry_fee)   # entry as taker, plus the exit's fee
    assert (rec.orders, rec.fills) == (3, 2)  # the limit, its protective stop (never filled), the exit


def test_the_take_profit_waits_for_the_bar_after_the_limit_fill() -> None:
    b = MarketBuilder()
    # Row 2 trades through 99 and also reaches 103: which came first is unknown, so no target there.
    data = b.bars("BTC", [100, 100, (100, 103.5, 98.5, 100), (100, 103.5, 99.8, 101), 101]).build()
    script = ScriptedDecisions.at_closes(
        data, intents={1: [long("BTC", entry=99, stop=95, target=103, limit=True)]})
    trade = only_trade(run_kernel(data, script, policy=entry_policy()))
    assert (trade["entry_ts"], trade["exit_ts"], trade["exit_price"], trade["exit_reason"]) == (
        b.ts(2), b.ts(3), 103.0, "target")


def test_a_stop_reached_in_the_fill_bar_stops_the_new_position_in_that_bar() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, (100, 100, 94, 95), 95, 95]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=99, stop=96, limit=True)]})
    trade = only_trade(run_kernel(data, script, policy=entry_policy()))
    assert (trade["entry_price"], trade["exit_ts"], trade["exit_price"], trade["exit_reason"]) == (
        99.0, b.ts(2), 96.0, "stop")


def test_the_risk_engine_refuses_a_limit_at_its_fill_when_the_slot_was_taken_since() -> None:
    b = MarketBuilder()
    data = (b.bars("BTC", [100, 100, 100, 100, (100, 100, 98, 99), 99, 99])
             .bars("ETH", [100, 100, 100, 100, 100, 100, 100]).build())
    script = ScriptedDecisions.at_closes(data, intents={
        1: [long("BTC", entry=99, stop=95, limit=True)],   # approved when placed: a slot is free
        2: [long("ETH", entry=100, stop=95)],              # takes the only slot at the open of row 3
    })
    policy = policy_with({"portfolio.max_positions": 1, "venue.entry.expiry": "4h"})
    rec = run_kernel(data, script, policy=policy)
    assert list(rec.trades_frame()["symbol"]) == [ETH]
    refused = events(rec, "refused")
    assert set(refused["ts"]) == {b.ts(4)} and set(refused["symbol"]) == {BTC}
    assert refused["message"].str.startswith("at the limit fill").all()
    assert "max_positions" in set(refused["rule"])
    assert rec.refused_intents == 1   # one intent, whatever the number of rules it failed
    assert all(rec.refusals[rule] == 1 for rule in refused["rule"]) and rec.limit_entries["refused_at_fill"] == 1


def test_the_kill_switch_cancels_resting_limits() -> None:
    b = MarketBuilder()
    crash: list[Any] = [100.0] * 5 + [(100, 100, 82, 82)] + [82.0] * 6
    for asset in ("BTC", "ETH", "SOL"):
        b.bars(asset, crash)
    data = b.bars("BNB", [200.0] * 12).build()
    script = ScriptedDecisions.at_closes(data, intents={
        1: [long(a, entry=100, stop=80) for a in ("BTC", "ETH", "SOL")],
        2: [long("BNB", entry=150, stop=140, limit=True)],
    })
    rec = run_kernel(data, script, policy=entry_policy(expiry="24h"))
    assert rec.kill_switch_trips == 1
    cancelled = events(rec, "limit_cancelled")
    assert list(zip(cancelled["ts"], cancelled["symbol"], cancelled["rule"], strict=True)) == [
        (b.ts(6), "BNB/USDT:USDT", "kill_switch")]


def test_a_new_intent_replaces_the_resting_order_and_a_strategy_exit_cancels_one() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100] * 8).build()
    script = ScriptedDecisions.at_closes(data, intents={
        1: [long("BTC", entry=99, stop=95, limit=True)],
        2: [long("BTC", entry=98, stop=95, limit=True)],
    }, exits={4: [("BTC", "signal")]})
    rec = run_kernel(data, script, policy=entry_policy(expiry="24h"))
    cancelled = events(rec, "limit_cancelled")
    assert list(zip(cancelled["ts"], cancelled["rule"], strict=True)) == [(b.ts(3), "replaced"), (b.ts(5), "signal")]
    seen = script.held_seen[2][BTC]
    assert seen.resting and seen.side is Side.LONG
    assert rec.trades_frame().empty and rec.limit_entries["placed"] == 2


def test_policy_entry_type_limit_turns_market_intents_into_limits_off_the_decision_price() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, (100, 100.2, 99.9, 100), (100, 100, 99.8, 100), 100]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=95)]})
    rec = run_kernel(data, script, policy=entry_policy(type="limit", limit_offset=0.0015))
    trade = only_trade(rec)
    assert (trade["entry_ts"], trade["entry_price"]) == (b.ts(3), 99.85)


def test_an_entry_is_only_a_market_or_a_limit_order() -> None:
    with pytest.raises(ValueError, match="market or a limit"):
        Intent(0, BTC, Side.LONG, 0.5, 100.0, 95.0, order_type=OrderType.STOP_MARKET)
