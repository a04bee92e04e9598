"""The progress bar of long commands: a backtest's stages and its kernel's share of the bars.

A spinner alone says "busy", not "how long": on a year of 1m bars over many assets the
operator wants to see where the run is. The bar is transient, so the headline table
printed after it stays clean.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)


class StageUpdate:
    """``update(message, fraction)``: what is being done and how much of the whole is done (0..1);
    ``update.say(line)`` prints a line above the bar (it stays when the bar goes)."""

    def __init__(self, progress: Progress, task: TaskID, label: str) -> None:
        self._progress, self._task, self._label = progress, task, label

    def __call__(self, message: str, fraction: float) -> None:
        self._progress.update(self._task, description=f"{self._label}: {message}",
                              completed=min(max(fraction, 0.0), 1.0))

    def say(self, line: str) -> None:
        self._progress.console.print(line, highlight=False, markup=False)


@contextmanager
def stage_progress(label: str) -> Iterator[StageUpdate]:
    """Yields a :class:`StageUpdate` for the stages of one long command."""
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                        TimeElapsedColumn(), console=Console(soft_wrap=True), transient=True)
    with progress:
        yield StageUpdate(progress, progress.add_task(label, total=1.0), label)
