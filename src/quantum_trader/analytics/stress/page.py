"""The shell of the stress reports: one self-contained, offline HTML page, as the backtest report is.

plotly.js is inlined once in <head> and every figure is rendered without its own copy; no
font, stylesheet or script is fetched, so the page opens from an archive without network.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from quantum_trader.analytics.report_format import esc

_CONFIG: Final = {"displaylogo": False, "responsive": True}

_CSS: Final = """
:root { --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; --pos:#15803d; --neg:#b91c1c; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.45 -apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif; }
main { max-width:1280px; margin:0 auto; padding:0 24px 48px; }
header.top { background:#0f172a; color:#f8fafc; padding:22px 24px 18px; }
header.top .inner { max-width:1280px; margin:0 auto; }
header.top h1 { margin:0 0 6px; font-size:22px; font-weight:600; }
header.top .meta { color:#cbd5e1; display:flex; flex-wrap:wrap; gap:6px 22px; }
header.top .meta b { color:#f8fafc; font-weight:600; }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:16px 18px; margin-top:18px; }
section h2 { margin:0 0 10px; font-size:16px; font-weight:600; }
.note { color:var(--muted); margin:6px 0 10px; }
table.grid { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
table.grid th, table.grid td { padding:5px 8px; border-bottom:1px solid var(--line); text-align:left;
  vertical-align:top; }
table.grid th { background:#f1f5f9; font-weight:600; font-size:12px; }
td.pass { color:var(--pos); font-weight:600; } td.broken { color:var(--neg); font-weight:700; }
ul.findings { margin:6px 0 0 18px; padding:0; color:var(--neg); } ul.findings li { margin:3px 0; }
footer { color:var(--muted); font-size:12px; text-align:center; margin-top:24px; }
"""


def figure(fig: go.Figure, div_id: str) -> str:
    html: str = fig.to_html(full_html=False, include_plotlyjs=False, config=_CONFIG, div_id=div_id)
    return html


def section(title: str, body: str, section_id: str) -> str:
    return f'<section id="{esc(section_id)}"><h2>{esc(title)}</h2>{body}</section>'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def table(columns: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[Sequence[str]] | None = None) -> str:
    """A plain table; ``classes`` gives each cell's CSS class (pass / broken)."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        css = classes[i] if classes is not None else [""] * len(row)
        body.append("<tr>" + "".join(f'<td class="{esc(k)}">{esc(v)}</td>' for v, k in zip(row, css, strict=True))
                    + "</tr>")
    return f'<table class="grid"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def findings(lines: Sequence[str]) -> str:
    return '<ul class="findings">' + "".join(f"<li>{esc(line)}</li>" for line in lines) + "</ul>" if lines else ""


def page(title: str, meta: Sequence[tuple[str, str]], sections: Sequence[str]) -> str:
    items = "".join(f"<span>{esc(k)}: <b>{esc(v)}</b></span>" for k, v in meta)
    generated = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f'<header class="top"><div class="inner"><h1>{esc(title)}</h1><div class="meta">{items}</div></div></header>'
        f"<main>{''.join(sections)}<footer>All times UTC. Generated {generated} by quantum_trader; "
        "self-contained, works offline.</footer></main></body></html>\n"
    )
