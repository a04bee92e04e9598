"""The correlation-spike rule on real hourly candles (../shared/data): the August 2024 crash (BTC -15% on the 5th,
every major with it) raises it, and over two years of four majors it fires exactly where the mean pairwise 24h
correlation enters the spike level, never while it stays there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantum_trader.config.policy import Policy
from quantum_trader.domain.market import BarSeries
from quantum_trader.monitor.alerts import AlertRuleBook, RuleSettings
from quantum_trader.universe.correlation import average_pairwise, rolling_correlation

pytestmark = pytest.mark.shared_data
ASSETS = ("BTC", "ETH", "SOL", "XRP")
DAY = 24


def _history(real_1h: dict[str, BarSeries]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly closes of the four majors on their common hours; the 24h matrix and its mean at each hour."""
    common = sorted(set.intersection(*(set(real_1h[a].ts.tolist()) for a in ASSETS)))
    ts = np.asarray(common, dtype=np.int64)
    closes = np.column_stack([pd.Series(real_1h[a].close, index=real_1h[a].ts).reindex(ts).to_numpy()
                              for a in ASSETS])
    corr = rolling_correlation(np.log(closes[1:] / closes[:-1]), DAY)
    return ts[1:] + 3_600_000, corr, average_pairwise(corr)  # known at each hour's close


def test_the_august_2024_crash_raises_a_correlation_spike(real_1h: dict[str, BarSeries]) -> None:
    ts, corr, mean = _history(real_1h)
    book = AlertRuleBook(RuleSettings.of_policy(Policy()))
    lo, hi = (int(pd.Timestamp(t, tz="UTC").value // 1_000_000) for t in ("2024-08-01", "2024-08-08"))
    fired = []
    for i in np.flatnonzero((ts >= lo) & (ts < hi) & np.isfinite(mean)):
        fired += [(i, a) for a in book.correlation(int(ts[i]), ASSETS, corr[i].tolist(), float(mean[i]))
                  if a.key == "correlation_mean"]
    days = {pd.Timestamp(int(ts[i]), unit="ms").strftime("%Y-%m-%d") for i, _ in fired}
    assert {"2024-08-04", "2024-08-05"} <= days, days
    for i, alert in fired:
        assert mean[i] > 0.85 and alert.value == pytest.approx(mean[i])
        assert alert.message.startswith(f"mean pairwise 24h correlation {mean[i]:.2f} above 0.85")


def test_over_two_years_it_fires_once_per_entry_into_the_spike_level(real_1h: dict[str, BarSeries]) -> None:
    ts, _, mean = _history(real_1h)
    book = AlertRuleBook(RuleSettings.of_policy(Policy()))
    known = np.flatnonzero(np.isfinite(mean))
    fired = [i for i in known
             if any(a.key == "correlation_mean" for a in book.correlation(int(ts[i]), ASSETS, None, float(mean[i])))]
    above = mean[known] > 0.85
    entries = known[above & ~np.concatenate([[False], above[:-1]])]
    assert fired == entries.tolist()
    assert len(fired) > 50, "crypto majors cross the spec's 0.85 often: the rule must see real spikes"
