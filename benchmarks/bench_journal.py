"""Journal write cost per fill and per decision, and the time to load a restart's state from a year of activity.

Each write is what the engine pays on its hot path: one committed transaction (SQLite in WAL mode with
``synchronous=FULL``: durable on the disk before the call returns). Measured per call:

* per fill: ``record_order`` (before the send) and ``record_order_event`` carrying the fill (the order's
  status, filled quantity, the event and the fill in one transaction);
* per decision: ``record_decision`` (the intent and its reasons, approved, reduced or refused).

Then a journal holding a year of activity (5 assets on hourly decisions: 43,800 decisions, 7,300 orders
with 10,950 fills and their events, hourly equity and positions snapshots, kill-switch saves, alerts and
incidents) is written in bulk, and a fresh ``TradingJournal`` (a restarted process) loads what a restart
needs: the kill switch, open orders, latest positions, balances and equity, the last fill, fills since
the start of the day, unresolved incidents, active locks and the feed cursor.

Run: .venv/bin/python benchmarks/bench_journal.py [--postgres postgresql+psycopg://user@host/db] [--n 500]
(PostgreSQL: an empty database you may write to; `source .ci/postgres` starts a throwaway one, with
durability off, which makes its figures a lower bound.)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from quantum_trader.domain.trading import (
    Fill,
    Intent,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderSide,
    OrderType,
    RiskDecision,
    RiskReason,
    Side,
    Verdict,
)
from quantum_trader.journal.codec import decision_values, fill_values, order_values
from quantum_trader.journal.records import EquitySnapshot, KillSwitchRecord, Severity
from quantum_trader.journal.tables import (
    alerts,
    equity_snapshots,
    fills,
    incidents,
    killswitch_events,
    order_events,
    orders,
    risk_decisions,
    snapshot_positions,
    snapshots,
)
from quantum_trader.journal.trading import TradingJournal
from quantum_trader.risk.kill_switch import KillSwitchState

T0 = 1_735_689_600_000
HOUR = 3_600_000
ASSETS = ("BTC", "ETH", "SOL", "BNB", "XRP")
REASONS = (RiskReason("max_risk_per_trade", "risk 2.00% of equity", 0.02, 0.02),
           RiskReason("max_position_size", "capped at 10% of equity", 0.14, 0.10, reduces=True))


def timed(action: Callable[[int], Any], n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        action(i)
        out.append(time.perf_counter() - start)
    return out


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return (f"  {name:<34} median {statistics.median(ms):6.2f} ms   p95 {p95:6.2f} ms   "
            f"{len(ms) / sum(seconds):7.0f}/s")


def order_for(i: int, ts: int) -> Order:
    return Order(f"qt-entr-{i:08d}", ts, f"{ASSETS[i % 5]}/USDT:USDT", OrderSide.BUY, OrderType.MARKET,
                 Decimal("0.125"))


def fill_for(order: Order, qty: str = "0.125") -> Fill:
    return Fill(order.ts + 1_000, order.symbol, order.side, Decimal(qty), Decimal("60123.4"), Decimal("3.0061"),
                order.client_order_id)


def decision_for(i: int, ts: int) -> RiskDecision:
    intent = Intent(ts, f"{ASSETS[i % 5]}/USDT:USDT", Side.LONG, 0.62, 60_123.4, 58_900.0, "trend_z",
                    ("z 2.1", "regime trend"))
    return RiskDecision(intent, Verdict.REDUCED, Decimal("0.125"), REASONS)


def write_costs(url: str, n: int) -> None:
    journal = TradingJournal(url, account=f"bench-{uuid.uuid4().hex[:8]}", session="bench")
    journal.record_equity(EquitySnapshot(T0, Decimal(100_000), Decimal(100_000)))  # the schema exists: not timed
    placed = [order_for(i, T0 + i * HOUR) for i in range(n)]
    sent = timed(lambda i: journal.record_order(placed[i]), n)
    filled = timed(lambda i: journal.record_order_event(
        OrderEvent(placed[i].ts + 1_000, OrderEventKind.FILLED, placed[i], fill_for(placed[i])), fill_id=f"t{i}"), n)
    decided = timed(lambda i: journal.record_decision(decision_for(i, T0 + i * HOUR)), n)
    print(summary("record_order (before the send)", sent))
    print(summary("record_order_event with its fill", filled))
    both = (statistics.median(sent) + statistics.median(filled)) * 1000
    print(f"  {'per fill (both)':<34} median {both:6.2f} ms")
    print(summary("record_decision", decided))
    journal.close()


def _year_rows(account: str) -> dict[Any, list[dict[str, Any]]]:
    """A year of a 5-asset session, as table rows (written in bulk: only the load is timed)."""
    stamp = {"account": account, "session": "year"}
    rows: dict[Any, list[dict[str, Any]]] = {t: [] for t in (orders, order_events, fills, risk_decisions,
                                                             equity_snapshots, alerts, incidents,
                                                             killswitch_events)}
    hours = 365 * 24
    for h in range(hours):
        ts = T0 + h * HOUR
        for a in range(5):
            rows[risk_decisions].append({**stamp, **decision_values(decision_for(a, ts), ts, None),
                                         "client_order_id": None})
        rows[equity_snapshots].append({**stamp, "ts": ts, "equity": Decimal("100000.00") + h, "cash": Decimal(99_000),
                                       "unrealised_pnl": Decimal(h), "realised_pnl": Decimal(0),
                                       "fees_paid": Decimal("12.5"), "funding_paid": Decimal("0.75")})
        if h % 6 == 0:  # 4 orders a day across the assets, each filled in 1.5 fills on average
            order = order_for(h, ts)
            status = "filled" if h < hours - 48 else "accepted"
            rows[orders].append({**stamp, **order_values(order), "exchange_order_id": str(h), "status": status,
                                 "filled_quantity": Decimal("0.125"), "updated_ts": ts + 2_000, "decision_id": None})
            parts = ("0.125",) if h % 12 else ("0.05", "0.075")
            for k, qty in enumerate(parts):
                fid = f"t{h}-{k}"
                rows[fills].append({**stamp, **fill_values(fill_for(order, qty), fid)})
                rows[order_events].append({**stamp, "client_order_id": order.client_order_id, "ts": ts + 1_000 + k,
                                           "kind": "filled", "reason": "", "exchange_order_id": str(h),
                                           "fill_id": fid, "reference": 60_100.0})
        if h % 168 == 0:
            rows[alerts].append({**stamp, "ts": ts, "kind": "drift", "severity": Severity.WARNING.value,
                                 "message": "exposure 36%", "acknowledged_by": "ana", "acknowledged_ts": ts + 60_000})
            rows[incidents].append({**stamp, "ts": ts, "kind": "stale_feed", "detail": "no bar for 2 intervals",
                                    "safe_action": "halt entries", "resolved_ts": ts + 600_000, "resolved_by": "ana",
                                    "resolution": "feed back"})
            rows[killswitch_events].append({**stamp, "ts": ts, "kind": "rearm", "reason": "new UTC day",
                                            "operator": "", "forced": False, "state": "{}"})
    return rows


def write_year(journal: TradingJournal) -> tuple[float, int]:
    rows = _year_rows(journal.account)
    start = time.perf_counter()
    with journal.db.write() as con:
        for table, batch in rows.items():
            if batch:
                con.execute(insert(table), batch)
        for h in range(365 * 24):
            sid = con.execute(insert(snapshots).values(account=journal.account, session="year", ts=T0 + h * HOUR,
                                                       kind="positions", source="ledger")).inserted_primary_key
            con.execute(insert(snapshot_positions), [
                {"snapshot_id": sid[0] if sid else 0, "symbol": f"{asset}/USDT:USDT", "quantity": Decimal("0.125"),
                 "entry_price": Decimal("60000.1"), "stop_price": Decimal("58000"), "opened_ts": T0}
                for asset in ASSETS[:3]])
    end = T0 + (365 * 24 - 1) * HOUR
    state = KillSwitchState(day_start=end - end % 86_400_000)
    journal.save_killswitch(KillSwitchRecord(state, Decimal("104321.55"), Decimal("103900.10"), state.day_start, "",
                                             end))
    journal.set_feed_cursor("binanceusdm:BTC/USDT:USDT:1h", end, ts=end)
    return time.perf_counter() - start, sum(len(b) for b in rows.values())


def load_state(url: str, account: str) -> dict[str, Any]:
    journal = TradingJournal(url, account=account, session="restart")
    end = T0 + (365 * 24 - 1) * HOUR
    state = {
        "killswitch": journal.load_killswitch(),
        "open_orders": journal.open_orders(),
        "positions": journal.latest_positions(),
        "balances": journal.latest_balances(),
        "equity": journal.latest_equity(),
        "last_fill": journal.last_fill(),
        "fills_today": journal.fills_since(end - end % 86_400_000),
        "incidents": journal.unresolved_incidents(),
        "locks": journal.active_locks(at=end),
        "cursor": journal.feed_cursor("binanceusdm:BTC/USDT:USDT:1h", any_session=True),
    }
    journal.close()
    return state


def year_load(url: str) -> None:
    journal = TradingJournal(url, account=f"year-{uuid.uuid4().hex[:8]}", session="year")
    wrote, rows = write_year(journal)
    print(f"  a year of activity: {rows:,} rows (+ 8,760 positions snapshots) written in bulk in {wrote:.1f} s")
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        state = load_state(url, journal.account)
        runs.append(time.perf_counter() - start)
    print(f"  restart load from it: median {statistics.median(runs) * 1000:.1f} ms (min {min(runs) * 1000:.1f}, "
          f"max {max(runs) * 1000:.1f}; a fresh TradingJournal each time): {len(state['open_orders'])} open orders, "
          f"{len(state['positions'].positions)} positions, {len(state['fills_today'])} fills today, kill switch "
          f"{'tripped' if state['killswitch'].tripped else 'armed'}, cursor {state['cursor']}")
    journal.close()


def run(label: str, url: str, n: int) -> None:
    print(f"{label}: {url}")
    write_costs(url, n)
    year_load(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL to measure as well")
    parser.add_argument("--n", type=int, default=500, help="writes timed per kind (default 500)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:  # the working folder's disk, where journal/ lives
        run("SQLite (WAL, synchronous=FULL)", str(Path(tmp) / "journal.sqlite"), args.n)
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        print(f"  journal files: {size / 1e6:.1f} MB")
    if args.postgres:
        run("PostgreSQL", args.postgres, args.n)


if __name__ == "__main__":
    main()
