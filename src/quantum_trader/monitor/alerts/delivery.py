"""Delivery of alerts to the channels, off the trading loop.

``AlertDispatcher.submit`` never blocks and never raises: it de-duplicates (the same key within
``dedupe_window`` of alert time is sent once: a condition flapping at every bar of a fast replay is one
message) and puts the alert on each channel's bounded queue (full: dropped and counted). Each channel has a
worker thread that POSTs with retries and doubling backoff (HTTP 5xx, 429, no answer; any other answer is
final), and a rate limit of ``max_per_minute`` messages per wall-clock minute: alerts past it are held and
sent as one summary message when the minute ends (or at ``close``), so a storm is one message, not a flood.
A failed delivery is logged (scrubbed of the channel's secrets) and counted; nothing reaches the caller.

The HTTP client is the standard library's ``urllib``: one small JSON POST per message from a worker thread
needs no event loop and no new dependency.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from quantum_trader.config.operations import AlertChannels
from quantum_trader.domain.time import duration_ms
from quantum_trader.monitor.alerts.channels import Channel
from quantum_trader.monitor.alerts.model import Alert

log = logging.getLogger("quantum_trader.alerts")
Post = Callable[[str, dict[str, Any], float], int]
"""POST ``payload`` as JSON to ``url`` within a timeout (seconds): the HTTP status, or OSError without one."""
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MINUTE_S = 60.0


def http_post(url: str, payload: dict[str, Any], timeout: float) -> int:
    body = json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@dataclass(frozen=True)
class DeliverySettings:
    dedupe_window_ms: int = 15 * 60_000
    max_per_minute: int = 10
    retries: int = 3
    timeout_s: float = 5.0
    queue_size: int = 1000
    backoff_s: float = 0.5
    """First wait before a retry; doubled at each further one."""
    minute_s: float = MINUTE_S
    """Length of the rate limit's window (tests shorten it)."""

    @classmethod
    def of(cls, config: AlertChannels) -> DeliverySettings:
        return cls(dedupe_window_ms=duration_ms(config.dedupe_window), max_per_minute=config.max_per_minute,
                   retries=config.retries, timeout_s=config.timeout_s, queue_size=config.queue_size)


class ChannelWorker:
    """One channel's queue, thread, rate limit and counters (module docstring)."""

    def __init__(self, channel: Channel, settings: DeliverySettings, post: Post,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.channel = channel
        self.settings = settings
        self.post = post
        self.clock = clock
        self.counts: Counter[str] = Counter()
        """sent, failed, dropped (queue full), held (by the rate limit), summaries."""
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize=settings.queue_size)
        self._held: list[Alert] = []
        self._window_start = clock()
        self._in_window = 0
        self._thread = threading.Thread(target=self._run, name=f"alerts-{channel.kind}", daemon=True)
        self._thread.start()

    def offer(self, alert: Alert) -> bool:
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.counts["dropped"] += 1
            log.warning("alert to %s dropped: %d alerts already waiting", self.channel.shown,
                        self.settings.queue_size)
            return False
        return True

    def close(self, timeout: float) -> None:
        """Deliver what waits (held alerts as their summary) and stop the thread."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.warning("alerts to %s: queue still full at close", self.channel.shown)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            try:
                alert = self._queue.get(timeout=min(1.0, self.settings.minute_s / 4))
            except queue.Empty:
                self._roll_window()
                continue
            self._roll_window()
            if alert is None:
                self._flush_held()
                return
            self._handle(alert)

    def _roll_window(self) -> None:
        if self.clock() - self._window_start < self.settings.minute_s:
            return
        self._window_start = self.clock()
        self._in_window = 0
        self._flush_held()

    def _flush_held(self) -> None:
        if not self._held:
            return
        held, self._held = self._held, []
        self.counts["summaries"] += 1
        self._in_window += 1
        self._deliver(self.channel.summary(held), f"summary of {len(held)} alerts")

    def _handle(self, alert: Alert) -> None:
        if self._in_window >= self.settings.max_per_minute:
            self._held.append(alert)
            self.counts["held"] += 1
            return
        self._in_window += 1
        self._deliver(self.channel.payload(alert), f"{alert.kind} ({alert.key})")

    def _deliver(self, payload: dict[str, Any], what: str) -> bool:
        wait = self.settings.backoff_s
        problem = ""
        for attempt in range(self.settings.retries + 1):
            if attempt:
                time.sleep(wait)
                wait *= 2
            try:
                status = self.post(self.channel.url, payload, self.settings.timeout_s)
            except (OSError, ValueError) as exc:  # no answer (refused, timeout, DNS), or a malformed URL
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if 200 <= status < 300:
                self.counts["sent"] += 1
                return True
            problem = f"HTTP {status}"
            if status not in RETRY_STATUS:
                break
        self.counts["failed"] += 1
        log.warning("alert %s to %s not delivered after %d attempt(s): %s", what, self.channel.shown,
                    attempt + 1, self.channel.scrub(problem))
        return False


class AlertDispatcher:
    """De-duplicates alerts and hands them to every channel's worker (module docstring)."""

    def __init__(self, channels: Sequence[Channel], settings: DeliverySettings | None = None,
                 post: Post = http_post, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or DeliverySettings()
        self.workers = [ChannelWorker(c, self.settings, post, clock) for c in channels]
        self._last_sent: dict[str, int] = {}
        self.deduplicated = 0
        self._closed = False
        if self.workers:  # a process ending mid-session still sends what waits (the threads are daemons)
            atexit.register(self.close)

    def submit(self, alert: Alert) -> None:
        last = self._last_sent.get(alert.key)
        if last is not None and 0 <= alert.ts - last < self.settings.dedupe_window_ms:
            self.deduplicated += 1
            return
        self._last_sent[alert.key] = alert.ts
        for worker in self.workers:
            worker.offer(alert)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what waits (held alerts as their summary) and stop the workers; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        for worker in self.workers:
            worker.close(timeout)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per channel (its ``shown`` name): sent, failed, dropped, held, summaries; and the de-duplicated."""
        out = {w.channel.shown: {k: w.counts[k] for k in ("sent", "failed", "dropped", "held", "summaries")}
               for w in self.workers}
        out["dispatcher"] = {"deduplicated": self.deduplicated}
        return out
