"""The run-wide state the kernel's parts share, declared once.

``Kernel`` is composed of parts with one concern each (order execution, limit entries,
the decision context, the equity curve). They all read the same fields, which
``Kernel.__init__`` sets; declaring them here types every part against one definition
rather than a copy per part.
"""

from __future__ import annotations

from collections.abc import Callable

from quantum_trader.config import Policy
from quantum_trader.engine.grid import MarketGrid
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.recorder import Recorder
from quantum_trader.portfolio import LedgerState
from quantum_trader.risk import CompiledLimits


class KernelState:
    grid: MarketGrid
    data: MarketData
    settings: KernelSettings
    policy: Policy
    limits: CompiledLimits
    ledger: LedgerState
    rec: Recorder
    step: int
    """Milliseconds per grid row."""
    _ts: list[int]
    _column_of: Callable[[str], int]
    """The grid column of a symbol (``Kernel._column_of``)."""
