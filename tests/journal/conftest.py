"""Journal fixtures: a fresh journal on SQLite and on PostgreSQL.

The PostgreSQL cases need a server: ``QT_TEST_POSTGRES_URL`` names a database on it that the
tests may create databases from (``source .ci/postgres`` starts a throwaway one and exports
it; ``.ci/run`` does that before ``make test``). Without it they skip, saying so.
Each PostgreSQL case gets a database of its own, dropped afterwards: the suite runs on two
workers, and a migration test drops tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

POSTGRES_ENV = "QT_TEST_POSTGRES_URL"
NO_POSTGRES = (f"PostgreSQL: ${POSTGRES_ENV} is not set (`source .ci/postgres` starts a throwaway server and sets it; "
               ".ci/run does)")
BACKENDS = ("sqlite", "postgresql")


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty database on the test server; dropped on exit."""
    admin = os.environ.get(POSTGRES_ENV, "").strip()
    if not admin:
        pytest.skip(NO_POSTGRES)
    name = f"qt_{uuid.uuid4().hex[:16]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as con:
            con.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(admin).set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as con:
                con.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()


@contextmanager
def fresh_journal(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield str(folder / f"journal-{uuid.uuid4().hex[:8]}.sqlite")
    else:
        with fresh_postgres() as url:
            yield url


@pytest.fixture(params=BACKENDS)
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A journal that does not exist yet: a SQLite path, or an empty PostgreSQL database."""
    with fresh_journal(request.param, tmp_path) as url:
        yield url
