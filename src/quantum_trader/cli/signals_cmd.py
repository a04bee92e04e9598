"""``quantum-trader signals`` and ``quantum-trader check lookahead``: thin shells over ``signals/``
(a user's ``module:function`` is resolved by ``analytics.user_signals``, the random walk of
``--synthetic`` comes from ``testkit``).

Register in ``cli/main.py`` with ``app.command("signals")(signals_cmd.signals)`` and
``app.add_typer(signals_cmd.check_app, name="check")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from quantum_trader.cli.bar_timeframes import candle_timeframes, explicit_keys, fit_policy, policy_with_sets
from quantum_trader.cli.console import console
from quantum_trader.cli.errors import fail
from quantum_trader.cli.options import (
    catalog_root,
    load_policy_or_exit,
    symbol_option,
    symbols_option,
    time_option,
    timeframe_option,
)
from quantum_trader.domain.time import MS_PER_DAY, format_time, timeframe_ms

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rich.table import Table

    from quantum_trader.domain.market import BarSeries
    from quantum_trader.signals.pipeline import BatchSignals

check_app = typer.Typer(help="Honesty checks of signals (look-ahead).", no_args_is_help=True)
DEFAULT_HISTORY_DAYS = 75
"""Bars read before --at: 30d volatility + 30d divergence z-score + warm-up."""
SOURCE_TIMEFRAMES = ("1m", "5m")
REGIME_COLOURS = {  # by Regime value: trending up, trending down, high volatility, ranging
    "TRENDING_UP": "rgba(0,160,0,0.12)", "TRENDING_DOWN": "rgba(200,0,0,0.12)",
    "HIGH_VOLATILITY": "rgba(255,140,0,0.15)", "RANGING": "rgba(120,120,120,0.06)",
}


def _read(root: Path, symbol: str, timeframe: str, start_ms: int, at_ms: int,
          held: Iterable[str] = ()) -> BarSeries:
    """Bars of ``timeframe`` closed by ``at_ms``, resampled from a finer dataset when needed."""
    from quantum_trader.data.catalog import Catalog  # the edge: imported only when the command runs
    from quantum_trader.data.resample import resample_bars

    cat = Catalog(root)
    errors: list[str] = []
    held = sorted(held, key=timeframe_ms)  # what the catalog holds for the symbol, when known: no futile reads
    sources = dict.fromkeys((timeframe, *(held or SOURCE_TIMEFRAMES)))
    for source in sources:
        if timeframe_ms(timeframe) % timeframe_ms(source):
            continue
        try:
            bars = cat.read_bars(symbol, source, start_ms=start_ms, end_ms=at_ms - timeframe_ms(source) + 1)
        except (ValueError, OSError) as exc:
            errors.append(f"{source}: {exc}")
            continue
        if len(bars):
            return resample_bars(bars, timeframe) if source != timeframe else bars
        errors.append(f"{source}: no bars before {format_time(at_ms)}")
    raise fail(f"catalog {root}: no usable {timeframe} bars for {symbol} ({'; '.join(errors)})")


def _common_clock(series: dict[str, BarSeries]) -> dict[str, BarSeries]:
    import numpy as np

    from quantum_trader.domain.market import BarSeries

    common = None
    for b in series.values():
        common = b.ts if common is None else np.intersect1d(common, b.ts)
    assert common is not None
    out = {}
    for s, b in series.items():
        keep = np.isin(b.ts, common)
        out[s] = BarSeries(s, b.timeframe, b.ts[keep], *(getattr(b, c)[keep] for c in
                                                          ("open", "high", "low", "close", "volume")))
    return out


def _table(res: BatchSignals, symbol: str, i: int) -> Table:
    from rich.table import Table

    from quantum_trader.signals.regime import Regime

    frame = res.frames[symbol]
    regime = Regime(int(frame.decision.regime[i])).label
    table = Table(title=f"{symbol}  {format_time(int(res.ts[i]))} UTC  regime: {regime}", title_justify="left")
    for col in ("source", "side", "edge", "entry", "stop", "reasons"):
        table.add_column(col, overflow="fold")
    intents = [it for it in res.intents_at(i) if it.symbol == symbol]
    for it in intents:
        table.add_row(it.source, it.side.value, f"{it.edge_score:.3f}", f"{it.entry_price:.6g}",
                      f"{it.stop_price:.6g}" if it.stop_price is not None else "-", "\n".join(it.reasons))
    if not intents:
        f = frame.values_at(i)
        table.add_row("-", "flat", "0.000", f"{f['close']:.6g}", "-",
                      f"no intent: trend z {f['trend_z']:+.2f}, vol ratio {f['vol_ratio']:.2f}")
    return table


def _plot(res: BatchSignals, symbols: list[str], path: Path) -> None:
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from quantum_trader.signals.regime import Regime

    fig = make_subplots(rows=len(symbols), cols=1, shared_xaxes=True, subplot_titles=symbols)
    x = res.ts.astype("datetime64[ms]")
    # Shapes are collected and set once: add_vrect per run revalidates every earlier
    # shape, which is quadratic and took over a minute on three months of hourly regimes.
    shapes: list[dict[str, object]] = []
    for row, sym in enumerate(symbols, start=1):
        axis = "" if row == 1 else str(row)
        frame = res.frames[sym]
        close, regime, direction = frame.features["close"], frame.decision.regime, frame.decision.direction
        fig.add_trace(go.Scatter(x=x, y=close, name=f"{sym} close", line={"width": 1}), row=row, col=1)
        cuts = np.flatnonzero(np.diff(regime) != 0) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(regime)], strict=True):
            colour = REGIME_COLOURS.get(Regime(int(regime[a])).name)
            if colour:
                shapes.append({"type": "rect", "xref": f"x{axis}", "yref": f"y{axis} domain", "x0": x[a],
                               "x1": x[b - 1], "y0": 0, "y1": 1, "fillcolor": colour, "line": {"width": 0},
                               "layer": "below"})
        entry = np.flatnonzero((direction != 0) & (np.r_[0, direction[:-1]] != direction))
        for side, symbol_name, colour in ((1, "triangle-up", "green"), (-1, "triangle-down", "red")):
            idx = entry[direction[entry] == side]
            fig.add_trace(go.Scatter(
                x=x[idx], y=close[idx], mode="markers", name=f"{sym} {'long' if side > 0 else 'short'}",
                marker={"symbol": symbol_name, "size": 9, "color": colour},
                text=[f"edge {frame.decision.edge[k]:.2f}" for k in idx]), row=row, col=1)
    fig.update_layout(height=320 * len(symbols), title="Signals: price, regime shading, entries", shapes=shapes)
    fig.write_html(path, include_plotlyjs=True, full_html=True)


def signals(
    symbols: Annotated[str, typer.Option("--symbols", help="Comma-separated: BTC,ETH or BTCUSDT or BTC/USDT:USDT")],
    at: Annotated[str, typer.Option("--at", help="Decision time, ISO-8601 UTC (e.g. 2024-06-01T12:00)")],
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="Catalog root (default $QT_CATALOG or ./catalog)")
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write a self-contained HTML chart here")] = None,
    policy: Annotated[Path | None, typer.Option("--policy", help="Policy YAML merged over the defaults")] = None,
    set_: Annotated[list[str], typer.Option(
        "--set", help="Policy setting KEY=VALUE (repeatable), e.g. correlation.returns_timeframe=1h")] = [],  # noqa: B006
    history_days: Annotated[int, typer.Option("--history-days", min=1, max=3650)] = DEFAULT_HISTORY_DAYS,
) -> None:
    """Per asset at TIME: regime, edge, side, stop and the reasons (BTC must be among the symbols).

    On hourly bars the policy's 5m correlation returns become 1h (one line says so).

    Example: quantum-trader signals --symbols BTC,ETH --at 2025-03-20T12:00 --plot signals.html
    """
    syms = list(symbols_option("--symbols", symbols))
    at_ms = time_option("--at", at)
    pol = policy_with_sets(policy, set_)
    root = catalog_root(catalog)
    held = candle_timeframes(root, syms, None)
    missing = [s for s, tfs in held.items() if not tfs]
    if missing:
        raise fail(f"no candles for {', '.join(missing)} in catalog {root}; add them with "
                   "`quantum-trader data ingest|download|synth`")
    coarsest = max((min(tfs, key=timeframe_ms) for tfs in held.values()), key=timeframe_ms)
    pol, notes = fit_policy(pol, coarsest, explicit_keys(policy, set_))
    for note in notes:
        console.print(f"[yellow]policy[/] {note}", highlight=False)
    from quantum_trader.signals.pipeline import SignalSet

    try:
        sset = SignalSet(syms, pol)
    except ValueError as exc:
        raise fail(str(exc)) from None
    start = at_ms - history_days * MS_PER_DAY
    tf, rtf = pol.signals.model.timeframe, pol.correlation.returns_timeframe
    bars = _common_clock({s: _read(root, s, tf, start, at_ms, held[s]) for s in syms})
    corr = _common_clock({s: _read(root, s, rtf, start, at_ms, held[s]) for s in syms})
    if not len(bars[syms[0]]):
        raise fail(f"the symbols share no {tf} bars before {format_time(at_ms)}")
    try:
        res = sset.batch(bars, corr)
    except ValueError as exc:
        raise fail(str(exc)) from None
    last = len(res.ts) - 1
    for s in syms:
        console.print(_table(res, s, last))
    if plot is not None:
        _plot(res, syms, plot)
        console.print(f"chart written to {plot}")


def check_lookahead(
    signal: Annotated[str, typer.Option("--signal", help="A shipped signal name or package.module:function")],
    symbol: Annotated[str, typer.Option("--symbol", help="BTC, BTCUSDT or BTC/USDT:USDT")] = "BTC/USDT:USDT",
    timeframe: Annotated[str | None, typer.Option("--timeframe", help="Default: the policy's model timeframe")] = None,
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Read bars from this catalog")] = None,
    synthetic: Annotated[bool, typer.Option("--synthetic", help="Use a synthetic random walk")] = False,
    bars: Annotated[int, typer.Option("--bars", min=10, help="Bars to check (latest in the catalog)")] = 3000,
    cuts: Annotated[int, typer.Option("--cuts", min=1, help="Random truncation points")] = 20,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    policy: Annotated[Path | None, typer.Option("--policy")] = None,
) -> None:
    """Truncate the data at random bars and print every value at or before a cut that changed.

    Example: quantum-trader check lookahead --signal my_module:my_signal --synthetic
    """
    from rich.table import Table

    from quantum_trader.analytics.user_signals import SignalLoadError, load_signal
    from quantum_trader.signals.lookahead import check_lookahead as run_check
    from quantum_trader.testkit.random_walk import random_walk_bars

    pol = load_policy_or_exit(policy)
    symbol = symbol_option("--symbol", symbol)
    tf = timeframe_option("--timeframe", timeframe) if timeframe is not None else pol.signals.model.timeframe
    if catalog is not None and not synthetic:
        catalog = catalog_root(catalog)
    try:
        fn = load_signal(signal, pol)
        if synthetic or catalog is None:
            series = random_walk_bars(symbol, bars, tf, seed=seed)
            where = f"synthetic random walk ({bars} {tf} bars)"
        else:
            series = _read(catalog, symbol, tf, 0, 2**62)
            series = series.slice(start_ms=int(series.ts[max(0, len(series) - bars)]))
            where = f"{catalog} {symbol} {tf} ({len(series)} bars)"
        report = run_check(fn, series, signal, n_cuts=cuts, seed=seed)
    except (SignalLoadError, ValueError) as exc:
        raise fail(str(exc)) from None
    if report.ok:
        console.print(f"[green]no look-ahead[/]: {signal} on {where}, {len(report.cuts)} cuts", highlight=False)
        return
    table = Table(title=f"look-ahead in {signal} on {where}: {len(report.changed)} values changed")
    for col in ("data ends at", "output", "changed value at"):
        table.add_column(col)
    for cut, key, ts in report.changed[:50]:
        table.add_row(format_time(cut), key, format_time(ts))
    console.print(table)
    raise typer.Exit(code=1)


check_app.command("lookahead")(check_lookahead)
