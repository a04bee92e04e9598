"""The watching tasks of a websocket stream (candles, user data): each stream runs one per subscription and
stops them all the same way when the session closes it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any


async def cancel_tasks(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Cancel every task and wait until each has ended (a cancelled watch raises CancelledError: expected)."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
