"""The books balance: whatever happens in a run, cash at the end is the deposit plus the trades.

Random but seeded markets (several assets, funding settlements, spreads, gaps through
stops) and a random script of entries and exits: the trades' ``pnl`` (net of fees and
funding) must add up to the change in cash, every fill must belong to a trade, and
nothing may fill before it was decided.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantum_trader.domain.trading import Intent
from quantum_trader.engine.strategy import Held
from quantum_trader.testkit import (
    INITIAL_EQUITY,
    BarSpec,
    MarketBuilder,
    ScriptedDecisions,
    intent,
    long,
    run_kernel,
)

ASSETS = ("BTC", "ETH", "SOL", "BNB")
ROWS = 72


def _random_market(rng: np.random.Generator) -> MarketBuilder:
    b = MarketBuilder()
    for asset in ASSETS:
        close = 100.0 * np.exp(np.cumsum(rng.standard_t(3, ROWS) * 0.012))
        bars: list[BarSpec] = []
        prev = 100.0
        for c in close:
            # Occasional gaps: the bar opens away from the previous close.
            o = prev * (1.0 + (rng.normal(0.0, 0.03) if rng.random() < 0.08 else 0.0))
            hi = max(o, c) * (1.0 + abs(rng.normal(0.0, 0.004)))
            lo = min(o, c) * (1.0 - abs(rng.normal(0.0, 0.004)))
            bars.append((round(o, 3), round(hi, 3), round(lo, 3), round(float(c), 3)))
            prev = float(c)
        b.bars(asset, bars, volume=float(rng.uniform(500.0, 5_000.0)))
        b.spread(asset, float(rng.uniform(0.0001, 0.001)))
        for row in range(0, ROWS, 8):
            b.funding(asset, row=row, rate=float(rng.normal(0.0001, 0.0003)))
    return b


def _random_script(rng: np.random.Generator, b: MarketBuilder) -> ScriptedDecisions:
    data = b.build()
    close = {a: data.grid.close[:, data.grid.index(f"{a}/USDT:USDT")] for a in ASSETS}
    intents: dict[int, list[Intent]] = {}
    exits: dict[int, list[tuple[str, str]]] = {}
    for row in range(1, ROWS - 2):
        for asset in ASSETS:
            u = rng.random()
            price = float(close[asset][row])
            if u < 0.06:
                side = "long" if rng.random() < 0.5 else "short"
                distance = price * float(rng.uniform(0.01, 0.08)) * (1 if side == "long" else -1)
                intents.setdefault(row, []).append(
                    intent(asset, side, entry=price, stop=price - distance, edge=float(rng.uniform(0.1, 0.9))))
            elif u < 0.10:
                exits.setdefault(row, []).append((asset, "signal"))
    return ScriptedDecisions.at_closes(data, intents=intents, exits=exits)


@pytest.mark.parametrize("seed", range(6))
def test_final_cash_is_deposit_plus_every_trades_net_pnl(seed: int) -> None:
    rng = np.random.default_rng(seed)
    b = _random_market(rng)
    script = _random_script(rng, b)
    rec = run_kernel(b.build(), script, slippage=True)
    trades = rec.trades_frame()
    equity = rec.equity_frame()
    assert len(trades) > 3, "the script should trade"
    final = equity.iloc[-1]
    assert final["open_positions"] == 0 and final["equity"] == pytest.approx(final["cash"], abs=1e-9)
    assert final["cash"] == pytest.approx(float(INITIAL_EQUITY) + trades["pnl"].sum(), abs=1e-6)
    assert rec.fills == 2 * len(trades) <= rec.orders  # every order a fill, but protective stops that never fired
    assert (trades["fees"] > 0).all()
    assert trades[["entry_price", "exit_price"]].map(math.isfinite).all().all()
    decided = set(script.close_ts.tolist())
    assert set(trades["entry_ts"]) <= decided  # latency 1: every entry at the open right after a decision
    assert (trades["exit_ts"] >= trades["entry_ts"]).all()
    assert (trades["funding_paid"] != 0).any()


def test_exits_see_each_held_position_with_its_side_source_and_decision() -> None:
    b = MarketBuilder().bars("BTC", [100.0] * 8).bars("ETH", [50.0] * 8)
    data = b.build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90)]},
                                         exits={4: [("BTC", "signal"), ("ETH", "signal")]}, also=[3])
    rec = run_kernel(data, script)
    assert script.held_seen[0] == {}
    held = Held(side=script.intents(0)[0].side, source="scripted", opened_k=0)
    assert script.held_seen[1] == {"BTC/USDT:USDT": held}
    assert script.held_seen[2] == {"BTC/USDT:USDT": held}
    trades = rec.trades_frame()  # the exit of ETH, never held, is ignored
    assert list(trades["symbol"]) == ["BTC/USDT:USDT"] and trades.iloc[0]["exit_ts"] == b.ts(5)
