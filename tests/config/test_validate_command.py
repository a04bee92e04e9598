"""``quantum-trader policy validate FILE`` echoes the limits exactly as the file gives them.

An operator reads this line to confirm what they wrote; a 0.6% daily loss limit shown
as "1%" confirms a limit that is not the one in force.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from quantum_trader.cli.main import app
from quantum_trader.cli.policy_cmd import percent

runner = CliRunner()


def _validate(tmp_path: Path, text: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["policy", "validate", str(path)], env={}, terminal_width=300)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_limits_are_printed_without_rounding(tmp_path: Path) -> None:
    out = _validate(
        tmp_path,
        "portfolio:\n  max_daily_loss_portfolio: 0.006\n  max_total_exposure: 0.375\n"
        "  max_correlated_exposure: 0.125\n  max_drawdown_portfolio: 0.0825\n  max_positions: 4\n"
        "per_asset:\n  max_risk_per_trade: 0.0025\n  max_daily_loss_per_asset: 0.005\n  max_position_size: 0.1\n",
    )
    assert "4 positions" in out
    assert "total exposure 37.5%" in out and "correlated 12.5%" in out
    assert "daily loss 0.6%" in out and "drawdown 8.25%" in out


def test_the_defaults_read_as_the_spec_states_them(tmp_path: Path) -> None:
    out = _validate(tmp_path, "portfolio: {}\n")
    assert "5 positions, total exposure 40%, correlated 25%, daily loss 5%, drawdown 20%" in out


@settings(max_examples=200)
@given(st.decimals(min_value="0.00001", max_value="1", places=5))
def test_percent_is_exact(value: Decimal) -> None:
    shown = percent(float(value))
    assert shown.endswith("%")
    assert Decimal(shown[:-1]) == value * 100
