"""What a restart costs: reconciliation with the exchange, and restart-to-trading with a year of journal.

Run: .venv/bin/python benchmarks/bench_recovery.py [--days 365] [--repeat 5]

1. Reconciliation with 5 positions and 20 open orders (``engine.reconcile``) against the test suite's fake
   Binance USD-M exchange on 127.0.0.1 (``tests/fakes``): 5 filled entries and 20 resting limits, each in the
   journal and at the exchange, so every order is looked up and every position compared. The fake answers from
   the same machine: the figure is the client's own work and a local round trip per request (26 requests), not
   an exchange's latency (add your round trip to the exchange, about 26 times, for a real account).
2. Restart to trading with a year of journal: a journal holding a year of 1m risk and equity snapshots (525,600
   bars) and 20,000 orders with their fills, all flat; then ``open_live`` on it (the kill switch restored,
   reconciliation, the account set up) and the first closed bar taken, as a restarted ``live`` does.
Both print the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's fake exchange

from tests.fakes.server import FakeBinance
from tests.venues.ccxt.conftest import FAST, KEY, exchange_at
from tests.venues.ccxt.test_session import _request

from quantum_trader.data.resample import resample_bars
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.trading import Fill, Order, OrderEvent, OrderEventKind, OrderPurpose, OrderSide, OrderType
from quantum_trader.domain.trading import client_order_id as derive
from quantum_trader.engine.reconcile import reconcile
from quantum_trader.journal import EquitySnapshot, RiskSnapshot, SessionMode, TradingJournal
from quantum_trader.venues.ccxt.connect import venue_info

ASSETS = ("BTC", "ETH", "SOL", "BNB", "XRP")
RUN = "live-binanceusdm-mainnet"


def hourly_five(days: int = 3) -> dict[str, BarSeries]:
    market = generate_market(SynthConfig(days=days, seed=5, assets=ASSETS))
    return {s: resample_bars(b, "1h") for s, b in market.bars.items()}


def _binance_id(symbol: str) -> str:
    return symbol.split("/")[0] + "USDT"


def _five_and_twenty(fake: FakeBinance, journal: TradingJournal) -> None:
    """5 filled entries and 20 resting limits, journalled and at the exchange."""
    now = fake.exchange.market.now()
    for i, symbol in enumerate(sorted(fake.exchange.market.close)):
        price = Decimal(repr(round(fake.exchange.market.price(symbol), 2)))
        spec = fake.exchange.spec(_binance_id(symbol))
        quantity = max(spec.min_qty, (Decimal(400) / price / spec.step).to_integral_value() * spec.step)
        entry = Order(derive(RUN, now + i, symbol, OrderPurpose.ENTRY), now + i, symbol, OrderSide.BUY,
                      OrderType.MARKET, quantity, purpose=OrderPurpose.ENTRY)
        journal.record_order(entry)
        with fake.exchange.lock:
            order = fake.exchange.new_order({"symbol": _binance_id(symbol), "side": "BUY", "type": "MARKET",
                                             "quantity": str(quantity), "newClientOrderId": entry.client_order_id})
        trade = next(t for t in fake.exchange.trades if t.order_id == order.order_id)
        fill = Fill(trade.time, symbol, OrderSide.BUY, trade.qty, trade.price, trade.commission,
                    entry.client_order_id)
        journal.record_order_event(OrderEvent(trade.time, OrderEventKind.FILLED, entry, fill=fill),
                                   fill_id=f"{entry.client_order_id}/1")
        for j in range(4):
            limit_price = (price * Decimal("0.5") / spec.tick).to_integral_value() * spec.tick
            qty = max(spec.min_qty, (Decimal(200) / limit_price / spec.step).to_integral_value() * spec.step)
            limit = Order(derive(RUN, now + 100 + j, symbol, OrderPurpose.ENTRY), now + 100 + j, symbol,
                          OrderSide.BUY, OrderType.LIMIT, qty, limit_price, purpose=OrderPurpose.ENTRY)
            journal.record_order(limit)
            journal.record_order_event(OrderEvent(now + 100 + j, OrderEventKind.ACCEPTED, limit))
            with fake.exchange.lock:
                fake.exchange.new_order({"symbol": _binance_id(symbol), "side": "BUY", "type": "LIMIT",
                                         "quantity": str(qty), "price": str(limit_price), "timeInForce": "GTC",
                                         "newClientOrderId": limit.client_order_id})


def bench_reconcile(repeat: int) -> None:
    bars = hourly_five()
    fake = FakeBinance.of(bars, cursor=2, api_key=KEY)
    with tempfile.TemporaryDirectory() as folder, fake.running() as url:
        journal = TradingJournal(Path(folder) / "j.sqlite", session="bench")
        journal.start_session(SessionMode.LIVE, 1, exchange="binanceusdm")
        _five_and_twenty(fake, journal)

        async def once() -> float:
            exchange = exchange_at(url)
            try:
                await exchange.load_markets()
                found = await reconcile(exchange, journal, venue_info("binanceusdm"), tuple(sorted(bars)),
                                        now=fake.exchange.market.now(), backoff=FAST)
                assert found.agrees and len(found.resting) == 20 and sum(1 for q in found.exchange_positions.values()
                                                                         if q) == 5, found.lines()
                return found.seconds
            finally:
                await exchange.close()

        times = [asyncio.run(once()) for _ in range(repeat)]
    print(f"reconciliation, 5 positions and 20 open orders: median {1000 * statistics.median(times):.0f} ms "
          f"(min {1000 * min(times):.0f} ms, {repeat} runs; fake exchange on 127.0.0.1)")


def _year_journal(path: Path, days: int) -> TradingJournal:
    journal = TradingJournal(path, session="last-year")
    journal.start_session(SessionMode.LIVE, 1_704_067_200_000, exchange="binanceusdm")
    start = 1_704_067_200_000
    bars = days * 1440
    chunk = 20_000
    for first in range(0, bars, chunk):
        ts = [start + 60_000 * (first + i) for i in range(min(chunk, bars - first))]
        with journal.transaction():
            journal.record_bars([RiskSnapshot(t, Decimal("100000"), 0.2, 2, 0.1, 0.0, 0.01) for t in ts],
                                [EquitySnapshot(t, Decimal("100000"), Decimal("100000")) for t in ts])
    for block in range(0, 10_000, 1_000):  # 20,000 orders: an entry and its exit, flat at the end
        with journal.transaction():
            _orders(journal, start, range(block, block + 1_000))
    return journal


def _orders(journal: TradingJournal, start: int, numbers: range) -> None:
    for n in numbers:
        ts = start + 3_000_000 * n
        for purpose, side in ((OrderPurpose.ENTRY, OrderSide.BUY), (OrderPurpose.EXIT, OrderSide.SELL)):
            order = Order(derive(RUN, ts, "BTC/USDT:USDT", purpose), ts, "BTC/USDT:USDT", side, OrderType.MARKET,
                          Decimal("0.010"), purpose=purpose)
            journal.record_order(order)
            fill = Fill(ts, order.symbol, side, order.quantity, Decimal("60000"), Decimal("0.3"),
                        order.client_order_id)
            journal.record_order_event(OrderEvent(ts, OrderEventKind.FILLED, order, fill=fill),
                                       fill_id=f"{order.client_order_id}/1")


async def _restart(request: object) -> float:
    from quantum_trader.analytics.live import LiveRequest, open_live

    assert isinstance(request, LiveRequest)
    started = time.perf_counter()
    session = await open_live(request)
    await session.run()
    return time.perf_counter() - started


def bench_restart(days: int, repeat: int) -> None:
    from tests.venues.ccxt.conftest import hourly

    with tempfile.TemporaryDirectory() as folder:
        built = time.perf_counter()
        path = Path(folder) / "year.sqlite"
        _year_journal(path, days).close()
        size = path.stat().st_size / 1e6
        print(f"journal of {days} days of 1m bars and 20,000 orders: built in {time.perf_counter() - built:.0f} s, "
              f"{size:.0f} MB")
        bars = hourly(days=3, seed=5)
        times = []
        for i in range(repeat):
            fake = FakeBinance.of(bars, cursor=2, api_key=KEY)
            with fake.running() as url:
                journal = TradingJournal(path, session=f"restart-{i}")
                request = replace(_request(bars, "live", 1, journal=journal), api_url=url)

                times.append(asyncio.run(_restart(request)))
                journal.close()
    print(f"restart to trading with a year of journal (open_live: kill switch, reconciliation, account setup; "
          f"then the first bar): median {1000 * statistics.median(times):.0f} ms (min {1000 * min(times):.0f} ms, "
          f"{repeat} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bench_reconcile(args.repeat)
    bench_restart(args.days, args.repeat)


if __name__ == "__main__":
    main()
