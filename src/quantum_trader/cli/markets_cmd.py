"""``quantum-trader data markets``: store the exchange's contract specifications in the catalog.

Backtests, screening and the venue then take tick, lot, minimum notional, contract size
and maximum leverage from the exchange instead of guessing them from the first price.
The ``data`` group registers this function (cli/main.py). Every failure is one red line
with exit code 2, and leaves the stored listing as it was.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from quantum_trader.cli.errors import say_error
from quantum_trader.cli.options import DEFAULT_EXCHANGE, catalog_root

if TYPE_CHECKING:
    from rich.table import Table

    from quantum_trader.data.market_payloads import FetchedMarkets
    from quantum_trader.data.markets import MarketSpec, StoreResult

__all__ = ["markets"]


def _fail(message: str) -> typer.Exit:
    say_error(f"error: {message}")
    return typer.Exit(code=2)


def _num(value: Decimal | None) -> str:
    return "-" if value is None else format(value.normalize(), "f")


def _table(specs: list[MarketSpec], title: str) -> Table:
    """One line per market, narrow enough for 80 columns (lot and minimum in the exchange's own units)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1),
                  collapse_padding=True)
    for col in ("symbol", "type", "active", "tick", "lot", "min $", "contract", "max lev"):
        table.add_column(col, justify="left" if col in ("symbol", "type", "active") else "right", no_wrap=True)
    for s in specs:
        active = "?" if s.active is None else ("yes" if s.active else "[yellow]no[/]")
        table.add_row(escape(s.symbol), s.type, active, _num(s.tick_size), _num(s.lot_size), _num(s.min_notional),
                      _num(s.contract_size), _num(s.max_leverage))
    return table


def _summary(exchange: str, fetched: FetchedMarkets, kept: list[MarketSpec], result: StoreResult,
             all_markets: bool) -> str:
    what = "every market listed" if all_markets else f"the linear USDT perpetuals of {len(fetched.specs)} listed"
    before = "" if result.previous is None else f", replacing {result.previous} stored before"
    unknown = sum(1 for s in kept if s.max_leverage is None)
    leverage = (f"; max leverage not published for {unknown} of them (the policy's margin tiers apply)"
                if unknown else "")
    return f"stored {result.stored} markets of {exchange} ({what}) in {result.path}{before}{leverage}"


def markets(
    exchange: Annotated[
        str, typer.Option("--exchange", help="ccxt exchange id, also the catalog's exchange name.")
    ] = DEFAULT_EXCHANGE,
    from_file: Annotated[Path | None, typer.Option(
        "--from", help="Read a saved payload instead of the network: Binance USD-M exchangeInfo, Bybit v5 "
                       "instruments-info, or ccxt load_markets() saved as JSON.", show_default=False,
    )] = None,
    all_markets: Annotated[bool, typer.Option(
        "--all", help="Store every market, not only linear USDT perpetuals.")] = False,
    catalog: Annotated[Path | None, typer.Option(
        "--catalog", help="Catalog folder (default: ./catalog, or env QT_CATALOG).", show_default=False,
    )] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Store the exchange's markets (tick, lot, min notional, contract size, max leverage) in the catalog.

    Loads them live through ccxt's load_markets() (network), or from a saved payload with
    --from. Replaces the exchange's stored listing at <catalog>/exchange=<ex>/markets.json.

    Example: quantum-trader data markets --exchange binanceusdm --from exchangeInfo.json
    """
    from rich.markup import escape

    from quantum_trader.cli.console import console
    from quantum_trader.data.market_payloads import markets_from_exchange, markets_from_file
    from quantum_trader.data.markets import MarketsError, select_markets, store_markets

    root = catalog_root(catalog, must_exist=False)
    try:
        fetched = markets_from_file(from_file, exchange) if from_file is not None else markets_from_exchange(exchange)
        kept = select_markets(fetched.specs, all_markets=all_markets)
        if not kept:
            raise MarketsError(f"{fetched.source}: none of its {len(fetched.specs)} markets is a linear USDT "
                               "perpetual; --all stores every market")
        result = store_markets(root, exchange, kept, source=fetched.source, as_of_ms=fetched.as_of_ms)
    except (MarketsError, OSError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({"exchange": exchange, "path": str(result.path), "source": fetched.source,
                               "listed": len(fetched.specs), "stored": result.stored,
                               "markets": [s.to_record() for s in kept]}, indent=2))
        return
    console.print(_table(kept, f"{exchange} markets"))
    console.print(f"[green]{escape(_summary(exchange, fetched, kept, result, all_markets))}[/]", highlight=False,
                  soft_wrap=True)
