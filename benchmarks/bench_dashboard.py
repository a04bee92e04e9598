"""The dashboard on a year of 1m history: API p95 latency of the main endpoints, and journal write to browser.

A journal is written in bulk with a year of 1m risk and equity snapshots (525,600 of each, a 5-asset
correlation matrix every hour), a hundred alerts and a few hundred fills. The app is served by uvicorn on
127.0.0.1 and each endpoint asked ``--n`` times over HTTP (httpx, one connection): p50, p95 and max.
Targets: p95 under 50 ms.

Then Debian's chromium (Playwright, as the browser test drives it) opens the page, and an alert and a risk
snapshot are written into the journal ``--writes`` times each: the time until the page shows each one
without a reload (target under 1 s). Skipped, with the reason, when /usr/bin/chromium is absent.

Run: .venv/bin/python benchmarks/bench_dashboard.py [--n 100] [--writes 10] [--keep DIR [--reuse]]
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from quantum_trader.domain.time import MS_PER_DAY, MS_PER_MINUTE
from quantum_trader.journal import RiskSnapshot, SessionMode, Severity, TradingJournal
from quantum_trader.journal.tables import alerts, fills, orders

MINUTES = 525_600
START = 1_704_067_200_000  # 2024-01-01 00:00 UTC
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "BNB/USDT:USDT", "XRP/USDT:USDT")
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ENDPOINTS = ("/api/portfolio", "/api/history?points=600", "/api/correlation?frames=120", "/api/assets",
             "/api/alerts?limit=100", "/api/gates", "/metrics", "/api/history?points=600&since={day}")


def _risk_rows(stamp: tuple[str, str]) -> Iterator[tuple[object, ...]]:
    corr = [[1.0 if i == j else round(0.55 + 0.05 * ((i + j) % 4), 4) for j in range(5)] for i in range(5)]
    corr_json, symbols_json = json.dumps(corr), json.dumps(list(SYMBOLS))
    for i in range(MINUTES):
        hourly = i % 60 == 0
        yield (*stamp, START + (i + 1) * MS_PER_MINUTE, _equity(i), repr(0.2 + 0.1 * math.sin(i / 777)),
               repr(0.1 + 0.05 * math.sin(i / 999)), "0.001", "0.01", 2, symbols_json if hourly else None,
               corr_json if hourly else None, "0.65" if hourly else None)


def _equity(i: int) -> str:
    return str(Decimal(100_000 + round(2_000 * math.sin(i / 5_000) + 3 * (i % 97), 2)))


def build(path: Path) -> tuple[TradingJournal, float]:
    """The year of snapshots, written in bulk through the driver (one transaction): (journal, seconds)."""
    started = time.perf_counter()
    journal = TradingJournal(path, session="bench-year")
    journal.start_session(SessionMode.PAPER, START, exchange="bench")
    stamp = ("default", "bench-year")
    with journal.db.write("bench") as con:
        con.exec_driver_sql(
            "INSERT INTO risk_snapshots (account, session, ts, equity, exposure, correlated_exposure, daily_loss, "
            "drawdown, positions, symbols, correlation, mean_correlation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            list(_risk_rows(stamp)))
        con.exec_driver_sql(
            "INSERT INTO equity_snapshots (account, session, ts, equity, cash, unrealised_pnl, realised_pnl, "
            "fees_paid, funding_paid) VALUES (?, ?, ?, ?, ?, '0', '0', '0', '0')",
            [(*stamp, START + (i + 1) * MS_PER_MINUTE, _equity(i), _equity(i)) for i in range(MINUTES)])
        named = {"account": stamp[0], "session": stamp[1]}
        con.execute(insert(alerts), [{**named, "ts": START + k * 5_000 * MS_PER_MINUTE, "kind": "portfolio_exposure",
                                      "severity": "warning", "message": f"exposure alert {k}"} for k in range(100)])
        order_rows, fill_rows = [], []
        for k in range(300):
            ts = START + k * 1_700 * MS_PER_MINUTE
            side = "buy" if k % 2 == 0 else "sell"
            symbol = SYMBOLS[(k // 2) % 5]
            cid = f"bench-{k}"
            order_rows.append({**named, "client_order_id": cid, "symbol": symbol, "side": side, "kind": "market",
                               "quantity": Decimal("0.1"), "reduce_only": side == "sell", "post_only": False,
                               "tag": "bench", "purpose": "entry" if side == "buy" else "exit", "status": "filled",
                               "filled_quantity": Decimal("0.1"), "created_ts": ts, "updated_ts": ts + 850})
            fill_rows.append({**named, "fill_id": f"f-{k}", "client_order_id": cid, "symbol": symbol, "side": side,
                              "quantity": Decimal("0.1"), "price": Decimal(100 + k), "fee": Decimal("0.01"),
                              "is_maker": False, "liquidation": False, "ts": ts + 850})
        con.execute(insert(orders), order_rows)
        con.execute(insert(fills), fill_rows)
    return journal, time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(path: Path) -> tuple[str, Any, threading.Thread]:
    import uvicorn

    from quantum_trader.cli.dashboard_source import JournalSource
    from quantum_trader.config import load_policy
    from quantum_trader.monitor.app import Settings, create_app
    from quantum_trader.monitor.security import allowed_hosts

    port = _free_port()
    source = JournalSource(str(path), account="default", policy=load_policy(None))
    app = create_app(source, None, Settings(allowed_hosts=frozenset(allowed_hosts("127.0.0.1", port))))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, thread


def _ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values):7.1f} ms  p95 {_p95(values):7.1f} ms  max {max(values):7.1f} ms"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def api_latency(url: str, n: int, touch: Callable[[], None] | None, day: int) -> list[tuple[str, float]]:
    """Each endpoint ``n`` times; with ``touch``, a new risk snapshot is journalled before each request (what a
    live session does every bar: nothing read before it may be reused). ``day``: a day before the newest bar (a
    journal kept with ``--reuse`` has grown by the bars of the runs before)."""
    import httpx

    worst = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for endpoint in ENDPOINTS:
            path = endpoint.format(day=day)
            client.get(path).raise_for_status()  # warm: first connection
            times = []
            for _ in range(n):
                if touch is not None:
                    touch()
                t = time.perf_counter()
                client.get(path).raise_for_status()
                times.append((time.perf_counter() - t) * 1000)
            print(f"  GET {path:<48} {_ms(times)}")
            worst.append((path, _p95(times)))
    return worst


def write_to_browser(url: str, journal: TradingJournal, writes: int) -> None:
    if not CHROMIUM.is_file():
        print(f"  skipped: no chromium at {CHROMIUM} (apt-get install chromium)")
        return
    from playwright.sync_api import sync_playwright

    last = journal.latest_risk()
    assert last is not None
    alert_s, equity_s = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/")
        page.wait_for_function("document.getElementById('equity').textContent !== '-'", timeout=30_000)
        page.wait_for_selector("#heatmap .main-svg", timeout=30_000)
        for k in range(writes):
            t = time.perf_counter()
            alert_id = journal.record_alert("bench", Severity.INFO, f"bench alert {k}", ts=last.ts + k + 1)
            page.wait_for_selector(f"#alerts li[data-id='{alert_id}']", timeout=10_000)
            alert_s.append((time.perf_counter() - t) * 1000)
            equity = Decimal(200_000 + k)
            shown = f"{equity:,.2f}"
            t = time.perf_counter()
            journal.record_risk(RiskSnapshot(last.ts + (k + 1) * MS_PER_MINUTE, equity, 0.25, 2))
            page.wait_for_function(f"document.getElementById('equity').textContent === '{shown}'", timeout=10_000)
            equity_s.append((time.perf_counter() - t) * 1000)
            time.sleep(0.3)
        browser.close()
    print(f"  alert written -> shown       {_ms(alert_s)}  ({writes} writes)")
    print(f"  risk snapshot -> equity shown {_ms(equity_s)}  ({writes} writes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="requests per endpoint")
    parser.add_argument("--writes", type=int, default=10, help="journal writes watched in the browser")
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the year's journal in")
    parser.add_argument("--reuse", action="store_true", help="with --keep: measure the journal kept there by an "
                                                             "earlier run instead of writing it again")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "year.sqlite"
        if args.reuse and args.keep is not None and path.is_file():
            journal = TradingJournal(path, session="bench-year")
            print(f"journal: {path} as an earlier run left it, {path.stat().st_size / 1e6:.0f} MB")
        else:
            path.unlink(missing_ok=True)
            journal, seconds = build(path)
            size = path.stat().st_size / 1e6
            print(f"journal: {MINUTES:,} risk + {MINUTES:,} equity snapshots (1m, one year) written in "
                  f"{seconds:.1f} s, {size:.0f} MB")
        url, server, thread = serve(path)
        last = journal.latest_risk()
        assert last is not None
        bar = [last.ts]

        def touch() -> None:
            bar[0] += MS_PER_MINUTE
            journal.record_risk(RiskSnapshot(bar[0], last.equity, last.exposure, last.positions))

        for title, how in (("a new bar journalled before each request", touch), ("repeated, nothing new", None)):
            print(f"API latency over HTTP, {title} ({args.n} requests each, target p95 < 50 ms):")
            worst = max(api_latency(url, args.n, how, last.ts - MS_PER_DAY), key=lambda w: w[1])
            print(f"  slowest p95: {worst[1]:.1f} ms ({worst[0]})")
        print("journal write -> browser shows it (target < 1000 ms):")
        write_to_browser(url, journal, args.writes)
        server.should_exit = True
        thread.join(timeout=30)  # the app's shutdown ends the gate verdict's process (else it outlives the run)


if __name__ == "__main__":
    main()
