"""`quantum-trader gates [RUN] [--journal URL]`: a line per criterion, the verdict, exit code 0/1/2.

Changed with issue 17: a backtest run folder is no gate evidence any more. ``gates RUN`` prints what the run
supports and exits 1 whatever it shows (the old test that a run plus a drill allowed promotion now asserts that
it does not); the journal is the evidence (tests/cli/test_gates_journal.py)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from tests.analytics.test_gates_builders import build_run, equity_for, monthly_trades
from typer.testing import CliRunner

from quantum_trader.cli import gates_cmd

runner = CliRunner()
app = typer.Typer()
app.command("gates")(gates_cmd.gates)  # the line cli/main.py registers
app.command("noop")(lambda: None)
WIDE = {"COLUMNS": "250", "QT_JOURNAL": ""}


def btc_run(tmp_path: Path) -> Path:
    trades = monthly_trades("BTC")
    return build_run(tmp_path / "runs" / "r1", trades=trades, equity=equity_for(trades), events=[])


def test_without_a_drill_the_gate_refuses_and_says_no_evidence(tmp_path: Path) -> None:
    run = btc_run(tmp_path)
    result = runner.invoke(app, ["gates", str(run), "--journal", str(tmp_path / "j.sqlite")], env=WIDE)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines()
             if ("required" in line or "recommended" in line) and "cannot open" not in line]
    assert len(lines) == 6  # one line per criterion of gate 0 -> 1
    assert any("kill_switch_tested" in line and "no evidence" in line for line in lines)
    assert "a backtest cannot open a gate: it supports 3 of 4 required criteria" in result.output


def test_a_run_that_supports_every_criterion_still_cannot_open_the_gate(tmp_path: Path) -> None:
    run = btc_run(tmp_path)
    journal = tmp_path / "j.sqlite"
    from quantum_trader.analytics.gates_drill import run_drill
    from quantum_trader.config import Policy
    from quantum_trader.journal.store import Journal

    Journal(journal).record_drill(run_drill(Policy(), {"BTC/USDT:USDT": 60_000.0}, ts=1_735_689_600_000, phase=0))
    result = runner.invoke(app, ["gates", str(run), "--journal", str(journal), "--json"], env=WIDE)
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["promotion_allowed"] is False and data["supported"] is True and data["evidence"] == "backtest"
    assert data["gate"] == "phase_0_to_1" and "a backtest cannot open a gate" in data["summary"]
    crit = {c["name"]: c for c in data["criteria"]}
    assert crit["kill_switch_tested"]["source"].startswith("journal sqlite:///")
    assert crit["max_drawdown_experienced"]["source"] == "run r1/equity.parquet"


def test_a_journal_without_sessions_has_no_evidence_of_operation(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    from quantum_trader.journal.store import Journal, PhaseChange, PhaseEventKind

    # a journal exists once something is recorded in it (opening one creates nothing)
    Journal(journal).record_phase_change(PhaseChange(1, PhaseEventKind.INIT, None, 0, "start", False, "ana"))
    result = runner.invoke(app, ["gates", str(journal), "--json"], env=WIDE)
    assert result.exit_code == 1
    statuses = {c["name"]: c["status"] for c in json.loads(result.output)["criteria"]}
    assert statuses["3_months_profitable_btc"] == "no evidence"
    default_form = runner.invoke(app, ["gates", "--journal", str(journal), "--json"], env=WIDE)
    assert default_form.exit_code == 1 and json.loads(default_form.output)["evidence"] == "journal"


def test_a_target_that_is_neither_run_nor_journal_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["gates", str(tmp_path / "missing")], env=WIDE)
    assert result.exit_code == 2 and "no such run folder" in result.output and "--journal" in result.output
