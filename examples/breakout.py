"""An example strategy: a channel breakout, written the way any strategy of your own is.

Run it on the synthetic market (from the project folder, after ``make test`` or ``make demo`` set up .venv)::

    quantum-trader data synth --days 60 --assets BTC,ETH,SOL --catalog synth-catalog
    quantum-trader backtest --catalog synth-catalog --symbols BTC,ETH,SOL --phase 2 \\
        --strategy examples/breakout.py:Breakout --param window=48

``--strategy`` takes ``path/to/file.py:ClassName`` or ``module:ClassName`` (a module importable from the
working folder or PYTHONPATH); each ``--param NAME=VALUE`` is passed to the constructor, read as the type
its annotation says. The whole risk policy applies: the risk engine sizes each intent from its stop,
ranks competing intents by ``edge_score`` and may refuse or cut them; the kill switch and asset locks
close positions whatever the strategy says.

A strategy is a class with three members (``quantum_trader.engine.strategy.Strategy``):

* ``name``: names the run;
* ``start(symbols, timeframe, policy) -> Subscription``: called once before the first bar (and again
  before another run): reset your state, and say on which bars ``on_bar`` is called and how many of them
  back it reads;
* ``on_bar(view) -> Decision``: called at each close of the subscribed timeframe, in time order, with
  what is known then and nothing later; returns entry intents and exits.

The same ``on_bar`` runs in a backtest, in paper trading and live, so a strategy cannot see the future:
``view.bars`` ends at the bar that just closed.
"""

from __future__ import annotations

import numpy as np

from quantum_trader.config import Policy
from quantum_trader.domain.trading import Intent, Side
from quantum_trader.engine.strategy import Decision, StrategyView, Subscription


class Breakout:
    """Go long when a close breaks above the highest high of the last ``window`` bars, short below the lowest
    low; exit when the close crosses back over the channel's middle. The stop is ``stop_ranges`` average bar
    ranges away from the entry; the edge score is how far the close broke out, in average ranges (capped at 1).
    """

    name = "breakout"

    def __init__(self, window: int = 24, stop_ranges: float = 3.0, timeframe: str = "1h") -> None:
        if window < 2:
            raise ValueError(f"window must be at least 2, got {window}")
        if not stop_ranges > 0:
            raise ValueError(f"stop_ranges must be > 0, got {stop_ranges}")
        self.window, self.stop_ranges, self.timeframe = window, stop_ranges, timeframe

    def start(self, symbols: tuple[str, ...], timeframe: str, policy: Policy) -> Subscription:
        # on_bar runs at each close of self.timeframe (the market's bars are aggregated to it) and reads the
        # last window + 1 bars: live, only those are kept. This strategy keeps no state of its own between
        # bars, so there is nothing to reset here.
        return Subscription(self.timeframe, lookback=self.window + 1)

    def on_bar(self, view: StrategyView) -> Decision:
        intents: list[Intent] = []
        exits: list[tuple[str, str]] = []
        for symbol in view.symbols:
            if symbol not in view.closed:  # no bar of it closed now (a gap, not listed yet, or delisted)
                continue
            bars = view.bars[symbol]
            if len(bars) <= self.window:  # not enough history yet
                continue
            high, low = bars.high[-self.window - 1:-1], bars.low[-self.window - 1:-1]
            upper, lower = float(high.max()), float(low.min())
            bar_range = float(np.mean(high - low))
            close = float(bars.close[-1])
            held = view.held.get(symbol)  # a position held (or a limit entry resting) on this symbol
            middle = (upper + lower) / 2
            if held is not None and (close - middle) * held.side.sign < 0:
                exits.append((symbol, "channel middle"))
            side = Side.LONG if close > upper else Side.SHORT if close < lower else None
            if side is None or bar_range <= 0 or (held is not None and held.side is side):
                continue
            level = upper if side is Side.LONG else lower
            intents.append(Intent(
                ts=int(bars.ts[-1]), symbol=symbol, side=side,
                edge_score=min(1.0, abs(close - level) / bar_range),
                entry_price=close,
                stop_price=close - side.sign * self.stop_ranges * bar_range,
                source=self.name,
                reasons=(f"close {close:.6g} broke the {self.window}-bar {'high' if side is Side.LONG else 'low'} "
                         f"{level:.6g}",),
            ))
        return Decision(intents, exits)
