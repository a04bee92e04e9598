"""A live session's cost per bar: ``live`` and ``paper --exchange`` against the fake Binance USD-M or Bybit exchange.

Run: .venv/bin/python benchmarks/bench_live.py [--days 10] [--exchange binanceusdm|bybit] [--streams on|off|both]

What runs: ``analytics.live`` sessions (the ccxt client and feed, the kernel, the multi-asset strategy under the
whole default policy, re-deciding over the bars so far at each close) on a synthetic hourly market of BTC, ETH and
SOL served by the test suite's fake exchange (``tests/fakes``) on 127.0.0.1, with ccxt's rate limiter spacing
set to 1 ms (the fake has no limit; a real exchange's limiter adds its own spacing). The exchange answers from
the same machine, so the figures are the client's and the kernel's own work plus a local HTTP round trip per
request, not an exchange's latency.

Figures: wall time per bar; REST requests per bar; bar to orders (from a bar's delivery until its orders were
sent and their answers read back; in paper, until they reached the simulated venue), p50 and p99; with the
exchange's websockets watched (``venue.live.streams``, the default) and with everything polled. The replay's
bars lie in the past, so their candles are polled either way (a close long past is not waited for on the
stream); the streams spare the account's polls.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's fake exchange

from tests.fakes.server import FakeBinance, FakeBybit
from tests.venues.ccxt.conftest import BTC, KEY, credentials, hourly
from tests.venues.ccxt.test_session import _request

from quantum_trader.analytics.live import open_live


def measure(mode: str, days: int, exchange: str, streams: bool) -> None:
    bars = hourly(days=days, seed=5)
    fake = (FakeBybit if exchange == "bybit" else FakeBinance).of(bars, cursor=1, api_key=KEY)
    request = _request(bars, mode, len(bars[BTC]) - 1, streams=streams)
    request = replace(request, exchange=exchange,
                      credentials=credentials(exchange=exchange) if request.credentials is not None else None)
    with fake.running() as url:
        async def go() -> None:
            session = await open_live(replace(request, api_url=url))
            started = time.perf_counter()
            stats = await session.run()
            wall = time.perf_counter() - started
            latency = stats.summary()["bar_to_orders_ms"]
            print(f"{exchange} {mode:>5} ({'streams' if streams else 'polling'}): {stats.bars} bars, "
                  f"{1000 * wall / stats.bars:.1f} ms a bar, "
                  f"{len(fake.server.log) / stats.bars:.1f} requests a bar, bar to orders p50 "
                  f"{latency['p50']} ms, p99 {latency['p99']} ms ({latency['bars']} bars with orders)")  # type: ignore
        asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--exchange", choices=("binanceusdm", "bybit"), default="binanceusdm")
    parser.add_argument("--streams", choices=("on", "off", "both"), default="both")
    args = parser.parse_args()
    for streams in {"on": (True,), "off": (False,), "both": (True, False)}[args.streams]:
        for mode in ("live", "paper"):
            measure(mode, args.days, args.exchange, streams)


if __name__ == "__main__":
    main()
