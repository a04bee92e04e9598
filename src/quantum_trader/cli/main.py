"""The ``quantum-trader`` command: one Typer app, one sub-app per area.

The command modules import only Typer and the standard library at module level; each
command imports what it needs when it runs, so ``--help`` starts in a fraction of a second
instead of importing pandas, ccxt, plotly and empyrical first (benchmarks/bench_startup.py;
tests/cli/test_startup_imports.py keeps it so).
"""

from __future__ import annotations

from typing import Annotated

import typer

from quantum_trader.cli import (
    backtest_cmd,
    dashboard_cmd,
    data_cmd,
    demo_cmd,
    gates_cmd,
    journal_cmd,
    live_cmd,
    markets_cmd,
    paper_cmd,
    phase_cmd,
    policy_cmd,
    research_cmd,
    screen_cmd,
    signals_cmd,
    stress_cmd,
    synth_cmd,
)
from quantum_trader.cli.errors import DEBUG_ENV, ErrorLineGroup

app = typer.Typer(
    cls=ErrorLineGroup,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option(
        "--debug", envvar=DEBUG_ENV, show_envvar=True,
        help="Show the full traceback of an error (accepted anywhere on the line).")] = False,
) -> None:
    """Quantum Trader: multi-asset crypto perpetuals under a strict, measured risk framework.

    Every error is one line and exit code 2 (1: a gate or check refused); --debug shows the traceback.
    """


app.add_typer(policy_cmd.app, name="policy")
data_cmd.app.command("synth")(synth_cmd.synth)
data_cmd.app.command("calibrate")(synth_cmd.calibrate)
data_cmd.app.command("markets")(markets_cmd.markets)
app.add_typer(data_cmd.app, name="data")
app.command("demo")(demo_cmd.demo)
app.command("backtest")(backtest_cmd.backtest)
app.command("paper")(paper_cmd.paper)
app.command("live")(live_cmd.live)
app.command("signals")(signals_cmd.signals)
app.add_typer(signals_cmd.check_app, name="check")
app.command("screen")(screen_cmd.screen)
app.command("gates")(gates_cmd.gates)
app.command("stress")(stress_cmd.stress)
app.add_typer(phase_cmd.phase_app, name="phase")
app.add_typer(phase_cmd.killswitch_app, name="killswitch")
app.add_typer(research_cmd.research_app, name="research")
app.add_typer(journal_cmd.app, name="journal")
app.command("dashboard")(dashboard_cmd.dashboard)

# Plain help and usage errors (Click's own format) for every group: Typer's Rich help formatter
# imports markdown-it, pygments and rich.traceback, about half of the start-up time of ``--help``.
for _group in app.registered_groups:
    if _group.typer_instance is not None:
        _group.typer_instance.rich_markup_mode = None


if __name__ == "__main__":
    app()
