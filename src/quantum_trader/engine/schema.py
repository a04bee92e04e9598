"""The columns of what a run leaves behind: trades, the equity curve and events.

Defined by the engine, which produces them; the run folder (``analytics.run_folder``)
writes and reads them, and checks every file against these names.
"""

from __future__ import annotations

from typing import Final

TRADE_COLUMNS: Final = (
    "symbol", "side", "entry_ts", "exit_ts", "entry_price", "exit_price", "quantity", "notional_at_entry",
    "equity_at_entry", "stop", "planned_risk", "pnl", "fees", "funding", "exit_reason",
)
"""Schema of trades.parquet; ``pnl`` is net of fees and funding."""

EQUITY_COLUMNS: Final = (
    "ts", "equity", "cash", "total_exposure", "correlated_exposure", "open_positions",
    "slots_tier_1", "slots_tier_2", "slots_tier_3", "drawdown",
)
"""Schema of equity.parquet; exposures are notional / equity, ``drawdown`` a negative fraction from peak."""

EVENT_COLUMNS: Final = ("ts", "kind", "symbol", "rule", "message", "value", "limit")
"""Schema of events.parquet; ``symbol``/``rule`` are '' and ``value``/``limit`` NaN when they do not apply."""
