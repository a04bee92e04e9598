"""``quantum-trader screen``: every inclusion criterion of spec section 2, per asset, from the catalog.

Register in ``cli/main.py`` with ``app.command("screen")(screen_cmd.screen)``.

The catalog is read here (the edge); ``universe.screening`` does the measuring and
``universe.tiers`` the joining with the policy's tiers. A dataset the catalog lacks is
passed on as None, so its criteria print ``unknown``: never a pass.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from quantum_trader.cli.console import console
from quantum_trader.cli.errors import fail
from quantum_trader.cli.options import catalog_root, load_policy_or_exit, symbol_option
from quantum_trader.domain.symbols import asset_of, perp_symbol
from quantum_trader.domain.time import timeframe_ms

if TYPE_CHECKING:
    from quantum_trader.config import Policy
    from quantum_trader.data.catalog import Catalog
    from quantum_trader.domain.market import BarSeries
    from quantum_trader.universe.screening import AssetScreen, CriterionResult, ScreeningInputs
    from quantum_trader.universe.tiers import EdgeFigure, TierAssignment

MARKETS_FILE = "markets.json"


class ScreenInputError(ValueError):
    """A markets file that cannot be read as ccxt market metadata."""


def load_markets_file(path: Path) -> dict[str, Any]:
    """ccxt's ``load_markets()`` output saved as JSON: an object keyed by unified symbol."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScreenInputError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise ScreenInputError(f"{path}: cannot read the markets file ({exc.strerror})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ScreenInputError(f"{path}: expected an object of markets keyed by symbol, as ccxt load_markets() returns")
    return data


def stored_markets(root: Path, exchange: str | None) -> tuple[dict[str, Any] | None, str]:
    """The listings ``data markets`` stored, else the legacy ``<catalog>/markets.json`` (``data.markets``)."""
    from quantum_trader.data.markets import stored_listing

    return stored_listing(root, exchange)


def _candles(cat: Catalog, symbol: str, exchange: str | None) -> BarSeries | None:
    """The finest candle dataset held for ``symbol`` (gaps and volume are measured at their own resolution)."""
    from quantum_trader.domain.kinds import DataKind

    infos = [i for i in cat.datasets() if i.symbol == symbol and i.kind is DataKind.CANDLES
             and (exchange is None or i.exchange == exchange) and i.timeframe]
    if not infos:
        return None
    best = min(infos, key=lambda i: timeframe_ms(i.timeframe or "1m"))
    assert best.timeframe is not None
    return cat.read_bars(symbol, best.timeframe, exchange=best.exchange)


def _on_clock(bars: BarSeries | None, timeframe: str) -> BarSeries | None:
    from quantum_trader.data.resample import resample_bars

    if bars is None or bars.timeframe == timeframe:
        return bars
    if timeframe_ms(timeframe) % timeframe_ms(bars.timeframe):
        return None
    return resample_bars(bars, timeframe)


def gather(cat: Catalog, asset: str, policy: Policy, *, exchange: str | None, markets: dict[str, Any] | None,
           markets_source: str, btc: BarSeries | None) -> ScreeningInputs:
    """Everything the catalog holds for ``asset``; missing datasets stay None."""
    from quantum_trader.data.catalog import CatalogError
    from quantum_trader.universe.screening import ScreeningInputs, perpetual_listed

    symbol = perp_symbol(asset)
    where = f"catalog {cat.root}"
    bars = _candles(cat, symbol, exchange)
    corr_bars = btc_bars = None
    if bars is not None and btc is not None:
        clock = max((bars.timeframe, btc.timeframe, policy.correlation.returns_timeframe), key=timeframe_ms)
        corr_bars, btc_bars = _on_clock(bars, clock), _on_clock(btc, clock)
    book = funding = None
    try:
        book = cat.read_book(symbol, exchange=exchange)
    except CatalogError:
        book = None
    try:
        funding = cat.read_funding(symbol, exchange=exchange)
    except CatalogError:
        funding = None
    listed = None if markets is None else perpetual_listed(markets, symbol)
    return ScreeningInputs(symbol, bars=bars, corr_bars=corr_bars, btc_bars=btc_bars, book=book, funding=funding,
                           listed=listed, sources={"candles": where, "book": where, "funding": where,
                                                   "markets": markets_source})


def _value(c: CriterionResult) -> str:
    if c.value is None:
        return "unknown"
    if c.unit == "bool":
        return "yes" if c.value else "no"
    value = float(c.value)
    if c.unit == "usd":
        return f"${value:,.0f}"
    if c.unit == "fraction":
        return f"{value:.4%}"
    return f"{value:.3f}"


def _threshold(c: CriterionResult) -> str:
    if c.unit == "bool":
        return "listed"
    value = float(c.threshold)
    text = {"usd": f"${value:,.0f}", "fraction": f"{value:.4%}"}.get(c.unit, f"{value:.2f}")
    return f"{c.comparison} {text}"


def _print_table(screens: list[AssetScreen], assignment: TierAssignment, *, evidence: bool = False) -> None:
    from rich.table import Table

    from quantum_trader.universe.screening import Status

    styles = {Status.PASS: "green", Status.FAIL: "bold red", Status.UNKNOWN: "yellow", Status.NOT_APPLICABLE: "dim"}
    table = Table(title="Screening (spec section 2)", show_lines=False)
    columns = ("asset", "criterion", "status", "measured", "threshold", *(("evidence",) if evidence else ()))
    for col in columns:
        table.add_column(col, overflow="fold")
    for s in screens:
        for i, c in enumerate(s.criteria):
            style = styles[c.status]
            cells = [s.asset if i == 0 else "", c.criterion, f"[{style}]{c.status.value}[/]", _value(c),
                     _threshold(c)]
            table.add_row(*cells, *((c.evidence,) if evidence else ()))
        table.add_section()
    console.print(table)
    tiers = Table(title="Tiers")
    for col in ("asset", "screen", "policy tier", "tier", "state", "why"):
        tiers.add_column(col, overflow="fold")
    by_asset = {s.asset: s for s in screens}
    for asset, m in assignment.members.items():
        screened = by_asset.get(asset)
        if screened is None:
            continue
        tier = "-" if m.tier is None else str(m.tier)
        why = "; ".join(reason.split(": ")[0] for reason in m.reasons[:3])
        tiers.add_row(asset, screened.status.value, str(m.policy_tier), tier, m.state.value, why)
    console.print(tiers)
    for event in assignment.events:
        if event.asset not in by_asset:
            continue
        console.print(f"[bold]{event.kind.value}[/] {event.message}", highlight=False)


def _tier3_edges(cat: Catalog, assets: list[str], policy: Policy, exchange: str | None) -> dict[str, EdgeFigure] | None:
    """Tier 3 is admitted on identified edge: the mean edge of the signals' intents over the
    policy's ``edge_lookback``, computed with the multi-asset signals on the catalog's candles."""
    import numpy as np

    from quantum_trader.universe.tiers import edge_figures

    tier3 = [a for a in assets if policy.tier_of(a) == 3]
    if not tier3:
        return None
    baseline = policy.signals.model.baseline_asset
    bars: dict[str, BarSeries] = {}
    for asset in dict.fromkeys([baseline, *tier3]):
        series = _candles(cat, perp_symbol(asset), exchange)
        if series is not None:
            bars[perp_symbol(asset)] = series
    if perp_symbol(baseline) not in bars or len(bars) < 2:
        return None
    from quantum_trader.engine.strategies import MultiAssetStrategy

    decisions = MultiAssetStrategy().prepare(bars, policy)
    if decisions.close_ts.size == 0:
        return None
    lookback = policy.asset_tiers.tier_3.edge_lookback
    end = int(decisions.result.ts[-1])
    first = int(np.searchsorted(decisions.result.ts, end - timeframe_ms(lookback), side="right"))
    intents = [i for k in range(first, decisions.close_ts.size) for i in decisions.intents(k)]
    return edge_figures(intents, end, lookback)


def screen(
    assets: Annotated[list[str] | None, typer.Argument(
        help="Assets: BTC, BTCUSDT or BTC/USDT:USDT (default: every asset of the tiers).")] = None,
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog folder (default $QT_CATALOG or ./catalog).")
                       ] = None,
    exchange: Annotated[str | None, typer.Option("--exchange", help="Exchange folder when several hold data.")] = None,
    markets: Annotated[Path | None, typer.Option(
        "--markets", help="ccxt load_markets() output as JSON (default: the listings `data markets` stored)."
    )] = None,
    policy_file: Annotated[Path | None, typer.Option("--policy", help="Policy YAML merged over the defaults.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (one row per asset and criterion).")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (one row per asset and criterion).")] = False,
    evidence: Annotated[bool, typer.Option("--evidence", help="Add where each figure came from to the table.")
                        ] = False,
) -> None:
    """Screen assets against the inclusion criteria: volume, depth at 1%, spread, perpetual listed,
    90-day BTC correlation, funding and data-feed gaps. Missing data prints "unknown", never a pass.

    Example: quantum-trader screen BTC ETH SOL --catalog catalog --json
    """
    from quantum_trader.data.catalog import Catalog, CatalogError
    from quantum_trader.universe.screening import records, screen_asset
    from quantum_trader.universe.tiers import assign_tiers

    policy = load_policy_or_exit(policy_file)
    chosen = (list(dict.fromkeys(asset_of(symbol_option("ASSETS", a)) for a in assets)) if assets
              else list(policy.tradable_universe()))
    root = catalog_root(catalog)
    market_data: dict[str, Any] | None = None
    try:
        if markets is not None:
            if not markets.is_file():
                raise fail(f"--markets {markets}: markets file not found")
            market_data, market_source = load_markets_file(markets), str(markets)
        else:
            market_data, market_source = stored_markets(root, exchange)
    except ValueError as exc:
        raise fail(str(exc)) from None
    cat = Catalog(root)
    try:
        btc = _candles(cat, perp_symbol(policy.signals.model.baseline_asset), exchange)
        screens = [screen_asset(gather(cat, a, policy, exchange=exchange, markets=market_data,
                                       markets_source=market_source, btc=btc), policy) for a in chosen]
    except (CatalogError, ValueError) as exc:
        raise fail(str(exc)) from None
    if as_json or as_csv:
        rows = records(screens)
        if as_json:
            sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        else:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["asset"])
            writer.writeheader()
            writer.writerows(rows)
            sys.stdout.write(buffer.getvalue())
        return
    edges = _tier3_edges(cat, chosen, policy, exchange)
    assignment = assign_tiers(policy, {s.asset: s for s in screens}, ts=int(time.time() * 1000), edges=edges)
    _print_table(screens, assignment, evidence=evidence)
