"""Which journal a command uses: the one place that turns ``--journal``, ``$QT_JOURNAL`` and the account into a target.

One SQLite file per account (``journal/<account>.sqlite``) keeps a testnet account's orders
and kill switch out of the live one's. The account is ``$QT_ACCOUNT`` (default ``default``);
``--journal`` and then ``$QT_JOURNAL`` name another file or a database URL, in which the rows
still carry the account, so one PostgreSQL database can hold several.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from quantum_trader.journal.database import JournalError
from quantum_trader.journal.schema import ACCOUNT_LEN, DEFAULT_ACCOUNT

JOURNAL_ENV = "QT_JOURNAL"
ACCOUNT_ENV = "QT_ACCOUNT"
JOURNAL_DIR = Path("journal")
_ACCOUNT = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{ACCOUNT_LEN - 1}}}")


def check_account(name: str) -> str:
    """An account name is also a file name: letters, digits, ``_``, ``.``, ``-``; it does not start with a dot."""
    if not _ACCOUNT.fullmatch(name):
        raise JournalError(f"account {name!r}: use 1 to {ACCOUNT_LEN} letters, digits, '_', '.' or '-', "
                           "starting with a letter or digit (it names the journal file journal/<account>.sqlite)")
    return name


def default_journal(account: str = DEFAULT_ACCOUNT) -> Path:
    """The account's own SQLite journal, relative to the working folder."""
    return JOURNAL_DIR / f"{check_account(account)}.sqlite"


@dataclass(frozen=True, slots=True)
class JournalChoice:
    target: str
    """A SQLite path or a database URL."""
    account: str
    is_default: bool
    """The account's default file: its folder is created by the first write."""


def choose_journal(given: str | None, env: Mapping[str, str]) -> JournalChoice:
    """``given`` (``--journal``), else ``$QT_JOURNAL``, else ``journal/<account>.sqlite``; the account is
    ``$QT_ACCOUNT`` or ``default``."""
    try:
        account = check_account(env.get(ACCOUNT_ENV, "").strip() or DEFAULT_ACCOUNT)
    except JournalError as exc:
        raise JournalError(f"${ACCOUNT_ENV}: {exc}") from None
    default = str(default_journal(account))
    target = given or env.get(JOURNAL_ENV, "").strip() or default
    return JournalChoice(target, account, target == default)
