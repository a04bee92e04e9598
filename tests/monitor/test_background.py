"""``monitor.background.Refreshed``: a slow value is computed in a process of its own, never on a request; a new
computation starts only when the key moved and the interval passed; a failure is one line and keeps the last
value. The worker here is the standard library's ``python -m json.tool`` (JSON in, the same JSON out)."""

from __future__ import annotations

import json
import sys

from quantum_trader.monitor.background import Refreshed


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _refreshed(payload: object, clock: Clock) -> Refreshed[object]:
    return Refreshed([sys.executable, "-m", "json.tool"], json.dumps(payload).encode(), json.loads, min_interval_s=60,
                     clock=clock)


def test_the_value_is_computed_off_the_call_and_again_only_when_due() -> None:
    clock = Clock()
    value = _refreshed({"verdict": 1}, clock)
    assert value.get("k1") is None  # returns at once: the first computation has only started
    found = value.wait(60)
    assert found is not None and found.value == {"verdict": 1} and found.key == "k1" and found.started_ms > 0
    assert value.get("k1") is found and value._running is None  # same key: nothing to do
    assert value.get("k2") is found and value._running is None  # moved, but within the interval
    clock.now = 61
    assert value.get("k2") is found and value._running is not None  # due: started, the old value meanwhile
    again = value.wait(60)
    assert again is not None and again.key == "k2" and again is not found
    value.close()


def test_a_failure_is_one_line_and_keeps_the_last_value() -> None:
    clock = Clock()
    broken = Refreshed([sys.executable, "-m", "json.tool"], b"{not json", json.loads, min_interval_s=60, clock=clock)
    broken.get("k")
    assert broken.wait(60) is None
    assert broken.error is not None and "\n" not in broken.error and "Expecting property name" in broken.error
    missing = Refreshed([sys.executable, "-m", "quantum_trader.no_such_module"], b"", json.loads, clock=clock)
    missing.get("k")
    assert missing.wait(60) is None and missing.error is not None and "No module named" in missing.error


def test_close_ends_the_computation_under_way() -> None:
    slow = Refreshed([sys.executable, "-c", "import time; time.sleep(120)"], b"", json.loads)
    slow.get("k")
    running = slow._running
    assert running is not None
    slow.close()
    assert running.process.poll() is not None and slow._running is None and slow.latest is None
