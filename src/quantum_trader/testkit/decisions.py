"""A scripted strategy: given intents and exits at given bars, for kernel scenario tests.

The kernel sees a strategy only through its ``Decisions`` (``engine.strategy``). A script
says "at the close of bar 3, go long BTC with a stop at 95" and "at the close of bar 9,
close BTC", so a test can check the kernel's every step against numbers worked out by
hand. It also records what the kernel told it (the held positions at each decision),
so tests can check that side of the contract too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from quantum_trader.domain.market import F64, I64
from quantum_trader.domain.symbols import perp_symbol
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.domain.trading import Intent, OrderType, Side
from quantum_trader.engine.grid import MarketGrid
from quantum_trader.engine.inputs import MarketData
from quantum_trader.engine.strategy import Held


def intent(asset: str, side: Side | str, *, entry: float, stop: float | None, edge: float = 0.5,
           source: str = "scripted", target: float | None = None, limit: bool = False) -> Intent:
    """An entry intent; its ``ts`` is set by :class:`ScriptedDecisions` to the decision time.

    ``limit=True`` rests a limit order at ``entry`` instead of buying at the next open.
    """
    return Intent(0, perp_symbol(asset), Side(side), edge, entry, stop, source=source,
                  reasons=("scripted",), target_price=target,
                  order_type=OrderType.LIMIT if limit else OrderType.MARKET)


def long(asset: str, *, entry: float, stop: float | None, edge: float = 0.5, target: float | None = None,
         limit: bool = False) -> Intent:
    return intent(asset, Side.LONG, entry=entry, stop=stop, edge=edge, target=target, limit=limit)


def short(asset: str, *, entry: float, stop: float | None, edge: float = 0.5, target: float | None = None,
          limit: bool = False) -> Intent:
    return intent(asset, Side.SHORT, entry=entry, stop=stop, edge=edge, target=target, limit=limit)


@dataclass
class ScriptedDecisions:
    """Implements the kernel's ``Decisions`` protocol from a script keyed by decision index.

    Build it with :meth:`at_closes` (keys are grid rows) unless you need raw decision times.
    ``held_seen[k]`` is the ``held`` mapping the kernel passed to ``exits`` at decision ``k``.
    """

    symbols: tuple[str, ...]
    close_ts: I64
    scripted_intents: Mapping[int, tuple[Intent, ...]] = field(default_factory=dict)
    scripted_exits: Mapping[int, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    matrix: F64 | None = None
    held_seen: dict[int, dict[str, Held]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ts = np.asarray(self.close_ts, dtype=np.int64)
        if ts.ndim != 1 or (ts.size > 1 and not bool(np.all(ts[1:] > ts[:-1]))):
            raise ValueError("scripted decisions: close_ts must be 1-d and strictly increasing")
        self.close_ts = ts
        for k in (*self.scripted_intents, *self.scripted_exits):
            if not 0 <= k < ts.size:
                raise ValueError(f"scripted decisions: decision index {k} outside 0..{ts.size - 1}")
        if self.matrix is not None and self.matrix.shape != (len(self.symbols), len(self.symbols)):
            raise ValueError(
                f"scripted decisions: correlation must be {len(self.symbols)}x{len(self.symbols)}, "
                f"got {self.matrix.shape}"
            )

    @classmethod
    def at_closes(
        cls,
        market: MarketData | MarketGrid,
        *,
        intents: Mapping[int, Sequence[Intent]] | None = None,
        exits: Mapping[int, Sequence[tuple[str, str]]] | None = None,
        also: Iterable[int] = (),
        correlation: F64 | None = None,
    ) -> ScriptedDecisions:
        """Decisions known at the close of grid rows: ``{3: [long("BTC", ...)]}`` decides at bar 3's close.

        ``exits`` maps a row to (asset, reason) pairs; ``also`` adds decision rows with nothing
        scripted (the kernel still marks, consults the kill switch and asks for exits there).
        """
        grid = market.grid if isinstance(market, MarketData) else market
        intents = intents or {}
        exits = exits or {}
        rows = sorted({*intents, *exits, *also})
        for row in rows:
            if not 0 <= row < grid.ts.size:
                raise ValueError(f"scripted decisions: row {row} is not on the grid (0..{grid.ts.size - 1})")
        step = timeframe_ms(grid.timeframe)
        close_ts = np.array([int(grid.ts[r]) + step for r in rows], dtype=np.int64)
        index = {row: k for k, row in enumerate(rows)}
        stamped = {
            index[row]: tuple(replace(i, ts=int(close_ts[index[row]])) for i in items)
            for row, items in intents.items()
        }
        closing = {index[row]: tuple((perp_symbol(a), reason) for a, reason in items) for row, items in exits.items()}
        return cls(grid.symbols, close_ts, stamped, closing, correlation)

    # The Decisions protocol ------------------------------------------------------------
    def intents(self, k: int) -> list[Intent]:
        return list(self.scripted_intents.get(k, ()))

    def exits(self, k: int, held: Mapping[str, Held]) -> list[tuple[str, str]]:
        self.held_seen[k] = dict(held)
        return list(self.scripted_exits.get(k, ()))

    def correlation(self, k: int) -> F64 | None:
        return self.matrix

    def correlation_time(self, k: int) -> int | None:
        return None

    def active(self) -> I64:
        return np.arange(self.close_ts.size, dtype=np.int64)
