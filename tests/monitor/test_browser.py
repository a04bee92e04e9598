"""The dashboard in a real browser (Debian's chromium, driven by Playwright) on a real paper session's journal.

The page shows the journal's figures; the heatmap renders the journal's matrix; an alert written into the
journal appears without a reload; a control action without the token is refused and with it is journalled.
Screenshots are kept under the test's tmp dir and copied to /tmp/dashboard-shots/ for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.monitor.conftest import TOKEN, Served, free_port
from typer.testing import CliRunner

from quantum_trader.cli.dashboard_source import JournalControls, JournalSource
from quantum_trader.cli.main import app as cli
from quantum_trader.config import load_policy
from quantum_trader.domain.trading import Fill, Order, OrderEvent, OrderEventKind, OrderSide, OrderType
from quantum_trader.journal import Severity, TradingJournal
from quantum_trader.monitor.app import Settings, create_app
from quantum_trader.monitor.security import allowed_hosts

CHROMIUM = Path(os.environ.get("QT_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path("/tmp/dashboard-shots")
ENV = {"COLUMNS": "160"}

pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no chromium at {CHROMIUM} (apt-get install chromium; "
                                                                "make test installs it)")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 3-day paper replay of a synthetic BTC/ETH/SOL market, journalled: (journal, catalog)."""
    root = tmp_path_factory.mktemp("paper")
    runner = CliRunner()
    result = runner.invoke(cli, ["data", "synth", "--days", "4", "--seed", "3", "--catalog", str(root / "catalog"),
                                 "--assets", "BTC,ETH,SOL"], env=ENV)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["paper", "--replay", "--speed", "max", "--symbols", "BTC,ETH,SOL", "--phase", "3",
                                 "--start", "2025-01-01", "--end", "2025-01-04", "--catalog", str(root / "catalog"),
                                 "--runs", str(root / "runs"), "--journal", str(root / "j.sqlite")], env=ENV)
    assert result.exit_code == 0, result.output
    return root / "j.sqlite", root / "catalog"


@pytest.fixture
def browser() -> Iterator[Any]:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


def _money(x: float | Decimal) -> str:
    return f"{float(x):,.2f}"


def _shot(page: Any, tmp_path: Path, name: str, **kwargs: Any) -> None:
    target = tmp_path / name
    page.screenshot(path=str(target), **kwargs)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(target, SHOTS / name)


def _open_position(journal: Path, last_ts: int, price: Decimal) -> None:
    """A live session's next entry after the replay ended (the replay flattened its book at the end): at ``price``
    plus 0.5%, its stop 3% below."""
    j = TradingJournal(journal, session="live-after-replay")
    order = Order("live-1", last_ts, "BTC/USDT:USDT", OrderSide.BUY, OrderType.MARKET, Decimal("0.2"),
                  tag="trend_follow")
    j.record_order(order)
    entry = (price * Decimal("1.005")).quantize(Decimal("0.1"))
    fill = Fill(last_ts + 60_000, "BTC/USDT:USDT", OrderSide.BUY, Decimal("0.2"), entry, Decimal("4"), "live-1")
    j.record_order_event(OrderEvent(last_ts + 60_000, OrderEventKind.FILLED, order, fill=fill), fill_id="live-f-1")
    stop = Order("live-1-stop", last_ts + 60_000, "BTC/USDT:USDT", OrderSide.SELL, OrderType.STOP_MARKET,
                 Decimal("0.2"), stop_price=(price * Decimal("0.97")).quantize(Decimal("0.1")), reduce_only=True)
    j.record_order(stop)


def test_the_page_shows_the_journal_live_and_guards_its_controls(
        session: tuple[Path, Path], browser: Any, serve: Callable[..., Served], tmp_path: Path) -> None:
    journal_path, catalog = session
    journal = TradingJournal(journal_path, session="test")
    last = journal.latest_risk()
    assert last is not None and journal.load_killswitch() is None
    policy = load_policy(None)
    source = JournalSource(str(journal_path), account="default", policy=policy, catalog=catalog)
    assert source.prices is not None
    closes = source.prices.closes("BTC/USDT:USDT", last.ts - 3_600_000, last.ts)
    assert closes is not None
    _open_position(journal_path, last.ts, Decimal(repr(closes[1][-1])))
    port = free_port()
    served = serve(create_app(source, JournalControls(source),
                              Settings(token=TOKEN, allowed_hosts=frozenset(allowed_hosts("127.0.0.1", port)))), port)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(served.url + "/")
    page.wait_for_function("document.getElementById('equity').textContent !== '-'", timeout=15_000)

    # The figures shown are the journal's.
    day_ago = [s for s in journal.risk_snapshots() if s.ts <= last.ts - 86_400_000][-1]
    assert page.text_content("#equity") == _money(last.equity)
    assert page.text_content("#exposure") == f"{last.exposure * 100:.2f}%"
    assert page.text_content("#pnl24h") == _money(last.equity - day_ago.equity)
    assert page.text_content("#killswitch-state") == "armed"
    assert page.text_content("#phase") == "0 BTC ONLY"
    page.wait_for_selector("#assets tbody tr[data-symbol='BTC/USDT:USDT']", timeout=10_000)
    row = page.inner_text("#assets tbody tr[data-symbol='BTC/USDT:USDT']")
    (btc,) = source.assets()
    assert _money(btc.entry_price) in row and _money(closes[1][-1]) in row and "trend_follow" in row
    assert btc.risk_to_stop is not None and _money(btc.risk_to_stop) in row

    # The heatmap renders the journal's matrix now.
    page.wait_for_selector("#heatmap .main-svg", timeout=10_000)
    now = journal.latest_risk(correlation_only=True)
    assert now is not None and now.correlation is not None
    shown = page.evaluate("document.getElementById('heatmap').data[0].z")
    assert shown == [list(r) for r in now.correlation]
    frames = len(journal.risk_snapshots(correlation_only=True))
    assert page.get_attribute("#corr-slider", "max") == str(min(frames, 120) - 1)
    page.wait_for_selector("#price-chart .main-svg", timeout=10_000)
    page.wait_for_selector("#equity-chart .main-svg", timeout=10_000)
    _shot(page, tmp_path, "dashboard-desktop.png", full_page=True)
    page.locator("#heatmap").screenshot(path=str(tmp_path / "dashboard-heatmap.png"))
    shutil.copy(tmp_path / "dashboard-heatmap.png", SHOTS / "dashboard-heatmap.png")

    # An alert written into the journal appears without a reload.
    page.evaluate("window.__same_page = true")
    written = time.monotonic()
    alert_id = journal.record_alert("correlation_spike", Severity.CRITICAL, "mean pairwise correlation 0.89 above 0.85",
                                    ts=last.ts + 1)
    page.wait_for_selector(f"#alerts li[data-id='{alert_id}']", timeout=5_000)
    seen_after = time.monotonic() - written
    assert page.evaluate("window.__same_page") is True
    assert "0.89 above 0.85" in page.inner_text(f"#alerts li[data-id='{alert_id}']")
    assert seen_after < 5.0

    # A control action without the token is refused; with it, journalled with who and why.
    page.fill("#operator", "alice")
    page.fill("#reason", "browser test: trip")
    page.click("button[data-action='/api/killswitch/trip']")
    page.wait_for_function("document.getElementById('action-result').textContent.includes('401')", timeout=5_000)
    assert journal.load_killswitch() is None
    page.fill("#token", TOKEN)
    page.click("button[data-action='/api/killswitch/trip']")
    page.wait_for_function("document.getElementById('action-result').textContent.includes('tripped by alice')",
                           timeout=5_000)
    record = journal.load_killswitch()
    assert record is not None and record.tripped
    (change,) = journal.killswitch_history()
    assert change.operator == "alice" and "browser test: trip" in change.reason
    page.wait_for_function("document.getElementById('killswitch-state').textContent.startsWith('TRIPPED')",
                           timeout=5_000)
    page.click(f"#alerts li[data-id='{alert_id}'] button.ack")
    page.wait_for_selector(f"#alerts li.acked[data-id='{alert_id}']", timeout=5_000)
    acked = {a.id: a for a in journal.alerts()}[alert_id]
    assert acked.acknowledged_by == "alice"
    _shot(page, tmp_path, "dashboard-after-actions.png", full_page=True)

    # A phone's width: one column, nothing wider than the screen.
    phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    phone.goto(served.url + "/")
    phone.wait_for_function("document.getElementById('equity').textContent !== '-'", timeout=15_000)
    phone.wait_for_selector("#heatmap .main-svg", timeout=10_000)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    _shot(phone, tmp_path, "dashboard-phone.png", full_page=True)
    (tmp_path / "figures.json").write_text(json.dumps({"alert_seen_s": seen_after}))
