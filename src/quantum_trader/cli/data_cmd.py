"""``quantum-trader data``: fill, inspect, check and resample the market-data catalog.

Every failure is one red line naming the file, dataset or row, with exit code 2; the
catalog code underneath guarantees nothing is half-written when that happens.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from quantum_trader.cli.errors import say_error
from quantum_trader.cli.options import DEFAULT_EXCHANGE, catalog_root, symbol_option, symbols_option, time_option
from quantum_trader.data.catalog_lock import DEFAULT_LOCK_WAIT_S
from quantum_trader.domain.kinds import DataKind
from quantum_trader.domain.time import to_datetime

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.table import Table

    from quantum_trader.data.catalog import Catalog, DamagedDataset, DatasetInfo
    from quantum_trader.data.catalog_schema import Series
    from quantum_trader.data.download import DownloadProgress
    from quantum_trader.data.ingest import IngestResult
    from quantum_trader.data.quality import QualityReport

app = typer.Typer(
    help="Market data: ingest files, download from exchanges, list, check and resample the catalog.",
    no_args_is_help=True,
)


def _console() -> Console:
    """A fresh console per call, so the terminal width (or $COLUMNS) is read when printing."""
    from rich.console import Console

    return Console()

CatalogOpt = Annotated[
    Path | None,
    typer.Option("--catalog", help="Catalog folder (default: ./catalog, or env QT_CATALOG).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _catalog(root: Path | None, *, must_exist: bool = True) -> Catalog:
    """The catalog; one that does not exist is an error for every command but those that fill it."""
    from quantum_trader.data.catalog import Catalog

    return Catalog(catalog_root(root, must_exist=must_exist))


def _say(markup: str) -> None:
    """One logical line per message, never re-wrapped: scripts and tests grep these lines."""
    _console().print(markup, highlight=False, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    say_error(f"error: {message}")
    return typer.Exit(code=2)


@contextmanager
def _errors(prefix: str = "") -> Iterator[None]:
    """Turn the domain's errors (all ValueError subclasses), I/O and exchange errors into one red line."""
    try:
        yield
    except (ValueError, OSError) as exc:
        raise _fail(f"{prefix}{exc}") from None
    except Exception as exc:
        if not type(exc).__module__.startswith("ccxt"):  # ccxt is imported only by the commands that use it
            raise
        raise _fail(f"{prefix}exchange error: {exc}; pages already received are stored, re-run to resume"
                    ) from None


def _iso(ts: int | None) -> str | None:
    return None if ts is None else to_datetime(ts).isoformat()


class VolumeUnit(StrEnum):
    BASE = "base"
    QUOTE = "quote"


class MarketType(StrEnum):
    SPOT = "spot"
    PERP = "perp"


@app.command("ingest")
def ingest(
    file: Annotated[Path, typer.Argument(help="Candle, funding, book or trade file (CSV, gz, zip, Feather...).")],
    symbol: Annotated[str | None, typer.Option(
        "--symbol", help="BTC, BTCUSDT or BTC/USDT:USDT; default: the file's own.")] = None,
    timeframe: Annotated[str | None, typer.Option(
        "--timeframe", help="e.g. 1m, 1h; default: the file's (aggTrades: the bar trades are summed into, 1m)."),
    ] = None,
    catalog: CatalogOpt = None,
    fmt: Annotated[str | None, typer.Option("--format", help="Loader format name; default: detected.")] = None,
    exchange: Annotated[str | None, typer.Option(
        "--exchange", help=f"Exchange name in the catalog; default: the venue the file names, else {DEFAULT_EXCHANGE}.",
        show_default=False)] = None,
    kind: Annotated[DataKind | None, typer.Option("--kind", help="Data kind; default: detected.")] = None,
    repair: Annotated[bool, typer.Option("--repair", help="Sort, reverse newest-first, drop exact dupes.")] = False,
    volume_unit: Annotated[
        VolumeUnit | None,
        typer.Option("--volume-unit", help="What a bare 'volume' column holds (base or quote); default: base."),
    ] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Accept rows that differ from stored ones (the old values are kept beside the dataset).")
    ] = False,
    updates: Annotated[Path | None, typer.Option(
        "--updates", help="Binance depth diff file to apply to the snapshot FILE.", show_default=False)] = None,
    market_type: Annotated[MarketType | None, typer.Option(
        "--market-type", help="Market the rows come from (spot or perp); default: what the file says.",
        show_default=False)] = None,
    wait_lock: Annotated[float, typer.Option(
        "--wait-lock", help="Seconds to wait while another writer holds the dataset.", min=0.0)
    ] = DEFAULT_LOCK_WAIT_S,
    policy_file: Annotated[Path | None, typer.Option(
        "--policy", help="Policy file (data_ingest: instrument tolerance, funding bound); default: built-in.",
        show_default=False)] = None,
) -> None:
    """Check a market-data file and store it in the catalog (refused whole on any blocking issue).

    Example: quantum-trader data ingest BTCUSDT.csv.gz --symbol BTC/USDT:USDT --timeframe 1h
    """
    from rich.markup import escape

    from quantum_trader.config import load_policy
    from quantum_trader.data.catalog import Catalog
    from quantum_trader.data.ingest import IngestRules, ingest_file

    symbol = None if symbol is None else symbol_option("--symbol", symbol)
    cat = Catalog(catalog_root(catalog, must_exist=False), lock_wait_s=wait_lock,
                  on_lock_wait=lambda text: _say(f"[yellow]{escape(text)}[/]"))
    with _errors():
        rules = IngestRules.from_policy(load_policy(policy_file))
        result = ingest_file(cat, file, symbol=symbol, timeframe=timeframe, exchange=exchange, fmt=fmt, kind=kind,
                             repair=repair, volume_unit=None if volume_unit is None else volume_unit.value,
                             replace=replace, rules=rules, updates=updates,
                             market_type=None if market_type is None else market_type.value)
    _print_ingest(result)


def _print_ingest(result: IngestResult) -> None:
    from rich.markup import escape

    if result.repair is not None:
        for action in result.repair.actions:
            _say(f"[yellow]repaired[/] {escape(action.message)}")
    for report in (result.report, *result.extra_reports):
        for issue in report.warnings:
            _say(f"[yellow]warning[/] {escape(issue.describe())}")
    for w in result.writes:
        tf = f" {w.timeframe}" if w.timeframe else ""
        _say(
            f"[green]stored[/] {w.exchange} {w.symbol} {w.kind.value}{tf}: {w.rows_added} added, "
            f"{w.rows_replaced} replaced, {w.rows_unchanged} unchanged ({w.rows_total} rows)"
        )
        if w.replaced_file is not None:
            _say(f"[yellow]replaced[/] {w.rows_replaced} stored row(s) of {escape(w.label())}; the old values are "
                 f"kept in {escape(str(w.replaced_file))}")
    _say(_source_line(result))


def _source_line(result: IngestResult) -> str:
    """Where the rows came from, as recorded: a spot file filed under a perpetual symbol is said out loud."""
    from rich.markup import escape

    src = result.source
    venue = src.venue or "venue not stated"
    if src.market_type is None:
        return (f"[yellow]source[/] market type unknown ({escape(venue)}, {escape(src.loader or '?')}): "
                "pass --market-type spot|perp to record it")
    text = f"[cyan]source[/] {src.market_type} data ({escape(venue)}, {escape(src.loader or '?')})"
    if src.market_type == "spot" and ":" in result.symbol:
        text += (f": filed under the perpetual {escape(result.symbol)} as a stand-in; runs on it say so "
                 "(spot and perpetual prices differ by the basis, spot has no funding)")
    return text


def _info_dict(info: DatasetInfo) -> dict[str, Any]:
    return {
        "exchange": info.exchange,
        "symbol": info.symbol,
        "kind": info.kind.value,
        "timeframe": info.timeframe,
        "rows": info.rows,
        "first": _iso(info.first_ts),
        "last": _iso(info.last_ts),
        "path": str(info.path),
    }


def _damaged_dict(item: DamagedDataset) -> dict[str, Any]:
    return {"dataset": item.label, "path": str(item.path), "damaged": item.reason}


@app.command("list")
def list_(catalog: CatalogOpt = None, as_json: JsonOpt = False) -> None:
    """List the catalog's datasets with row counts and time span (an unreadable file is one 'damaged' line).

    Example: quantum-trader data list --json
    """
    from rich.markup import escape

    cat = _catalog(catalog)
    infos, damaged = cat.scan()
    if as_json:
        typer.echo(json.dumps([_info_dict(i) for i in infos] + [_damaged_dict(d) for d in damaged], indent=2))
        return
    console = _console()
    console.print(f"catalog [bold]{escape(str(cat.root))}[/]")
    if not infos and not damaged:
        console.print("[yellow]empty[/]: add data with `quantum-trader data ingest|download|synth`")
    for exchange in sorted({i.exchange for i in infos}):
        console.print(_datasets_table([i for i in infos if i.exchange == exchange], exchange))
    for item in damaged:
        _say(_damaged_line(item))


def _damaged_line(item: DamagedDataset) -> str:
    from rich.markup import escape

    return f"[red]damaged[/] {escape(item.label)}: {escape(item.reason)} ({escape(str(item.path))})"


def _minute(ts: int | None) -> str:
    return "-" if ts is None else to_datetime(ts).strftime("%Y-%m-%d %H:%M")


def _datasets_table(infos: list[DatasetInfo], title: str) -> Table:
    """One line per dataset, narrow enough for 80 columns (the exchange is in the title, not a column)."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0))
    for col in ("symbol", "kind", "tf", "rows", "first (UTC)", "last (UTC)"):
        table.add_column(col, justify="right" if col == "rows" else "left", no_wrap=True)
    for i in infos:
        table.add_row(i.symbol, i.kind.value, i.timeframe or "-", f"{i.rows:,}", _minute(i.first_ts),
                      _minute(i.last_ts))
    return table


def _stored_report(cat: Catalog, info: DatasetInfo) -> QualityReport | DamagedDataset:
    import pandas as pd

    from quantum_trader.data.catalog import DamagedDataset
    from quantum_trader.data.catalog_errors import DamagedDatasetError
    from quantum_trader.data.catalog_schema import columns_of
    from quantum_trader.data.quality import check_frame

    try:
        series = cat.read(info.symbol, info.kind, info.timeframe, exchange=info.exchange)
    except DamagedDatasetError as exc:  # the footer read, the data did not
        return DamagedDataset(exc.path, exc.label, exc.reason)
    frame = pd.DataFrame(columns_of(series))
    return check_frame(frame, info.kind, timeframe=info.timeframe, source=info.label())


@app.command("check")
def check(
    symbol: Annotated[str | None, typer.Option("--symbol", help="Only this symbol (BTC, BTCUSDT or BTC/USDT:USDT).")
                      ] = None,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Quality report of stored datasets: gaps, zero-volume runs, outliers, off-grid rows, damaged files.

    Example: quantum-trader data check --symbol BTC/USDT:USDT
    """
    from rich.markup import escape
    from rich.table import Table

    from quantum_trader.data.catalog import DamagedDataset
    from quantum_trader.data.quality import QualityReport

    symbol = None if symbol is None else symbol_option("--symbol", symbol)
    cat = _catalog(catalog)
    infos, damaged = cat.scan()
    infos = [i for i in infos if symbol is None or i.symbol == symbol]
    damaged = [d for d in damaged if symbol is None or d.symbol == symbol]
    if not infos and not damaged:
        raise _fail(f"no datasets{f' for {symbol}' if symbol else ''} in catalog {cat.root}")
    with _errors():
        results = [_stored_report(cat, i) for i in infos] + list(damaged)
    if as_json:
        typer.echo(json.dumps([r.to_dict() if isinstance(r, QualityReport) else
                               {**_damaged_dict(r), "source": r.label, "ok": False} for r in results], indent=2))
        return
    table = Table(title="data quality")
    for col in ("dataset", "rows", "status", "issues"):
        table.add_column(col, overflow="fold")
    for r in results:
        if isinstance(r, DamagedDataset):
            table.add_row(escape(r.label), "-", "[red]damaged[/]", escape(f"{r.reason} ({r.path})"))
            continue
        status = "[red]blocking[/]" if not r.ok else ("[yellow]warnings[/]" if r.issues else "[green]ok[/]")
        text = "\n".join(escape(f"{i.code}: {i.describe(limit=3)}") for i in r.issues) or "-"
        table.add_row(escape(r.source), f"{r.rows:,}", status, text)
    _console().print(table)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@app.command("resample")
def resample(
    symbol: Annotated[str, typer.Option("--symbol", help="BTC, BTCUSDT or BTC/USDT:USDT.")],
    to: Annotated[str, typer.Option("--to", help="Target timeframe(s), comma-separated, e.g. 5m,1h.")],
    source_tf: Annotated[str, typer.Option("--from", help="Source timeframe in the catalog.")] = "1m",
    catalog: CatalogOpt = None,
    exchange: Annotated[str | None, typer.Option("--exchange", help="Needed when several hold it.")] = None,
    keep_partial: Annotated[bool, typer.Option("--keep-partial", help="Keep the unfinished last bar.")] = False,
) -> None:
    """Build longer bars (and trade flow, when stored) from shorter ones and store them.

    Example: quantum-trader data resample --symbol BTC/USDT:USDT --from 1m --to 5m,1h
    """
    from quantum_trader.data.resample import resample_bars, resample_trade_flow

    symbol = symbol_option("--symbol", symbol)
    cat = _catalog(catalog)
    with _errors():
        targets = _split(to)
        if not targets:
            raise ValueError(f"--to {to!r} names no timeframe")
        info = cat.dataset(symbol, DataKind.CANDLES, source_tf, exchange=exchange)
        bars = cat.read_bars(symbol, source_tf, exchange=exchange)
        ex = info.exchange if info is not None else DEFAULT_EXCHANGE
        flow_info = cat.dataset(symbol, DataKind.TRADE_FLOW, source_tf, exchange=ex)
        flow = cat.read_trade_flow(symbol, source_tf, exchange=ex) if flow_info is not None else None
        outputs = [resample_bars(bars, tf, keep_partial=keep_partial) for tf in targets]
        flows = [resample_trade_flow(flow, tf, keep_partial=keep_partial) for tf in targets] if flow is not None else []
        items: list[tuple[Series, DataKind | None]] = [(s, None) for s in outputs]
        items.extend((s, None) for s in flows)
        writes = cat.write_many(items, exchange=ex)
    for w in writes:
        _say(f"[green]stored[/] {w.exchange} {w.symbol} {w.kind.value} {w.timeframe}: {w.rows_added} added, "
             f"{w.rows_replaced} replaced, {w.rows_total} rows")


def _progress_callback(progress: Progress) -> Callable[[DownloadProgress], None]:
    tasks: dict[tuple[str, DataKind], TaskID] = {}

    def update(event: DownloadProgress) -> None:
        key = (event.symbol, event.kind)
        total = max(event.end_ms - event.start_ms, 1)
        if key not in tasks:
            tasks[key] = progress.add_task(f"{event.symbol} {event.kind.value}", total=total)
        progress.update(tasks[key], total=total, completed=max(event.done_ms - event.start_ms, 0))

    return update


@app.command("download")
def download_cmd(
    symbols: Annotated[str, typer.Option("--symbols", help="Comma-separated: BTC, BTCUSDT or BTC/USDT:USDT.")],
    since: Annotated[str, typer.Option("--since", help="Start (UTC), e.g. 2024-01-01; resumes past stored data.")],
    exchange: Annotated[str, typer.Option("--exchange", help="ccxt exchange id.")] = DEFAULT_EXCHANGE,
    timeframe: Annotated[str, typer.Option("--timeframe", help="Candle timeframe.")] = "1m",
    until: Annotated[str | None, typer.Option("--until", help="End (UTC, exclusive); default: now.")] = None,
    funding: Annotated[bool, typer.Option("--funding", help="Also the funding-rate history.")] = False,
    book: Annotated[bool, typer.Option("--book", help="Also one order-book snapshot.")] = False,
    catalog: CatalogOpt = None,
) -> None:
    """Download candles (and funding, a book snapshot) through ccxt into the catalog; re-runs resume.

    Example: quantum-trader data download --exchange binanceusdm --symbols BTC/USDT:USDT --since 2024-01-01
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from quantum_trader.data.download import download

    names = list(symbols_option("--symbols", symbols))
    since_ms = time_option("--since", since)
    until_ms = time_option("--until", until) if until is not None else None
    cat = _catalog(catalog, must_exist=False)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                        TimeRemainingColumn(), console=_console(), transient=False)
    with _errors(), progress:
        results = download(cat, exchange, names, timeframe, since_ms, until_ms=until_ms, funding=funding, book=book,
                           progress=_progress_callback(progress))
    for r in results:
        tf = f" {r.timeframe}" if r.timeframe else ""
        _say(f"[green]downloaded[/] {r.symbol} {r.kind.value}{tf}: {r.rows_fetched} rows in {r.requests} "
             f"requests, {r.rows_added} new")
