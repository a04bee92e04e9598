"""``quantum-trader gates --journal URL [--phase N]``: the phase gates of spec section 4 judged on operation.

The evidence is the journal's paper, testnet and live sessions (``analytics.gates_ops``); ``gates RUN``
on a backtest run folder prints what the run supports and that it cannot open a gate; ``--run RUN``
shows a backtest beside each criterion as "supporting", never as its status.

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
    from quantum_trader.config import Policy
    from quantum_trader.journal.accounts import JournalChoice
    from quantum_trader.journal.store import Journal

__all__ = ["collect_evidence", "gates", "journal_choice", "journal_target", "journal_verdict", "load_policy_or_exit",
           "open_journal", "print_verdict", "with_support"]

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
    """A backtest run folder's evidence (plus the journal's drills): what the run *supports*, never a gate's status."""
    path = Path(target)
    if not target.strip() or not path.exists():
        raise fail(f"{target!r}: no such run folder (runs/<run-id>, written by `quantum-trader backtest`)")
    from quantum_trader.analytics.gates_evidence import Evidence
    from quantum_trader.analytics.run_folder import (
        EQUITY_FILE,
        EVENTS_FILE,
        METRICS_FILE,
        TRADES_FILE,
        RunFolderError,
    )

    run_files = (TRADES_FILE, EQUITY_FILE, EVENTS_FILE, METRICS_FILE)
    if not path.is_dir() or not any((path / name).exists() for name in run_files):
        raise fail(f"{target}: not a run folder (it holds none of {', '.join(run_files)}); "
                   "pass runs/<run-id> as written by `quantum-trader backtest`")
    drills = tuple(read_journal(journal.drills)) if journal is not None else ()
    drill_source = f"journal {journal.url}" if journal is not None else ""
    try:
        return Evidence.from_run(path, drills=drills, drill_source=drill_source)
    except (RunFolderError, OSError) as exc:
        raise fail(str(exc)) from None


def is_run_folder(target: str) -> bool:
    return "://" not in target and Path(target).is_dir()


def journal_verdict(target: str, phase: int | None, policy: Policy) -> GateVerdict:
    """The gate out of ``phase`` (default: the journal's current phase) on the journal's operation."""
    from quantum_trader.analytics.gates_journal import JournalEvidence
    from quantum_trader.analytics.gates_ops import evaluate_journal_gate

    store = open_journal(target)
    current = phase if phase is not None else read_journal(lambda: store.current_phase(policy.expansion.start_phase))
    if current > 2:
        raise fail("the current phase is 3: there is no further gate (pass --phase 0, 1 or 2)")
    evidence = read_journal(lambda: JournalEvidence.read(store.db, account=store.account))
    return evaluate_journal_gate(current, evidence, policy)


def with_support(verdict: GateVerdict, run: str | None, journal: Journal | None, policy: Policy) -> GateVerdict:
    """The journal's verdict with, beside each criterion, what a backtest run shows for it ("supporting")."""
    if run is None:
        return verdict
    from dataclasses import replace

    from quantum_trader.analytics.gates import evaluate_gate

    support = evaluate_gate(verdict.from_phase, collect_evidence(run, journal), policy)
    shown = {c.name: c for c in support.criteria}
    return replace(verdict, criteria=tuple(
        replace(c, supporting=f"backtest {shown[c.name].status.value}" if c.name in shown else "backtest -")
        for c in verdict.criteria))


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
    backtest = verdict.evidence == "backtest"
    what = "what a backtest supports of gate" if backtest else "Gate"
    table = Table(title=f"{what} {verdict.gate}: phase {verdict.from_phase} -> {verdict.to_phase}",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    supporting = any(c.supporting for c in verdict.criteria)
    columns = ("criterion", "level", "supports" if backtest else "status", "measured", "threshold",
               *(() if backtest else ("accepts",)), *(("supporting",) if supporting else ()),
               *(("source", "detail") if detail else ()))
    for col in columns:
        table.add_column(col, overflow="fold", no_wrap=col in ("criterion", "status"))
    for c in verdict.criteria:
        cells = [c.name, c.level.value, f"[{style[c.status]}]{c.status.value}[/]", _value(c), c.threshold,
                 *(() if backtest else (c.accepts,)), *((c.supporting,) if supporting else ())]
        table.add_row(*cells, *((c.source, c.detail) if detail else ()))
    console.print(table)
    if not detail:
        for c in verdict.criteria:
            if c.status.value != "pass":
                console.print(f"  {c.name}: {c.detail} [dim]({c.source})[/]", highlight=False)
    colour = "green" if verdict.promotion_allowed else "bold red"
    console.print(f"[{colour}]{verdict.summary()}[/]", highlight=False)


def gates(
    target: Annotated[str | None, typer.Argument(
        help="A backtest run folder (runs/<run-id>): shows what it supports; it cannot open a gate.")] = None,
    phase: Annotated[int | None, typer.Option(
        "--phase", min=0, max=2, help="Evaluate the gate out of this phase (default: the journal's current phase)."
    )] = None,
    journal: Annotated[str | None, typer.Option(
        "--journal", help="The journal whose paper, testnet and live sessions are the evidence (default $QT_JOURNAL, "
                          "journal/<account>.sqlite)."
    )] = None,
    run: Annotated[str | None, typer.Option(
        "--run", help="A backtest run folder shown beside each criterion as supporting (never its status).")] = None,
    policy_file: Annotated[Path | None, typer.Option("--policy", help="Policy YAML merged over the defaults.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Policy setting KEY=VALUE (repeatable), e.g. "
                      "expansion.phase_gates.phase_0_to_1.evidence.operations_stable=live,paper")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    detail: Annotated[bool, typer.Option("--detail", help="Sources and details of every criterion in the table.")
                      ] = False,
) -> None:
    """Evaluate a phase gate on operation: the journal's paper, testnet and live sessions of the right phase and
    assets, each criterion with its measured value, threshold, status, the evidence it accepts and what it rejected.

    Exit 0 when promotion is allowed, 1 when refused (always for a backtest run folder), 2 on bad input.

    Example: quantum-trader gates --journal journal/default.sqlite --phase 0
    """
    from quantum_trader.cli.bar_timeframes import policy_with_sets

    policy = policy_with_sets(policy_file, set_ or [])
    chosen = journal_target(journal)
    if target is not None and not is_run_folder(target):
        if "://" in target or Path(target).is_file():  # the older form: gates JOURNAL
            chosen, target = target, None
        else:
            raise fail(f"{target!r}: no such run folder (runs/<run-id>); the gate reads a journal: --journal URL")
    if target is not None:
        from quantum_trader.analytics.gates import evaluate_gate

        store = open_journal(chosen) if journal is not None else None
        verdict = evaluate_gate(phase if phase is not None else policy.expansion.start_phase,
                                collect_evidence(target, store), policy)
    else:
        verdict = with_support(journal_verdict(chosen, phase, policy), run, None, policy)
    if as_json:
        sys.stdout.write(json.dumps(verdict.to_dict(), indent=2, default=str) + "\n")
    else:
        print_verdict(verdict, detail=detail)
    if not verdict.promotion_allowed:
        raise typer.Exit(code=1)
