"""A correlated crash in a backtest: the correlation spike and the exposure alert are raised before the kill switch
trips (spec section 8's purpose: the operator is told while there is still something to do).

The market is the synthetic one with one correlated crash (seed 11: BTC -13.6% over 3.6 hours on day 4); the
strategy holds longs in BTC, ETH and SOL from day 3 and watches the 24h correlation monitor at its 5-minute
cadence, as the built-in strategies do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantum_trader.analytics.backtest import BacktestRequest, default_settings, run_backtest
from quantum_trader.config import Policy
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.data.synthetic.writer import write_market
from quantum_trader.domain.market import F64, BarSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.engine.grid import build_grid
from quantum_trader.engine.strategy import Decision, Decisions, StrategyView, Subscription
from quantum_trader.testkit import ScriptedDecisions, long, policy_with
from quantum_trader.universe.correlation import CorrelationMonitor

ASSETS = ("BTC", "ETH", "SOL")
SYMBOLS = tuple(f"{a}/USDT:USDT" for a in ASSETS)
ENTRY_ROW = 2 * 1440
STOP = 0.15
"""At 2% risk per trade, a stop 15% away sizes each long at 13.3% of equity: 40% in all."""


@dataclass
class Watched(ScriptedDecisions):
    """Scripted decisions that carry the 24h correlation monitor's matrix of each decision's time."""

    matrices: F64 | None = None
    times: np.ndarray | None = None

    def correlation(self, k: int) -> F64 | None:
        return None if self.matrices is None else self.matrices[k]

    def correlation_time(self, k: int) -> int | None:
        return None if self.times is None else int(self.times[k])


class HoldThroughTheCrash:
    name = "hold-through-the-crash"

    def start(self, symbols: tuple[str, ...], timeframe: str, policy: Policy) -> Subscription:
        raise NotImplementedError("batch only: prepare")

    def on_bar(self, view: StrategyView) -> Decision:
        raise NotImplementedError("batch only: prepare")

    def prepare(self, bars: Mapping[str, BarSeries], policy: Policy) -> Decisions:
        grid = build_grid(bars)
        rows = np.arange(1440 + 4, grid.ts.size, 5)  # every 5m close from day 2
        closes = pd.DataFrame(grid.close, columns=list(grid.symbols)).ffill().to_numpy()
        monitor = CorrelationMonitor([asset_of(s) for s in grid.symbols], policy)
        history = monitor.batch(grid.ts[rows], closes[rows])
        entry = grid.close[ENTRY_ROW]
        intents = [long(asset_of(s), entry=float(entry[j]), stop=float(entry[j]) * (1 - STOP))
                   for j, s in enumerate(grid.symbols)]
        scripted = ScriptedDecisions.at_closes(grid, intents={ENTRY_ROW: intents}, also=rows.tolist())
        decision_rows = sorted({ENTRY_ROW, *rows.tolist()})
        index = np.searchsorted(rows, decision_rows, side="right") - 1  # the latest matrix at or before each
        matrices = history.matrix[np.maximum(index, 0)]
        matrices[index < 0] = np.nan
        times = grid.ts[rows][np.maximum(index, 0)] + 60_000
        return Watched(scripted.symbols, scripted.close_ts, scripted.scripted_intents, scripted.scripted_exits,
                       matrices=matrices, times=times)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    market = generate_market(SynthConfig(days=5, seed=11, assets=ASSETS, crash_rate_per_year=0.0, min_crashes=1))
    (crash,) = market.crashes
    assert pd.Timestamp(crash.start_ms, unit="ms") == pd.Timestamp("2025-01-04 06:08")
    root = tmp_path_factory.mktemp("crash")
    write_market(market, Catalog(root / "catalog"))
    # Room for 40% of exposure in one correlated group (the default policy caps each asset at 10% and a group at
    # 25%, where three majors never reach the 35% alert line at entry)
    policy = policy_with({"per_asset.max_position_size": 0.2, "portfolio.max_correlated_exposure": 0.4})
    request = BacktestRequest(catalog=root / "catalog", symbols=SYMBOLS, strategy=HoldThroughTheCrash(),  # type: ignore[arg-type]
                              policy=policy, runs_dir=root / "runs", report=True, stream=False,
                              settings=default_settings(policy, phase=3, plain=False))
    return run_backtest(request).run.path


def test_the_spike_and_exposure_alerts_come_before_the_kill_switch(run: Path) -> None:
    alerts = pd.read_parquet(run / "alerts.parquet")
    trips = alerts[alerts["kind"] == "kill_switch_trip"]
    assert len(trips) >= 1, alerts[["ts", "kind", "message"]].to_string()
    trip_ts = int(trips["ts"].min())
    crash_ts = int(pd.Timestamp("2025-01-04 06:08", tz="UTC").value // 1_000_000)
    before = alerts[alerts["ts"] < trip_ts]
    assert "portfolio_exposure" in set(before["kind"]), alerts[["ts", "kind", "message"]].to_string()
    spikes = before[(before["kind"] == "correlation_spike") & (before["ts"] >= crash_ts)]
    assert len(spikes) >= 1, alerts[["ts", "kind", "message"]].to_string()
    events = pd.read_parquet(run / "events.parquet")
    assert int(events.loc[events["kind"] == "kill_switch_trip", "ts"].min()) == trip_ts
    metrics = pd.read_json(run / "metrics.json", typ="series")
    assert metrics["alerts"]["count"] == len(alerts)
    assert 'id="alerts"' in (run / "report.html").read_text()
