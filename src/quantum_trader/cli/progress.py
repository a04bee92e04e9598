"""The progress bar of long commands: a backtest's stages and its kernel's share of the bars.

A spinner alone says "busy", not "how long": on a year of 1m bars over many assets the
operator wants to see where the run is. The bar is transient, so the headline table
printed after it stays clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn


@contextmanager
def stage_progress(label: str) -> Iterator[Callable[[str, float], None]]:
    """Yields ``update(message, fraction)``: what is being done, and how much of the whole is done (0..1)."""
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                        TimeElapsedColumn(), console=Console(soft_wrap=True), transient=True)
    with progress:
        task = progress.add_task(label, total=1.0)

        def update(message: str, fraction: float) -> None:
            progress.update(task, description=f"{label}: {message}", completed=min(max(fraction, 0.0), 1.0))

        yield update
