"""A map over independent tasks, run one after another or as Ray tasks: the one seam research scales through.

Sweeps, optimisations, walk-forward folds and the stress Monte Carlo all reduce to "apply a function to
many items"; only where the calls run differs. ``SerialRunner`` runs them in this process (no start-up, a
traceback that points at the line); ``RayRunner`` runs them as Ray tasks on a local Ray (``ray.init``
with ``num_cpus``) or on a cluster (``address``). Results come back in the order of the items whatever
order the tasks finish in, so a seeded study gives the same results on either runner.

Data every task reads (a market) is shared once: ``share`` puts it in Ray's object store a single time
and each task receives the reference, which Ray resolves in the worker (NumPy arrays zero-copy from
shared memory), instead of pickling the market into every task.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called once per finished task, as it finishes."""


@dataclass(frozen=True)
class Shared(Generic[S]):
    """A value every task reads: held as is (serial) or as a reference into Ray's object store."""

    value: Any
    """The value itself, or the Ray ObjectRef standing for it."""


class Runner(Protocol):
    """Where a study's independent tasks run."""

    workers: int
    """How many tasks can run at once (the batch size a study should fill)."""

    def share(self, value: S) -> Shared[S]: ...

    def map(self, fn: Callable[[T], R], items: Sequence[T], progress: Progress | None = None) -> list[R]:
        """``[fn(item) for item in items]``, in the items' order."""
        ...

    def map_shared(self, fn: Callable[[S, T], R], shared: Shared[S], items: Sequence[T],
                   progress: Progress | None = None) -> list[R]:
        """``[fn(shared, item) for item in items]``, in the items' order, the shared value sent once."""
        ...


class SerialRunner:
    """Every task in this process, in order."""

    workers = 1

    def share(self, value: S) -> Shared[S]:
        return Shared(value)

    def map(self, fn: Callable[[T], R], items: Sequence[T], progress: Progress | None = None) -> list[R]:
        out: list[R] = []
        for item in items:
            out.append(fn(item))
            if progress is not None:
                progress(len(out), len(items))
        return out

    def map_shared(self, fn: Callable[[S, T], R], shared: Shared[S], items: Sequence[T],
                   progress: Progress | None = None) -> list[R]:
        value: S = shared.value
        return self.map(lambda item: fn(value, item), items, progress)


def _call(fn: Callable[[T], R], item: T) -> R:
    return fn(item)


def _call_shared(fn: Callable[[S, T], R], shared: S, item: T) -> R:
    return fn(shared, item)


class RayRunner:
    """Each item a Ray task of one CPU; Ray started here (local) or joined (a cluster's address)."""

    def __init__(self, num_cpus: int | None = None, address: str | None = None) -> None:
        import ray

        self._ray = ray
        self._owned = not ray.is_initialized()
        if self._owned:
            if address is None:
                ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False, log_to_driver=True,
                         logging_level=logging.ERROR, configure_logging=True)
            else:
                ray.init(address=address, log_to_driver=True, logging_level=logging.ERROR)
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))  # type: ignore[no-untyped-call]
        self._call: Any = ray.remote(num_cpus=1)(_call)
        self._call_shared: Any = ray.remote(num_cpus=1)(_call_shared)

    def share(self, value: S) -> Shared[S]:
        return Shared(self._ray.put(value))

    def map(self, fn: Callable[[T], R], items: Sequence[T], progress: Progress | None = None) -> list[R]:
        return self._gather([self._call.remote(fn, item) for item in items], progress)

    def map_shared(self, fn: Callable[[S, T], R], shared: Shared[S], items: Sequence[T],
                   progress: Progress | None = None) -> list[R]:
        ref = shared.value  # the same reference for every task: the market crosses to each node once
        return self._gather([self._call_shared.remote(fn, ref, item) for item in items], progress)

    def _gather(self, refs: list[Any], progress: Progress | None) -> list[R]:
        """The results in the order of ``refs``, ``progress`` told as each task finishes (a failed task raises
        its own exception here, as a serial run would)."""
        index = {ref: i for i, ref in enumerate(refs)}
        out: list[Any] = [None] * len(refs)
        pending = list(refs)
        done = 0
        while pending:
            ready, pending = self._ray.wait(pending, num_returns=1)
            for ref in ready:
                out[index[ref]] = self._ray.get(ref)
                done += 1
                if progress is not None:
                    progress(done, len(refs))
        return out

    def close(self) -> None:
        if self._owned:
            self._ray.shutdown()


@contextmanager
def open_runner(backend: str = "ray", *, num_cpus: int | None = None, address: str | None = None
                ) -> Iterator[Runner]:
    """A runner for the duration of a study: ``serial``, or ``ray`` (local with ``num_cpus``, or ``address``);
    a Ray started here is shut down at the end, one joined is left running."""
    if backend == "serial":
        yield SerialRunner()
        return
    if backend != "ray":
        raise ValueError(f"runner {backend!r}: choose serial or ray")
    runner = RayRunner(num_cpus=num_cpus, address=address)
    try:
        yield runner
    finally:
        runner.close()
