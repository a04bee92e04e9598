"""Each asset's regime is journalled and shown: the spec's classification computed from the session's bars
(``engine/regime_watch.py``) is the regime the multi-asset strategy's own models read at every model bar's close;
a journalled paper session writes it where it changes, and the dashboard's per-asset view and JSON API show the
newest."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from quantum_trader.cli.dashboard_source import JournalSource
from quantum_trader.cli.main import app
from quantum_trader.config.policy import Policy
from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.engine.regime_watch import RegimeWatch
from quantum_trader.journal import TradingJournal
from quantum_trader.monitor.app import Settings, create_app
from quantum_trader.signals.aggregate import aggregate_bars
from quantum_trader.signals.pipeline import SignalSet
from quantum_trader.signals.regime import Regime
from quantum_trader.testkit.random_walk import random_walk_market

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
SHORT = {"signals": {"model": {"volatility_lookback_days": 1}}}
"""A day of volatility history instead of 30: the regimes are known after a day of bars."""
H = 3_600_000


def _chunks(bars: dict[str, BarSeries], rows: int) -> list[MarketChunk]:
    """The market as stretches of ``rows`` 1m bars, one symbol missing a few bars (a gap)."""
    n = len(bars[SYMBOLS[0]].ts)
    stack = {name: np.column_stack([getattr(bars[s], name) for s in SYMBOLS]) for name in
             ("open", "high", "low", "close", "volume")}
    valid = np.ones((n, len(SYMBOLS)), dtype=bool)
    valid[500:530, 2] = False
    out = []
    for a in range(0, n, rows):
        b = min(n, a + rows)
        out.append(MarketChunk(symbols=SYMBOLS, step=60_000, ts=bars[SYMBOLS[0]].ts[a:b],
                               **{k: v[a:b] for k, v in stack.items()}, valid=valid[a:b], mark=stack["close"][a:b],
                               first=a))
    return out


def _models_regimes(policy: Policy, bars: dict[str, BarSeries]) -> dict[str, dict[int, str]]:
    """The multi-asset strategy's models over the same bars (the gap left out), on the model's hours: each
    symbol's regime at each model bar's close."""
    gapped = dict(bars)
    keep = np.ones(len(bars[SYMBOLS[2]].ts), dtype=bool)
    keep[500:530] = False
    sol = bars[SYMBOLS[2]]
    gapped[SYMBOLS[2]] = BarSeries(sol.symbol, sol.timeframe, sol.ts[keep], sol.open[keep], sol.high[keep],
                                   sol.low[keep], sol.close[keep], sol.volume[keep])
    batch = SignalSet(SYMBOLS, policy).batch({s: aggregate_bars(b, "1h") for s, b in gapped.items()})
    return {s: {int(t) + H: Regime(int(r)).label for t, r in zip(batch.frames[s].ts, batch.frames[s].decision.regime,
                                                                  strict=True)} for s in SYMBOLS}


@pytest.mark.parametrize("rows", [1, 97])
def test_the_regime_is_the_multi_asset_models_own_at_every_model_bar(rows: int) -> None:
    policy = Policy.model_validate(SHORT)
    bars = random_walk_market(SYMBOLS, 3 * 1440, seed=11, vol=0.002, common=0.5)
    known = _models_regimes(policy, bars)
    watch = RegimeWatch.of(policy, SYMBOLS, 60_000)
    assert watch is not None
    changes: dict[str, dict[int, str]] = {s: {} for s in SYMBOLS}
    for chunk in _chunks(bars, rows):
        changed = watch.update(chunk)
        end = int(chunk.ts[-1]) + chunk.step
        for symbol, regime, since in watch.current:
            closes = [t for t in known[symbol] if t <= end]
            if not closes:
                assert since is None and regime == "unknown"
                continue
            assert regime == known[symbol][max(closes)], (symbol, end)  # the models' regime at the last close
            assert since is not None and since <= end and known[symbol][since] == regime
            changes[symbol][since] = regime
        assert changed == (rows == 1 and any(since == end for _, _, since in watch.current)) or rows > 1
    for symbol in SYMBOLS:  # it moves through the regimes, starting unknown while a day of volatility fills
        assert {"trending_up", "trending_down", "ranging"} & set(changes[symbol].values())
        assert changes[symbol][min(changes[symbol])] == "unknown"
    if rows == 1:  # bar by bar, every change is reported at the close it happens
        for symbol in SYMBOLS:
            model = sorted(known[symbol].items())
            moved = {t: r for (t, r), (_, before) in zip(model[1:], model, strict=False) if r != before}
            assert {t: r for t, r in changes[symbol].items() if t != model[0][0]} == moved


def test_bars_that_cannot_make_the_models_bars_journal_no_regime() -> None:
    policy = Policy()
    assert RegimeWatch.of(policy, SYMBOLS, 7 * 60_000) is None  # 7m bars do not make 1h bars
    assert RegimeWatch.of(policy, SYMBOLS, timeframe_ms("4h")) is None
    assert RegimeWatch.of(policy, SYMBOLS, 30_000) is None
    assert RegimeWatch.of(policy, SYMBOLS, timeframe_ms("1h")) is not None


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog")
    result = CliRunner().invoke(app, ["data", "synth", "--days", "3", "--seed", "5", "--catalog", str(root),
                                      "--assets", "BTC,ETH,SOL"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    return root


def test_a_paper_session_journals_the_regimes_and_the_dashboard_shows_them(catalog: Path, tmp_path: Path) -> None:
    from quantum_trader.analytics.paper import open_paper
    from quantum_trader.cli.backtest_cmd import run_request

    path = tmp_path / "j.sqlite"
    request = run_request(symbols="BTC,ETH,SOL", strategy="multi-asset", param=[], policy="default",
                          set_=["signals.model.volatility_lookback_days=1"], catalog=catalog, exchange=None,
                          start="2025-01-01", end="2025-01-03", timeframe=None, phase=3, journal=str(path),
                          equity=100_000.0, runs=tmp_path / "runs", no_slippage=False, entry=None, command="paper")
    session = open_paper(request, None, journal=TradingJournal(path, session="paper-regimes"))
    asyncio.run(session.run())
    assert session.recorder is not None and session.recorder.regimes is not None
    now = session.recorder.regimes.current
    rows = TradingJournal(path).risk_snapshots()
    assert len(rows) == session.total
    source = JournalSource(str(path), account="default", policy=request.policy)
    found = source.reader.latest_regimes()
    assert found is not None and found[1] == now  # the newest journalled regimes are the session's at its end
    assert any(r != "unknown" for _, r, _ in now)
    client = TestClient(create_app(source, None, Settings(allowed_hosts=frozenset({"testserver"}))))
    shown = client.get("/api/regimes").json()
    assert [(i["symbol"], i["regime"], i["since"]) for i in shown["items"]] == list(now)
    assert shown["ts"] == found[0]
    for asset in client.get("/api/assets").json():  # what is held carries its regime
        assert asset["regime"] == dict((s, r) for s, r, _ in now)[asset["symbol"]]
