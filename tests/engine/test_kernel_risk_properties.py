"""The risk engine holds through the whole kernel, whatever the market and the orders (hypothesis).

Random markets (drifts, crashes, gaps), random entries (market and limit, long and short,
near and far stops) and random exits run through the kernel under the default policy.
At every entry fill, checked inside the kernel as it happens:
- no entry while the kill switch is tripped, none in an asset locked for the day;
- open positions within ``max_positions``;
- the position within ``max_position_size`` and the book within ``max_total_exposure``,
  up to one bar's move between the risk engine's prices and the fill (``TOLERANCE``);
and at the end the ledger reconciles: cash is the deposit plus the trades' net P&L.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.trading import Intent, OrderEvent, OrderPurpose, Side
from quantum_trader.engine.core import TradingKernel
from quantum_trader.engine.inputs import KernelSettings
from quantum_trader.engine.kernel import Kernel
from quantum_trader.testkit import INITIAL_EQUITY, MarketBuilder, ScriptedDecisions, intent, policy_with

ASSETS = ("BTC", "ETH", "SOL", "BNB")
BARS = 60
TOLERANCE = 1.0 + 1e-9
"""Bars open at the previous close (but for crashes, which only lower exposure), so a fill sees the
prices the risk engine sized it at."""
POLICY = policy_with()


@dataclass
class Checker:
    """Told of every fill (a kernel listener): the limits asserted at the moment of each entry fill."""

    violations: list[str] = field(default_factory=list)

    def __call__(self, event: OrderEvent, kernel: TradingKernel) -> None:
        if event.order.purpose is not OrderPurpose.ENTRY or event.fill is None:
            return
        fill = event.fill
        symbol = fill.symbol
        switch = kernel.switch
        figures = kernel.ledger.figures
        where = f"{fill.ts} {symbol}"
        if switch.tripped:
            self.violations.append(f"{where}: entry while the kill switch is tripped")
        if switch.is_locked(asset_of(symbol)):
            self.violations.append(f"{where}: entry in a locked asset")
        if kernel.ledger.positions[symbol].size != fill.quantity:
            self.violations.append(f"{where}: added to a held position")
        limits = kernel.policy
        if len(figures.symbols) > limits.portfolio.max_positions:
            self.violations.append(f"{where}: {len(figures.symbols)} positions")
        share = figures.notional[symbol] / figures.equity
        if share > limits.per_asset.max_position_size * TOLERANCE:
            self.violations.append(f"{where}: position {share:.2%} of equity")
        if figures.total_exposure > limits.portfolio.max_total_exposure * TOLERANCE:
            self.violations.append(f"{where}: total exposure {figures.total_exposure:.2%}")


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    paths = {}
    crashes = draw(st.sets(st.integers(5, BARS - 1), max_size=3))  # every asset gaps 30% down at once
    for asset in ASSETS:
        moves = np.asarray(draw(st.lists(st.one_of(st.floats(-0.01, 0.01), st.sampled_from([-0.05, -0.03, 0.03])),
                                         min_size=BARS, max_size=BARS)))
        moves[sorted(crashes)] = -0.3
        close = np.round(100.0 * np.cumprod(1.0 + moves), 2)
        opens = np.r_[100.0, close[:-1]]
        opens[sorted(crashes)] = close[sorted(crashes)]  # a crash gaps: stops fill at the open, below them
        paths[asset] = [(float(o), float(max(o, c) * 1.003), float(min(o, c) * 0.997), float(c))
                        for o, c in zip(opens, close, strict=True)]
    entries = draw(st.lists(st.tuples(st.integers(0, BARS - 3), st.sampled_from(ASSETS), st.sampled_from(Side),
                                      st.floats(0.005, 0.15), st.booleans(), st.floats(0.1, 1.0)),
                            max_size=30))
    basket = draw(st.none() | st.integers(0, BARS - 10))  # every asset entered at once: a crash then hurts
    if basket is not None:
        entries += [(basket, asset, Side.LONG, 0.12, False, 0.9) for asset in ASSETS]
    exits = draw(st.lists(st.tuples(st.integers(0, BARS - 3), st.sampled_from(ASSETS)), max_size=8))
    return {"paths": paths, "entries": entries, "exits": exits}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_entry_fill_ever_breaks_a_limit_and_the_ledger_reconciles(case: dict[str, Any]) -> None:
    b = MarketBuilder()
    for asset, rows in case["paths"].items():
        b.bars(asset, rows)
    data = b.build()
    intents: dict[int, dict[str, Intent]] = {}
    for row, asset, side, stop_distance, limit, edge in case["entries"]:
        close = case["paths"][asset][row][3]
        entry = round(close * (1 - side.sign * 0.002), 2) if limit else close
        stop = round(entry * (1 - side.sign * stop_distance), 2)
        intents.setdefault(row, {})[asset] = intent(asset, side, entry=entry, stop=stop, edge=edge, limit=limit)
    exits: dict[int, list[tuple[str, str]]] = {}
    for row, asset in case["exits"]:
        exits.setdefault(row, []).append((asset, "signal"))
    script = ScriptedDecisions.at_closes(data, intents={r: list(v.values()) for r, v in intents.items()},
                                         exits=exits, correlation=np.full((4, 4), 0.5) + 0.5 * np.eye(4))
    checker = Checker()
    kernel = Kernel(data, KernelSettings(policy=POLICY, initial_equity=INITIAL_EQUITY, slippage=False),
                    listeners=[checker])
    rec = kernel.run(script)
    assert not checker.violations, "\n".join(checker.violations)
    trades = rec.trades_frame()
    event(f"trades: {'none' if trades.empty else 'some'}; kill switch: {'tripped' if rec.kill_switch_trips else 'no'}")
    final_cash = float(rec.equity_frame()["cash"].iloc[-1])
    assert abs(final_cash - (float(INITIAL_EQUITY) + float(trades["pnl"].sum()))) < 1e-6
    assert rec.equity_frame()["open_positions"].iloc[-1] == 0
