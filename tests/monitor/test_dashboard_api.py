"""The JSON API serves the journal's own figures, refuses control actions without the token or from another
site, journals them with who and why when allowed, and answers bad input with one line naming the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.journal.conftest import BACKENDS, fresh_journal
from tests.monitor.conftest import HOST, NOW, START, TOKEN, Dash, make_dash, write_session

from quantum_trader.cli.dashboard_source import JournalSource
from quantum_trader.domain.time import MS_PER_DAY
from quantum_trader.journal import Journal, KillSwitchRecord, Severity, TradingJournal
from quantum_trader.journal.dashboard_io import DashboardReader
from quantum_trader.risk.kill_switch import armed

AUTH = {"Authorization": f"Bearer {TOKEN}"}
WHO = {"operator": "alice", "reason": "dashboard test"}


def test_the_portfolio_is_the_journals_last_snapshot(dash: Dash) -> None:
    p = dash.client.get("/api/portfolio").json()
    last = dash.journal.latest_risk()
    assert last is not None
    assert p["ts"] == last.ts and p["equity"] == float(last.equity)
    assert p["exposure"] == last.exposure and p["correlated_exposure"] == last.correlated_exposure
    reader = DashboardReader(dash.journal.db, "default")
    day_ago = reader.risk_at_or_before(last.ts - MS_PER_DAY)
    assert day_ago is not None
    assert p["pnl_24h"] == pytest.approx(float(last.equity - day_ago.equity), abs=1e-9)
    assert (p["exposure_limit"], p["exposure_alert"]) == (0.40, 0.35)
    assert p["killswitch"]["tripped"] is False
    assert p["killswitch"]["daily"]["loss"] == last.daily_loss and p["killswitch"]["drawdown"]["loss"] == last.drawdown
    assert p["killswitch"]["daily"]["room"] == pytest.approx(0.05 - (last.daily_loss or 0))
    assert p["open_alerts"] == 2
    assert p["feed_lag_ms"] == NOW - last.ts


def test_slots_count_the_open_positions_by_tier(dash: Dash) -> None:
    slots = dash.client.get("/api/portfolio").json()["slots"]
    assert slots["total"] == 5 and slots["reserved_tier_1"] == 2
    by_tier = {t["tier"]: t for t in slots["tiers"]}
    assert by_tier[1]["assets"] == ["BTC"] and by_tier[1]["used"] == 1  # ETH was closed
    assert (by_tier[2]["limit"], by_tier[3]["limit"]) == (2, 1)


def test_history_is_sampled_from_the_journals_rows(dash: Dash) -> None:
    rows = dash.journal.risk_snapshots()
    points = dash.client.get("/api/history", params={"points": 7}).json()["points"]
    assert 2 <= len(points) <= 7
    by_ts = {r.ts: r for r in rows}
    for p in points:
        row = by_ts[p["ts"]]
        assert p["equity"] == float(row.equity) and p["exposure"] == row.exposure and p["drawdown"] == row.drawdown
    assert points[0]["ts"] == rows[0].ts and points[-1]["ts"] == rows[-1].ts
    everything = dash.client.get("/api/history", params={"points": 5000}).json()["points"]
    assert [p["ts"] for p in everything] == [r.ts for r in rows]
    window = dash.client.get("/api/history", params={"since": rows[5].ts, "until": rows[9].ts}).json()["points"]
    assert [p["ts"] for p in window] == [r.ts for r in rows[5:10]]


def test_the_heatmap_history_ends_with_the_matrix_now(dash: Dash) -> None:
    frames = dash.client.get("/api/correlation").json()["frames"]
    updates = dash.journal.risk_snapshots(correlation_only=True)
    assert [f["ts"] for f in frames] == [u.ts for u in updates]
    now = dash.journal.latest_risk(correlation_only=True)
    assert now is not None and now.correlation is not None
    assert frames[-1]["matrix"] == [list(r) for r in now.correlation] and frames[-1]["mean"] == now.mean_correlation
    assert len(dash.client.get("/api/correlation", params={"frames": 3}).json()["frames"]) <= 3


def test_an_open_position_with_its_entry_stop_signal_and_risk(dash: Dash) -> None:
    (btc,) = dash.client.get("/api/assets").json()
    assert btc["symbol"] == "BTC/USDT:USDT" and btc["tier"] == 1 and btc["side"] == "long"
    assert btc["quantity"] == pytest.approx(0.1) and btc["entry_price"] == pytest.approx(95000.0)
    assert btc["signal"] == "trend_follow" and btc["stop_price"] == 92000.0
    assert btc["mark"] == 96000.0 and btc["mark_source"].startswith("last fill")
    assert btc["unrealised_pnl"] == pytest.approx(0.1 * (96000 - 95000))
    assert btc["risk_to_stop"] == pytest.approx(0.1 * (96000 - 92000))
    equity = float(dash.journal.latest_risk().equity)  # type: ignore[union-attr]
    assert btc["risk_to_stop_fraction"] == pytest.approx(400 / equity)
    chart = dash.client.get("/api/assets/BTC/USDT:USDT/prices").json()
    assert [f["kind"] for f in chart["fills"]] == ["entry", "entry"]


def test_alerts_newest_first_with_counts(dash: Dash) -> None:
    alerts = dash.client.get("/api/alerts").json()
    assert [a["kind"] for a in alerts["items"]] == ["correlation_spike", "portfolio_exposure"]
    assert alerts["counts"] == {"correlation_spike": 1, "portfolio_exposure": 1}


def test_gates_name_the_policys_criteria_of_the_next_gate(dash: Dash) -> None:
    first = dash.client.get("/api/gates").json()  # at once: the criteria as the policy states them
    gate = dash.policy.expansion.phase_gates.phase_0_to_1
    names = [*type(gate.required).model_fields, *type(gate.recommended).model_fields]
    assert first["phase"] == 0 and first["next_gate"] == "phase_0_to_1" and first["evaluated"] is False
    assert [c["name"] for c in first["criteria"]] == names and first["as_of"] is None
    # judged on the journal's operation, as `phase status` judges it, in a process of its own
    from quantum_trader.analytics.gates_progress import gate_progress

    assert dash.source.verdicts.wait(120) is not None, dash.source.verdicts.error
    g = dash.client.get("/api/gates").json()
    verdict = gate_progress(dash.journal, dash.policy).verdict
    assert verdict is not None and g["evaluated"] is True and g["as_of"] is not None
    assert [c["name"] for c in g["criteria"]] == names
    judged = {c.name: c.status.value for c in verdict.criteria}
    shown = {c["name"]: c["status"] for c in g["criteria"]}
    assert shown["months_profitable_btc"] == judged["3_months_profitable_btc"]
    assert all(shown[name] == status for name, status in judged.items() if name in shown)
    assert None not in shown.values(), shown


def test_metrics_expose_the_same_figures(dash: Dash) -> None:
    text = dash.client.get("/metrics").text
    last = dash.journal.latest_risk()
    assert last is not None
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(lines["qt_equity"]) == float(last.equity)
    assert float(lines["qt_exposure"]) == last.exposure
    assert float(lines['qt_slots_used{tier="1"}']) == 1.0
    assert float(lines['qt_alerts{kind="correlation_spike"}']) == 1.0
    assert float(lines["qt_killswitch_tripped"]) == 0.0
    assert float(lines["qt_daily_loss_limit"]) == 0.05
    assert float(lines["qt_order_latency_seconds_count"]) == 4.0  # the four filled orders


# ---------------------------------------------------------------------------------------------- safety

def test_without_a_token_there_are_no_control_routes(tmp_path: Path, policy: object) -> None:
    dash = make_dash(tmp_path / "j.sqlite", policy, token=None)  # type: ignore[arg-type]
    assert dash.client.post("/api/killswitch/trip", json=WHO).status_code in (404, 405)
    assert dash.client.post("/api/alerts/1/ack", json={"operator": "a"}, headers=AUTH).status_code in (404, 405)
    assert dash.journal.load_killswitch() is None


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN},
    {"Authorization": f"Basic {TOKEN}"},
])
def test_a_control_action_without_the_token_is_refused(dash: Dash, headers: dict[str, str]) -> None:
    r = dash.client.post("/api/killswitch/trip", json=WHO, headers=headers)
    assert r.status_code == 401 and "token" in r.json()["detail"]
    assert dash.journal.load_killswitch() is None and dash.journal.killswitch_history() == []


@pytest.mark.parametrize(("headers", "why"), [
    ({"Origin": "http://evil.example"}, "Origin"),
    ({"Origin": "null"}, "Origin null"),
    ({"Host": "evil.example:8050"}, "Host"),
    ({"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site"),
])
def test_a_cross_site_request_is_refused_even_with_the_token(dash: Dash, headers: dict[str, str], why: str) -> None:
    r = dash.client.post("/api/killswitch/trip", json=WHO, headers={**AUTH, **headers})
    assert r.status_code == 403 and why in r.json()["detail"]
    assert dash.journal.load_killswitch() is None


def test_a_form_post_is_refused(dash: Dash) -> None:
    r = dash.client.post("/api/killswitch/trip", data=WHO, headers=AUTH)
    assert r.status_code == 403 and "form posts are refused" in r.json()["detail"]
    assert dash.journal.load_killswitch() is None


def test_a_trip_is_journalled_with_who_and_why_and_shown(dash: Dash) -> None:
    r = dash.client.post("/api/killswitch/trip", json=WHO, headers={**AUTH, "Origin": f"http://{HOST}"})
    assert r.status_code == 200 and r.json()["ok"], r.text
    record = dash.journal.load_killswitch()
    assert record is not None and record.tripped
    (change,) = dash.journal.killswitch_history()
    assert change.operator == "alice" and "dashboard test" in change.reason and change.ts == NOW
    ks = dash.client.get("/api/portfolio").json()["killswitch"]
    assert ks["tripped"] is True and ks["what"] == "manual" and "alice" in ks["reason"]
    again = dash.client.post("/api/killswitch/trip", json=WHO, headers=AUTH)
    assert again.status_code == 409 and again.json()["detail"].startswith("refused: ")


def test_a_reset_is_refused_while_the_drawdown_holds_unless_forced(dash: Dash) -> None:
    last = dash.journal.latest_risk()
    assert last is not None
    peak = last.equity * Decimal("1.5")  # the last equity is a third below this peak
    state = armed(last.ts)
    from dataclasses import replace

    record = KillSwitchRecord(replace(state, drawdown_tripped=True, drawdown_trip_ts=last.ts), peak, last.equity,
                              state.day_start, trip_reason="drawdown 33%", ts=last.ts)
    dash.journal.save_killswitch(record)
    r = dash.client.post("/api/killswitch/reset", json=WHO, headers=AUTH)
    assert r.status_code == 409 and "drawdown" in r.json()["detail"] and "--force" not in r.json()["detail"]
    assert dash.journal.load_killswitch().tripped  # type: ignore[union-attr]
    r = dash.client.post("/api/killswitch/reset", json={**WHO, "force": True}, headers=AUTH)
    assert r.status_code == 200 and "FORCED" in r.json()["message"]
    assert not dash.journal.load_killswitch().tripped  # type: ignore[union-attr]
    (change,) = dash.journal.killswitch_history()
    assert change.forced and change.operator == "alice"


def test_promotion_goes_through_the_gate_and_demotion_always_works(dash: Dash) -> None:
    store = Journal(dash.path)
    r = dash.client.post("/api/phase/promote", json=WHO, headers=AUTH)
    assert r.status_code == 409 and "force" in r.json()["detail"]
    assert store.current_phase(0) == 0
    r = dash.client.post("/api/phase/promote", json={**WHO, "force": True}, headers=AUTH)
    assert r.status_code == 200 and "(FORCED)" in r.json()["message"]
    (change,) = store.phase_history()
    assert (change.to_phase, change.forced, change.operator, change.reason) == (1, True, "alice", "dashboard test")
    assert dash.client.get("/api/gates").json()["next_gate"] == "phase_1_to_2"
    r = dash.client.post("/api/phase/demote", json=WHO, headers=AUTH)
    assert r.status_code == 200 and store.current_phase(0) == 0


def test_an_acknowledgement_is_journalled_once(dash: Dash) -> None:
    alert_id = dash.client.get("/api/alerts").json()["items"][0]["id"]
    r = dash.client.post(f"/api/alerts/{alert_id}/ack", json={"operator": "bob"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["ok"]
    acked = {a.id: a for a in dash.journal.alerts()}[alert_id]
    assert acked.acknowledged_by == "bob" and acked.acknowledged_ts == NOW
    again = dash.client.post(f"/api/alerts/{alert_id}/ack", json={"operator": "carol"}, headers=AUTH)
    assert again.status_code == 200 and again.json()["ok"] is False
    assert dash.client.get("/api/portfolio").json()["open_alerts"] == 1


# ---------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize(("method", "url", "body", "status", "names"), [
    ("get", "/api/history?points=0", None, 422, "query.points"),
    ("get", "/api/history?since=10&until=5", None, 422, "until 5 is before since 10"),
    ("get", "/api/history?since=abc", None, 422, "query.since"),
    ("get", "/api/correlation?frames=100000", None, 422, "query.frames"),
    ("get", "/api/assets/..%2F..%2Fetc%2Fpasswd/prices", None, 422, "symbol"),
    ("get", "/api/assets/DOGE/USDT:USDT/prices", None, 404, "DOGE/USDT:USDT"),
    ("post", "/api/alerts/999/ack", {"operator": "bob"}, 404, "alert #999"),
    ("post", "/api/alerts/0/ack", {"operator": "bob"}, 422, "path.alert_id"),
    ("post", "/api/killswitch/trip", {"operator": "alice"}, 422, "body.reason"),
    ("post", "/api/killswitch/trip", {"operator": "", "reason": "x"}, 422, "body.operator"),
    ("post", "/api/killswitch/trip", {"operator": "<script>", "reason": "x"}, 422, "body.operator"),
    ("post", "/api/killswitch/trip", {**WHO, "extra": 1}, 422, "body.extra"),
    ("post", "/api/killswitch/reset", {**WHO, "force": "maybe"}, 422, "body.force"),
])
def test_bad_input_gets_one_clear_line(dash: Dash, method: str, url: str, body: dict[str, object] | None,
                                       status: int, names: str) -> None:
    r = dash.client.post(url, json=body, headers=AUTH) if method == "post" else dash.client.get(url)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and names in detail
    assert dash.journal.load_killswitch() is None


def test_a_request_naming_another_host_is_refused_and_no_page_may_frame_this_one(dash: Dash) -> None:
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 sends Host: evil.example."""
    r = dash.client.get("/api/portfolio", headers={"Host": "evil.example:8050"})
    assert r.status_code == 421 and "--allowed-host" in r.json()["detail"]
    ok = dash.client.get("/")
    assert ok.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in ok.headers["Content-Security-Policy"]


def test_openapi_documents_the_reads_and_the_controls(dash: Dash) -> None:
    paths = dash.client.get("/openapi.json").json()["paths"]
    assert {"/api/portfolio", "/api/history", "/api/correlation", "/api/assets", "/api/alerts", "/api/gates",
            "/api/killswitch/trip", "/api/killswitch/reset", "/api/phase/promote", "/api/phase/demote",
            "/api/alerts/{alert_id}/ack"} <= set(paths)
    assert dash.client.get("/docs").status_code == 200


def test_the_page_and_plotly_are_served_by_the_app(dash: Dash) -> None:
    page = dash.client.get("/").text
    assert '<script src="/static/plotly.min.js">' in page and "cdn" not in page.lower()
    js = dash.client.get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert dash.client.get("/static/..%2Fapp.py").status_code == 404
    assert dash.client.get("/static/other.js").status_code in (404, 422)


def test_a_journal_without_rows_answers_nothing_recorded(tmp_path: Path, policy: object) -> None:
    from fastapi.testclient import TestClient

    from quantum_trader.cli.dashboard_source import JournalSource
    from quantum_trader.monitor.app import Settings, create_app

    TradingJournal(tmp_path / "empty.sqlite", session="s").start_session(
        __import__("quantum_trader.journal", fromlist=["SessionMode"]).SessionMode.PAPER, START)
    source = JournalSource(str(tmp_path / "empty.sqlite"), account="default", policy=policy)  # type: ignore[arg-type]
    client = TestClient(create_app(source, None, Settings(allowed_hosts=frozenset({"testserver"}))))
    p = client.get("/api/portfolio").json()
    assert p["equity"] is None and p["positions"] == 0 and p["killswitch"]["tripped"] is False
    assert client.get("/api/history").json()["points"] == []
    assert client.get("/api/correlation").json()["frames"] == []
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_dashboards_reads_work_on_sqlite_and_postgresql(backend: str, tmp_path: Path, policy: object) -> None:
    """The sampling statement (a recursive CTE with one index seek per point) and the rest, on both backends."""
    with fresh_journal(backend, tmp_path) as url:
        journal = write_session(url)
        reader = DashboardReader(journal.db, "default")
        rows = journal.risk_snapshots()
        sampled = reader.sampled(None, None, 7)
        assert 2 <= len(sampled) <= 7 and sampled[0].ts == rows[0].ts and sampled[-1].ts == rows[-1].ts
        assert {s.id for s in sampled} <= {r.id for r in rows}
        assert [s.id for s in reader.sampled(None, None, 5000)] == [r.id for r in rows]
        updates = journal.risk_snapshots(correlation_only=True)
        assert reader.sampled(None, None, 500, correlation=True) == updates
        assert reader.alert_counts() == {"correlation_spike": 1, "portfolio_exposure": 1}
        assert [f.tag for f in reader.fills_with_tags()] == ["trend_follow", "trend_follow", "sector_momentum", ""]
        before = reader.version()
        journal.record_alert("x", Severity.INFO, "y", ts=NOW)
        assert reader.version() != before
        source = JournalSource(url, account="default", policy=policy, clock=lambda: NOW)  # type: ignore[arg-type]
        assert source.portfolio().equity == float(rows[-1].equity)
        journal.close()
        source.db.close()
