"""A journal as a session writes it (risk snapshots, equity, an entry with its stop, alerts), and the dashboard on it.

Built through ``TradingJournal``'s own writers, so the dashboard reads exactly what the engine would have
left; the browser tests use a real paper session's journal instead (``test_browser.py``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from quantum_trader.cli.dashboard_source import JournalControls, JournalSource
from quantum_trader.config import Policy, load_policy
from quantum_trader.domain.time import MS_PER_HOUR
from quantum_trader.domain.trading import Fill, Order, OrderEvent, OrderEventKind, OrderPurpose, OrderSide, OrderType
from quantum_trader.journal import EquitySnapshot, RiskSnapshot, SessionMode, Severity, TradingJournal
from quantum_trader.monitor.app import Settings, create_app

TOKEN = "test-token-0123456789abcdef"
HOST = "testserver"
START = 1_735_689_600_000  # 2025-01-01 00:00 UTC
HOURS = 60
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
NOW = START + HOURS * MS_PER_HOUR + 5_000


def equity_at(i: int) -> Decimal:
    return Decimal(100_000) + Decimal(37) * i - Decimal(i % 7) * Decimal("113.25")


def write_session(path: Path | str, *, session: str = "paper-1") -> TradingJournal:
    """Hourly risk and equity snapshots for ``HOURS`` hours (a matrix every 6 hours), a BTC long with its stop,
    an ETH round trip, two alerts."""
    j = TradingJournal(path, session=session)
    j.start_session(SessionMode.PAPER, START, exchange="replay")
    with j.transaction():
        for i in range(HOURS):
            ts = START + (i + 1) * MS_PER_HOUR
            rho = 0.3 + 0.01 * i
            matrix = tuple(tuple(1.0 if a == b else round(rho + 0.05 * (a + b), 4) for b in range(3)) for a in range(3))
            has = i % 6 == 0
            j.record_risk(RiskSnapshot(ts, equity_at(i), 0.05 + 0.002 * i, 1 if i >= 10 else 0,
                                       correlated_exposure=0.03 + 0.001 * i, daily_loss=0.001 * (i % 24) - 0.005,
                                       drawdown=0.002 * (i % 9), symbols=SYMBOLS if has else (),
                                       correlation=matrix if has else None,
                                       mean_correlation=sum(matrix[0][1:] + matrix[1][2:]) / 3 if has else None))
            j.record_equity(EquitySnapshot(ts, equity_at(i), equity_at(i)))
            j.set_feed_cursor("replay:1m", ts - 60_000, ts=ts)
    t = START + 10 * MS_PER_HOUR
    _fill(j, "e-1", t, "BTC/USDT:USDT", OrderSide.BUY, "0.05", "94000", tag="trend_follow")
    _fill(j, "e-2", t + 1000, "BTC/USDT:USDT", OrderSide.BUY, "0.05", "96000", tag="trend_follow")
    stop = Order("s-1", t + 2000, "BTC/USDT:USDT", OrderSide.SELL, OrderType.STOP_MARKET, Decimal("0.1"),
                 stop_price=Decimal("92000"), reduce_only=True, purpose=OrderPurpose.STOP)
    j.record_order(stop)
    j.record_order_event(OrderEvent(t + 2500, OrderEventKind.ACCEPTED, stop))
    _fill(j, "e-3", t + 3 * MS_PER_HOUR, "ETH/USDT:USDT", OrderSide.SELL, "1", "3300", tag="sector_momentum")
    _fill(j, "x-3", START + (HOURS - 2) * MS_PER_HOUR, "ETH/USDT:USDT", OrderSide.BUY, "1", "3350",
          purpose=OrderPurpose.EXIT)
    j.record_alert("portfolio_exposure", Severity.WARNING, "exposure 36% above the 35% line", ts=t + 100)
    j.record_alert("correlation_spike", Severity.CRITICAL, "mean pairwise correlation 0.89", ts=t + 200)
    return j


def _fill(j: TradingJournal, cid: str, ts: int, symbol: str, side: OrderSide, qty: str, price: str, *,
          tag: str = "", purpose: OrderPurpose = OrderPurpose.ENTRY) -> None:
    order = Order(cid, ts, symbol, side, OrderType.MARKET, Decimal(qty), tag=tag, purpose=purpose)
    j.record_order(order)
    fill = Fill(ts + 60_000, symbol, side, Decimal(qty), Decimal(price), Decimal("1.5"), cid)
    j.record_order_event(OrderEvent(ts + 60_000, OrderEventKind.FILLED, order, fill=fill), fill_id=f"f-{cid}")


@dataclass
class Dash:
    path: Path
    journal: TradingJournal
    source: JournalSource
    client: TestClient
    policy: Policy


@pytest.fixture
def policy() -> Policy:
    return load_policy(None)


def make_dash(path: Path, policy: Policy, *, token: str | None = TOKEN) -> Dash:
    journal = write_session(path)
    source = JournalSource(str(path), account="default", policy=policy, clock=lambda: NOW)
    settings = Settings(token=token, allowed_hosts=frozenset({HOST}))
    app = create_app(source, JournalControls(source), settings)
    return Dash(path, journal, source, TestClient(app, base_url=f"http://{HOST}"), policy)


@pytest.fixture
def dash(tmp_path: Path, policy: Policy) -> Iterator[Dash]:
    made = make_dash(tmp_path / "j.sqlite", policy)
    yield made
    made.source.close()  # the gate verdict's process, if a request started one


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    port: int


@pytest.fixture
def serve() -> Iterator[object]:
    """Start an app under uvicorn on 127.0.0.1 in a thread; stopped when the test ends."""
    import uvicorn

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: object, port: int) -> Served:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.02)
        servers.append((server, thread))
        return Served(f"http://127.0.0.1:{port}", port)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days of a synthetic 1m market of BTC, ETH and SOL, for the modules running sessions on it (a module
    needing another market defines its own)."""
    from typer.testing import CliRunner

    from quantum_trader.cli.main import app

    root = tmp_path_factory.mktemp("catalog")
    result = CliRunner().invoke(app, ["data", "synth", "--days", "2", "--seed", "3", "--catalog", str(root),
                                      "--assets", "BTC,ETH,SOL"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    return root
