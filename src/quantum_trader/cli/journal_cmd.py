"""``quantum-trader journal upgrade|downgrade|status``: the journal's schema revision (Alembic).

Register in ``cli/main.py`` with ``app.add_typer(journal_cmd.app, name="journal")``.

A user never has to run ``upgrade`` for a new or an old journal: the first write brings it
to the head revision by itself. The command is there to do it ahead of time (a journal on
a server, before the engine starts), and ``downgrade`` to go back to an older release;
undoing a revision drops the tables it created, so it is refused while one holds rows
unless ``--force``. ``status`` reads only: on a journal that does not exist it creates nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from quantum_trader.cli.console import console
from quantum_trader.cli.errors import fail
from quantum_trader.cli.gates_cmd import journal_choice, journal_errors
from quantum_trader.cli.incidents_cmd import incidents, resolve

if TYPE_CHECKING:
    from quantum_trader.journal.database import Database

app = typer.Typer(help="The journal's schema (upgrade to the head revision, downgrade, status) and its incidents.",
                  no_args_is_help=True)
app.command("incidents")(incidents)
app.command("resolve")(resolve)

JournalOpt = Annotated[str | None, typer.Option(
    "--journal", help="Journal SQLite file or database URL (default $QT_JOURNAL, else journal/<account>.sqlite "
                      "with the account $QT_ACCOUNT or 'default').")]


def _database(journal: str | None) -> Database:
    from quantum_trader.journal.database import Database

    choice = journal_choice(journal)
    with journal_errors():
        return Database(choice.target, create_folder=choice.is_default)


@app.command("status")
def status(journal: JournalOpt = None) -> None:
    """The journal's schema revision and the head revision of this quantum-trader.

    Example: quantum-trader journal status --journal journal/default.sqlite
    """
    from quantum_trader.journal.migrate import status as schema_status

    db = _database(journal)
    with journal_errors():
        found = schema_status(db)
    console.print(found.describe(), highlight=False)


@app.command("upgrade")
def upgrade(journal: JournalOpt = None) -> None:
    """Bring the journal to the head revision (a new SQLite file is created; a journal made before migrations is
    stamped and upgraded in place, in one transaction).

    Example: quantum-trader journal upgrade --journal postgresql+psycopg://qt@db.example/qt
    """
    from quantum_trader.journal.migrate import upgrade as schema_upgrade

    db = _database(journal)
    with journal_errors():
        before, after = schema_upgrade(db)
    if before == after:
        console.print(f"journal {db.url}: already at revision {after} (head)", highlight=False)
    else:
        console.print(f"journal {db.url}: upgraded from {before or 'nothing'} to {after} (head)", highlight=False)


@app.command("downgrade")
def downgrade(
    to: Annotated[str, typer.Option("--to", help="Revision to go back to: 0001, or base (no tables).")],
    force: Annotated[bool, typer.Option("--force", help="Drop the undone revisions' tables even if they hold rows.")
                     ] = False,
    journal: JournalOpt = None,
) -> None:
    """Undo the revisions above --to, for an older release of quantum-trader: their tables are dropped (refused,
    exit 1, while one holds rows, unless --force). This release's next write upgrades the journal again.

    Example: quantum-trader journal downgrade --to 0001 --journal journal/default.sqlite
    """
    from quantum_trader.journal.database import JournalError
    from quantum_trader.journal.migrate import BASE, REVISIONS, DowngradeRefusedError
    from quantum_trader.journal.migrate import downgrade as schema_downgrade

    target = to.strip()
    if target not in (BASE, *REVISIONS):
        raise fail(f"--to {to!r}: not a revision of the journal (one of {BASE}, {', '.join(REVISIONS)})")
    db = _database(journal)
    try:
        before, after = schema_downgrade(db, target, force=force)
    except DowngradeRefusedError as exc:
        raise fail(f"refused: {exc}", code=1) from None
    except JournalError as exc:
        raise fail(str(exc)) from None
    console.print(f"journal {db.url}: downgraded from {before} to {after or BASE}", highlight=False)
