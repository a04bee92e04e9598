"""``quantum-trader policy``: show and validate the risk policy."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from quantum_trader.cli.console import console
from quantum_trader.cli.errors import fail
from quantum_trader.cli.options import load_policy_or_exit

app = typer.Typer(help="Show or validate the policy that holds every limit of the spec.", no_args_is_help=True)


def percent(fraction: float) -> str:
    """A fraction as the percent it states, every digit kept: 0.006 -> 0.6%, 0.4 -> 40%, 0.0825 -> 8.25%.

    ``f"{x:.0%}"`` would print a 0.6% limit as "1%": the operator would confirm a limit not in force.
    """
    return f"{(Decimal(repr(fraction)) * 100).normalize():f}%"


def _flatten(value: object, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(value, dict):
        rows: list[tuple[str, object]] = []
        for key, item in value.items():
            rows.extend(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return rows
    return [(prefix, value)]


@app.command("show")
def show(
    policy_file: Annotated[
        Path | None, typer.Option("--policy", help="Policy YAML merged over the defaults.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    as_yaml: Annotated[bool, typer.Option("--yaml", help="Print the full policy as YAML.")] = False,
    section: Annotated[
        str | None, typer.Option("--section", help="Only this top-level section, e.g. portfolio.")
    ] = None,
) -> None:
    """Print the effective policy (defaults, your file, QT__ overrides).

    Example: quantum-trader policy show --section portfolio
    """
    from rich.table import Table

    from quantum_trader.config import policy_to_yaml

    policy = load_policy_or_exit(policy_file)
    data = policy.model_dump(mode="json")
    if section is not None:
        if section not in data:
            raise fail(f"--section: no section {section!r}; sections: {', '.join(data)}")
        data = {section: data[section]}
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    if as_yaml:
        typer.echo(policy_to_yaml(policy) if section is None else json.dumps(data, indent=2))
        return
    table = Table(title="Quantum Trader policy", show_lines=False)
    table.add_column("key", style="cyan", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in _flatten(data):
        table.add_row(key, json.dumps(value) if isinstance(value, list | dict) else str(value))
    console.print(table)


@app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="Policy YAML to check (merged over the defaults).")],
) -> None:
    """Check a policy file: every error names the key path, the value and the rule.

    Example: quantum-trader policy validate my_policy.yaml
    """
    policy = load_policy_or_exit(file)
    pf = policy.portfolio
    console.print(
        f"[green]valid[/] {file}: {pf.max_positions} positions, total exposure {percent(pf.max_total_exposure)}, "
        f"correlated {percent(pf.max_correlated_exposure)}, daily loss {percent(pf.max_daily_loss_portfolio)}, "
        f"drawdown {percent(pf.max_drawdown_portfolio)}",
        highlight=False,
    )
