"""The window scan of plain mode: only stops and liquidation prices can act between decisions.

Plain mode (fixed-fraction sizing for comparisons with other engines) has no kill switch
and no per-asset locks, so of everything ``window.scan_window`` looks for only the price
levels remain. Testing just those skips the per-bar equity arithmetic the full scan needs
for the loss limits; the kernel's differential tests hold the two to the same events.
"""

from __future__ import annotations

from quantum_trader.domain.market import F64
from quantum_trader.engine.window import HeldPosition, WindowEvent, WindowEventKind
from quantum_trader.venues.simulated.matching import first_stop_index


def scan_levels(start: int, stop: int, high: F64, low: F64, mark: F64, positions: tuple[HeldPosition, ...],
                cash: float) -> WindowEvent | None:
    """The first bar in grid rows [start, stop) where a position's liquidation, stop or target is touched.

    Ties on one bar go as in ``scan_window``: a liquidation before a stop, then the lower
    column. ``equity`` of the event is marked at that bar's close, as there.
    """
    hits = []
    for held in positions:
        long = held.quantity > 0
        hi, lo = high[start:stop, held.column], low[start:stop, held.column]
        adverse = []
        for level, priority in ((held.liquidation_price, 0), (held.stop_price, 1)):
            if level is not None:
                hit = first_stop_index(long, level, hi, lo)
                if hit >= 0:
                    adverse.append((hit, priority, held.column))
        hits.extend(adverse)
        if held.target_price is not None:
            # A target is a stop's mirror image: a long's is reached by the high.
            skip = max(0, held.target_row - start)
            target = first_stop_index(not long, held.target_price, hi[skip:], lo[skip:])
            target = target + skip if target >= 0 else -1
            if target >= 0 and (not adverse or target < min(adverse)[0]):
                hits.append((target, 2, held.column))
    if not hits:
        return None
    offset, priority, column = min(hits)
    row = start + offset
    equity = cash + sum(h.quantity * (float(mark[row, h.column]) - h.entry_price) for h in positions)
    kind = (WindowEventKind.LIQUIDATION, WindowEventKind.STOP, WindowEventKind.TARGET)[priority]
    return WindowEvent(row=row, kind=kind, column=column, equity=equity)
