"""One writer per dataset at a time: a ``.lock`` file in the dataset's folder, held with ``flock``.

Without it two ingests of the same dataset each read the stored rows, merge their own and
rename their result over the other's: both report "added" and one file's rows are gone.
The writer therefore merges and renames while it holds the lock; a second writer waits
(telling its user who holds it) and gives up with a clear error after ``wait_s``.

The lock file holds the holder's pid, host, start time and command, so a waiting user can
see who to wait for. The stale-lock rule is the kernel's: ``flock`` locks die with their
process, so a lock file left by a killed writer (its pid long gone) is simply free and the
next writer takes it at once; a holder that is alive but stuck makes waiters time out,
naming its pid. The holder unlinks the file before releasing; since a waiter may have
opened the old file meanwhile, a lock only counts when the locked file is still the one
at the path (same inode), otherwise the waiter retries.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from quantum_trader.data.catalog_errors import LockTimeoutError
from quantum_trader.domain.time import format_time

DEFAULT_LOCK_WAIT_S = 60.0
"""How long a second writer waits for a dataset's lock before it gives up (``--wait-lock``)."""

LOCK_FILE = ".lock"
_POLL_S = 0.02

__all__ = ["LOCK_FILE", "Holder", "hold", "read_holder"]


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a lock, as written in the lock file (for messages only, never for the decision)."""

    pid: int
    host: str
    since_ms: int
    command: str

    def describe(self) -> str:
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"pid {self.pid}{where} ({self.command}) since {format_time(self.since_ms)} UTC"


def read_holder(lock_path: Path) -> Holder | None:
    try:
        data = json.loads(lock_path.read_text("utf-8"))
        return Holder(int(data["pid"]), str(data["host"]), int(data["since_ms"]), str(data["command"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # gone, or the holder has not written it yet


def _command() -> str:
    argv = [os.path.basename(sys.argv[0]) if sys.argv else "python", *sys.argv[1:4]]
    text = " ".join(a for a in argv if a)
    return text[:120] or "python"


def _try_lock(lock_path: Path) -> int | None:
    """The locked file's descriptor, or None while someone else holds it."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    try:
        current = os.stat(lock_path)
    except FileNotFoundError:
        current = None
    mine = os.fstat(fd)
    if current is None or (current.st_ino, current.st_dev) != (mine.st_ino, mine.st_dev):
        os.close(fd)  # the previous holder unlinked it after we opened it: retry on the new file
        return None
    record = {"pid": os.getpid(), "host": socket.gethostname(), "since_ms": int(time.time() * 1000),
              "command": _command()}
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(record).encode())
    return fd


def _acquire(lock_path: Path, label: str, wait_s: float, on_wait: Callable[[str], None] | None) -> int:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + max(wait_s, 0.0)
    told = False
    while True:
        fd = _try_lock(lock_path)
        if fd is not None:
            return fd
        holder = read_holder(lock_path)
        who = holder.describe() if holder is not None else "another writer"
        if time.monotonic() >= deadline:
            raise LockTimeoutError(
                f"{label} is being written by {who}; gave up after {wait_s:g} s, nothing was written "
                "(retry when it is done, or wait longer with --wait-lock SECONDS)"
            )
        if not told and on_wait is not None:
            on_wait(f"waiting up to {wait_s:g} s for {label}: it is being written by {who}")
            told = True
        time.sleep(_POLL_S)


def _release(lock_path: Path, fd: int) -> None:
    try:
        lock_path.unlink(missing_ok=True)  # while still holding it: see the module docstring
    finally:
        os.close(fd)


@contextmanager
def hold(
    locks: Sequence[tuple[Path, str]], *, wait_s: float, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold every ``(lock_path, label)`` at once; taken in path order so two writers never deadlock."""
    held: list[tuple[Path, int]] = []
    try:
        for lock_path, label in sorted(dict(locks).items()):
            held.append((lock_path, _acquire(lock_path, label, wait_s, on_wait)))
        yield
    finally:
        for lock_path, fd in reversed(held):
            _release(lock_path, fd)
