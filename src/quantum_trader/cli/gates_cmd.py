"""``quantum-trader gates RUN_OR_JOURNAL``: the phase gates of spec section 4 on a run's evidence.

Register in ``cli/main.py`` with ``app.command("gates")(gates_cmd.gates)``.

One line per criterion: required/recommended, status, measured value, threshold, source
and detail; then the verdict. Exit code 0 when promotion is allowed, 1 when refused, 2
on bad input, so scripts and CI can gate on it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from quantum_trader.analytics.gates import GateCriterion, GateStatus, GateVerdict, evaluate_gate
from quantum_trader.analytics.gates_evidence import Evidence
from quantum_trader.analytics.run_folder import RunFolderError
from quantum_trader.cli.console import console
from quantum_trader.config import Policy, PolicyError, load_policy
from quantum_trader.journal.store import DEFAULT_JOURNAL, JOURNAL_ENV, Journal, JournalError

STYLE = {GateStatus.PASS: "green", GateStatus.FAIL: "bold red", GateStatus.NO_EVIDENCE: "yellow"}


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error[/] {message}", highlight=False)
    return typer.Exit(code=2)


def load_policy_or_exit(path: Path | None) -> Policy:
    try:
        return load_policy(path)
    except PolicyError as exc:
        raise _fail(f"invalid policy {exc}") from None


def journal_target(journal: str | None) -> str:
    """``--journal``, else ``$QT_JOURNAL``, else ./journal.sqlite."""
    return journal or os.environ.get(JOURNAL_ENV, "").strip() or str(DEFAULT_JOURNAL)


def open_journal(target: str) -> Journal:
    try:
        return Journal(target)
    except JournalError as exc:
        raise _fail(str(exc)) from None


def collect_evidence(target: str, journal: Journal | None) -> Evidence:
    """A run folder (plus the journal's drills), or a journal alone (drills only)."""
    drills = tuple(journal.drills()) if journal is not None else ()
    drill_source = f"journal {journal.url}" if journal is not None else ""
    path = Path(target)
    try:
        if path.is_dir():
            return Evidence.from_run(path, drills=drills, drill_source=drill_source)
    except (RunFolderError, OSError) as exc:
        raise _fail(str(exc)) from None
    if "://" in target or path.is_file():
        own = open_journal(target)
        return Evidence(f"journal {own.url}", drills=tuple(own.drills()), drill_source=f"journal {own.url}")
    raise _fail(f"{target}: neither a run folder nor a journal (a SQLite file or a database URL)")


def _value(c: GateCriterion) -> str:
    if c.value is None:
        return "-"
    if isinstance(c.value, float) and abs(c.value) < 10 and "%" in c.threshold:
        return f"{c.value:.2%}"
    return f"{c.value:,.2f}" if isinstance(c.value, float) else str(c.value)


def print_verdict(verdict: GateVerdict, *, detail: bool = False) -> None:
    """One line per criterion; sources and details in the table with ``detail``, else listed
    below it for the criteria that did not pass (what the operator has to act on)."""
    # A light frame: at 80 columns (a pipe, a log) criterion names still fit on one line.
    table = Table(title=f"Gate {verdict.gate}: phase {verdict.from_phase} -> {verdict.to_phase}",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    columns = ("criterion", "level", "status", "measured", "threshold", *(("source", "detail") if detail else ()))
    for col in columns:
        table.add_column(col, overflow="fold", no_wrap=col in ("criterion", "status"))
    for c in verdict.criteria:
        cells = [c.name, c.level.value, f"[{STYLE[c.status]}]{c.status.value}[/]", _value(c), c.threshold]
        table.add_row(*cells, *((c.source, c.detail) if detail else ()))
    console.print(table)
    if not detail:
        for c in verdict.criteria:
            if c.status.value != "pass":
                console.print(f"  {c.name}: {c.detail} [dim]({c.source})[/]", highlight=False)
    colour = "green" if verdict.promotion_allowed else "bold red"
    console.print(f"[{colour}]{verdict.summary()}[/]", highlight=False)


def gates(
    target: Annotated[str, typer.Argument(help="A run folder (runs/<run-id>) or a journal (SQLite file or URL).")],
    phase: Annotated[int | None, typer.Option(
        "--phase", min=0, max=2, help="Evaluate the gate out of this phase (default: the journal's current phase)."
    )] = None,
    journal: Annotated[str | None, typer.Option(
        "--journal", help="Journal with kill-switch drills and the current phase (default $QT_JOURNAL, "
                          "./journal.sqlite when it exists)."
    )] = None,
    policy_file: Annotated[Path | None, typer.Option("--policy", help="Policy YAML merged over the defaults.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    detail: Annotated[bool, typer.Option("--detail", help="Sources and details of every criterion in the table.")
                      ] = False,
) -> None:
    """Evaluate a phase gate: every criterion with its measured value, threshold, status and evidence.

    Example: quantum-trader gates runs/20250101-000000-multi-asset --phase 0 --journal journal.sqlite
    """
    policy = load_policy_or_exit(policy_file)
    chosen = journal_target(journal)
    store = open_journal(chosen) if journal is not None or Path(chosen).is_file() or "://" in chosen else None
    evidence = collect_evidence(target, store)
    current = phase if phase is not None else (
        store.current_phase(policy.expansion.start_phase) if store is not None else policy.expansion.start_phase
    )
    if current > 2:
        raise _fail("the current phase is 3: there is no further gate (pass --phase 0, 1 or 2)")
    verdict = evaluate_gate(current, evidence, policy)
    if as_json:
        sys.stdout.write(json.dumps(verdict.to_dict(), indent=2, default=str) + "\n")
    else:
        print_verdict(verdict, detail=detail)
    if not verdict.promotion_allowed:
        raise typer.Exit(code=1)
