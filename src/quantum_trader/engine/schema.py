"""The columns of what a run leaves behind: trades, the equity curve and events.

Defined by the engine, which produces them; the run folder (``analytics.run_folder``)
writes and reads them, and checks every file against these names.
"""

from __future__ import annotations

from typing import Final

TRADE_COLUMNS: Final = (
    "symbol", "side", "entry_ts", "exit_ts", "entry_price", "exit_price", "quantity", "notional_at_entry",
    "equity_at_entry", "stop", "planned_risk", "pnl", "fees", "funding_paid", "exit_reason", "signal",
    "entry_slippage",
)
"""Schema of trades.parquet. Costs are positive when paid, everywhere (trades, metrics.json, headline,
report): ``fees`` and ``funding_paid`` (negative when the trade received funding); ``pnl`` is net of both.
``signal`` is the source of the intent that opened the trade ('' when not recorded); ``entry_slippage`` the
slippage paid at entry as a fraction of the reference price (the fill bar's open for a market entry;
positive: paid; 0 for a maker fill at its own price; NaN when not recorded)."""

PRICE_COLUMNS: Final = ("ts", "symbol", "close")
"""Schema of prices.parquet: per symbol, the close of each bar ending on a UTC hour plus the first and last
bar (``ts`` is the bar's close time, epoch ms): enough to chart prices and buy-and-hold beside the trades."""

EQUITY_COLUMNS: Final = (
    "ts", "equity", "cash", "total_exposure", "correlated_exposure", "open_positions",
    "slots_tier_1", "slots_tier_2", "slots_tier_3", "drawdown",
)
"""Schema of equity.parquet; exposures are notional / equity, ``drawdown`` a negative fraction from peak."""

EVENT_COLUMNS: Final = ("ts", "kind", "symbol", "rule", "message", "value", "limit")
"""Schema of events.parquet; ``symbol``/``rule`` are '' and ``value``/``limit`` NaN when they do not apply."""
