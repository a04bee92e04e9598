"""``quantum-trader journal incidents`` and ``journal resolve``: what went wrong while trading, and an operator's word
that it is dealt with.

An incident is a difference or a fault the engine did not resolve by guessing (a position the journal does
not explain, an order the exchange does not know, a stale feed): it names what was seen and the safe action
taken. A live session refuses to start while a reconciliation incident is unresolved; resolving one records
who did and what they did, so the journal keeps the whole story.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from quantum_trader.cli.console import console
from quantum_trader.cli.errors import fail
from quantum_trader.cli.gates_cmd import journal_choice, journal_errors
from quantum_trader.domain.time import format_time

JournalOpt = Annotated[str | None, typer.Option(
    "--journal", help="Journal SQLite file or database URL (default $QT_JOURNAL, else journal/<account>.sqlite "
                      "with the account $QT_ACCOUNT or 'default').")]


def incidents(journal: JournalOpt = None,
              every: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False) -> None:
    """The unresolved incidents, oldest first (with --all, every incident and how it was resolved).

    Example: quantum-trader journal incidents --journal journal/live.sqlite
    """
    from quantum_trader.journal import TradingJournal

    choice = journal_choice(journal)
    with journal_errors():
        store = TradingJournal(choice.target, account=choice.account)
        found = store.incidents() if every else store.unresolved_incidents()
    if not found:
        console.print(f"journal {store.url}: no {'' if every else 'unresolved '}incidents", highlight=False)
        return
    for i in found:
        state = "open" if i.resolved_ts is None else (f"resolved {format_time(i.resolved_ts)} by {i.resolved_by}"
                                                      + (f": {i.resolution}" if i.resolution else ""))
        console.print(f"#{i.id} {format_time(i.ts)} {i.kind}: {i.detail} ({i.safe_action}) - {state}",
                      highlight=False, soft_wrap=True)


def resolve(incident: Annotated[int, typer.Argument(help="The incident's number (journal incidents).")],
            by: Annotated[str, typer.Option("--by", help="Who resolved it (recorded).")],
            resolution: Annotated[str, typer.Option("--resolution", help="What was done (recorded).")],
            journal: JournalOpt = None) -> None:
    """Record that an incident is dealt with, by whom and how.

    Example: quantum-trader journal resolve 12 --by alice --resolution "closed the manual ETH position"
    """
    from quantum_trader.journal import TradingJournal

    if not by.strip() or not resolution.strip():
        raise fail("--by and --resolution must say who and what: the journal keeps them")
    choice = journal_choice(journal)
    with journal_errors():
        store = TradingJournal(choice.target, account=choice.account)
        known = {i.id: i for i in store.incidents()}
        found = known.get(incident)
        if found is None:
            raise fail(f"journal {store.url}: no incident #{incident}")
        if found.resolved_ts is not None:
            raise fail(f"incident #{incident} was resolved already ({format_time(found.resolved_ts)} by "
                       f"{found.resolved_by})")
        store.resolve_incident(incident, ts=int(time.time() * 1000), by=by.strip(), resolution=resolution.strip())
    console.print(f"incident #{incident} ({found.kind}) resolved by {by.strip()}: {resolution.strip()}",
                  highlight=False)
