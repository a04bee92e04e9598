"""A value too slow to compute on a request, kept fresh beside it: the dashboard's gate verdict.

Judging the next gate reads the journal's whole operation (every bar's snapshot: on a year of 1m bars,
seconds of work), while every other figure answers in milliseconds. ``Refreshed`` keeps the newest value
computed and when its computation started; ``get(key)`` returns it at once and starts a new computation when
``key`` (the journal's newest row ids) moved since the value's and the last computation started at least
``min_interval_s`` ago: one at a time, never on the request's clock.

The work runs in a process of its own (``python -m MODULE``: the request on its standard input, the answer on
its standard output): in a thread it would hold the interpreter's lock for seconds and
every request would wait behind it. A fresh process per computation costs its imports (a second or two, at
most every ``min_interval_s``) and nothing else: no worker to keep alive, nothing inherited from the server
(no open database connection, no main module run again), and ``close`` simply ends the one running.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import IO, Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("quantum_trader.dashboard")


@dataclass(frozen=True, slots=True)
class Computed(Generic[T]):
    value: T
    key: Hashable
    started_ms: int
    """Wall clock (epoch ms) when the computation that gave ``value`` started: what it is as of."""


@dataclass
class _Running:
    process: subprocess.Popen[bytes]
    out: IO[bytes]
    err: IO[bytes]
    key: Hashable
    started_ms: int


class Refreshed(Generic[T]):
    """See the module docstring: ``command`` (``[sys.executable, "-m", MODULE]``) is run with ``payload`` on its
    standard input; ``parse`` reads what it wrote on its standard output."""

    def __init__(self, command: Sequence[str], payload: bytes, parse: Callable[[bytes], T], *,
                 min_interval_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.command = list(command)
        self.payload = payload
        self.parse = parse
        self.min_interval_s = min_interval_s
        self.clock = clock
        self.latest: Computed[T] | None = None
        self.error: str | None = None
        """The last computation's failure (one line), until one succeeds."""
        self._lock = threading.Lock()
        self._running: _Running | None = None
        self._started: float | None = None

    def get(self, key: Hashable) -> Computed[T] | None:
        """The newest value (None before the first is in); a new computation starts when due."""
        with self._lock:
            self._collect()
            due = self._started is None or self.clock() - self._started >= self.min_interval_s
            stale = self.latest is None or self.latest.key != key
            if self._running is None and stale and due:
                self._start(key)
            return self.latest

    def wait(self, timeout: float) -> Computed[T] | None:
        """Wait at most ``timeout`` seconds for the computation running now (if any); the newest value."""
        with self._lock:
            running = self._running
        if running is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                running.process.wait(timeout)
        with self._lock:
            self._collect()
            return self.latest

    def close(self) -> None:
        """End the computation under way (if any)."""
        with self._lock:
            running, self._running = self._running, None
        if running is not None:
            running.process.kill()
            running.process.wait()
            running.out.close()
            running.err.close()

    def _start(self, key: Hashable) -> None:
        self._started = self.clock()
        # files, not pipes: nothing to fill while nobody reads; closed when the answer is collected (or in close)
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
        process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=out, stderr=err)
        assert process.stdin is not None
        try:
            process.stdin.write(self.payload)
            process.stdin.close()
        except OSError:  # it died at once: its exit code and stderr say why, below
            pass
        self._running = _Running(process, out, err, key, int(time.time() * 1000))

    def _collect(self) -> None:
        running = self._running
        if running is None or running.process.poll() is None:
            return
        self._running = None
        with running.out, running.err:
            running.out.seek(0)
            running.err.seek(0)
            output, problem = running.out.read(), running.err.read().decode("utf-8", "replace").strip()
        if running.process.returncode == 0:
            try:
                self.latest = Computed(self.parse(output), running.key, running.started_ms)
                self.error = None
                return
            except ValueError as exc:
                problem = f"unreadable answer: {exc}"
        self.error = (problem.splitlines() or [f"exit code {running.process.returncode}"])[-1][:300]
        log.warning("dashboard: %s failed: %s", " ".join(self.command[1:]), self.error)
