"""How a paper session looks while it runs: a compact Rich panel on a terminal, one plain line a day elsewhere.

The figures are a ``PaperSnapshot`` of the kernel's state (``engine.paper_watch``): equity
and exposure at the last bar's close, the open positions, the counts the run folder will
hold and the last orders, fills and refusals. The panel is redrawn a few times a second, not
per bar (at full speed thousands of bars go by between two frames); piped output (a log,
CI) gets a line per simulated UTC day instead of terminal control codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import RenderableType

    from quantum_trader.engine.paper_watch import PaperSnapshot

STOP_HINT = "Ctrl-C stops after the current bar and writes the run folder"


def pace_label(speed: float | None) -> str:
    return "full speed" if speed is None else f"{speed:g} bars/s"


def _bars(s: PaperSnapshot) -> str:
    return f"{s.bars:,}" if s.total is None else f"{s.bars:,}/{s.total:,}"


def render_panel(s: PaperSnapshot, speed: float | None) -> RenderableType:
    from rich.console import Group
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from quantum_trader.domain.time import format_time

    head = Table.grid(padding=(0, 2))
    for style, justify in (("cyan", "left"), (None, "right"), ("cyan", "left"), (None, "right")):
        head.add_column(style=style, justify=justify)  # type: ignore[arg-type]
    head.add_row("equity", f"{s.equity:,.2f}", "return", f"{s.total_return:+.2%}")
    head.add_row("exposure", f"{s.exposure:.1%}", "drawdown", f"{s.drawdown:.2%}")
    head.add_row("cash", f"{s.cash:,.2f}", "kill switch", escape(s.kill_switch))
    head.add_row("orders", f"{s.orders:,}", "fills", f"{s.fills:,}")
    head.add_row("trades", f"{s.trades:,}", "refused intents", f"{s.refused:,}")
    parts: list[RenderableType] = [head]
    if s.positions:
        held = Table(box=None, padding=(0, 1), header_style="bold")
        for name in ("position", "side", "quantity", "entry", "mark", "unrealised"):
            held.add_column(name, justify="left" if name in ("position", "side") else "right")
        for p in s.positions:
            held.add_row(escape(p.symbol), p.side, f"{p.quantity:g}", f"{p.entry:,.6g}", f"{p.mark:,.6g}",
                         f"{p.unrealised:+,.2f}")
        parts.append(held)
    else:
        parts.append(Text("no open positions", style="dim"))
    if s.activity:
        log = Table.grid(padding=(0, 1), expand=True)
        log.add_column(style="dim", no_wrap=True)
        log.add_column(style="magenta", no_wrap=True)
        # one line each, cut to the panel's width: the run folder's events hold the whole message
        log.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
        for line in s.activity:
            log.add_row(format_time(line.ts)[5:16], line.kind, escape(line.text))
        parts.append(log)
    return Panel(Group(*parts), title=f"paper · {s.time} UTC · bar {_bars(s)} · {pace_label(speed)}",
                 subtitle=STOP_HINT, title_align="left", subtitle_align="left")


def progress_line(s: PaperSnapshot) -> str:
    """The panel's figures as one plain line (piped output)."""
    return (f"{s.time}  bar {_bars(s)}  equity {s.equity:,.2f} ({s.total_return:+.2%})  exposure {s.exposure:.1%}  "
            f"positions {len(s.positions)}  orders {s.orders:,}  fills {s.fills:,}  trades {s.trades:,}  "
            f"refused {s.refused:,}  kill switch {s.kill_switch}")
