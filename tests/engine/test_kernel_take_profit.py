"""Take-profit: a resting reduce-only limit at the intent's target, filled as maker."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from quantum_trader.domain.trading import Intent, Side
from quantum_trader.engine.recorder import Recorder
from quantum_trader.portfolio import MONEY_QUANTUM
from quantum_trader.testkit import MarketBuilder, ScriptedDecisions, long, run_kernel, short

MAKER = Decimal("0.0002")


def only_trade(rec: Recorder) -> dict[str, object]:
    trades = rec.trades_frame()
    assert len(trades) == 1, trades
    return dict(trades.iloc[0])


@pytest.mark.parametrize("plain", [False, True])
def test_target_touched_inside_a_bar_fills_at_the_target_as_maker(plain: bool) -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, (101, 106, 100.5, 104), 104]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=95, target=105)]})
    trade = only_trade(run_kernel(data, script, plain=plain))
    assert (trade["exit_price"], trade["exit_reason"], trade["exit_ts"]) == (105.0, "target", b.ts(3))
    q = Decimal(str(float(trade["quantity"])))  # type: ignore[arg-type]
    exit_fee = (q * Decimal("105") * MAKER).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)
    assert trade["fees"] == pytest.approx(float(exit_fee) + float(
        (q * Decimal("100") * Decimal("0.0005")).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)), abs=1e-9)


def test_a_gap_through_the_target_fills_at_the_target_not_the_better_open() -> None:
    """The resting order was in the book while the price travelled past it: taken at its own price."""
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, (108, 109, 107, 108), 108]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=95, target=105)]})
    trade = only_trade(run_kernel(data, script))
    assert (trade["exit_price"], trade["exit_reason"]) == (105.0, "target_gap")


def test_a_bar_touching_stop_and_target_takes_the_stop() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, (100, 106, 94, 100), 100]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=95, target=105)]})
    trade = only_trade(run_kernel(data, script))
    assert (trade["exit_price"], trade["exit_reason"]) == (95.0, "stop")


def test_a_short_target_is_reached_by_the_low() -> None:
    b = MarketBuilder()
    data = b.bars("BTC", [100, 100, 100, (99, 99.5, 94, 95), 95]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [short("BTC", entry=100, stop=105, target=95)]})
    trade = only_trade(run_kernel(data, script))
    assert (trade["exit_price"], trade["exit_reason"]) == (95.0, "target")


def test_a_target_on_the_losing_side_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="not on the winning side"):
        Intent(0, "BTC/USDT:USDT", Side.LONG, 0.5, 100.0, 95.0, target_price=99.0)
