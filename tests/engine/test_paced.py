"""The pace of a paper replay: bars released on a schedule fixed at the start, every one through the event loop.

``paced`` is what makes ``--speed 60`` sixty bars a second: bar i is released at start + i/speed,
so a bar the kernel was slow on is caught up by the next ones instead of delaying all of them;
at full speed nothing waits, but each bar still passes through the loop, where the panel
redraws and Ctrl-C is heard. The clock here is virtual: no test waits for wall time.
"""

from __future__ import annotations

import asyncio

import pytest

from quantum_trader.engine import paced as paced_module
from quantum_trader.engine.paced import paced

REAL_SLEEP = asyncio.sleep


def _release_times(monkeypatch: pytest.MonkeyPatch, speed: float | None, n: int,
                   slow: dict[int, float]) -> tuple[list[float], list[float]]:
    """When each of ``n`` bars was released, on a virtual clock; ``slow[i]``: seconds the consumer spent on bar i."""
    now = [0.0]
    asked: list[float] = []

    async def sleep(delay: float) -> None:
        asked.append(delay)
        now[0] += delay
        await REAL_SLEEP(0)

    monkeypatch.setattr(paced_module.asyncio, "sleep", sleep)

    async def consume() -> list[float]:
        monkeypatch.setattr(asyncio.get_running_loop(), "time", lambda: now[0])
        released = []
        i = 0
        async for _ in paced(range(n), speed):  # type: ignore[arg-type]
            released.append(now[0])
            now[0] += slow.get(i, 0.0)
            i += 1
        return released

    return asyncio.run(consume()), asked


def test_bars_are_released_at_start_plus_i_over_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    released, _ = _release_times(monkeypatch, 10.0, 5, {})
    assert released == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_a_slow_bar_is_caught_up_not_added_to_every_later_one(monkeypatch: pytest.MonkeyPatch) -> None:
    released, _ = _release_times(monkeypatch, 10.0, 6, {1: 0.25})
    assert released == pytest.approx([0.0, 0.1, 0.35, 0.35, 0.4, 0.5])


def test_full_speed_never_waits_but_passes_every_bar_through_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    released, asked = _release_times(monkeypatch, None, 4, {2: 1.0})
    assert released == [0.0, 0.0, 0.0, 1.0] and asked == [0.0] * 4


@pytest.mark.parametrize("speed", [0.0, -1.0])
def test_a_speed_must_be_positive(speed: float) -> None:
    async def first() -> None:
        async for _ in paced([], speed):
            pass

    with pytest.raises(ValueError, match="bars a second must be positive"):
        asyncio.run(first())
