"""The reference strategy of other engines, for differential tests and benchmarks.

backtesting.py's classic SmaCross (close, then reverse on each cross), defined once so the
differential test and the speed benchmark compare our engine against the same thing.
backtesting.py is a test dependency (``pip install -e '.[test]'``), imported on use.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from quantum_trader.domain.market import BarSeries


def _sma(values: Any, n: int) -> pd.Series:
    return pd.Series(values).rolling(n).mean()


def backtesting_sma_cross(fast: int, slow: int) -> Any:
    """A ``backtesting.Strategy`` subclass: long on fast crossing above slow, short on the reverse."""
    try:
        from backtesting import Strategy
        from backtesting.lib import crossover
    except ImportError:  # pragma: no cover - the test extras install it
        raise ImportError("backtesting.py is needed for the reference strategy: pip install -e '.[test]'") from None

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.sma1 = self.I(_sma, self.data.Close, fast)
            self.sma2 = self.I(_sma, self.data.Close, slow)

        def next(self) -> None:
            if crossover(self.sma1, self.sma2):
                self.position.close()
                self.buy()
            elif crossover(self.sma2, self.sma1):
                self.position.close()
                self.sell()

    return SmaCross


def backtesting_frame(bars: BarSeries) -> pd.DataFrame:
    """Bars as backtesting.py reads them (capitalised OHLCV, a datetime index)."""
    return pd.DataFrame(
        {"Open": bars.open, "High": bars.high, "Low": bars.low, "Close": bars.close, "Volume": bars.volume},
        index=pd.to_datetime(bars.ts, unit="ms"),
    )
