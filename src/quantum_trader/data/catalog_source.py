"""Where a dataset's rows came from: recorded at every write, inside the dataset's own Parquet footer.

A catalog dataset named ``BTC/USDT:USDT`` may hold spot candles filed as a perpetual
stand-in; a run built on it must say so, and only the ingest knew. Each write therefore
appends a record (file, loader, venue, market type, rows added and replaced, and where the
replaced values were kept) to the file's key-value metadata: it travels with the data,
is replaced atomically with it, and costs a footer read. Files written before this existed
simply have no records (``Catalog.source`` returns None).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow.parquet as pq

from quantum_trader.domain.symbols import is_perpetual

META_KEY = b"quantum_trader.sources"
MAX_RECORDS = 200
MarketType = Literal["spot", "perp"]
MARKET_TYPES: tuple[MarketType, ...] = ("spot", "perp")

__all__ = ["MARKET_TYPES", "DatasetSource", "MarketType", "SourceRecord", "WriteSource", "encode", "read_source"]


@dataclass(frozen=True, slots=True)
class WriteSource:
    """What a writer knows about the rows it writes (every field optional)."""

    file: str | None = None
    loader: str | None = None
    venue: str | None = None
    """The exchange the data came from (ccxt id), which may differ from the catalog folder it is filed under."""
    market_type: MarketType | None = None


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One write of a dataset: its source and what it changed."""

    at_ms: int
    file: str | None
    loader: str | None
    venue: str | None
    market_type: MarketType | None
    rows_added: int
    rows_replaced: int = 0
    replaced_first_ts: int | None = None
    replaced_last_ts: int | None = None
    replaced_file: str | None = None
    """File (in the dataset's folder) holding the stored values this write replaced."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceRecord:
        market = data.get("market_type")
        return cls(
            at_ms=int(data["at_ms"]),
            file=data.get("file"),
            loader=data.get("loader"),
            venue=data.get("venue"),
            market_type=market if market in MARKET_TYPES else None,
            rows_added=int(data.get("rows_added", 0)),
            rows_replaced=int(data.get("rows_replaced", 0)),
            replaced_first_ts=data.get("replaced_first_ts"),
            replaced_last_ts=data.get("replaced_last_ts"),
            replaced_file=data.get("replaced_file"),
        )


@dataclass(frozen=True, slots=True)
class DatasetSource:
    """Every recorded write of one dataset, oldest first (``dropped`` older ones were folded away)."""

    records: tuple[SourceRecord, ...]
    dropped: int = 0
    market_types: frozenset[str] = field(default_factory=frozenset)

    @property
    def market_type(self) -> Literal["spot", "perp", "mixed"] | None:
        """``spot`` or ``perp`` when every write that said agreed, ``mixed`` when they differ, None if none said."""
        types = self.market_types
        if len(types) > 1:
            return "mixed"
        if types == {"spot"}:
            return "spot"
        if types == {"perp"}:
            return "perp"
        return None

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.file for r in self.records if r.file))

    @property
    def loaders(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.loader for r in self.records if r.loader))

    @property
    def venues(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.venue for r in self.records if r.venue))

    @property
    def rows_replaced(self) -> int:
        return sum(r.rows_replaced for r in self.records)

    def describe(self) -> str:
        """One line: market type, venues, loaders and files (the first few)."""
        market = self.market_type or "unknown market type"
        venues = ", ".join(self.venues) or "venue not recorded"
        loaders = ", ".join(self.loaders) or "loader not recorded"
        files = self.files
        shown = ", ".join(files[:3]) + (f" (+{len(files) - 3} more)" if len(files) > 3 else "")
        return f"{market} data from {venues} via {loaders}" + (f": {shown}" if shown else "")

    def stand_in_note(self, symbol: str) -> str | None:
        """A note when the data is not the market its symbol names (spot under a perpetual symbol)."""
        if not is_perpetual(symbol) or self.market_type not in ("spot", "mixed"):
            return None
        part = "spot" if self.market_type == "spot" else "partly spot"
        return (f"{symbol} is {part} data standing in for the perpetual ({self.describe()}); "
                "spot and perpetual prices differ by the basis and spot carries no funding")


def _parse(raw: bytes | None) -> DatasetSource | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
        records = tuple(SourceRecord.from_dict(r) for r in data.get("records", []))
        types = frozenset(t for t in data.get("market_types", []) if t in MARKET_TYPES)
        return DatasetSource(records, int(data.get("dropped", 0)), types)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # unreadable metadata never makes the data unreadable


def from_metadata(metadata: dict[bytes, bytes] | None) -> DatasetSource | None:
    return _parse((metadata or {}).get(META_KEY))


def read_source(path: Path) -> DatasetSource | None:
    """The recorded source of a stored file (a footer read), None when it has none."""
    return from_metadata(pq.read_schema(path).metadata)


def encode(previous: DatasetSource | None, record: SourceRecord) -> dict[bytes, bytes]:
    """Metadata for the rewritten file: earlier records plus this one, the oldest folded away past the cap.

    Market types are kept as a set over ALL writes, folded or not, so a spot file ingested
    long ago still marks the dataset as partly spot.
    """
    records = [*(previous.records if previous else ()), record]
    dropped = previous.dropped if previous else 0
    if len(records) > MAX_RECORDS:
        dropped += len(records) - MAX_RECORDS
        records = records[-MAX_RECORDS:]
    types = set(previous.market_types if previous else ())
    if record.market_type is not None:
        types.add(record.market_type)
    body = {"records": [asdict(r) for r in records], "dropped": dropped, "market_types": sorted(types)}
    return {META_KEY: json.dumps(body, separators=(",", ":")).encode()}
