"""Alembic's entry point: migrate the connection ``journal.migrate`` passes in ``config.attributes``.

Run only by Alembic (``context`` exists while a command runs), never imported by the package.
Outside the project's commands (``alembic -x url=...`` with a hand-written ini), a URL
given as ``sqlalchemy.url`` is used instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from quantum_trader.journal.schema import head_metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=head_metadata(),
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    given = context.config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("journal migrations: no connection and no sqlalchemy.url to migrate")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


run()
