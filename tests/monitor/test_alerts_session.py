"""A paper session with ``--journal`` raises the alert rules bar by bar: each alert is journalled, logged and sent
to the policy's channels (a webhook and Telegram on a local receiver), and the bot token appears nowhere."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from tests.fakes.receiver import Receiver
from typer.testing import CliRunner

from quantum_trader.cli.main import app
from quantum_trader.engine.phase_follow import PHASE_CHANGE_ALERT
from quantum_trader.journal import Severity, TradingJournal

TOKEN = "987654:AAF-session-secret-token"
ENV = {"COLUMNS": "160", "QT_TELEGRAM_TOKEN": TOKEN}
REPLAY = ("--replay", "--speed", "max", "--symbols", "BTC,ETH,SOL", "--phase", "3", "--start", "2025-01-01",
          "--end", "2025-01-10")
TRIPS = ("--set", "portfolio.max_drawdown_portfolio=0.004", "--set", "portfolio.max_daily_loss_portfolio=0.004",
         "--set", "per_asset.max_daily_loss_per_asset=0.004", "--set", "per_asset.max_risk_per_trade=0.004")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog")
    result = CliRunner().invoke(app, ["data", "synth", "--days", "12", "--seed", "3", "--catalog", str(root),
                                      "--assets", "BTC,ETH,SOL"], env=ENV)
    assert result.exit_code == 0, result.output
    return root


def test_a_journalled_paper_session_journals_logs_and_sends_its_alerts(
        catalog: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver()
    journal_path = tmp_path / "j.sqlite"
    with receiver.running() as url, caplog.at_level(logging.INFO, "quantum_trader.alerts"):
        policy = tmp_path / "alerts.yaml"
        policy.write_text(f"dashboard:\n  alerts:\n    channels:\n      webhook_url: {url}/hook\n"
                          f"      max_per_minute: 1000\n      telegram: {{chat_id: '7', api_base: '{url}'}}\n")
        result = CliRunner().invoke(app, ["paper", *REPLAY, "--catalog", str(catalog), "--runs", str(tmp_path / "runs"),
                                          "--journal", str(journal_path), "--policy", str(policy), *TRIPS], env=ENV)
        assert result.exit_code == 0, result.output
    (session,) = TradingJournal(journal_path).sessions()
    journal = TradingJournal(journal_path, session=session.session)
    # the rules' alerts (a phase change the session took from the journal is the phase follower's note)
    alerts = [a for a in journal.alerts() if a.kind != PHASE_CHANGE_ALERT]
    kinds = [a.kind for a in alerts]
    assert "kill_switch_trip" in kinds, kinds
    trip = next(a for a in alerts if a.kind == "kill_switch_trip")
    assert trip.severity is Severity.CRITICAL and "kill switch tripped (drawdown" in trip.message
    assert all(a.session == session.session for a in alerts)
    # logged, one line each
    logged = [r.getMessage() for r in caplog.records if r.name == "quantum_trader.alerts"
              and r.getMessage().startswith("alert ")]
    assert len(logged) == len(alerts)
    # sent: each journalled alert reached the webhook and Telegram (de-duplication may only remove repeats)
    hooks = receiver.bodies("/hook")
    sent = [(h["kind"], h["message"]) for h in hooks]
    assert ("kill_switch_trip", trip.message) in sent
    assert set(sent) == {(a.kind, a.message) for a in alerts}
    telegram = receiver.bodies(f"/bot{TOKEN}/sendMessage")
    assert len(telegram) == len(hooks) and all(t["chat_id"] == "7" for t in telegram)
    # the run folder holds the same kill-switch alert, evaluated after the run
    (run,) = (tmp_path / "runs").iterdir()
    folder = pd.read_parquet(run / "alerts.parquet")
    assert list(folder.loc[folder["kind"] == "kill_switch_trip", "message"]) == [trip.message]
    # the token appears nowhere but in the URL the receiver was called on
    assert TOKEN not in result.output and TOKEN not in caplog.text
    assert TOKEN.encode() not in journal_path.read_bytes()
    assert all(TOKEN not in p.read_text(errors="ignore") for p in run.iterdir() if p.suffix in (".json", ".yaml",
                                                                                                ".html"))


def test_a_channel_without_its_token_stops_the_session_before_it_writes(catalog: Path, tmp_path: Path) -> None:
    policy = tmp_path / "alerts.yaml"
    policy.write_text("dashboard:\n  alerts:\n    channels:\n      telegram: {chat_id: '7'}\n")
    journal_path = tmp_path / "j.sqlite"
    result = CliRunner().invoke(app, ["paper", *REPLAY, "--catalog", str(catalog), "--runs", str(tmp_path / "runs"),
                                      "--journal", str(journal_path), "--policy", str(policy)],
                                env={"COLUMNS": "160", "QT_TELEGRAM_TOKEN": ""})
    assert result.exit_code == 2, result.output
    assert ("error: paper failed: dashboard.alerts.channels.telegram: no bot token in environment variable "
            "QT_TELEGRAM_TOKEN"
            in result.output)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert not journal_path.exists() or TradingJournal(journal_path).sessions() == []
