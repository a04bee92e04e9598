"""A journal URL's password never reaches a terminal or the journal: every output of a run is grepped for it.

No database server is needed: a SQLite dialect registered for the test accepts a URL with
a user and a password (as a PostgreSQL URL has them) and ignores both, so the real commands
run end to end, store their rows and print what they print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from tests.analytics.test_gates_builders import build_run, equity_for, monthly_trades
from typer.testing import CliRunner

from quantum_trader.cli.main import app

SECRET = "s3cret-Pa55"
runner = CliRunner()


class PasswordSqlite(SQLiteDialect_pysqlite):
    """SQLite reached through ``qtsecret://user:password@host//abs/path``; user, password and host are dropped."""

    supports_statement_cache = True

    def create_connect_args(self, url: Any) -> Any:
        return super().create_connect_args(url._replace(username=None, password=None, host=None))


registry.register("qtsecret", __name__, "PasswordSqlite")


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250", "QT_DEBUG": ""})
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1), result.output
    return result.output


def test_no_output_and_no_stored_row_holds_the_password(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    url = f"qtsecret://ana:{SECRET}@db.example/{path}"
    trades = monthly_trades("BTC")
    run = build_run(tmp_path / "run", trades=trades, equity=equity_for(trades), events=[])
    outputs = [
        invoke("killswitch", "drill", "--price", "BTC=60000", "--journal", url),
        invoke("phase", "show", "--journal", url),
        invoke("gates", str(run), "--journal", url, "--json"),
        invoke("gates", str(run), "--journal", url, "--detail"),
        invoke("gates", url, "--phase", "0"),
        invoke("phase", "promote", "--run", str(run), "--journal", url),
        invoke("phase", "promote", "--force", "--reason", "review", "--journal", url),
        invoke("phase", "demote", "--reason", "drill over", "--journal", url),
        invoke("phase", "show", "--journal", url),
    ]
    assert path.exists()
    assert any("ana:***@db.example" in out for out in outputs)
    for out in outputs:
        assert SECRET not in out
    assert SECRET.encode() not in path.read_bytes()
    assert b"ana:***@db.example" in path.read_bytes()  # the evidence names the journal, redacted


@pytest.mark.parametrize("args", [
    ("phase", "show"),
    ("phase", "demote", "--reason", "x"),
    ("killswitch", "drill", "--price", "BTC=60000"),
])
def test_a_journal_that_cannot_be_opened_is_one_line_without_the_password(args: tuple[str, ...]) -> None:
    url = f"postgresql://ana:{SECRET}@127.0.0.1:1/qt"
    result = runner.invoke(app, [*args, "--journal", url], env={"COLUMNS": "250", "QT_DEBUG": ""})
    assert result.exit_code == 2
    assert SECRET not in result.output and "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.strip()]
    # the driver (psycopg) is there: the server cannot be reached
    assert line.startswith("error: journal postgresql://ana:***@127.0.0.1:1/qt: cannot ")
