"""What ``on_bar`` is shown: the bars closed by the decision's time and nothing later, read-only, the held
positions the kernel passes, and one call per decision in time order (a replay over ``IncrementalDecisions``)."""

from __future__ import annotations

import numpy as np
import pytest
from tests.engine.strategy_cases import gapped

from quantum_trader.config import Policy
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.domain.trading import Side
from quantum_trader.engine.incremental import IncrementalDecisions
from quantum_trader.engine.strategy import Decision, Held, StrategyError, StrategyView, Subscription
from quantum_trader.testkit import policy_with
from quantum_trader.testkit.random_walk import random_walk_market

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")
HOUR = timeframe_ms("1h")


class Spy:
    """Records what each ``on_bar`` could read, and tries to write into the bars."""

    name = "spy"

    def __init__(self) -> None:
        self.seen: list[StrategyView] = []
        self.starts = 0

    def start(self, symbols: tuple[str, ...], timeframe: str, policy: Policy) -> Subscription:
        self.starts += 1
        self.seen = []
        return Subscription("1h", lookback=4, correlation=False)

    def on_bar(self, view: StrategyView) -> Decision:
        for window in view.bars.values():
            if len(window):
                with pytest.raises(ValueError, match="read-only"):
                    window.close[-1] = 0.0
        self.seen.append(view)
        return Decision()


@pytest.fixture
def market() -> dict[str, BarSeries]:
    """Two days of 15m bars; ETH starts 3h late and misses 01:00-03:00 on the second day."""
    bars = random_walk_market(SYMBOLS, 2 * 96, "15m", seed=2, vol=0.004)
    return gapped(bars, {SYMBOLS[1]: [(0, 12), (96 + 4, 8)]})


def test_each_view_ends_at_its_close_and_says_which_symbols_closed(market: dict[str, BarSeries]) -> None:
    spy = Spy()
    decisions = IncrementalDecisions.replay(spy, market, policy_with())
    held = {SYMBOLS[0]: Held(Side.LONG, "x", 0)}
    for k in range(decisions.close_ts.size):
        decisions.exits(k, held)
    assert len(spy.seen) == 48 and [v.k for v in spy.seen] == list(range(48))
    for view in spy.seen:
        assert view.held == held
        for symbol, window in view.bars.items():
            source = market[symbol]
            known = source.ts[source.ts + timeframe_ms("15m") <= view.ts]  # 15m bars closed by then
            hours = np.unique(known - known % HOUR)
            complete = hours[hours + HOUR <= view.ts]
            np.testing.assert_array_equal(window.ts, complete)
            assert (symbol in view.closed) == (complete.size > 0 and complete[-1] + HOUR == view.ts)
            if len(window):
                assert window.last().close == window.close[-1]
    late = [v for v in spy.seen if SYMBOLS[1] not in v.closed]
    assert [v.ts // HOUR % 24 for v in late] == [1, 2, 3, 2, 3], "ETH's late start and its gap"


def test_a_run_ahead_for_intents_then_the_run_restarts_the_strategy(market: dict[str, BarSeries]) -> None:
    spy = Spy()
    decisions = IncrementalDecisions.replay(spy, market, policy_with())
    assert spy.starts == 1
    for k in range(decisions.close_ts.size):
        decisions.intents(k)
    assert len(spy.seen) == 48 and all(not v.held for v in spy.seen)
    decisions.exits(0, {})
    assert spy.starts == 2 and len(spy.seen) == 1, "started afresh for the run itself"
    decisions.exits(3, {})
    with pytest.raises(ValueError, match="decision 0 was taken already"):
        decisions.exits(0, {})


class Wrong(Spy):
    def __init__(self, answer: object) -> None:
        super().__init__()
        self.answer = answer

    def on_bar(self, view: StrategyView) -> Decision:
        return self.answer  # type: ignore[return-value]


@pytest.mark.parametrize(("answer", "message"), [
    (None, "on_bar returned NoneType, not a Decision (intents, exits)"),
    (([], [], []), "on_bar returned tuple, not a Decision"),
    (("buy", []), "on_bar's intents must be a list, got str"),
    (([], [("DOGE/USDT:USDT", "x")]), "an exit is (symbol, reason) with a symbol of BTC/USDT:USDT, ETH/USDT:USDT"),
    (([], ["BTC/USDT:USDT"]), "an exit is (symbol, reason)"),
    (([1], []), "an intent must be an Intent on one of BTC/USDT:USDT, ETH/USDT:USDT, got 1"),
])
def test_an_answer_of_the_wrong_shape_is_one_line(market: dict[str, BarSeries], answer: object, message: str) -> None:
    decisions = IncrementalDecisions.replay(Wrong(answer), market, policy_with())
    with pytest.raises(StrategyError) as info:
        decisions.exits(0, {})
    assert str(info.value).startswith("strategy spy: ") and message in str(info.value)


def test_a_plain_pair_is_a_decision(market: dict[str, BarSeries]) -> None:
    decisions = IncrementalDecisions.replay(Wrong(([], [(SYMBOLS[0], "why")])), market, policy_with())
    assert decisions.exits(0, {}) == [(SYMBOLS[0], "why")] and decisions.intents(0) == []


def test_a_subscription_the_market_cannot_make_is_refused(market: dict[str, BarSeries]) -> None:
    class Odd(Spy):
        def start(self, symbols: tuple[str, ...], timeframe: str, policy: Policy) -> Subscription:
            return Subscription("20m")

    with pytest.raises(ValueError, match=r"strategy spy: the subscription's timeframe \(20m\) cannot be built from "
                                         r"15m bars"):
        IncrementalDecisions.replay(Odd(), market, policy_with())
