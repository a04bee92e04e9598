"""No traceback reaches a user: every error is one line and exit code 2; ``--debug`` shows the traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantum_trader.cli.errors import describe, hoist_debug, redact_secrets
from quantum_trader.cli.main import app

runner = CliRunner()
ENV = {"COLUMNS": "120", "QT_DEBUG": ""}


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={**ENV, **(env or {})})
    return result.exit_code, result.output


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def boom(*_args: object, **_kwargs: object) -> None:
    raise KeyError("missing_column")


def test_an_unexpected_exception_is_one_line_naming_its_type_and_where(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("quantum_trader.config.loader.parse_policy", boom)
    code, output = invoke("policy", "show")
    assert code == 2
    assert "Traceback" not in output
    (line,) = error_lines(output)
    assert line.startswith("internal error: KeyError: 'missing_column' (quantum_trader/")
    assert "run with --debug for the traceback" in line


@pytest.mark.parametrize("args", [("--debug", "policy", "show"), ("policy", "show", "--debug")])
def test_debug_anywhere_lets_the_exception_through(monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]) -> None:
    monkeypatch.setattr("quantum_trader.config.loader.parse_policy", boom)
    result = runner.invoke(app, list(args), env=ENV)
    assert isinstance(result.exception, KeyError)


def test_qt_debug_in_the_environment_lets_the_exception_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("quantum_trader.config.loader.parse_policy", boom)
    result = runner.invoke(app, ["policy", "show"], env={**ENV, "QT_DEBUG": "1"})
    assert isinstance(result.exception, KeyError)


def test_debug_after_a_double_dash_is_an_argument_not_the_flag() -> None:
    assert hoist_debug(["phase", "demote", "--reason", "x", "--debug"]) == [
        "--debug", "phase", "demote", "--reason", "x"]
    assert hoist_debug(["data", "ingest", "--", "--debug"]) == ["data", "ingest", "--", "--debug"]


def test_sma_cross_with_fast_above_slow_is_one_line(tmp_path: Path) -> None:
    code, output = invoke("backtest", "--strategy", "sma-cross", "--param", "fast=30", "--param", "slow=10",
                          "--catalog", str(tmp_path), "--runs", str(tmp_path / "runs"))
    assert code == 2 and "Traceback" not in output
    assert "fast=30, slow=10" in output
    assert len(error_lines(output)) <= 6


@pytest.mark.parametrize(("option", "value"), [("--start", "2025-13-01"), ("--end", "2025-02-30"),
                                               ("--start", "yesterday")])
def test_a_bad_date_names_the_option_and_the_value(tmp_path: Path, option: str, value: str) -> None:
    code, output = invoke("backtest", option, value, "--catalog", str(tmp_path), "--runs", str(tmp_path / "r"))
    assert code == 2
    assert f"{option} {value!r}" in output
    assert "ISO" in output


def test_signals_names_the_at_option_of_a_bad_time(tmp_path: Path) -> None:
    code, output = invoke("signals", "--symbols", "BTC,ETH", "--at", "2025-13-01", "--catalog", str(tmp_path))
    assert code == 2 and "--at '2025-13-01'" in output


@pytest.mark.parametrize("phase", ["7", "-1"])
def test_backtest_refuses_a_phase_that_does_not_exist(tmp_path: Path, phase: str) -> None:
    code, output = invoke("backtest", "--phase", phase, "--catalog", str(tmp_path), "--runs", str(tmp_path / "r"))
    assert code == 2 and "--phase" in output
    assert not (tmp_path / "r").exists()


def test_a_catalog_folder_that_does_not_exist_is_an_error_not_an_empty_catalog(tmp_path: Path) -> None:
    code, output = invoke("data", "list", "--catalog", str(tmp_path / "nope"))
    assert code == 2
    assert "does not exist" in output and "empty" not in output


def test_backtest_on_a_catalog_that_does_not_exist_says_so(tmp_path: Path) -> None:
    code, output = invoke("backtest", "--catalog", str(tmp_path / "nope"), "--runs", str(tmp_path / "r"))
    assert code == 2 and "does not exist" in output
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("args", [
    ("killswitch", "drill", "--price", "BTC=abc"),
    ("killswitch", "drill", "--price", "BTC=60000", "--policy", "missing.yaml"),
    ("phase", "promote", "--run", "no-such-run"),
    ("phase", "demote", "--reason", ""),
    ("phase", "demote", "--reason", "x", "--to", "2"),
    ("phase", "show"),
    ("gates", "no-such-run"),
])
def test_no_journal_is_left_behind_by_a_refused_or_read_only_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = invoke(*args, env={"QT_JOURNAL": ""})
    assert "Traceback" not in output
    assert code in (0, 1, 2)
    assert list(tmp_path.iterdir()) == [], output


def test_a_known_error_keeps_its_own_message() -> None:
    from quantum_trader.config import PolicyError

    line = describe(PolicyError("my.yaml: portfolio.max_positions: must be >= 1, got 0"))
    assert line.startswith("error: my.yaml: portfolio.max_positions: must be >= 1, got 0;")


def test_a_missing_file_names_the_file() -> None:
    line = describe(FileNotFoundError(2, "No such file or directory", "/data/x.parquet"))
    assert line.startswith("error: No such file or directory: /data/x.parquet;")


@pytest.mark.parametrize("text", [
    "postgresql://ana:s3cret@db.example/qt",
    "cannot open postgresql+psycopg://ana:s3cret@db.example:5432/qt (timeout)",
    "mysql://u:s3cret@h/d and sqlite:///x.sqlite",
])
def test_passwords_in_urls_are_redacted(text: str) -> None:
    out = redact_secrets(text)
    assert "s3cret" not in out and ":***@" in out


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029", "\r", "\x0b", "\x0c", "\x1c"])
def test_a_name_holding_a_line_break_does_not_split_the_error_line(tmp_path: Path, separator: str) -> None:
    """A catalog path with a character ``str.splitlines`` (and many terminals) breaks lines at: the error is still
    one line, the character shown escaped."""
    code, output = invoke("data", "check", "--catalog", str(tmp_path / f"cat{separator}alog"))
    assert code == 2
    (line,) = error_lines(output)
    assert repr(separator)[1:-1] in line
