"""Builders for tests and for users' own experiments: hand-made markets, scripted strategies,
policies with overrides, and a one-call kernel run.

    from quantum_trader.testkit import MarketBuilder, ScriptedDecisions, long, policy_with, run_kernel

    data = MarketBuilder().bars("BTC", [100, 100, 100, (90, 92, 88, 91), 91]).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=95)]})
    rec = run_kernel(data, script)          # rec.trades_frame(): one trade, exit_reason 'stop_gap' at 90
"""

from quantum_trader.testkit.decisions import ScriptedDecisions, intent, long, short
from quantum_trader.testkit.market import T0, BarSpec, MarketBuilder, MarketSpecError
from quantum_trader.testkit.policy import policy_with
from quantum_trader.testkit.random_walk import random_walk_bars, random_walk_market
from quantum_trader.testkit.run import INITIAL_EQUITY, run_kernel

__all__ = [
    "INITIAL_EQUITY",
    "T0",
    "BarSpec",
    "MarketBuilder",
    "MarketSpecError",
    "ScriptedDecisions",
    "intent",
    "long",
    "policy_with",
    "random_walk_bars",
    "random_walk_market",
    "run_kernel",
    "short",
]
