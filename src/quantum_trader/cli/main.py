"""The ``quantum-trader`` command: one Typer app, one sub-app per area."""

from __future__ import annotations

import typer

from quantum_trader.cli import (
    backtest_cmd,
    data_cmd,
    demo_cmd,
    gates_cmd,
    markets_cmd,
    phase_cmd,
    policy_cmd,
    screen_cmd,
    signals_cmd,
    synth_cmd,
)

app = typer.Typer(
    help="Quantum Trader: multi-asset crypto perpetuals under a strict, measured risk framework.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(policy_cmd.app, name="policy")
data_cmd.app.command("synth")(synth_cmd.synth)
data_cmd.app.command("calibrate")(synth_cmd.calibrate)
data_cmd.app.command("markets")(markets_cmd.markets)
app.add_typer(data_cmd.app, name="data")
app.command("demo")(demo_cmd.demo)
app.command("backtest")(backtest_cmd.backtest)
app.command("signals")(signals_cmd.signals)
app.add_typer(signals_cmd.check_app, name="check")
app.command("screen")(screen_cmd.screen)
app.command("gates")(gates_cmd.gates)
app.add_typer(phase_cmd.phase_app, name="phase")
app.add_typer(phase_cmd.killswitch_app, name="killswitch")


if __name__ == "__main__":
    app()
