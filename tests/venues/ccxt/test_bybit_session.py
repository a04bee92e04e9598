"""Sessions on Bybit, end to end against the fake Bybit v5 exchange on 127.0.0.1.

- Parity: the same hourly replay through a backtest (on Bybit's instruments) and ``live --exchange bybit``
  against the fake gives the same fills, order for order, funding settled at Bybit's funding executions, when
  the fake charges the simulated venue's slippage and fees; with its websockets watched and with everything
  polled.
- ``quantum-trader live --exchange bybit --confirm-real-money`` trades the fake, each link id once, and writes
  its run folder; ``paper --exchange bybit`` needs no keys and sends no orders.
- The keys never reach the output, the logs, the run folder or the journal, with the fake echoing them in its
  refusals and the retry and lookup paths exercised.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.binance_http import Fault
from tests.fakes.market import SimulatedPricing
from tests.fakes.server import FakeBybit
from tests.venues.ccxt.conftest import KEY, SECRET, credentials, exchange_at
from tests.venues.ccxt.test_redaction import _clean, _run_folder_text
from tests.venues.ccxt.test_session import (
    ENV,
    SESSION,
    Fills,
    _collect,
    _invoke,
    _policy,
    _request,
    _session,
    outcome_reads,
)
from typer.testing import CliRunner

from quantum_trader.analytics.backtest import assemble_market
from quantum_trader.cli.main import app
from quantum_trader.data.markets import spec_from_ccxt
from quantum_trader.domain.market import BarSeries, FundingSeries
from quantum_trader.engine.incremental import decisions_for
from quantum_trader.engine.inputs import KernelSettings
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.venues.simulated.venue import SimulatedVenue

Replay = tuple[dict[str, BarSeries], dict[str, FundingSeries]]


@pytest.fixture(scope="module")
def replay() -> Replay:
    from quantum_trader.data.resample import resample_bars
    from quantum_trader.data.synthetic import SynthConfig, generate_market

    market = generate_market(SynthConfig(days=6, seed=5, assets=("BTC", "ETH", "SOL")))
    return {s: resample_bars(b, "1h") for s, b in market.bars.items()}, market.funding


def _bybit(request: Any) -> Any:
    return replace(request, exchange="bybit",
                   credentials=credentials(exchange="bybit") if request.credentials is not None else None)


def _instruments(fake: FakeBybit, symbols: list[str]) -> dict[str, Any]:
    """Bybit's instruments as the session reads them: through ccxt from the fake's instruments-info."""
    async def go(url: str) -> dict[str, Any]:
        exchange = exchange_at(url, exchange="bybit")
        try:
            markets = await exchange.load_markets()
            return {s: spec_from_ccxt(markets[s], int(exchange.precisionMode)).instrument() for s in symbols}
        finally:
            await exchange.close()

    with fake.running() as url:
        return asyncio.run(go(url))


@pytest.mark.parametrize("streams", [True, False], ids=["streams", "polling"])
def test_a_backtest_and_live_on_bybit_take_the_same_fills(replay: Replay, streams: bool) -> None:
    bars, funding = replay
    policy = _policy()
    settings = KernelSettings(policy=policy)
    start = int(bars["BTC/USDT:USDT"].ts[1])
    traded = {s: b.slice(start) for s, b in bars.items()}
    rows = len(traded["BTC/USDT:USDT"])
    pricing = SimulatedPricing(SimulatedVenue.from_policy(policy, slippage=True))
    fake = FakeBybit.of(bars, funding, cursor=1, api_key=KEY, pricing=pricing)
    instruments = _instruments(FakeBybit.of(bars, funding, cursor=1, api_key=KEY), list(bars))
    data = assemble_market(traded, funding, instruments=instruments, policy=policy)  # type: ignore[arg-type]
    backtest: Fills = []
    kernel = Kernel(data, settings, listeners=[_collect(backtest)])
    kernel.run(decisions_for(MultiAssetStrategy(), traded, policy))

    live: Fills = []
    session = _session(fake, _bybit(_request(bars, "live", rows, streams=streams)), live)  # type: ignore[arg-type]
    assert len(backtest) >= 8 and {f[-1] for f in backtest} >= {"entry", "stop"}
    assert live == backtest
    core = session.kernel.core
    assert core.ledger.funding_paid != 0, "funding settled at the exchange reached the kernel"
    assert core.ledger.funding_paid == kernel.ledger.funding_paid
    assert core.ledger.cash == kernel.ledger.cash
    assert set(fake.exchange.received.values()) == {1}
    assert any(q.get("triggerDirection") for m, p, q in fake.server.log if p == "/v5/order/create"), \
        "stops went out as Bybit conditional orders"
    assert (fake.server.streams.connections["user"] > 0) is streams
    reads = outcome_reads(fake.server.log)
    assert (reads <= 12) if streams else (reads >= 100), f"{reads} polls of the orders' outcomes"


@pytest.fixture
def bybit_env(tmp_path: Path) -> dict[str, str]:
    return {**ENV, "QT_RUNS": str(tmp_path / "runs"), "QT_EXCHANGE_RATE_LIMIT_MS": "1",
            "QT_JOURNAL": str(tmp_path / "journal.sqlite"), "QT_BYBIT_API_KEY": KEY, "QT_BYBIT_API_SECRET": SECRET}


def test_live_on_bybit_trades_the_fake_exchange_and_writes_its_run_folder(
        replay: Replay, bybit_env: dict[str, str], tmp_path: Path) -> None:
    bars, _ = replay
    fake = FakeBybit.of(bars, cursor=1, api_key=KEY)
    with fake.running() as url:
        code, output = _invoke(["live", "--exchange", "bybit", "--confirm-real-money", *SESSION, "--max-bars", "100"],
                               {**bybit_env, "QT_EXCHANGE_API_URL": url})
    assert code == 0, output
    assert "account: 100,000.00 USDT, cross margin at leverage 5" in output
    (run,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["run"]["mode"] == "live" and metrics["live"]["exchange"] == "bybit"
    assert metrics["orders"] > 0 and metrics["fills"] == len(fake.exchange.trades) > 0
    assert set(fake.exchange.received.values()) == {1}, "no link id reached the exchange twice"
    assert not any(h.qty for h in fake.exchange.positions.values()), "the session closed what it held at its end"


def test_paper_on_bybits_bars_needs_no_keys(replay: Replay, tmp_path: Path) -> None:
    bars, _ = replay
    fake = FakeBybit.of(bars, cursor=1, api_key=None)
    env = {**ENV, "QT_RUNS": str(tmp_path / "runs"), "QT_EXCHANGE_RATE_LIMIT_MS": "1"}
    with fake.running() as url:
        code, output = _invoke(["paper", "--exchange", "bybit", *SESSION, "--max-bars", "40"],
                               {**env, "QT_EXCHANGE_API_URL": url})
    assert code == 0, output
    assert not any(p.startswith("/v5/order") for _m, p, _q in fake.server.log), "paper sends no orders"


def test_no_output_log_run_file_or_journal_holds_the_bybit_keys(replay: Replay, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    bars, _ = replay
    key, secret = "QTKEY-bybit-0000-1111-2222", "QTSECRET-bybit-4444-5555-6666"
    echo = f"Invalid request signed by {key} with {secret}"
    fake = FakeBybit.of(bars, cursor=1, api_key=key)
    fake.server.faults += [Fault("POST", "/v5/order/create", "reject", code=10001, msg=echo, times=2),
                           Fault("POST", "/v5/order/create", "429"), Fault("GET", "/v5/execution/list", "500"),
                           Fault("POST", "/v5/order/create", "drop", seconds=2.5)]
    env = {"COLUMNS": "200", "QT_DEBUG": "", "QT_RUNS": str(tmp_path / "runs"), "QT_EXCHANGE_RATE_LIMIT_MS": "1",
           "QT_BYBIT_API_KEY": key, "QT_BYBIT_API_SECRET": secret, "QT_JOURNAL": str(tmp_path / "j.sqlite")}
    with caplog.at_level(logging.DEBUG), fake.running() as url:
        result = CliRunner().invoke(app, ["live", "--exchange", "bybit", "--confirm-real-money", *SESSION,
                                          "--max-bars", "60"], env={**env, "QT_EXCHANGE_API_URL": url})
    assert result.exit_code == 0, result.output
    assert all(fault.times == 0 for fault in fake.server.faults), "the faults were met"
    journal = b"".join(p.read_bytes() for p in tmp_path.glob("j.sqlite*"))
    assert b"live-bybit" in journal, "the session wrote its journal"
    assert key.encode() not in journal and secret.encode() not in journal, "no key in the journal"
    (run,) = (tmp_path / "runs").iterdir()
    files = _run_folder_text(run)
    assert "signed by *** with ***" in files, "the refusal was recorded, its echo scrubbed"
    for text, where in ((result.output, "the output"), (caplog.text, "the logs"), (files, "the run folder")):
        assert key not in text and secret not in text, f"a key reached {where}"
    _clean(result.output, "the output")  # the Binance test's keys too
