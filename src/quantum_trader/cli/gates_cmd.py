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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from quantum_trader.cli.console import console
from quantum_trader.cli.errors import fail
from quantum_trader.cli.options import load_policy_or_exit

if TYPE_CHECKING:
    from quantum_trader.analytics.gates import GateCriterion, GateVerdict
    from quantum_trader.analytics.gates_evidence import Evidence
    from quantum_trader.journal.accounts import JournalChoice
    from quantum_trader.journal.store import Journal

__all__ = ["collect_evidence", "gates", "journal_choice", "journal_target", "load_policy_or_exit", "open_journal",
           "print_verdict"]

T = TypeVar("T")


def journal_choice(journal: str | None) -> JournalChoice:
    """``--journal``, else ``$QT_JOURNAL``, else the account's ``journal/<account>.sqlite`` (``$QT_ACCOUNT``,
    default ``default``): the one place a command's journal is chosen."""
    from quantum_trader.journal.accounts import choose_journal

    with journal_errors():
        return choose_journal(journal, os.environ)


def journal_target(journal: str | None) -> str:
    return journal_choice(journal).target


@contextmanager
def journal_errors() -> Iterator[None]:
    """A journal that cannot be opened, read or written: one line naming its (redacted) URL."""
    from quantum_trader.journal.store import JournalError

    try:
        yield
    except JournalError as exc:
        raise fail(str(exc)) from None


def open_journal(target: str) -> Journal:
    """The journal at ``target``, for the account chosen (its rows carry it); opening it creates nothing, and
    the account's default file gets its ``journal/`` folder on its first write."""
    from quantum_trader.journal.accounts import default_journal
    from quantum_trader.journal.store import Journal

    account = journal_choice(None).account
    with journal_errors():
        return Journal(target, account=account, create_folder=target == str(default_journal(account)))


def read_journal(read: Callable[[], T]) -> T:
    with journal_errors():
        return read()


def collect_evidence(target: str, journal: Journal | None) -> Evidence:
    """A run folder (plus the journal's drills), or a journal alone (drills only)."""
    path = Path(target)
    if not target.strip() or ("://" not in target and not path.exists()):
        raise fail(f"{target!r}: neither a run folder nor a journal (a SQLite file or a database URL)")
    from quantum_trader.analytics.gates_evidence import Evidence
    from quantum_trader.analytics.run_folder import (
        EQUITY_FILE,
        EVENTS_FILE,
        METRICS_FILE,
        TRADES_FILE,
        RunFolderError,
    )

    run_files = (TRADES_FILE, EQUITY_FILE, EVENTS_FILE, METRICS_FILE)
    if path.is_dir() and not any((path / name).exists() for name in run_files):
        raise fail(f"{target}: not a run folder (it holds none of {', '.join(run_files)}); "
                   "pass runs/<run-id> as written by `quantum-trader backtest`")

    drills = tuple(read_journal(journal.drills)) if journal is not None else ()
    drill_source = f"journal {journal.url}" if journal is not None else ""
    try:
        if path.is_dir():
            return Evidence.from_run(path, drills=drills, drill_source=drill_source)
    except (RunFolderError, OSError) as exc:
        raise fail(str(exc)) from None
    if "://" in target or path.is_file():
        own = open_journal(target)
        return Evidence(f"journal {own.url}", drills=tuple(read_journal(own.drills)),
                        drill_source=f"journal {own.url}")
    raise fail(f"{target}: neither a run folder nor a journal (a SQLite file or a database URL)")


def _value(c: GateCriterion) -> str:
    if c.value is None:
        return "-"
    if isinstance(c.value, float) and abs(c.value) < 10 and "%" in c.threshold:
        return f"{c.value:.2%}"
    return f"{c.value:,.2f}" if isinstance(c.value, float) else str(c.value)


def print_verdict(verdict: GateVerdict, *, detail: bool = False) -> None:
    """One line per criterion; sources and details in the table with ``detail``, else listed
    below it for the criteria that did not pass (what the operator has to act on)."""
    from rich import box
    from rich.table import Table

    from quantum_trader.analytics.gates import GateStatus

    style = {GateStatus.PASS: "green", GateStatus.FAIL: "bold red", GateStatus.NO_EVIDENCE: "yellow"}
    # A light frame: at 80 columns (a pipe, a log) criterion names still fit on one line.
    table = Table(title=f"Gate {verdict.gate}: phase {verdict.from_phase} -> {verdict.to_phase}",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    columns = ("criterion", "level", "status", "measured", "threshold", *(("source", "detail") if detail else ()))
    for col in columns:
        table.add_column(col, overflow="fold", no_wrap=col in ("criterion", "status"))
    for c in verdict.criteria:
        cells = [c.name, c.level.value, f"[{style[c.status]}]{c.status.value}[/]", _value(c), c.threshold]
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
                          "journal/<account>.sqlite when it exists)."
    )] = None,
    policy_file: Annotated[Path | None, typer.Option("--policy", help="Policy YAML merged over the defaults.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    detail: Annotated[bool, typer.Option("--detail", help="Sources and details of every criterion in the table.")
                      ] = False,
) -> None:
    """Evaluate a phase gate: every criterion with its measured value, threshold, status and evidence.

    Example: quantum-trader gates runs/20250101-000000-multi-asset --phase 0 --journal journal/default.sqlite
    """
    policy = load_policy_or_exit(policy_file)
    chosen = journal_target(journal)
    store = open_journal(chosen) if journal is not None or Path(chosen).is_file() or "://" in chosen else None
    evidence = collect_evidence(target, store)
    start = policy.expansion.start_phase
    current = phase if phase is not None else (
        read_journal(lambda: store.current_phase(start)) if store is not None else start
    )
    if current > 2:
        raise fail("the current phase is 3: there is no further gate (pass --phase 0, 1 or 2)")
    from quantum_trader.analytics.gates import evaluate_gate

    verdict = evaluate_gate(current, evidence, policy)
    if as_json:
        sys.stdout.write(json.dumps(verdict.to_dict(), indent=2, default=str) + "\n")
    else:
        print_verdict(verdict, detail=detail)
    if not verdict.promotion_allowed:
        raise typer.Exit(code=1)
