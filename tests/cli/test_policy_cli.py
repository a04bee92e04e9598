"""`quantum-trader policy`: what an operator types to see and check the limits."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from quantum_trader.cli.main import app

runner = CliRunner()


def test_show_json_is_the_whole_policy() -> None:
    result = runner.invoke(app, ["policy", "show", "--json"], env={})
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["portfolio"]["max_total_exposure"] == 0.4
    assert data["position_slots"]["allocation_by_tier"]["tier_1"]["reserved_slots"] == 2


def test_show_section_table() -> None:
    result = runner.invoke(app, ["policy", "show", "--section", "per_asset"])
    assert result.exit_code == 0
    assert "per_asset.max_risk_per_trade" in result.output and "0.02" in result.output


def test_env_override_shows_in_effective_policy() -> None:
    result = runner.invoke(app, ["policy", "show", "--json"], env={"QT__PORTFOLIO__MAX_POSITIONS": "4"})
    assert json.loads(result.output)["portfolio"]["max_positions"] == 4


def test_validate_good_and_bad(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("portfolio: {max_positions: 4}\n")
    result = runner.invoke(app, ["policy", "validate", str(good)])
    assert result.exit_code == 0 and "valid" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("portfolio: {max_total_exposure: 1.4}\n")
    result = runner.invoke(app, ["policy", "validate", str(bad)], terminal_width=200)
    assert result.exit_code == 2
    assert "portfolio.max_total_exposure: must be in (0, 1], got 1.4" in result.output


def test_unknown_section_is_refused() -> None:
    result = runner.invoke(app, ["policy", "show", "--section", "nope"])
    assert result.exit_code == 2 and "no section 'nope'" in result.output
