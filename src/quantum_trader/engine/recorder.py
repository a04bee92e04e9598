"""What a run leaves behind: trades, the equity curve and every event, as plain rows.

Rows are appended to Python lists during the run (fills and events are rare next to
bars) and turned into DataFrames once at the end, in the run folder's schemas.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from quantum_trader.analytics.metrics import TRADE_COLUMNS
from quantum_trader.analytics.run_folder import EQUITY_COLUMNS, EVENT_COLUMNS
from quantum_trader.domain.trading import Side


@dataclass(slots=True)
class OpenTrade:
    symbol: str
    side: Side
    entry_ts: int
    entry_price: float
    quantity: float
    notional_at_entry: float
    equity_at_entry: float
    stop: float
    planned_risk: float
    fees: float
    funding: float = 0.0


@dataclass
class Recorder:
    trades: list[tuple[object, ...]] = field(default_factory=list)
    equity: list[tuple[object, ...]] = field(default_factory=list)
    events: list[tuple[object, ...]] = field(default_factory=list)
    open: dict[str, OpenTrade] = field(default_factory=dict)
    refusals: Counter[str] = field(default_factory=Counter)
    kill_switch_trips: int = 0
    orders: int = 0
    fills: int = 0

    def event(self, ts: int, kind: str, message: str, *, symbol: str = "", rule: str = "",
              value: float | None = None, limit: float | None = None) -> None:
        self.events.append((ts, kind, symbol, rule, message, math.nan if value is None else float(value),
                            math.nan if limit is None else float(limit)))
        if kind == "kill_switch_trip":
            self.kill_switch_trips += 1

    def close_trade(self, symbol: str, ts: int, price: float, fee: float, realised: float, reason: str) -> None:
        trade = self.open.pop(symbol)
        fees = trade.fees + fee
        pnl = realised - fees + trade.funding
        self.trades.append((
            symbol, trade.side.value, trade.entry_ts, ts, trade.entry_price, price, trade.quantity,
            trade.notional_at_entry, trade.equity_at_entry, trade.stop, trade.planned_risk, pnl, fees,
            trade.funding, reason,
        ))

    def trades_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.trades, columns=list(TRADE_COLUMNS)).astype(
            {"entry_ts": "int64", "exit_ts": "int64"}
        )

    def equity_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.equity, columns=list(EQUITY_COLUMNS))
        return frame.astype({"ts": "int64", "open_positions": "int64", "slots_tier_1": "int64",
                             "slots_tier_2": "int64", "slots_tier_3": "int64"})

    def events_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.events, columns=list(EVENT_COLUMNS)).astype({"ts": "int64"})
