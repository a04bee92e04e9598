"""Sessions on an exchange, end to end against the fake Binance USD-M exchange on 127.0.0.1.

- Parity: the same hourly replay through a backtest, a paper replay (one bar at a time), ``live`` against the
  fake exchange and ``paper --exchange`` against it gives the same fills, order for order (time, symbol, side,
  quantity, price, fee), with funding settled, when the fake exchange charges the simulated venue's slippage
  and fees (``SimulatedPricing``); with the exchange's websockets watched (``venue.live.streams``, the default)
  and with everything polled, the account then hardly polled at all.
- ``quantum-trader live --confirm-real-money`` runs against the fake exchange (``QT_EXCHANGE_API_URL``): orders
  placed and filled there, each client order id once, the run folder written (mode live); ``paper --exchange``
  writes its run folder without keys.
- ``live`` refuses to start, with one line and exit code 2: without --confirm-real-money, without keys, with the
  other network's keys, with a keys file others may read, with a key the exchange refuses.
- A clock skew past the policy's bound halts entries: the session's intents are refused, nothing is sent.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.fakes.binance_http import FIXTURE
from tests.fakes.market import SimulatedPricing
from tests.fakes.server import FakeBinance
from tests.venues.ccxt.conftest import FAST, KEY, SECRET, credentials
from typer.testing import CliRunner

from quantum_trader.analytics.backtest import assemble_market
from quantum_trader.analytics.live import LiveRequest, open_live
from quantum_trader.cli.bar_timeframes import explicit_keys, fit_policy
from quantum_trader.cli.main import app
from quantum_trader.config import load_policy
from quantum_trader.data.market_payloads import markets_from_file
from quantum_trader.data.resample import resample_bars
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.domain.market import BarSeries, FundingSeries
from quantum_trader.domain.trading import OrderEvent
from quantum_trader.engine.incremental import decisions_for
from quantum_trader.engine.inputs import KernelSettings
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.paced import OneBarFeed, PacedReplay, paced
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.venues.ccxt.execution import ClientSettings
from quantum_trader.venues.ccxt.feed import FeedOptions
from quantum_trader.venues.simulated.venue import SimulatedVenue

Fills = list[tuple[Any, ...]]
ENV = {"COLUMNS": "200", "QT_DEBUG": ""}


@pytest.fixture(scope="module")
def replay() -> tuple[dict[str, BarSeries], dict[str, FundingSeries]]:
    market = generate_market(SynthConfig(days=6, seed=5, assets=("BTC", "ETH", "SOL")))
    return {s: resample_bars(b, "1h") for s, b in market.bars.items()}, market.funding


def _policy(streams: bool = True) -> Any:
    policy = fit_policy(load_policy(env={}), "1h", explicit_keys(None, []))[0]
    live = policy.venue.live.model_copy(update={"streams": streams})
    return policy.model_copy(update={"venue": policy.venue.model_copy(update={"live": live})})


OUTCOME_READS = frozenset({"/fapi/v1/userTrades", "/fapi/v1/openOrders", "/fapi/v1/openAlgoOrders",
                           "/v5/execution/list", "/v5/order/realtime"})
"""Polls of what became of the orders (a lookup by client order id before a first send is not one)."""


def outcome_reads(log: list[tuple[str, str, dict[str, Any]]]) -> int:
    return sum(1 for _m, p, q in log if p in OUTCOME_READS and q.get("execType") != "Funding"
               and not q.get("orderLinkId"))


def _collect(out: Fills) -> Callable[[OrderEvent, Any], None]:
    def listen(event: OrderEvent, _kernel: Any) -> None:
        f = event.fill
        assert f is not None
        out.append((f.ts, f.symbol, str(f.side), f.quantity, f.price, f.fee, str(event.order.purpose)))
    return listen


def _session(fake: FakeBinance, request: LiveRequest, fills: Fills) -> Any:
    async def go() -> Any:
        session = await open_live(request)
        session.kernel.core.listeners.append(_collect(fills))  # the simulated venue's kernel or the live one
        await session.run()
        return session

    with fake.running() as url:
        request = LiveRequest(**{**request.__dict__, "api_url": url})
        return asyncio.run(go())


def _request(bars: dict[str, BarSeries], mode: str, rows: int | None, *, streams: bool = True,
             **fields: Any) -> LiveRequest:
    policy = _policy(streams)
    runs = fields.pop("runs_dir", Path("runs"))
    return LiveRequest(exchange="binanceusdm", symbols=tuple(bars), strategy=MultiAssetStrategy(), policy=policy,
                       settings=KernelSettings(policy=policy), timeframe="1h", mode=mode,  # type: ignore[arg-type]
                       credentials=credentials() if mode == "live" else None, warmup_bars=0, max_bars=rows,
                       runs_dir=runs, feed=FeedOptions(marks=False, books=False, funding=mode == "paper",
                                                               poll_s=0.01, grace_s=0.0),
                       client=ClientSettings(backoff=FAST, resend_wait_s=0.0, lookup_wait_s=0.0), report=False,
                       rate_limit_ms=1, **fields)


@pytest.mark.parametrize("streams", [True, False], ids=["streams", "polling"])
def test_backtest_paper_and_live_against_the_exchange_take_the_same_fills(
        replay: tuple[dict[str, BarSeries], dict[str, FundingSeries]], streams: bool) -> None:
    bars, funding = replay
    policy = _policy()
    settings = KernelSettings(policy=policy)
    start = int(bars["BTC/USDT:USDT"].ts[1])  # the fake's first bar has closed: sessions start on the second
    traded = {s: b.slice(start) for s, b in bars.items()}
    rows = len(traded["BTC/USDT:USDT"])
    specs = markets_from_file(FIXTURE, "binanceusdm").specs
    instruments = {s.symbol: s.instrument() for s in specs if s.symbol in bars}
    data = assemble_market(traded, funding, instruments=instruments, policy=policy)  # type: ignore[arg-type]

    backtest: Fills = []
    Kernel(data, settings, listeners=[_collect(backtest)]).run(decisions_for(MultiAssetStrategy(), traded, policy))

    paper_replay: Fills = []
    kernel = Kernel(data, settings, jump=False, listeners=[_collect(paper_replay)])
    paced_replay = PacedReplay.of(kernel, decisions_for(MultiAssetStrategy(), traded, policy))
    asyncio.run(paced_replay.run(paced(OneBarFeed(data.grid, data.funding).chunks(), None)))

    pricing = SimulatedPricing(SimulatedVenue.from_policy(policy, slippage=True))
    live: Fills = []
    fake = FakeBinance.of(bars, funding, cursor=1, api_key=KEY, pricing=pricing)
    session = _session(fake, _request(bars, "live", rows, streams=streams), live)
    paper_exchange: Fills = []
    _session(FakeBinance.of(bars, funding, cursor=1, api_key=KEY), _request(bars, "paper", rows, streams=streams),
             paper_exchange)

    assert len(backtest) >= 8, "the replay trades enough to compare"
    assert {f[-1] for f in backtest} >= {"entry", "stop"}
    assert paper_replay == backtest
    assert live == backtest
    assert paper_exchange == backtest
    core = session.kernel.core
    assert core.ledger.funding_paid != 0, "funding settled at the exchange reached the kernel"
    assert core.ledger.funding_paid == kernel.ledger.funding_paid
    assert core.ledger.cash == kernel.ledger.cash
    streamed = fake.server.streams.connections
    assert (streamed["user"] > 0 and streamed["market"] > 0) is streams
    reads = outcome_reads(fake.server.log)
    assert (reads <= 12) if streams else (reads >= 100), f"{reads} polls of the orders' outcomes"


@pytest.fixture
def catalog_free_env(tmp_path: Path) -> dict[str, str]:
    return {**ENV, "QT_RUNS": str(tmp_path / "runs"), "QT_EXCHANGE_RATE_LIMIT_MS": "1",
            "QT_JOURNAL": str(tmp_path / "journal.sqlite"),
            "QT_BINANCEUSDM_API_KEY": KEY, "QT_BINANCEUSDM_API_SECRET": SECRET}


def _invoke(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


SESSION = ["--symbols", "BTC,ETH,SOL", "--warmup-bars", "0", "--phase", "3"]


def test_live_trades_the_fake_exchange_and_writes_its_run_folder(
        replay: tuple[dict[str, BarSeries], dict[str, FundingSeries]], catalog_free_env: dict[str, str],
        tmp_path: Path) -> None:
    bars, _ = replay
    fake = FakeBinance.of(bars, cursor=1, api_key=KEY)
    with fake.running() as url:
        code, output = _invoke(["live", "--exchange", "binanceusdm", "--confirm-real-money", *SESSION,
                                "--max-bars", "100"], {**catalog_free_env, "QT_EXCHANGE_API_URL": url})
    assert code == 0, output
    assert "account: 100,000.00 USDT, cross margin at leverage 5" in output
    (run,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["run"]["mode"] == "live" and metrics["run"]["bars"] == 100
    assert metrics["live"]["exchange"] == "binanceusdm" and metrics["live"]["network"] == "mainnet"
    assert metrics["orders"] > 0 and metrics["fills"] > 0 and metrics["trades"] > 0
    assert metrics["data_notes"][0].startswith("fills, fees and funding as binanceusdm (mainnet) reported them")
    trades = pd.read_parquet(run / "trades.parquet")
    assert len(trades) == metrics["trades"]
    assert len(fake.exchange.trades) == metrics["fills"], "every fill the exchange made was booked"
    assert set(fake.exchange.received.values()) == {1}, "no client order id reached the exchange twice"
    assert not any(h.qty for h in fake.exchange.positions.values()), "the session closed what it held at its end"
    assert (run / "report.html").is_file()


def test_paper_on_an_exchanges_bars_needs_no_keys(
        replay: tuple[dict[str, BarSeries], dict[str, FundingSeries]], tmp_path: Path) -> None:
    bars, _ = replay
    fake = FakeBinance.of(bars, cursor=1, api_key=None)
    env = {**ENV, "QT_RUNS": str(tmp_path / "runs"), "QT_EXCHANGE_RATE_LIMIT_MS": "1"}
    with fake.running() as url:
        code, output = _invoke(["paper", "--exchange", "binanceusdm", *SESSION, "--max-bars", "60"],
                               {**env, "QT_EXCHANGE_API_URL": url})
    assert code == 0, output
    (run,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert (metrics["run"]["mode"], metrics["run"]["bars"]) == ("paper", 60)
    assert not any(p.startswith("/fapi/v1/order") for _m, p, _q in fake.server.log), "paper sends no orders"


def test_live_on_the_testnet_uses_the_sandbox_and_testnet_keys(
        replay: tuple[dict[str, BarSeries], dict[str, FundingSeries]], tmp_path: Path) -> None:
    bars, _ = replay
    fake = FakeBinance.of(bars, cursor=1, api_key="testnet-key")
    env = {**ENV, "QT_RUNS": str(tmp_path / "runs"), "QT_EXCHANGE_RATE_LIMIT_MS": "1",
           "QT_BINANCEUSDM_TESTNET_API_KEY": "testnet-key", "QT_BINANCEUSDM_TESTNET_API_SECRET": "testnet-secret"}
    with fake.running() as url:
        code, output = _invoke(["live", "--testnet", "--confirm-real-money", *SESSION, "--max-bars", "5"],
                               {**env, "QT_EXCHANGE_API_URL": url})
    assert code == 0, output
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "metrics.json").read_text())["live"]["network"] == "testnet"


@pytest.mark.parametrize(("args", "env", "expected"), [
    ([], {"QT_BINANCEUSDM_API_KEY": KEY, "QT_BINANCEUSDM_API_SECRET": SECRET},
     "error: live sends real orders to your binanceusdm mainnet account: add --confirm-real-money to confirm"),
    (["--confirm-real-money"], {}, "error: no mainnet API keys for binanceusdm: set QT_BINANCEUSDM_API_KEY and "
                                   "QT_BINANCEUSDM_API_SECRET"),
    (["--confirm-real-money"], {"QT_BINANCEUSDM_TESTNET_API_KEY": "t", "QT_BINANCEUSDM_TESTNET_API_SECRET": "t"},
     "error: no mainnet keys for binanceusdm: QT_BINANCEUSDM_API_KEY and QT_BINANCEUSDM_API_SECRET are not set, "
     "but testnet keys are"),
    (["--confirm-real-money", "--testnet"], {"QT_BINANCEUSDM_API_KEY": KEY, "QT_BINANCEUSDM_API_SECRET": SECRET},
     "error: no testnet keys for binanceusdm"),
    (["--confirm-real-money", "--exchange", "kraken"], {"QT_KRAKEN_API_KEY": "k", "QT_KRAKEN_API_SECRET": "s"},
     "error: --exchange: exchange 'kraken': live trading supports binanceusdm, bybit"),
    (["--exchange", "bybit"], {"QT_BYBIT_API_KEY": "k", "QT_BYBIT_API_SECRET": "s"},
     "error: live sends real orders to your bybit mainnet account: add --confirm-real-money to confirm"),
])
def test_live_refuses_to_start_with_one_line(args: list[str], env: dict[str, str], expected: str) -> None:
    for name in ("QT_BINANCEUSDM_API_KEY", "QT_BINANCEUSDM_API_SECRET", "QT_BINANCEUSDM_TESTNET_API_KEY",
                 "QT_BINANCEUSDM_TESTNET_API_SECRET"):
        env.setdefault(name, "")
    code, output = _invoke(["live", *args], {**ENV, **env})
    lines = output.strip().splitlines()  # what was assumed (policy, phase), then the one error line
    assert code == 2 and lines[-1].startswith(expected) and sum("error" in line for line in lines) == 1, output


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_live_refuses_a_keys_file_others_may_read(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"exchange": "binanceusdm", "network": "mainnet", "api_key": KEY,
                                "api_secret": SECRET}))
    path.chmod(0o644)
    code, output = _invoke(["live", "--confirm-real-money", "--keys-file", str(path)], ENV)
    assert (code, output.strip().splitlines()[-1]) == (2, f"error: keys file {path}: mode 0644 lets group or others "
                                                          f"read it; refused: run `chmod 600 {path}`")


def test_live_refuses_a_key_the_exchange_refuses(
        replay: tuple[dict[str, BarSeries], dict[str, FundingSeries]], catalog_free_env: dict[str, str]) -> None:
    bars, _ = replay
    fake = FakeBinance.of(bars, cursor=1, api_key="another-key")
    with fake.running() as url:
        code, output = _invoke(["live", "--confirm-real-money", *SESSION, "--max-bars", "3"],
                               {**catalog_free_env, "QT_EXCHANGE_API_URL": url})
    assert code == 2
    assert ("error: live failed: binanceusdm refused the API key (environment QT_BINANCEUSDM_API_KEY/"
            "QT_BINANCEUSDM_API_SECRET) on mainnet") in output
    assert "keys work only on the network they were made for (testnet keys need --testnet)" in output
    assert not any(p == "/fapi/v1/order" for _m, p, _q in fake.server.log)


def test_a_clock_skewed_past_the_bound_halts_entries(
        replay: tuple[dict[str, BarSeries], dict[str, FundingSeries]]) -> None:
    bars, _ = replay
    fake = FakeBinance.of(bars, cursor=1, api_key=KEY)
    fake.server.skew_ms = 5_000
    fills: Fills = []
    session = _session(fake, _request(bars, "live", 100), fills)
    core = session.kernel.core
    assert [i.kind for i in session.incidents][:1] == ["clock_skew"]
    assert session.incidents[0].action == "entries halted"
    halted = [e for e in core.rec.events if e[1] == "refused" and "halted: clock skew" in e[4]]
    assert halted and core.rec.refusals["venue"] == len(halted)
    assert fills == [] and not any(p == "/fapi/v1/order" for _m, p, _q in fake.server.log)
    assert np.isfinite(session.clock.offset_ms) and session.clock.offset_ms > 4_000


def test_a_stop_asked_while_waiting_for_a_bar_ends_the_session_at_once(
        replay: tuple[dict[str, BarSeries], dict[str, FundingSeries]], tmp_path: Path) -> None:
    """Ctrl-C between two hourly closes must not wait for the next close: the session ends after the last bar
    taken, closing what it holds at market, and its run folder covers the bars that ran."""
    bars, _ = replay
    fake = FakeBinance.of(bars, cursor=1, api_key=KEY)
    taken: list[int] = []

    async def go(url: str) -> Any:
        session = await open_live(_request(bars, "live", None, api_url=url, runs_dir=tmp_path))

        def on_bar(_chunk: Any) -> None:
            taken.append(len(session.rows))
            if len(session.rows) == 40:
                fake.server.frozen = True  # the exchange goes quiet: the session waits for a bar
                asyncio.get_running_loop().call_later(0.3, session.stop)

        stats = await asyncio.wait_for(session.run(on_bar), 30)
        return session, stats

    with fake.running() as url:
        session, stats = asyncio.run(go(url))
    assert taken[-1] == 40 and stats.stopped and stats.bars == 40
    assert not any(h.qty for h in fake.exchange.positions.values()), "what was held was closed"
    result = session.write()
    assert result.metrics["run"]["bars"] == 40


def test_a_live_session_keeps_its_journal_and_a_tripped_switch_holds_across_sessions(
        replay: tuple[dict[str, BarSeries], dict[str, FundingSeries]], tmp_path: Path) -> None:
    """Every order and fill of a live session is in its journal; a kill switch left tripped there refuses every
    entry of the next session (started in another process, as after a restart) until an operator resets it."""
    from dataclasses import replace

    from quantum_trader.journal import KillSwitchRecord, TradingJournal
    from quantum_trader.portfolio import new_ledger
    from quantum_trader.risk.kill_switch import KillSwitchState

    bars, funding = replay
    rows = len(bars["BTC/USDT:USDT"]) - 1
    first: Fills = []
    journal = TradingJournal(tmp_path / "j.sqlite", session="first")
    session = _session(FakeBinance.of(bars, funding, cursor=1, api_key=KEY),
                       replace(_request(bars, "live", rows), journal=journal), first)
    assert len(first) >= 8
    assert len(journal.orders(session="first")) == session.kernel.core.desk.sent
    assert len(journal.fills_since(0)) == len(first), "every fill the session booked is journalled"
    risk = journal.risk_snapshots(session="first")
    assert len(risk) == session.stats.bars and risk[-1].equity == journal.latest_equity().equity  # type: ignore[union-attr]
    assert journal.decisions() and journal.risk_snapshots(correlation_only=True)

    start = int(bars["BTC/USDT:USDT"].ts[1])
    tripped = KillSwitchState(day_start=start - start % 86_400_000, drawdown_tripped=True, drawdown_trip_ts=start)
    journal.save_killswitch(KillSwitchRecord.of_ledger(tripped, new_ledger(100_000, start), ts=start,
                                                       trip_reason="drawdown 21% from peak"))
    second: Fills = []
    again = TradingJournal(tmp_path / "j.sqlite", session="second")
    session = _session(FakeBinance.of(bars, funding, cursor=1, api_key=KEY),
                       replace(_request(bars, "live", rows), journal=again), second)
    assert session.kernel.core.switch.drawdown_tripped
    assert second == [], "a switch tripped in the journal opens nothing"
