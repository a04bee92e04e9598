"""`quantum-trader phase show|promote|demote` and `quantum-trader killswitch drill`."""

from __future__ import annotations

from pathlib import Path

import typer
from tests.analytics.test_gates_builders import build_run, equity_for, monthly_trades
from typer.testing import CliRunner

from quantum_trader.cli import phase_cmd
from quantum_trader.journal.store import Journal, PhaseEventKind

runner = CliRunner()
app = typer.Typer()
app.add_typer(phase_cmd.phase_app, name="phase")  # the lines cli/main.py registers
app.add_typer(phase_cmd.killswitch_app, name="killswitch")
WIDE = {"COLUMNS": "250"}


def test_promote_is_refused_on_a_backtest_and_a_paper_drill(tmp_path: Path) -> None:
    """Changed with issue 17: this test used to promote on a backtest run plus a paper drill. The gate now reads
    operation from the journal; a backtest is shown beside it as supporting, and a paper drill is not accepted
    for the kill switch by default. The promotion that passes is in tests/cli/test_gates_journal.py."""
    journal = str(tmp_path / "j.sqlite")
    trades = monthly_trades("BTC")
    run = build_run(tmp_path / "run", trades=trades, equity=equity_for(trades), events=[])
    refused = runner.invoke(app, ["phase", "promote", "--run", str(run), "--journal", journal], env=WIDE)
    assert refused.exit_code == 1 and "refused" in refused.output
    assert Journal(journal).current_phase(0) == 0
    drill = runner.invoke(app, ["killswitch", "drill", "--price", "BTC=60000", "--journal", journal,
                                "--operator", "ana"], env=WIDE)
    assert drill.exit_code == 0, drill.output
    assert "passed: 1 positions open, 0 left" in drill.output
    still = runner.invoke(app, ["phase", "promote", "--run", str(run), "--journal", journal], env=WIDE)
    assert still.exit_code == 1 and "refused" in still.output, still.output
    assert "supporting" in still.output and "backtest pass" in still.output
    assert Journal(journal).current_phase(0) == 0


def test_force_with_reason_is_recorded_and_demote_always_works(tmp_path: Path) -> None:
    journal = str(tmp_path / "j.sqlite")
    no_reason = runner.invoke(app, ["phase", "promote", "--force", "--journal", journal], env=WIDE)
    assert no_reason.exit_code == 1 and "reason" in no_reason.output
    forced = runner.invoke(app, ["phase", "promote", "--force", "--reason", "manual review", "--operator", "bo",
                                 "--journal", journal], env=WIDE)
    assert forced.exit_code == 0 and "FORCED" in forced.output
    down = runner.invoke(app, ["phase", "demote", "--reason", "liquidity drop", "--journal", journal], env=WIDE)
    assert down.exit_code == 0 and "phase 1 -> 0 recorded" in down.output
    history = Journal(journal).phase_history()
    assert [(c.kind, c.forced, c.operator) for c in history] == [
        (PhaseEventKind.PROMOTE, True, "bo"), (PhaseEventKind.DEMOTE, False, history[1].operator)]
    shown = runner.invoke(app, ["phase", "show", "--journal", journal], env=WIDE)
    assert shown.exit_code == 0 and "phase 0 (BTC ONLY): BTC" in shown.output and "FORCED" in shown.output


def test_drill_without_a_price_source_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["killswitch", "drill", "--journal", str(tmp_path / "j.sqlite"), "--catalog",
                                 str(tmp_path / "empty")], env=WIDE)
    assert result.exit_code == 2 and "no price for BTC" in result.output
    missing = runner.invoke(app, ["killswitch", "drill", "--price", "BTC=60000", "--journal",
                                  str(tmp_path / "j.sqlite"), "--catalog", str(tmp_path / "missing")], env=WIDE)
    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert Journal(tmp_path / "j.sqlite").drills() == []
