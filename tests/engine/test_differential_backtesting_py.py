"""Differential test: our kernel in plain mode against backtesting.py 0.6 on real hourly candles (five assets).

The same strategy (backtesting.py's classic ``SmaCross``: on a crossover, ``position.close()``
then ``buy()``/``sell()``), the same data (Binance spot BTCUSDT 1h, 17,521 bars; spot stands
in for the perpetual here, both engines see the same prices), the same commission on both
sides, no slippage. Both engines must trade the same bars and end with the same equity.

Conventions matched, and how:
- Fills: an order decided at a bar's close fills at the next bar's open (backtesting.py's
  default, ``trade_on_close=False``; our ``venue.latency_bars`` = 1). On a cross the close
  fills first, then the new order is sized from what the close left (backtesting.py puts
  ``trade.close()`` orders at the head of its queue; our kernel runs exits before intents).
- Sizing: backtesting.py's ``buy()`` uses size ``1 - eps``: ``floor(margin_available * (1 - eps)
  / (open * (1 + c)))`` whole units, the commission-adjusted price. ``FractionalBacktest``
  with a one-satoshi unit makes the unit 1e-8 BTC; our plain mode sizes
  ``round_down(equity * fixed_fraction / (open * (1 + taker)))`` to the lot, so the
  instrument here has lot 1e-8 (and tick 0.0001, the candles' own precision or finer, so no
  price is re-rounded) and ``sizing.fixed_fraction = 1 - eps`` (the comparison profile,
  ``sizing.mode: fixed_fraction``, sized by the venue at the fill). The two differ only in float rounding of
  the quotient, at most one lot (1e-8 BTC) on a rare trade, plus float noise of the equity
  (1e-12 of the size: a few lots on XRP's 200,000-unit trades): the test allows that, nothing more.
- Commission: ``c * |size| * price`` at entry and at exit (backtesting.py's relative
  commission; our fee model's taker rate, no maker fills in plain mode).
- Signals: both SMAs are pandas' rolling means of the close, the crossover is
  ``a[-2] < b[-2] and a[-1] > b[-1]``, and a cross in the direction already held closes and
  reopens, in both engines. Averages equal within 1e-12 of their size count as equal (neither
  below nor above): FractionalBacktest rescales prices, so float noise at an exact tie falls
  either way there, and ours must not depend on it.
- The end: backtesting.py (``finalize_trades=False``) leaves the last trade open and values
  it at the last close, its "Equity Final" = cash + unrealised P&L there, no exit
  commission. Our kernel closes it at that same close and pays the exit fee (a run must end
  flat so that every fee is in the books). So the last trade is compared with
  backtesting.py's open trade, and our final equity with its Equity Final minus
  ``c * |size| * last close``. (``finalize_trades=True`` would instead close at the last bar's
  *open*, a price older than the close the curve was just marked at; we do not copy that.)
- No funding (the candles carry none), no portfolio limits, no kill switch (plain mode).
"""

from __future__ import annotations

import sys
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import read_candles

from quantum_trader.config import load_policy
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.market import BarSeries
from quantum_trader.engine.grid import build_grid
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.strategies import SmaCrossStrategy
from quantum_trader.testkit.reference import backtesting_frame, backtesting_sma_cross

bt = pytest.importorskip("backtesting", reason="backtesting.py is the reference engine of this test")
from backtesting.lib import FractionalBacktest  # noqa: E402

COMMISSION = 0.0005
CASH = 100_000.0
SATOSHI = Decimal("0.00000001")
FRACTION = 1.0 - sys.float_info.epsilon
"""backtesting.py's default ``size`` for ``buy()``/``sell()``: "all available margin"."""


def _reference(bars: BarSeries, fast: int, slow: int) -> tuple[pd.DataFrame, pd.Series]:
    frame = backtesting_frame(bars)
    engine = FractionalBacktest(frame, backtesting_sma_cross(fast, slow), cash=CASH, commission=COMMISSION,
                                finalize_trades=False, fractional_unit=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open": deliberate, see the module docstring
        stats = engine.run()
    return stats["_trades"], stats


def _ours(bars: BarSeries, fast: int, slow: int) -> pd.DataFrame:
    # An explicit env: a developer's QT__ variables must not move this comparison.
    policy = load_policy(env={"QT__VENUE__EXCHANGE": "binanceusdm", "QT__VENUE__LATENCY_BARS": "1",
                              "QT__VENUE__FEES__BINANCEUSDM__TAKER": str(COMMISSION)})
    instrument = Instrument(symbol=bars.symbol, tick_size=Decimal("0.0001"), lot_size=SATOSHI, min_notional=Decimal(0))
    data = MarketData(grid=build_grid({bars.symbol: bars}), instruments={bars.symbol: instrument})
    decisions = SmaCrossStrategy(fast, slow).prepare({bars.symbol: bars}, policy)
    settings = KernelSettings(policy=policy.as_fixed_fraction(FRACTION), initial_equity=Decimal(int(CASH)),
                              slippage=False)
    rec = Kernel(data, settings).run(decisions)
    trades = rec.trades_frame()
    trades.attrs["final_equity"] = float(rec.equity_frame()["equity"].iloc[-1])
    return trades


CASES = [("BTC", 10, 30), ("BTC", 20, 50), ("ETH", 10, 30), ("SOL", 10, 30), ("SOL", 20, 50), ("XRP", 10, 30),
         ("AAVE", 20, 50)]
"""SOL 10/30 and 20/50 and XRP 10/30 each hold an exact tie of the averages that float noise broke the other
way in backtesting.py's rescaled prices (FractionalBacktest): ties now count as equal in both."""


@pytest.mark.parametrize(("asset", "fast", "slow"), CASES)
def test_sma_cross_plain_matches_backtesting_py_trade_for_trade(shared_data: Path, asset: str, fast: int,
                                                                slow: int) -> None:
    btc_1h = read_candles(shared_data / f"candles/binance_spot_1h/{asset}USDT.csv.gz", f"{asset}/USDT:USDT", "1h")
    closed, stats = _reference(btc_1h, fast, slow)
    still_open = stats["_strategy"].trades
    ours = _ours(btc_1h, fast, slow)

    assert len(closed) > 100, "the reference should trade often on two years of hourly bars"
    assert len(still_open) == 1
    assert len(ours) == len(closed) + 1

    bar_of = {int(t): i for i, t in enumerate(btc_1h.ts)}
    last = btc_1h.ts.size - 1
    entry_bars = [bar_of[int(t)] for t in ours["entry_ts"]]
    exit_bars = [bar_of[int(t)] for t in ours["exit_ts"].iloc[:-1]]
    assert entry_bars[:-1] == closed["EntryBar"].tolist()
    assert exit_bars == closed["ExitBar"].tolist()
    assert entry_bars[-1] == still_open[0].entry_bar
    step = int(btc_1h.ts[1] - btc_1h.ts[0])
    assert int(ours["exit_ts"].iloc[-1]) == int(btc_1h.ts[last]) + step  # closed at the last bar's close
    assert ours["exit_reason"].iloc[-1] == "end_of_data"
    assert set(ours["exit_reason"].iloc[:-1]) == {"signal"}

    sides = np.where(ours["side"].iloc[:-1] == "long", 1.0, -1.0)
    assert np.array_equal(np.sign(closed["Size"].to_numpy()), sides)
    size = ours["quantity"].to_numpy()[:-1] * sides
    reference = closed["Size"].to_numpy()
    # one satoshi of rounding, plus float noise of the two engines' equity at this size (XRP: 200,000 units)
    assert np.all(np.abs(size - reference) <= 1.001e-8 + 1e-12 * np.abs(reference))
    assert np.allclose(ours["entry_price"].iloc[:-1], closed["EntryPrice"], rtol=1e-12)
    assert np.allclose(ours["exit_price"].iloc[:-1], closed["ExitPrice"], rtol=1e-12)
    net = closed["PnL"].to_numpy()  # backtesting.py's PnL is net of both commissions
    assert np.allclose(ours["pnl"].iloc[:-1], net, rtol=0, atol=1e-6 * CASH)

    open_size = float(still_open[0].size) * 1e-8  # FractionalBacktest trades in satoshis
    last_close = float(btc_1h.close[last])
    expected = float(stats["Equity Final [$]"]) - COMMISSION * abs(open_size) * last_close
    assert ours.attrs["final_equity"] == pytest.approx(expected, rel=1e-6)
