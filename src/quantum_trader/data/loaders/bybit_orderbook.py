"""Bybit order-book JSON lines (public.bybit.com archives, or a recorded websocket stream).

Each line is ``{"topic","type":"snapshot"|"delta","ts","data":{"s","b","a","u","seq"}}``
with ``[price, size]`` string pairs holding ABSOLUTE sizes (``"0"`` deletes the level).
A snapshot resets the book; each delta must carry ``u`` = previous ``u`` + 1 and a larger
cross-sequence ``seq``, otherwise a message was lost and every later book would be
silently wrong, so the reader stops at the first gap and names its line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from quantum_trader.data.loaders.book_state import BookRecorder, LevelBook
from quantum_trader.data.loaders.naming import market_of, split_native
from quantum_trader.data.loaders.source import content_bytes
from quantum_trader.data.loaders.table import LoaderError, RawTable
from quantum_trader.domain.market import DataKind

DEFAULT_LEVELS = 50
# Bybit spot books stop at 200 levels; 500-level books exist only for contracts.
_CONTRACT_ONLY_DEPTH = 500


def is_bybit_line(line: str) -> bool:
    try:
        message = json.loads(line)
    except ValueError:
        return False
    return (
        isinstance(message, dict)
        and str(message.get("topic", "")).startswith("orderbook.")
        and message.get("type") in ("snapshot", "delta")
        and isinstance(message.get("data"), dict)
    )


def _symbol_hint(topic: str, native: str) -> str | None:
    parts = topic.split(".")
    depth = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0
    pair = split_native(native)
    if depth < _CONTRACT_ONLY_DEPTH or pair is None:
        return None
    base, quote = pair
    return f"{base}/USD:{base}" if quote == "USD" else f"{base}/{quote}:{quote}"


class _Replay:
    """Sequencing state of one file: which message may follow which."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.book = LevelBook()
        self.last_u: int | None = None
        self.last_seq: int | None = None
        self.topic: str | None = None

    def apply(self, message: dict[str, Any], row: int) -> int:
        """Apply one message; returns its timestamp (ms)."""
        try:
            data = message["data"]
            kind, ts, update_id, seq = message["type"], int(message["ts"]), int(data["u"]), int(data["seq"])
        except (KeyError, TypeError, ValueError) as exc:
            raise LoaderError(
                self.path, f"not a Bybit order-book message (missing/bad {exc})", row=row
            ) from exc
        topic = str(message.get("topic"))
        if self.topic is not None and topic != self.topic:
            raise LoaderError(
                self.path, f"topic changed from {self.topic!r} to {topic!r}", row=row, field="topic"
            )
        self.topic = topic
        if kind == "snapshot":
            self.book.clear()
        elif kind != "delta":
            raise LoaderError(self.path, f"unknown message type {kind!r}", row=row, field="type")
        elif self.last_u is None or self.last_seq is None:
            raise LoaderError(self.path, "delta before any snapshot: the book cannot be rebuilt", row=row)
        elif update_id != self.last_u + 1:
            raise LoaderError(
                self.path,
                f"update id gap: expected u={self.last_u + 1}, got u={update_id}",
                row=row,
                field="u",
            )
        elif seq <= self.last_seq:
            raise LoaderError(
                self.path, f"seq {seq} does not increase past {self.last_seq}", row=row, field="seq"
            )
        for field, is_bid in (("b", True), ("a", False)):
            try:
                for price, size in data.get(field, ()):
                    self.book.apply(is_bid, float(price), float(size))
            except (TypeError, ValueError) as exc:
                raise LoaderError(
                    self.path, f"bad [price, size] pair: {exc}", row=row, field=f"data.{field}"
                ) from exc
        self.last_u, self.last_seq = update_id, seq
        return ts


def read_bybit_orderbook(path: Path, *, levels: int = DEFAULT_LEVELS, snapshot_every_ms: int = 0) -> RawTable:
    """Rebuild the book and record its best ``levels`` per side after each message, or at most once
    per ``snapshot_every_ms`` (the first message at or after each interval since the last recorded one).

    ``source_row`` is the line of the message after which the book was recorded.
    """
    if levels < 1:
        raise LoaderError(path, f"levels must be >= 1, got {levels}")
    replay = _Replay(path)
    recorder = BookRecorder(levels)
    last_recorded: int | None = None
    native = ""
    for row, raw_line in enumerate(content_bytes(path).decode("utf-8").splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise LoaderError(path, f"not a JSON line: {exc}", row=row) from exc
        if not isinstance(message, dict):
            raise LoaderError(path, "not a JSON object", row=row)
        ts = replay.apply(message, row)
        native = str(message["data"].get("s", native))
        if snapshot_every_ms <= 0 or last_recorded is None or ts >= last_recorded + snapshot_every_ms:
            recorder.record(replay.book, ts, row)
            last_recorded = ts
    if not len(recorder):
        raise LoaderError(path, "no order-book messages")
    hint = _symbol_hint(replay.topic or "", native)
    return RawTable(
        path=path,
        format="bybit_orderbook",
        kind=DataKind.BOOK,
        frame=recorder.frame(),
        symbol_hint=hint,
        exchange_hint="bybit",
        market_type=market_of(hint),
    )
