"""``quantum-trader dashboard``: what it refuses before serving (one line each), the token and bind rules, a finished
run folder shown read-only, and the events stream pushing a journal write to a client without a reload."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.monitor.conftest import TOKEN, Served, free_port, write_session
from typer.testing import CliRunner

from quantum_trader.cli.dashboard_run import RunFolderSource
from quantum_trader.cli.dashboard_source import JournalControls, JournalSource
from quantum_trader.cli.main import app as cli
from quantum_trader.config import Policy
from quantum_trader.journal import Severity
from quantum_trader.monitor.app import Settings, create_app
from quantum_trader.monitor.security import TOKEN_ENV, TokenError, allowed_hosts, csrf_refusal, load_token
from quantum_trader.monitor.server import BindError, check_bind

ENV = {"COLUMNS": "200"}


def _invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["dashboard", *args], env={**ENV, **(env or {})})
    return result.exit_code, result.output


@pytest.mark.parametrize(("args", "says"), [
    (("--journal", "missing.sqlite"), "journal missing.sqlite does not exist"),
    (("--run", "nowhere"), "--run nowhere: no such folder"),
    (("--journal", "j.sqlite", "--run", "r"), "--journal and --run: pass one"),
    (("--host", "0.0.0.0"), "--host 0.0.0.0: not a loopback address"),
    (("--host", "192.168.1.10", "--port", "8051"), "pass --allow-public"),
    (("--token-file", "no-such-token"), "--token-file no-such-token"),
    (("--allowed-host", "http://x/"), "--allowed-host 'http://x/'"),
])
def test_refusals_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...],
                               says: str) -> None:
    monkeypatch.chdir(tmp_path)
    port = ("--port", str(free_port())) if "--port" not in args else ()
    code, output = _invoke(*args, *port)
    assert code == 2, output
    assert says in output and len(output.strip().splitlines()) == 1, output


def test_a_journal_that_cannot_be_read_is_refused_before_serving(tmp_path: Path) -> None:
    (tmp_path / "notes.sqlite").write_text("not a database")
    code, output = _invoke("--journal", str(tmp_path / "notes.sqlite"), "--port", str(free_port()))
    assert code == 2 and "cannot read" in output and len(output.strip().splitlines()) == 1, output
    code, output = _invoke("--journal", "postgresql+psycopg://ana:s3cret@127.0.0.1:1/qt", "--port", str(free_port()))
    assert code == 2 and "s3cret" not in output and "ana:***@" in output, output


def test_a_port_out_of_range_is_a_usage_error() -> None:
    code, output = _invoke("--port", "0")
    assert code == 2 and "Invalid value for '--port'" in output


def test_a_folder_that_is_not_a_run_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    code, output = _invoke("--run", str(tmp_path / "notes"), "--port", str(free_port()))
    assert code == 2 and "not a run folder (it lacks metrics.json, equity.parquet)" in output


def test_the_token_file_must_be_the_owners_alone(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o644)
    with pytest.raises(TokenError, match="readable by others .* chmod 600"):
        load_token(token, {})
    token.chmod(0o600)
    assert load_token(token, {}) == TOKEN
    token.write_text("short")
    with pytest.raises(TokenError, match="at least 16 characters"):
        load_token(token, {})
    assert load_token(None, {TOKEN_ENV: TOKEN}) == TOKEN
    assert load_token(None, {}) is None
    code, output = _invoke("--token-file", str(tmp_path / "token"), "--port", str(free_port()))
    assert code == 2 and "at least 16 characters" in output and "short" not in output


def test_only_loopback_without_allow_public() -> None:
    with pytest.raises(BindError, match="--allow-public"):
        check_bind("10.0.0.1", free_port(), allow_public=False)
    check_bind("127.0.0.1", free_port(), allow_public=False)
    check_bind("localhost", free_port(), allow_public=False)


def test_csrf_rules_on_their_own() -> None:
    hosts = allowed_hosts("127.0.0.1", 8050)
    ok = {"host": "127.0.0.1:8050", "content-type": "application/json", "origin": "http://127.0.0.1:8050",
          "sec-fetch-site": "same-origin"}
    assert csrf_refusal("POST", ok, hosts) is None
    assert csrf_refusal("POST", {**ok, "host": "localhost:8050", "origin": "http://localhost:8050"}, hosts) is None
    assert csrf_refusal("POST", {**ok, "origin": "http://127.0.0.1:9999"}, hosts) is not None
    assert csrf_refusal("POST", {**ok, "content-type": "text/plain"}, hosts) is not None
    assert csrf_refusal("POST", {**ok, "content-type": "multipart/form-data; boundary=x"}, hosts) is not None
    assert csrf_refusal("POST", {**ok, "host": "attacker.example:8050"}, hosts) is not None


def test_a_write_reaches_an_events_client_without_a_reload(tmp_path: Path, policy: Policy,
                                                           serve: Callable[..., Served]) -> None:
    journal = write_session(tmp_path / "j.sqlite")
    source = JournalSource(str(tmp_path / "j.sqlite"), account="default", policy=policy)
    port = free_port()
    served = serve(create_app(source, JournalControls(source), Settings(
        token=TOKEN, allowed_hosts=frozenset(allowed_hosts("127.0.0.1", port)), poll_s=0.1)), port)
    with httpx.Client(base_url=served.url, timeout=10) as client, client.stream("GET", "/api/events") as stream:
        lines = stream.iter_lines()
        first = _next_update(lines)
        assert first["portfolio"]["equity"] == float(journal.latest_risk().equity)  # type: ignore[union-attr]
        written = time.monotonic()
        alert_id = journal.record_alert("stale_feed", Severity.WARNING, "no bar for 3 minutes", ts=1_800_000_000_000)
        update = _next_update(lines)
        assert time.monotonic() - written < 2.0
        assert update["alerts"]["items"][0]["id"] == alert_id and update["portfolio"]["open_alerts"] == 3


def _next_update(lines: object) -> dict[str, object]:
    for line in lines:  # type: ignore[attr-defined]
        if line.startswith("data: "):
            data: dict[str, object] = json.loads(line[len("data: "):])
            return data
    raise AssertionError("the stream ended")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run")
    runner = CliRunner()
    result = runner.invoke(cli, ["data", "synth", "--days", "4", "--seed", "5", "--catalog", str(root / "catalog"),
                                 "--assets", "BTC,ETH,SOL"], env=ENV)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["backtest", "--symbols", "BTC,ETH,SOL", "--phase", "3", "--start", "2025-01-01",
                                 "--end", "2025-01-04", "--catalog", str(root / "catalog"), "--runs",
                                 str(root / "runs")], env=ENV)
    assert result.exit_code == 0, result.output
    (run,) = (root / "runs").iterdir()
    return run


def test_a_finished_run_is_shown_read_only(run_folder: Path, policy: Policy) -> None:
    import pandas as pd

    source = RunFolderSource(run_folder, policy=policy)
    client = TestClient(create_app(source, None, Settings(token=TOKEN, allowed_hosts=frozenset({"testserver"}))))
    equity = pd.read_parquet(run_folder / "equity.parquet")
    p = client.get("/api/portfolio").json()
    assert p["equity"] == float(equity["equity"].iloc[-1]) and p["ts"] == int(equity["ts"].iloc[-1])
    assert p["exposure"] == float(equity["total_exposure"].iloc[-1])
    points = client.get("/api/history", params={"points": 5000}).json()["points"]
    assert [q["equity"] for q in points] == equity["equity"].tolist()
    (frame,) = client.get("/api/correlation").json()["frames"]
    matrix = pd.read_parquet(run_folder / "correlation.parquet")
    assert frame["symbols"] == matrix["symbol"].tolist()
    events = pd.read_parquet(run_folder / "events.parquet")
    assert client.get("/api/alerts").json()["counts"] == events["kind"].value_counts().to_dict()
    assert client.post("/api/killswitch/trip", json={"operator": "a", "reason": "b"}).status_code in (404, 405)
    chart = client.get("/api/assets/BTC/USDT:USDT/prices").json()
    assert chart["close"] and chart["source"].endswith("prices.parquet")
    code, output = _invoke("--run", str(run_folder), "--port", str(free_port()),
                           env={TOKEN_ENV: TOKEN, "PATH": os.environ.get("PATH", "")})
    assert code == 2 and "a run folder is read-only" in output


def test_the_command_serves_the_journal_on_loopback(tmp_path: Path) -> None:
    import subprocess
    import sys

    journal = write_session(tmp_path / "j.sqlite")
    port = free_port()
    command = [sys.executable, "-m", "quantum_trader.cli.main", "dashboard", "--journal", str(tmp_path / "j.sqlite"),
               "--port", str(port)]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, TOKEN_ENV: ""})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.2)
        assert health["ok"] and str(tmp_path / "j.sqlite") in health["source"]
        p = httpx.get(f"http://127.0.0.1:{port}/api/portfolio", timeout=5).json()
        assert p["equity"] == float(journal.latest_risk().equity)  # type: ignore[union-attr]
        refused = httpx.post(f"http://127.0.0.1:{port}/api/killswitch/trip", json={"operator": "a", "reason": "b"},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert refused.status_code in (404, 405)  # read-only: no token configured
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"dashboard on http://127.0.0.1:{port}/ (read-only)" in out
