"""``/metrics`` shows what the journal holds at each scrape: every gauge is the figure the JSON API serves, and the
figures kept between scrapes (alert counts, order latencies, slots, the phase, open alerts) are read again as soon
as a row they show is written, even when no new bar comes with it."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from tests.monitor.conftest import NOW, START, Dash

from quantum_trader.cli.dashboard_source import JournalControls
from quantum_trader.domain.time import MS_PER_HOUR
from quantum_trader.domain.trading import Fill, Order, OrderEvent, OrderEventKind, OrderSide, OrderType
from quantum_trader.journal import Journal, PhaseChange, PhaseEventKind, RiskSnapshot, Severity
from quantum_trader.journal.dashboard_io import VERSION_PARTS, DashboardReader
from quantum_trader.monitor.metrics import LATENCY_BUCKETS_S, latency_histogram

LATER = START + 70 * MS_PER_HOUR


def scrape(dash: Dash) -> dict[str, float]:
    """Each sample as ``name`` or ``name{label="value"}``, parsed as Prometheus parses the text format."""
    response = dash.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=")
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


def new_bar(dash: Dash, equity: str) -> None:
    last = dash.journal.latest_risk()
    assert last is not None
    dash.journal.record_risk(RiskSnapshot(last.ts + MS_PER_HOUR, Decimal(equity), 0.081, 1, correlated_exposure=0.062,
                                          daily_loss=0.0125, drawdown=0.031))


def order(dash: Dash, cid: str, symbol: str, *, ts: int, fill_price: str | None, cancel_after: int = 0) -> None:
    """An order as a session journals it: filled ``60 s`` later at ``fill_price``, or cancelled without a fill."""
    o = Order(cid, ts, symbol, OrderSide.BUY, OrderType.MARKET if fill_price else OrderType.LIMIT, Decimal("2"),
              price=None if fill_price else Decimal("140"))
    dash.journal.record_order(o)
    if fill_price is None:
        dash.journal.record_order_event(OrderEvent(ts + 100, OrderEventKind.ACCEPTED, o))
        dash.journal.record_order_event(OrderEvent(ts + cancel_after, OrderEventKind.CANCELLED, o))
        return
    fill = Fill(ts + 60_000, symbol, OrderSide.BUY, Decimal("2"), Decimal(fill_price), Decimal("0.2"), cid)
    dash.journal.record_order_event(OrderEvent(ts + 60_000, OrderEventKind.FILLED, o, fill=fill), fill_id=f"f-{cid}")


def test_every_gauge_is_the_figure_the_api_serves(dash: Dash) -> None:
    new_bar(dash, "101234.5")
    dash.journal.record_alert("liquidity_drop", Severity.WARNING, "depth 40% of its median", ts=LATER)
    m = scrape(dash)
    p = dash.client.get("/api/portfolio").json()
    ks = p["killswitch"]
    assert m["qt_equity"] == p["equity"] == 101234.5
    expected = {
        "qt_exposure": p["exposure"], "qt_exposure_limit": p["exposure_limit"],
        "qt_exposure_alert": p["exposure_alert"],
        "qt_correlated_exposure": p["correlated_exposure"], "qt_correlated_exposure_limit": p["correlated_limit"],
        "qt_positions": p["positions"], "qt_pnl_24h": p["pnl_24h"], "qt_killswitch_tripped": 0.0,
        "qt_daily_loss": ks["daily"]["loss"], "qt_daily_loss_limit": ks["daily"]["limit"],
        "qt_drawdown": ks["drawdown"]["loss"], "qt_drawdown_limit": ks["drawdown"]["limit"], "qt_phase": p["phase"],
        "qt_feed_lag_seconds": p["feed_lag_ms"] / 1000, "qt_slots_total": p["slots"]["total"],
        **{f'qt_slots_used{{tier="{t["tier"]}"}}': t["used"] for t in p["slots"]["tiers"]},
        **{f'qt_slots_limit{{tier="{t["tier"]}"}}': t["limit"] for t in p["slots"]["tiers"]},
        **{f'qt_alerts{{kind="{k}"}}': n for k, n in dash.client.get("/api/alerts").json()["counts"].items()},
    }
    assert {k: m[k] for k in expected} == expected
    assert (m["qt_exposure"], m["qt_daily_loss"], m["qt_drawdown"]) == (0.081, 0.0125, 0.031)
    assert m["qt_pnl_24h"] is not None and m['qt_alerts{kind="liquidity_drop"}'] == 1.0
    # the four filled orders of the session, each 60 s from created to filled
    assert m["qt_order_latency_seconds_count"] == 4.0 and m["qt_order_latency_seconds_sum"] == 240.0
    assert m['qt_order_latency_seconds_bucket{le="30.0"}'] == 0.0
    assert m['qt_order_latency_seconds_bucket{le="60.0"}'] == 4.0


def test_a_new_alert_moves_its_count_and_the_open_alerts_on_the_next_scrape(dash: Dash) -> None:
    assert scrape(dash)['qt_alerts{kind="correlation_spike"}'] == 1.0
    assert dash.client.get("/api/portfolio").json()["open_alerts"] == 2
    first = dash.journal.record_alert("correlation_spike", Severity.CRITICAL, "mean correlation 0.91", ts=LATER)
    dash.journal.record_alert("stale_feed", Severity.WARNING, "no bar for 3 minutes", ts=LATER + 1)
    m = scrape(dash)  # no new bar: only the alerts moved
    assert m['qt_alerts{kind="correlation_spike"}'] == 2.0 and m['qt_alerts{kind="stale_feed"}'] == 1.0
    assert m['qt_alerts{kind="portfolio_exposure"}'] == 1.0
    assert dash.client.get("/api/portfolio").json()["open_alerts"] == 4
    dash.journal.acknowledge_alert(first, ts=LATER + 2, by="alice")
    assert dash.client.get("/api/portfolio").json()["open_alerts"] == 3
    assert scrape(dash)['qt_alerts{kind="correlation_spike"}'] == 2.0  # acknowledged alerts still count


def test_a_fill_moves_the_slots_and_the_latencies_and_a_bare_cancel_the_latencies(dash: Dash) -> None:
    before = scrape(dash)
    assert before['qt_slots_used{tier="2"}'] == 0.0 and before["qt_order_latency_seconds_count"] == 4.0
    order(dash, "sol-1", "SOL/USDT:USDT", ts=LATER, fill_price="150")
    m = scrape(dash)
    assert m['qt_slots_used{tier="2"}'] == 1.0 and m['qt_slots_used{tier="1"}'] == 1.0
    assert m["qt_order_latency_seconds_count"] == 5.0
    # no fill, no bar, no alert: the cancel alone (an order event) must show, 0.3 s from created to cancelled
    order(dash, "sol-2", "SOL/USDT:USDT", ts=LATER + 1000, fill_price=None, cancel_after=300)
    m = scrape(dash)
    assert m["qt_order_latency_seconds_count"] == 6.0
    assert m['qt_order_latency_seconds_bucket{le="0.5"}'] == before['qt_order_latency_seconds_bucket{le="0.5"}'] + 1
    assert m["qt_order_latency_seconds_sum"] == 300.3


def test_a_phase_change_and_a_trip_show_on_the_next_scrape(dash: Dash) -> None:
    assert scrape(dash)["qt_phase"] == 0.0
    Journal(dash.journal.db, account="default").record_phase_change(
        PhaseChange(NOW, PhaseEventKind.PROMOTE, 0, 1, "gate passed", False, "alice"))
    m = scrape(dash)
    assert m["qt_phase"] == 1.0 and m["qt_killswitch_tripped"] == 0.0
    JournalControls(dash.source).trip("alice", "metrics test")
    assert scrape(dash)["qt_killswitch_tripped"] == 1.0


def test_the_version_names_its_parts(dash: Dash) -> None:
    reader = DashboardReader(dash.journal.db, "default")
    parts = reader.version_parts()
    assert tuple(parts) == VERSION_PARTS and tuple(parts.values()) == reader.version()
    order(dash, "sol-3", "SOL/USDT:USDT", ts=LATER, fill_price=None, cancel_after=200)
    moved = {k for k, v in reader.version_parts().items() if v != parts[k]}
    assert moved == {"order_events"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=300))
def test_the_latency_buckets_count_each_latency_at_most_their_bound(latencies_ms: list[float]) -> None:
    found = list(latency_histogram(latencies_ms))
    if not latencies_ms:
        assert found == []
        return
    samples = {(s.name, s.labels.get("le")): s.value for s in found[0].samples}
    seconds = [ms / 1000 for ms in latencies_ms]
    for bound in LATENCY_BUCKETS_S:
        assert samples[("qt_order_latency_seconds_bucket", repr(bound))] == sum(1 for s in seconds if s <= bound)
    assert samples[("qt_order_latency_seconds_bucket", "+Inf")] == len(seconds)
    assert samples[("qt_order_latency_seconds_sum", None)] == sum(seconds)
