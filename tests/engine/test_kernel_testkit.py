"""The testkit's builders: what users and tests rely on when they hand-make a market."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantum_trader.config import PolicyError
from quantum_trader.domain.trading import Side
from quantum_trader.testkit import T0, MarketBuilder, MarketSpecError, ScriptedDecisions, long, policy_with


def test_bars_are_aligned_on_one_grid_with_gaps_invalid_and_marks_carried() -> None:
    data = (MarketBuilder().bars("BTC", [100, (100, 102, 99, 101), None, 103])
            .bars("ETH", [50, 50, 50, 50, 51]).build())
    grid = data.grid
    assert grid.symbols == ("BTC/USDT:USDT", "ETH/USDT:USDT")
    assert grid.ts.tolist() == [T0 + i * 3_600_000 for i in range(5)]
    btc = grid.index("BTC/USDT:USDT")
    assert grid.valid[:, btc].tolist() == [True, True, False, True, False]
    assert (grid.open[1, btc], grid.high[1, btc], grid.low[1, btc], grid.close[1, btc]) == (100, 102, 99, 101)
    assert math.isnan(grid.open[2, btc]) and grid.mark[2, btc] == 101.0 and grid.mark[4, btc] == 103.0
    assert data.instruments["BTC/USDT:USDT"].tick_size == data.instruments["ETH/USDT:USDT"].tick_size * 10


def test_funding_and_spread_reach_the_market_data() -> None:
    b = MarketBuilder().bars("BTC", [100] * 10).funding("BTC", row=8, rate=0.0001).spread("BTC", 0.0005)
    data = b.build()
    funding = data.funding["BTC/USDT:USDT"]
    assert funding.ts.tolist() == [b.ts(8)] and funding.rate.tolist() == [0.0001]
    assert data.spread == {"BTC/USDT:USDT": 0.0005}


@pytest.mark.parametrize(("rows", "message"), [
    ([100, (100, 99, 98, 100)], "BTC/USDT:USDT row 1: high 99.0"),
    ([(100, 101, 100.5, 100)], "row 0: high 101.0 must be >= open and close and low 100.5"),
    ([100, -1], "row 1: prices must be finite and > 0"),
    ([100, "100"], "row 1: a bar is a price"),
    ([None, None], "at least one bar"),
])
def test_a_bar_that_cannot_exist_is_one_clear_error_naming_asset_and_row(rows: list[object], message: str) -> None:
    with pytest.raises(MarketSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MarketBuilder().bars("BTC", rows)  # type: ignore[arg-type]


def test_funding_for_an_asset_without_bars_is_refused() -> None:
    with pytest.raises(MarketSpecError, match="funding given for ETH/USDT:USDT"):
        MarketBuilder().bars("BTC", [100]).funding("ETH", row=0, rate=0.0001).build()


def test_scripted_decisions_are_known_at_bar_closes_and_stamp_their_intents() -> None:
    b = MarketBuilder().bars("BTC", [100] * 6)
    data = b.build()
    script = ScriptedDecisions.at_closes(data, intents={3: [long("BTC", entry=100, stop=90)]},
                                         exits={1: [("BTC", "signal")]}, also=[4])
    assert script.close_ts.tolist() == [b.ts(2), b.ts(4), b.ts(5)]
    assert script.intents(0) == [] and script.intents(2) == []
    (entry,) = script.intents(1)
    assert (entry.ts, entry.symbol, entry.side, entry.stop_price) == (b.ts(4), "BTC/USDT:USDT", Side.LONG, 90)
    assert script.exits(0, {}) == [("BTC/USDT:USDT", "signal")]
    assert script.correlation(0) is None


def test_scripted_decisions_reject_rows_off_the_grid_and_bad_matrices() -> None:
    data = MarketBuilder().bars("BTC", [100] * 3).build()
    with pytest.raises(ValueError, match="row 7 is not on the grid"):
        ScriptedDecisions.at_closes(data, intents={7: []})
    with pytest.raises(ValueError, match="correlation must be 1x1"):
        ScriptedDecisions.at_closes(data, also=[0], correlation=np.eye(2))


def test_policy_with_overrides_by_dotted_key_and_by_section() -> None:
    policy = policy_with({"portfolio.max_positions": 3}, venue={"latency_bars": 2})
    assert policy.portfolio.max_positions == 3 and policy.venue.latency_bars == 2
    assert policy.portfolio.max_total_exposure == 0.40  # untouched values keep the spec's defaults
    assert policy.venue.fees["binanceusdm"].taker == 0.0005


def test_policy_with_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT__PORTFOLIO__MAX_POSITIONS", "2")
    assert policy_with().portfolio.max_positions == 5


@pytest.mark.parametrize(("overrides", "message"), [
    ({"portfolio.max_postions": 3}, "portfolio.max_postions: unknown key"),
    ({"per_asset.max_position_size": 1.5}, "per_asset.max_position_size"),
    ({"portfolio..x": 1}, "not a dotted policy key"),
])
def test_policy_with_a_bad_override_is_one_policy_error(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policy_with(overrides)
