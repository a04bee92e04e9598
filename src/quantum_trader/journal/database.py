"""One journal database: its URL (shown redacted), its engine, its transactions and its errors.

A path (or a URL without ``://``) is a SQLite file; anything with ``://`` is passed to
SQLAlchemy as is (``postgresql+psycopg://user@host/db``). A URL's password is a secret:
:attr:`Database.url` and every message show it as ``***``.

SQLite is put in WAL mode by its first write, with ``synchronous=FULL``: a reader (the dashboard,
``killswitch status``) never blocks the engine's writes, and a committed row survives a crash of
the process and of the machine. The driver's own transaction handling is turned off and every transaction is
begun explicitly, so that DDL (a migration) is transactional too and a write transaction takes
the write lock at once (``BEGIN IMMEDIATE``): two writers queue on the busy timeout instead of
one failing half-way through a read-then-write.

Reading never creates anything: :meth:`Database.exists` is False for a SQLite file that is not
there, and the readers return "nothing recorded" without connecting. The first write brings the
schema to the head revision (:mod:`quantum_trader.journal.migrate`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

SQLITE_BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another process's write transaction before giving up."""
_WRITE = "qt_write"


class JournalError(ValueError):
    """A journal that cannot be opened, read or written, or a write it refuses; the message names the URL."""


_PASSWORD_IN_URL = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*:)[^@\s]+@")


def journal_url(target: str | Path) -> str:
    text = str(target)
    return text if "://" in text else f"sqlite:///{Path(text).expanduser()}"


def redact_url(url: str) -> str:
    """``postgresql://user:s3cret@host/db`` -> ``postgresql://user:***@host/db``; a URL SQLAlchemy cannot
    parse is masked by pattern, so a typo in a URL cannot print its password either."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError, TypeError):
        return redact_text(url)


def redact_text(text: str, secret: str | None = None) -> str:
    """Every ``scheme://user:password@`` in ``text`` with ``***`` for the password (and ``secret`` wherever it is)."""
    if secret:
        text = text.replace(secret, "***")
    return _PASSWORD_IN_URL.sub(lambda m: f"{m.group('head')}***@", text)


def _password_of(url: str) -> str | None:
    """The password of a URL SQLAlchemy may not parse (then anything between ``user:`` and ``@``)."""
    match = re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*:([^@\s]+)@", url)
    return match.group(1) if match else None


def new_id(result: CursorResult[Any]) -> int:
    """The primary key an ``INSERT`` just gave its row."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise JournalError("journal: the database returned no id for a new row")
    return int(key[0])


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)


class Database:
    """The engine of one journal, opened lazily: constructing it connects to nothing.

    ``create_folder``: the first write creates the SQLite file's missing parent folder (the
    default journal, ``journal/<account>.sqlite``); a path the user typed into a folder that
    does not exist stays an error, since it is more likely a typo than a wish.
    """

    def __init__(self, target: str | Path, *, create_folder: bool = False) -> None:
        raw = journal_url(target)
        self.url = redact_url(raw)
        """The URL as it may be shown or stored: the password replaced by ``***``."""
        self._password = _password_of(raw)
        self.create_folder = create_folder
        try:
            parsed = make_url(raw)
            backend = parsed.get_backend_name()
            self.is_sqlite = backend == "sqlite"
            self.sqlite_file = (Path(parsed.database) if self.is_sqlite and parsed.database
                                and parsed.database != ":memory:" else None)
            options: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}} if self.is_sqlite else {}
            self.engine: Engine = create_engine(raw, **options)
        except ModuleNotFoundError as exc:
            hint = ("write the URL as postgresql+psycopg://... (psycopg 3 comes with quantum-trader)"
                    if exc.name == "psycopg2" else f"install it, e.g. pip install {exc.name}")
            raise JournalError(f"journal {self.url}: cannot open (its database driver is not installed: {exc}; "
                               f"{hint})") from None
        except (SQLAlchemyError, ValueError) as exc:
            raise JournalError(f"journal {self.url}: cannot open ({self.redact(_first_line(exc))})") from None
        if self.is_sqlite:
            _sqlite_transactions(self.engine)
        self._tables: set[str] = set()
        self._at_head = False

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    def redact(self, text: str) -> str:
        return redact_text(text, self._password)

    def close(self) -> None:
        self.engine.dispose()

    def exists(self) -> bool:
        """False for a SQLite file that is not there: it is not created by looking at it."""
        return self.sqlite_file is None or self.sqlite_file.exists()

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Database errors as one ``JournalError`` naming the (redacted) URL."""
        try:
            yield
        except SQLAlchemyError as exc:
            raise JournalError(f"journal {self.url}: cannot {action} ({self.redact(_first_line(exc))})") from None

    def has_table(self, name: str) -> bool:
        """Whether ``name`` exists, without creating the file; a table once seen is remembered."""
        if name in self._tables:
            return True
        if not self.exists():
            return False
        with self.errors("read"), self.engine.connect() as con:
            found = bool(inspect(con).has_table(name))
        if found:
            self._tables.add(name)
        return found

    def columns(self, table: str) -> set[str]:
        with self.errors("read"), self.engine.connect() as con:
            return {c["name"] for c in inspect(con).get_columns(table)}

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading (in WAL mode it never waits for a writer)."""
        with self.errors("read"), self.engine.connect() as con:
            yield con

    @contextmanager
    def write(self, action: str = "write") -> Iterator[Connection]:
        """One write transaction, at the schema's head: committed when the block ends, rolled back on
        any error (nothing half-written). The caller's ``JournalError`` passes through unchanged."""
        self.ensure_head()
        with self.errors(action), self.begin_write() as con:
            yield con

    @contextmanager
    def begin_write(self) -> Iterator[Connection]:
        """A write transaction without the schema check (the migrations themselves use it)."""
        self._prepare_folder()
        with self.engine.connect() as con:
            con = con.execution_options(**{_WRITE: True})
            with con.begin():
                yield con

    def ensure_head(self) -> None:
        """Bring the schema to the head revision once per process (the first write of a new file creates it)."""
        if self._at_head:
            return
        from quantum_trader.journal.migrate import ensure_head

        ensure_head(self)
        self._at_head = True

    def mark_at_head(self, at_head: bool) -> None:
        self._at_head = at_head
        self._tables.clear()

    def _prepare_folder(self) -> None:
        folder = self.sqlite_file.parent if self.sqlite_file is not None else None
        if folder is not None and self.create_folder and not folder.exists():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise JournalError(f"journal {self.url}: cannot create its folder {folder} ({exc.strerror})"
                                   ) from None


def _sqlite_transactions(engine: Engine) -> None:
    """Explicit transactions, a durable commit, and WAL set by the first write (see the module docstring).

    WAL is persistent in the file, so it is set once, by a write: a reader never changes the file it
    reads (a journal made before WAL, or on a read-only disk, is read as it is).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver begins nothing by itself; "begin" below does
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA synchronous=FULL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(con: Connection) -> None:
        if not con.get_execution_options().get(_WRITE):
            con.exec_driver_sql("BEGIN")
            return
        if not con.info.get("wal"):
            _set_wal(con)
            con.info["wal"] = True
        con.exec_driver_sql("BEGIN IMMEDIATE")


def _set_wal(con: Connection) -> None:
    """``PRAGMA journal_mode=WAL``, waiting as a write would. Changing the mode of a new file needs it to
    itself, and SQLite answers "locked" at once (no busy handler) while another process is creating it:
    two processes starting on a new journal would otherwise fail instead of queueing."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            con.exec_driver_sql("PRAGMA journal_mode=WAL")
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
