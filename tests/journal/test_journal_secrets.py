"""A journal URL's password is never shown or stored, and reading a journal never creates one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from quantum_trader.journal import database
from quantum_trader.journal.store import Journal, JournalError, PhaseChange, PhaseEventKind, redact_url

SECRET = "s3cret"


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://ana:s3cret@db.example/qt", "postgresql://ana:***@db.example/qt"),
    ("postgresql+psycopg://ana:s3cret@db.example:5432/qt", "postgresql+psycopg://ana:***@db.example:5432/qt"),
    ("postgresql://ana:s3cret@db.example:notaport/qt", "postgresql://ana:***@db.example:notaport/qt"),
    ("sqlite:///journal.sqlite", "sqlite:///journal.sqlite"),
])
def test_redact_url_hides_only_the_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_server_that_cannot_be_reached_fails_without_printing_the_password() -> None:
    with pytest.raises(JournalError) as info:
        journal = Journal("postgresql://ana:s3cret@127.0.0.1:1/qt")
        journal.phase_history()
    assert SECRET not in str(info.value) and "postgresql://ana:***@127.0.0.1:1/qt" in str(info.value)


def test_a_connection_error_quoting_the_url_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://ana:s3cret@db.example/qt"

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("connect", {}, Exception(f'connection to "{url}" failed: password {SECRET} rejected'))

    monkeypatch.setattr(database, "create_engine", refuse)
    with pytest.raises(JournalError) as info:
        Journal(url)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)


def test_url_and_repr_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "create_engine", lambda *_a, **_k: None)
    journal = Journal("postgresql://ana:s3cret@db.example/qt")
    assert journal.url == "postgresql://ana:***@db.example/qt"
    assert SECRET not in repr(journal)


def test_reading_a_journal_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    assert journal.phase_history() == [] and journal.drills() == [] and journal.current_phase(0) == 0
    assert not path.exists()
    journal.record_phase_change(PhaseChange(1, PhaseEventKind.DEMOTE, 1, 0, "r", False, "ana"))
    assert path.exists() and Journal(path).current_phase(3) == 0


def test_a_file_that_is_not_a_database_is_one_journal_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("this is not sqlite\n" * 100)
    with pytest.raises(JournalError, match=r"journal sqlite:///.*notes.sqlite: cannot read"):
        Journal(path).phase_history()


def test_a_journal_in_a_folder_that_does_not_exist_is_one_journal_error(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "missing" / "journal.sqlite")
    assert journal.phase_history() == []
    with pytest.raises(JournalError, match="cannot create its tables"):
        journal.record_phase_change(PhaseChange(1, PhaseEventKind.DEMOTE, 1, 0, "r", False, "ana"))
