"""Fixtures of the live-trading tests: a synthetic hourly market, the fake Binance USD-M exchange (``fake``, ``url``)
and the fake Bybit v5 exchange (``bybit``, ``bybit_url``) serving it on 127.0.0.1, and the real ccxt client
pointed at them. Nothing here reaches the internet: ccxt's URLs are the fake's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from tests.fakes.server import FakeBinance, FakeBybit

from quantum_trader.data.resample import resample_bars
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.domain.clock import ReplayClock
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.trading import Order, OrderPurpose, OrderSide, OrderType, client_order_id
from quantum_trader.venues.ccxt.connect import open_exchange, venue_info
from quantum_trader.venues.ccxt.credentials import Credentials, Secret
from quantum_trader.venues.ccxt.execution import CcxtExecutionClient, ClientSettings
from quantum_trader.venues.ccxt.retry import Backoff

KEY, SECRET = "fake-key", "fake-secret-0123456789"
FAST = Backoff(attempts=3, first_s=0.01, max_s=0.05)
BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"
T = TypeVar("T")


def hourly(days: int = 3, seed: int = 5) -> dict[str, BarSeries]:
    market = generate_market(SynthConfig(days=days, seed=seed, assets=("BTC", "ETH", "SOL")))
    return {s: resample_bars(b, "1h") for s, b in market.bars.items()}


@pytest.fixture(scope="session")
def bars() -> dict[str, BarSeries]:
    return hourly()


@pytest.fixture
def fake(bars: dict[str, BarSeries]) -> FakeBinance:
    return FakeBinance.of(bars, cursor=2, api_key=KEY)


@pytest.fixture
def url(fake: FakeBinance) -> Iterator[str]:
    with fake.running() as origin:
        yield origin


@pytest.fixture
def bybit(bars: dict[str, BarSeries]) -> FakeBybit:
    """The fake Bybit v5 exchange over the same market."""
    return FakeBybit.of(bars, cursor=2, api_key=KEY)


@pytest.fixture
def bybit_url(bybit: FakeBybit) -> Iterator[str]:
    with bybit.running() as origin:
        yield origin


def credentials(network: str = "mainnet", key: str = KEY, secret: str = SECRET,
                exchange: str = "binanceusdm") -> Credentials:
    return Credentials(exchange, network, Secret(key), Secret(secret), "test")  # type: ignore[arg-type]


def exchange_at(url: str, *, key: str = KEY, timeout_ms: int = 2_000, exchange: str = "binanceusdm",
                streams: bool = False) -> Any:
    return open_exchange(exchange, credentials(key=key, exchange=exchange), api_url=url, rate_limit_ms=1,
                         timeout_ms=timeout_ms, streams=streams)


def run(make: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(make())  # type: ignore[arg-type]


@dataclass
class Desk:
    """The real client on a loaded exchange, with a bar clock the test moves, and orders made as the kernel
    makes them."""

    exchange: Any
    client: CcxtExecutionClient
    clock: ReplayClock
    fake: Any
    """The fake exchange (``FakeBinance`` or ``FakeBybit``)."""
    incidents: list[Any]
    seq: int = 0

    def order(self, symbol: str, side: str, qty: str, kind: OrderType = OrderType.MARKET, *,
              purpose: OrderPurpose = OrderPurpose.ENTRY, price: str | None = None, stop: str | None = None,
              reduce_only: bool = False, post_only: bool = False, expire_ts: int | None = None) -> Order:
        self.seq += 1
        ts = self.clock.now()
        return Order(client_order_id("test", ts, symbol, purpose, self.seq), ts, symbol, OrderSide(side), kind,
                     Decimal(qty), price=None if price is None else Decimal(price),
                     stop_price=None if stop is None else Decimal(stop), reduce_only=reduce_only, post_only=post_only,
                     expire_ts=expire_ts, purpose=purpose)

    async def send(self, *orders: Order) -> list[Any]:
        for order in orders:
            self.client.submit(order)
        await self.client.settle()
        return self.client.drain()

    async def advance(self) -> list[Any]:
        """The market moves one bar (as the feed's next poll makes it) and the client reads what happened."""
        with self.fake.exchange.lock:
            self.fake.exchange.advance()
        self.clock.advance(self.fake.exchange.market.now())
        await self.heard()
        await self.client.settle()
        return self.client.drain()

    async def heard(self) -> None:
        """With streams, what the exchange did is on the user stream before any later answer (a request is
        answered after the fake's websockets are told), as the feed's candle request orders it in a session."""
        if self.client.settings.streams:
            await self.exchange.fetch_time()


async def open_desk(url: str, fake: Any, *, exchange_id: str = "binanceusdm", **settings: Any) -> Desk:
    exchange = exchange_at(url, timeout_ms=1_000, exchange=exchange_id, streams=bool(settings.get("streams")))
    await exchange.load_markets()
    clock = ReplayClock(fake.exchange.market.now())
    incidents: list[Any] = []
    options = {"backoff": FAST, "resend_wait_s": 0.0, "lookup_wait_s": 0.0, **settings}

    def price(symbol: str) -> float:
        with fake.exchange.lock:
            return fake.exchange.market.price(symbol)

    client = CcxtExecutionClient(exchange, venue_info(exchange_id), lambda _s, ref, *_a, **_k: ref, clock, price,
                                 ClientSettings(**options), on_incident=incidents.append)
    return Desk(exchange, client, clock, fake, incidents)


@pytest.fixture(autouse=True)
def _journal_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live session keeps the account's journal (default ``journal/<account>.sqlite`` in the working folder):
    each test gets its own, so no test writes the checkout's or inherits another's kill switch."""
    monkeypatch.setenv("QT_JOURNAL", str(tmp_path / "journal.sqlite"))
