"""One coarse bar touching both stop and target: finer bars decide, else the stop is assumed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from quantum_trader.domain.market import BarSeries
from quantum_trader.testkit import MarketBuilder, ScriptedDecisions, long, run_kernel

HOUR = 3_600_000


def _minutes(start: int, path: list[tuple[float, float, float, float]]) -> BarSeries:
    ts = start + np.arange(len(path), dtype=np.int64) * 60_000
    o, h, lo, c = (np.array(col, dtype=np.float64) for col in zip(*path, strict=True))
    return BarSeries("BTC/USDT:USDT", "1m", ts, o, h, lo, c, np.ones(len(path)))


@pytest.mark.parametrize(
    ("path", "reason", "price"),
    [
        ([(100, 105.5, 99.5, 105), (105, 105, 94, 94)], "target", 105.0),  # up to the target first
        ([(100, 100.5, 94.5, 95), (95, 106, 95, 106)], "stop", 95.0),      # down to the stop first
    ],
)
def test_finer_bars_decide_which_level_came_first(path: list[tuple[float, float, float, float]], reason: str,
                                                  price: float) -> None:
    b = MarketBuilder(timeframe="1h")
    data = b.bars("BTC", [100, 100, 100, (100, 106, 94, 100), 100]).build()
    data = replace(data, finer={"BTC/USDT:USDT": _minutes(b.ts(3), path)})
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=95, target=105)]})
    trade = run_kernel(data, script).trades_frame().iloc[0]
    assert (trade["exit_reason"], trade["exit_price"], trade["exit_ts"]) == (reason, price, b.ts(3))


def test_without_finer_bars_the_stop_is_assumed() -> None:
    b = MarketBuilder(timeframe="1h")
    data = b.bars("BTC", [100, 100, 100, (100, 106, 94, 100), 100]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=95, target=105)]})
    trade = run_kernel(data, script).trades_frame().iloc[0]
    assert (trade["exit_reason"], trade["exit_price"]) == ("stop", 95.0)
