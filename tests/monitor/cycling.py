"""A test strategy that trades all the time: a long entry with its stop every ``period`` bars on the first symbol,
closed ``hold`` bars later. What a kill switch does to entries shows at once, whatever the market does."""

from __future__ import annotations

from quantum_trader.config import Policy
from quantum_trader.domain.trading import Intent, Side
from quantum_trader.engine.strategy import Decision, StrategyView, Subscription


class Cycle:
    name = "cycle"

    def __init__(self, period: int = 20, hold: int = 10, timeframe: str = "1m") -> None:
        self.period, self.hold, self.timeframe = period, hold, timeframe

    def start(self, symbols: tuple[str, ...], timeframe: str, policy: Policy) -> Subscription:
        return Subscription(self.timeframe, lookback=2, correlation=False)

    def on_bar(self, view: StrategyView) -> Decision:
        symbol = view.symbols[0]
        if symbol not in view.closed:
            return Decision()
        held = view.held.get(symbol)
        if held is not None:
            return Decision((), [(symbol, "held long enough")] if view.k - held.opened_k >= self.hold else [])
        if view.k % self.period:
            return Decision()
        close = float(view.bars[symbol].close[-1])
        return Decision([Intent(ts=view.ts, symbol=symbol, side=Side.LONG, edge_score=0.5, entry_price=close,
                                stop_price=close * 0.97, source="cycle", reasons=("every period",))])
