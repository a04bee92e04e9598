"""The portfolio ledger: pure functions over an immutable, exact state.

Entry points for the engine (each returns a NEW :class:`LedgerState`):

- ``new_ledger(deposit, ts)``: an empty account;
- ``apply_fill(state, fill, stop_price=..., instrument=...)``: book an execution;
- ``apply_funding(state, symbol, rate, ts, mark_price=...)``: settle a funding interval;
- ``mark(state, {symbol: price}, ts)``: new marks (floats accepted);
- ``roll_day(state, ts)`` (alias ``on_new_day``): start a UTC day (also done implicitly);
- ``raise_peak`` for a high reached between marks, ``set_stop`` when a stop moves, ``rebase_peak``
  on an operator's kill-switch reset (``risk.reset_drawdown`` calls it for you);
- ``margin_summary(state, policy.margin)``: margin used/free, leverage, liquidation prices;
- ``net_position`` and ``liquidation_prices`` for books kept outside a state (the simulated exchange's).

Read figures from the state: ``equity``, ``cash``, ``unrealised``, ``day_pnl``,
``asset_day_pnl(symbol)``, ``drawdown``, ``exposure(symbol)``, and ``figures`` (floats for
the risk engine).
"""

from quantum_trader.portfolio.ledger import (
    apply_fill,
    apply_funding,
    funding_payment,
    mark,
    net_position,
    new_ledger,
    on_new_day,
    raise_peak,
    rebase_peak,
    roll_day,
    set_stop,
)
from quantum_trader.portfolio.margin import (
    MarginSummary,
    MarginTable,
    compile_margin,
    liquidation_prices,
    maintenance_margin,
    margin_summary,
)
from quantum_trader.portfolio.state import MONEY_QUANTUM, Figures, LedgerError, LedgerState

__all__ = [
    "MONEY_QUANTUM",
    "Figures",
    "LedgerError",
    "LedgerState",
    "MarginSummary",
    "MarginTable",
    "apply_fill",
    "apply_funding",
    "compile_margin",
    "funding_payment",
    "liquidation_prices",
    "maintenance_margin",
    "margin_summary",
    "mark",
    "net_position",
    "new_ledger",
    "on_new_day",
    "raise_peak",
    "rebase_peak",
    "roll_day",
    "set_stop",
]
