"""`make demo` runs this: the whole pipeline on embedded defaults must keep working."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from quantum_trader.cli.main import app


def test_demo_runs_market_backtest_report_and_gate(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--days", "40", "--seed", "5", "--out", str(tmp_path)],
                                env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1
    run = runs[0]
    for name in ("trades.parquet", "equity.parquet", "events.parquet", "metrics.json", "policy.yaml", "report.html"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["run"]["bars"] == 40 * 1440
    assert metrics["trades"] > 0
    assert (tmp_path / "catalog" / "exchange=synthetic" / "markets.json").is_file()
    assert "screening:" in result.output and "Gate phase_0_to_1" in result.output
    assert "promotion 0 -> 1" in result.output
