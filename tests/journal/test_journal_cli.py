"""`quantum-trader journal status | upgrade | downgrade`, and which journal a command uses by default:
`journal/<account>.sqlite` (`$QT_ACCOUNT`, default `default`), `$QT_JOURNAL` or `--journal` overriding it."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.journal.legacy import make_legacy_journal
from typer.testing import CliRunner

from quantum_trader.cli.main import app
from quantum_trader.journal.records import Severity
from quantum_trader.journal.store import Journal
from quantum_trader.journal.trading import TradingJournal

runner = CliRunner()
ENV = {"COLUMNS": "250", "QT_DEBUG": "", "QT_ACCOUNT": "", "QT_JOURNAL": "", "USER": "ana"}


def invoke(*args: str, **env: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={**ENV, **env})
    return result.exit_code, result.output


def test_status_upgrade_and_downgrade(journal_url: str) -> None:
    code, out = invoke("journal", "status", "--journal", journal_url)
    assert code == 0 and ("not created yet" in out or "revision none (empty)" in out), out
    code, out = invoke("journal", "upgrade", "--journal", journal_url)
    assert code == 0 and "upgraded from nothing to 0005 (head)" in out, out
    code, out = invoke("journal", "upgrade", "--journal", journal_url)
    assert code == 0 and "already at revision 0005" in out
    code, out = invoke("journal", "status", "--journal", journal_url)
    assert code == 0 and "revision 0005, head 0005 (up to date)" in out
    TradingJournal(journal_url).record_alert("feed", Severity.WARNING, "stale", ts=1)
    code, out = invoke("journal", "downgrade", "--to", "0001", "--journal", journal_url)
    lines = [line for line in out.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1
    assert "would drop tables or columns holding rows (alerts: 1); pass --force" in out
    code, out = invoke("journal", "downgrade", "--to", "0001", "--force", "--journal", journal_url)
    assert code == 0 and "downgraded from 0005 to 0001" in out
    code, out = invoke("journal", "status", "--journal", journal_url)
    assert "revision 0001, head 0005 (behind" in out
    code, out = invoke("journal", "downgrade", "--to", "2", "--journal", journal_url)
    assert code == 2 and "--to '2': not a revision of the journal (one of base, 0001, 0002, 0003, 0004, 0005)" in out


def test_an_old_journal_is_reported_and_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    make_legacy_journal(str(path), 1_735_689_600_000)
    code, out = invoke("journal", "status", "--journal", str(path))
    assert code == 0 and "made before migrations" in out
    code, out = invoke("journal", "upgrade", "--journal", str(path))
    assert code == 0 and "upgraded from 0001 to 0005 (head)" in out
    assert Journal(path).current_phase(0) == 1 and len(Journal(path).drills()) == 1


def test_the_default_journal_is_the_accounts_file_created_by_the_first_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _ = invoke("phase", "show")
    assert code == 0 and list(tmp_path.iterdir()) == []  # reading creates nothing, not even the folder
    code, out = invoke("phase", "promote", "--force", "--reason", "review")
    assert code == 0, out
    assert Journal(tmp_path / "journal" / "default.sqlite").current_phase(0) == 1
    code, out = invoke("phase", "promote", "--force", "--reason", "review", QT_ACCOUNT="paper-1")
    assert code == 0, out
    assert Journal(tmp_path / "journal" / "paper-1.sqlite", account="paper-1").current_phase(0) == 1
    code, out = invoke("journal", "status", QT_ACCOUNT="paper-1")
    assert "journal sqlite:///journal/paper-1.sqlite: revision 0005" in out
    shared = tmp_path / "shared.sqlite"
    code, out = invoke("phase", "promote", "--force", "--reason", "r", QT_ACCOUNT="live", QT_JOURNAL=str(shared))
    assert code == 0, out
    assert Journal(shared, account="live").current_phase(0) == 1 and Journal(shared).current_phase(0) == 0
    assert sorted(p.name for p in (tmp_path / "journal").iterdir() if p.suffix == ".sqlite") == [
        "default.sqlite", "paper-1.sqlite"]


def test_a_bad_account_name_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = invoke("phase", "show", QT_ACCOUNT="../etc")
    lines = [line for line in out.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "$QT_ACCOUNT: account '../etc': use 1 to 64 letters" in out
    assert list(tmp_path.iterdir()) == []
