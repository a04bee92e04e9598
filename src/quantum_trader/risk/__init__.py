"""The risk engine: every limit of spec section 3 as small rules over the ledger and the market.

Entry points for the engine (all pure: no I/O, no clock, no globals):

- ``limits = compile_limits(policy)``: once per policy (plain floats for the hot path);
- ``market = build_market_view(policy, ts=, phase=, symbols=, correlation=, depth_1pct=,
  marks=, instruments=, edge_assets=)``: once per bar close;
- ``evaluate(intent, ledger, market, limits, switch=switch) -> RiskDecision``;
- ``evaluate_batch(intents, ledger, market, limits, switch=switch) -> BatchResult``: every
  intent of one bar close, competing for slots (decisions in input order, conflicts);
- kill switch: ``switch = armed(ts)``; after each mark ``update(switch, ledger, limits, ts)``
  -> ``SwitchUpdate(state, events, actions)``; ``on_new_day(switch, ts)``;
  ``reset_drawdown(switch, ledger, ts, reason)`` (operator); persist with
  ``switch.to_dict()`` / ``KillSwitchState.from_dict``;
- ``drift(ledger, market, limits, ts) -> DriftReport`` for the alerting layer (and trims).

Actions (``KillSwitchAction``): ``cancel_all``, ``close_all`` (reduce-only),
``refuse_entries``, ``flatten_asset`` (per-asset daily loss; locked until the next UTC
day), ``trim`` (drift action). Events (``RiskEvent``): trip/re-arm/reset/lock/unlock/drift.
"""

from quantum_trader.risk.batch import BatchResult, Conflict, evaluate_batch, fixed_fraction_batch
from quantum_trader.risk.correlation import check_correlation_limit, correlated_exposure
from quantum_trader.risk.drift import DriftReport, drift
from quantum_trader.risk.engine import evaluate
from quantum_trader.risk.events import ActionKind, EventKind, KillSwitchAction, RiskEvent
from quantum_trader.risk.kill_switch import (
    KillSwitchError,
    KillSwitchState,
    SwitchUpdate,
    armed,
    on_new_day,
    reset_drawdown,
    update,
)
from quantum_trader.risk.limits import CompiledLimits, compile_limits
from quantum_trader.risk.market import MarketView, MarketViewError, build_market_view

__all__ = [
    "ActionKind",
    "BatchResult",
    "CompiledLimits",
    "Conflict",
    "DriftReport",
    "EventKind",
    "KillSwitchAction",
    "KillSwitchError",
    "KillSwitchState",
    "MarketView",
    "MarketViewError",
    "RiskEvent",
    "SwitchUpdate",
    "armed",
    "build_market_view",
    "check_correlation_limit",
    "compile_limits",
    "correlated_exposure",
    "drift",
    "evaluate",
    "evaluate_batch",
    "fixed_fraction_batch",
    "on_new_day",
    "reset_drawdown",
    "update",
]
