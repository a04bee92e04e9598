"""The ``quantum-trader`` command: one Typer app, one sub-app per area."""

from __future__ import annotations

import typer

from quantum_trader.cli import data_cmd, policy_cmd

app = typer.Typer(
    help="Quantum Trader: multi-asset crypto perpetuals under a strict, measured risk framework.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(data_cmd.app, name="data")


if __name__ == "__main__":
    app()
