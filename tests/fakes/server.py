"""Run a fake exchange on 127.0.0.1 in a thread of its own, so a command under test can use its own event loop.

``FakeBinance.of(bars, ...)`` (or ``FakeBybit.of``) builds the exchange over a replay; ``with fake.running() as
url:`` serves it on a free port and stops it afterwards. The test reads and steers ``fake.exchange`` (the
matching engine both fakes share, under its lock) and ``fake.server`` (faults, skew, freezing) while the
client runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from aiohttp import web
from tests.fakes.binance_http import FakeBinanceServer, exchange_info, specs_from_info
from tests.fakes.binance_state import FakeExchange
from tests.fakes.bybit_http import FakeBybitServer, bybit_specs
from tests.fakes.bybit_state import BybitAccount
from tests.fakes.market import ExchangePricing, Pricing, ReplayedMarket

from quantum_trader.domain.market import BarSeries, FundingSeries


def binance_id(symbol: str) -> str:
    base, rest = symbol.split("/")
    return base + rest.split(":")[0]


@dataclass
class FakeBinance:
    exchange: FakeExchange
    server: FakeBinanceServer

    @classmethod
    def of(cls, bars: Mapping[str, BarSeries], funding: Mapping[str, FundingSeries] | None = None, *,
           cursor: int = 1, balance: float = 100_000.0, pricing: Pricing | None = None,
           api_key: str | None = "fake-key", limit_fill: str = "through", mark_premium: float = 0.0) -> FakeBinance:
        market = ReplayedMarket.of(bars, funding, cursor)
        specs = specs_from_info(exchange_info(0), {binance_id(s): s for s in bars})
        exchange = FakeExchange(market, specs, Decimal(repr(balance)), pricing or ExchangePricing(),
                                limit_fill=limit_fill, mark_premium=mark_premium)
        return cls(exchange, FakeBinanceServer(exchange, api_key=api_key))

    @contextmanager
    def running(self) -> Iterator[str]:
        with serving(self.server.app) as url:
            yield url


@dataclass
class FakeBybit:
    """The fake Bybit v5 exchange: Bybit's endpoints over the same matching engine (``bybit_state``)."""

    exchange: FakeExchange
    account: BybitAccount
    server: FakeBybitServer

    @classmethod
    def of(cls, bars: Mapping[str, BarSeries], funding: Mapping[str, FundingSeries] | None = None, *,
           cursor: int = 1, balance: float = 100_000.0, pricing: Pricing | None = None,
           api_key: str | None = "fake-key", limit_fill: str = "through") -> FakeBybit:
        market = ReplayedMarket.of(bars, funding, cursor)
        exchange = FakeExchange(market, bybit_specs({binance_id(s): s for s in bars}), Decimal(repr(balance)),
                                pricing or ExchangePricing(maker=Decimal("0.0002"), taker=Decimal("0.00055")),
                                limit_fill=limit_fill)
        account = BybitAccount(exchange)
        return cls(exchange, account, FakeBybitServer(account, api_key=api_key))

    @contextmanager
    def running(self) -> Iterator[str]:
        with serving(self.server.app) as url:
            yield url


@contextmanager
def serving(make_app: Callable[[], web.Application]) -> Iterator[str]:
    """Serve ``make_app()`` on a free port of 127.0.0.1 from a thread of its own; its origin while it runs."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def start() -> None:
        runner = web.AppRunner(make_app(), handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        holder["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, name="fake-exchange", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the fake exchange did not start")
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        runner = holder["runner"]
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)  # type: ignore[attr-defined]
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
