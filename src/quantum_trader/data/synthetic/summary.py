"""One row of headline figures per asset: what a user checks first after generating a market."""

from __future__ import annotations

from typing import Any

import numpy as np

from quantum_trader.data.synthetic.book import depth_within, relative_spread
from quantum_trader.data.synthetic.market import SyntheticMarket
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR, format_time, timeframe_ms


def summary_rows(market: SyntheticMarket) -> list[dict[str, Any]]:
    """Per symbol: rows, first/last bar time, start/end price, annualised vol (from hourly closes),
    mean daily USD volume, mean depth within 1% per book side, mean spread and mean 8h funding.
    """
    rows: list[dict[str, Any]] = []
    for symbol, bars in market.bars.items():
        step = MS_PER_HOUR // timeframe_ms(bars.timeframe)
        hourly = bars.close[step - 1 :: step]
        hourly_r = np.diff(np.log(hourly))
        days = len(bars) * timeframe_ms(bars.timeframe) / MS_PER_DAY
        bid, ask = depth_within(market.books[symbol], 0.01)
        funding = market.funding[symbol].rate
        rows.append(
            {
                "symbol": symbol,
                "rows": len(bars),
                "first": format_time(int(bars.ts[0])),
                "last": format_time(int(bars.ts[-1])),
                "start_price": float(bars.open[0]),
                "end_price": float(bars.close[-1]),
                "annual_vol": float(hourly_r.std() * np.sqrt(24 * 365)) if hourly_r.size > 1 else np.nan,
                "daily_usd_volume": float(np.sum(bars.close * bars.volume) / days),
                "depth_1pct_usd": float(np.mean((bid + ask) / 2.0)),
                "spread": float(np.mean(relative_spread(market.books[symbol]))),
                "mean_funding_8h": float(np.mean(funding)) if funding.size else 0.0,
            }
        )
    return rows
