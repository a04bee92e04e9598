"""`quantum-trader gates RUN_OR_JOURNAL`: a line per criterion, the verdict, exit code 0/1/2."""

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
    lines = [line for line in result.output.splitlines() if "required" in line or "recommended" in line]
    assert len(lines) == 6  # one line per criterion of gate 0 -> 1
    assert any("kill_switch_tested" in line and "no evidence" in line for line in lines)
    assert "promotion 0 -> 1 refused: kill_switch_tested (no evidence)" in result.output


def test_json_verdict_after_a_drill_allows_promotion(tmp_path: Path) -> None:
    run = btc_run(tmp_path)
    journal = tmp_path / "j.sqlite"
    from quantum_trader.analytics.gates_drill import run_drill
    from quantum_trader.config import Policy
    from quantum_trader.journal.store import Journal

    Journal(journal).record_drill(run_drill(Policy(), {"BTC/USDT:USDT": 60_000.0}, ts=1_735_689_600_000, phase=0))
    result = runner.invoke(app, ["gates", str(run), "--journal", str(journal), "--json"], env=WIDE)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["promotion_allowed"] is True and data["gate"] == "phase_0_to_1"
    crit = {c["name"]: c for c in data["criteria"]}
    assert crit["kill_switch_tested"]["source"].startswith("journal sqlite:///")
    assert crit["max_drawdown_experienced"]["source"] == "run r1/equity.parquet"


def test_a_journal_alone_is_evidence_of_drills_only(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    from quantum_trader.journal.store import Journal, PhaseChange, PhaseEventKind

    # a journal exists once something is recorded in it (opening one creates nothing)
    Journal(journal).record_phase_change(PhaseChange(1, PhaseEventKind.INIT, None, 0, "start", False, "ana"))
    result = runner.invoke(app, ["gates", str(journal), "--json"], env=WIDE)
    assert result.exit_code == 1
    statuses = {c["name"]: c["status"] for c in json.loads(result.output)["criteria"]}
    assert statuses["3_months_profitable_btc"] == "no evidence"


def test_a_target_that_is_neither_run_nor_journal_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["gates", str(tmp_path / "missing")], env=WIDE)
    assert result.exit_code == 2 and "neither a run folder nor a journal" in result.output
