"""A live session whose process died is resumed by the next start with its settings, and ends as if it never died.

Against the fake Binance USD-M exchange on 127.0.0.1 (it replays the market in lockstep with the client, so
the market waits while the process is down): a session is broken off after some bars, with positions and
resting stops at the exchange; the next ``open_live`` with the same settings and journal takes it again
from its first bar (``analytics.live_resume``, ``engine.catch_up``), and the journal's orders, fills and
positions, the cash and the kill switch at the end equal those of a session that ran without a break. No
client order id reaches the exchange twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.server import FakeBinance
from tests.venues.ccxt.conftest import FAST, KEY, credentials

from quantum_trader.analytics.live import LiveRequest, open_live
from quantum_trader.cli.bar_timeframes import explicit_keys, fit_policy
from quantum_trader.config import load_policy
from quantum_trader.data.resample import resample_bars
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.domain.market import BarSeries, FundingSeries
from quantum_trader.engine.catch_up import MISSED, CatchUpExecution
from quantum_trader.engine.inputs import KernelSettings
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.journal import SessionMode, TradingJournal
from quantum_trader.venues.ccxt.execution import ClientSettings
from quantum_trader.venues.ccxt.feed import FeedOptions

Market = tuple[dict[str, BarSeries], dict[str, FundingSeries]]


class CrashError(Exception):
    """The process dying, as far as the session can tell: it stops between two bars and never finishes."""


@pytest.fixture(scope="module")
def market() -> Market:
    found = generate_market(SynthConfig(days=6, seed=5, assets=("BTC", "ETH", "SOL")))
    return {s: resample_bars(b, "1h") for s, b in found.bars.items()}, found.funding


SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")


def request_for(symbols: tuple[str, ...], journal: TradingJournal, rows: int) -> LiveRequest:
    """The session every test here runs (and ``live_child`` runs in the process the crash test kills)."""
    policy = fit_policy(load_policy(env={}), "1h", explicit_keys(None, []))[0]
    return LiveRequest(exchange="binanceusdm", symbols=symbols, strategy=MultiAssetStrategy(), policy=policy,
                       settings=KernelSettings(policy=policy), timeframe="1h", mode="live",
                       credentials=credentials(), warmup_bars=0, max_bars=rows, runs_dir=Path("runs"),
                       feed=FeedOptions(marks=False, books=False, funding=False, poll_s=0.01, grace_s=0.0),
                       client=ClientSettings(backoff=FAST, resend_wait_s=0.0, lookup_wait_s=0.0), report=False,
                       rate_limit_ms=1, journal=journal)


def _request(bars: dict[str, BarSeries], journal: TradingJournal, rows: int) -> LiveRequest:
    return request_for(tuple(bars), journal, rows)


def _run(request: LiveRequest, url: str, crash_after: int | None = None) -> Any:
    async def go() -> Any:
        session = await open_live(replace(request, api_url=url))
        taken = 0

        def on_bar(_chunk: Any) -> None:
            nonlocal taken
            taken += 1
            if crash_after is not None and taken >= crash_after:
                raise CrashError

        await session.run(on_bar)
        return session

    return asyncio.run(go())


def _outcome(journal: TradingJournal) -> dict[str, Any]:
    fills = [(r.fill.ts, r.fill.symbol, r.fill.side.value, r.fill.quantity, r.fill.price, r.fill.fee)
             for r in journal.fills_since(0)]
    orders = [(r.order.client_order_id, r.order.type.value, r.order.quantity, r.status.value, r.filled_quantity)
              for r in journal.orders()]
    switch = journal.load_killswitch()
    equity = journal.latest_equity()
    return {"fills": fills, "orders": orders, "cash": None if equity is None else equity.cash,
            "switch": None if switch is None else (switch.state.tripped, switch.peak_equity, switch.day_start_equity)}


def test_a_live_session_broken_off_with_positions_resumes_and_ends_as_if_never_broken(market: Market,
                                                                                       tmp_path: Path) -> None:
    bars, funding = market
    rows = len(bars["BTC/USDT:USDT"]) - 1
    straight = TradingJournal(tmp_path / "straight.sqlite", session="live-1")
    fake = FakeBinance.of(bars, funding, cursor=1, api_key=KEY)
    with fake.running() as url:
        whole = _run(_request(bars, straight, rows), url)
    expected = _outcome(straight)
    assert len(expected["fills"]) >= 8

    broken = TradingJournal(tmp_path / "broken.sqlite", session="live-1")
    fake = FakeBinance.of(bars, funding, cursor=1, api_key=KEY)
    with fake.running() as url:
        held_at_crash = 0
        for n, crash_after in enumerate((26, 90, 122)):
            journal = TradingJournal(tmp_path / "broken.sqlite", session=f"live-{n + 1}")
            with pytest.raises(CrashError):
                _run(_request(bars, journal, rows), url, crash_after=crash_after)
            held_at_crash += sum(1 for h in fake.exchange.positions.values() if h.qty)
        session = _run(_request(bars, TradingJournal(tmp_path / "broken.sqlite", session="live-9"), rows), url)
    assert held_at_crash > 0, "some break left positions at the exchange for the resumed session to take over"
    assert [s.session for s in broken.sessions() if s.mode is SessionMode.LIVE] == ["live-1"], \
        "every start resumed the first session"
    assert broken.sessions()[0].ended_ts is not None
    assert _outcome(broken) == expected
    assert set(fake.exchange.received.values()) == {1}, "no client order id reached the exchange twice"
    assert not any(h.qty for h in fake.exchange.positions.values())
    assert session.kernel.core.ledger.cash == whole.kernel.core.ledger.cash
    assert session.kernel.core.ledger.funding_paid != 0, "funding heard before a break was booked again"


def test_a_session_down_while_the_market_moved_refuses_the_decisions_it_missed_and_trades_on(market: Market,
                                                                                             tmp_path: Path) -> None:
    """Bars went by while the process was down: their decisions were never taken, and are not sent late at another
    price (refused, journalled, an incident each); what the exchange did meanwhile (a stop filled) is journalled
    from its record; the session then trades on and ends flat, each client order id sent once."""
    bars, funding = market
    rows = len(bars["BTC/USDT:USDT"]) - 1
    path = tmp_path / "j.sqlite"
    fake = FakeBinance.of(bars, funding, cursor=1, api_key=KEY)
    with fake.running() as url:
        with pytest.raises(CrashError):
            _run(_request(bars, TradingJournal(path, session="first"), rows), url, crash_after=26)
        with fake.exchange.lock:
            for _ in range(60):  # the market goes on without the session
                fake.exchange.advance()
        session = _run(_request(bars, TradingJournal(path, session="second"), rows), url)
    journal = TradingJournal(path)
    assert [s.session for s in journal.sessions()] == ["first"] and journal.sessions()[0].ended_ts is not None
    missed = [r for r in journal.orders() if r.status.value == "rejected"]
    assert missed, "a decision due while the process was down was refused"
    assert all(journal.order_events(r.order.client_order_id)[-1].reason == MISSED for r in missed)
    assert {r.order.client_order_id for r in missed}.isdisjoint(fake.exchange.received), "none was sent late"
    catch_up = session.kernel.core.execution
    assert isinstance(catch_up, CatchUpExecution) and len(catch_up.missed) == len(missed)
    assert set(fake.exchange.received.values()) == {1}
    assert not any(h.qty for h in fake.exchange.positions.values())
    assert journal.unresolved_incidents() == []


def test_a_new_session_does_not_take_the_trades_of_the_one_before_for_its_own(market: Market, tmp_path: Path) -> None:
    """The account's trades of an earlier session (its closes fill as the next one starts) are not foreign fills of
    the next session: it books its own fills only."""
    bars, funding = market
    path = tmp_path / "j.sqlite"
    fake = FakeBinance.of(bars, funding, cursor=1, api_key=KEY)
    with fake.running() as url:
        _run(_request(bars, TradingJournal(path, session="first"), 60), url)
        before = len(fake.exchange.trades)
        second = _run(_request(bars, TradingJournal(path, session="second"), 80), url)
    assert before > 0
    core = second.kernel.core
    own = len(fake.exchange.trades) - before
    assert own > 0 and core.rec.fills == own, "the second session booked its own fills and nothing else"
    assert not [i for i in second.incidents if i.kind.value == "foreign_fill"]
