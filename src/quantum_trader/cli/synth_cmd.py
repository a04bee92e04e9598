"""``quantum-trader data synth`` and ``data calibrate``: make the demo market and check it against reality.

Plain functions with Typer annotations; the ``data`` group registers them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from quantum_trader.cli.errors import fail
from quantum_trader.cli.options import output_dir, symbols_option
from quantum_trader.domain.symbols import asset_of

if TYPE_CHECKING:
    from rich.console import Console

    from quantum_trader.data.synthetic.market import SynthConfig, SyntheticMarket

__all__ = ["calibrate", "summary_rows", "synth"]

DEFAULT_REAL = Path("../shared/data/candles/binance_spot_1h")
MAX_DAYS = 3650


def summary_rows(market: SyntheticMarket) -> list[dict[str, Any]]:
    from quantum_trader.data.synthetic.summary import summary_rows as rows

    return rows(market)


def _console() -> Console:
    """A console per call, so the width follows the terminal (or COLUMNS) of this run."""
    from rich.console import Console

    return Console()


def _config(days: int, seed: int, assets: str | None) -> SynthConfig:
    from quantum_trader.data.synthetic.market import SynthConfig, SynthConfigError
    from quantum_trader.data.synthetic.params import ASSET_ORDER

    codes: tuple[str, ...] = ASSET_ORDER
    if assets is not None:
        codes = tuple(asset_of(s) for s in symbols_option("--assets", assets))
    try:
        return SynthConfig(days=days, seed=seed, assets=codes)
    except SynthConfigError as exc:
        raise fail(f"invalid setting {exc}") from None


def _price(value: float) -> str:
    return f"{value:,.2f}" if value >= 10 else f"{value:.4f}"


def print_summary(market: SyntheticMarket) -> None:
    from rich import box
    from rich.table import Table

    rows = summary_rows(market)
    days = {r["first"][:10] for r in rows} | {r["last"][:10] for r in rows}
    table = Table(
        title=f"Synthetic market: {rows[0]['rows']:,} 1m bars per asset, {min(days)} .. {max(days)} UTC",
        box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False,
    )
    for col in ("asset", "start", "end", "vol/yr", "$ vol/day", "depth 1%", "spread", "fund/8h"):
        table.add_column(col, justify="left" if col == "asset" else "right", no_wrap=True)
    for r in rows:
        table.add_row(
            asset_of(r["symbol"]), _price(r["start_price"]), _price(r["end_price"]),
            f"{r['annual_vol']:.0%}", f"{r['daily_usd_volume'] / 1e9:,.2f}B", f"{r['depth_1pct_usd'] / 1e6:,.1f}M",
            f"{r['spread']:.3%}", f"{r['mean_funding_8h']:.3%}",
        )
    _console().print(table)


def generate_into(config: SynthConfig, catalog: Path) -> SyntheticMarket:
    """Generate the market and write it to the catalog at ``catalog``, with progress bars."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from quantum_trader.data.catalog import Catalog
    from quantum_trader.data.synthetic.market import generate_market
    from quantum_trader.data.synthetic.writer import write_market

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())
    with Progress(*columns, console=_console(), transient=False) as progress:
        gen = progress.add_task(f"generating {config.days}d x {len(config.assets)} assets", total=1)
        market = generate_market(config)
        progress.update(gen, completed=1)
        write = progress.add_task(f"writing to {catalog}", total=len(market.bars))
        write_market(
            market, Catalog(catalog), progress=lambda done, _n, _sym: progress.update(write, completed=done)
        )
    return market


def synth(
    days: Annotated[int, typer.Option(min=1, max=MAX_DAYS, help="Length of the market in days of 1m bars.")] = 90,
    seed: Annotated[int, typer.Option(min=0, help="Random seed; the same seed gives the same market.")] = 7,
    catalog: Annotated[
        Path, typer.Option(help="Catalog root folder.", envvar="QT_CATALOG")
    ] = Path("catalog"),
    assets: Annotated[
        str | None, typer.Option(help="Comma-separated asset codes (default: all eight).")
    ] = None,
) -> None:
    """Generate the deterministic synthetic multi-asset market and write it to the catalog.

    Writes candles, mark prices, funding, order books and trade flow per asset under
    exchange 'synthetic', then prints one summary row per asset.

    Example: quantum-trader data synth --days 90 --seed 7
    """
    config = _config(days, seed, assets)
    market = generate_into(config, output_dir("--catalog", catalog))
    print_summary(market)


def calibrate(
    real: Annotated[
        Path, typer.Option(help="Folder of real hourly candle CSVs (<ASSET>USDT.csv.gz).")
    ] = DEFAULT_REAL,
    days: Annotated[int, typer.Option(min=1, max=MAX_DAYS, help="Days of synthetic market to compare.")] = 90,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the synthetic market.")] = 7,
) -> None:
    """Compare the synthetic market's hourly statistics with real data, band by band.

    Prints real vs synthetic annualised volatility, pairwise correlation, excess kurtosis
    and absolute-return autocorrelation with each band; exits 1 if any is out of band.

    Example: quantum-trader data calibrate --real ../shared/data/candles/binance_spot_1h --days 90
    """
    from rich.table import Table

    from quantum_trader.data.calibration import CalibrationError, calibration_stats, compare, read_reference_folder
    from quantum_trader.data.synthetic.market import generate_market

    if not real.is_dir():
        raise fail(f"--real {real}: real data folder not found; point --real at a folder of hourly candle files "
                   "such as BTCUSDT.csv.gz (timestamp,open,high,low,close,volume)")
    try:
        reference = read_reference_folder(real)
        config = _config(days, seed, None)
        market = generate_market(config)
        rows = compare(calibration_stats(reference, "1h"), calibration_stats(market.bars, "1h"))
    except CalibrationError as exc:
        raise fail(f"cannot calibrate: {exc}") from None
    table = Table(title=f"Calibration: real ({real}) vs synthetic ({days}d, seed {seed}), hourly returns")
    for col in ("statistic", "asset", "real", "synthetic", "band", "result"):
        table.add_column(col, justify="right" if col in ("real", "synthetic") else "left")
    for row in rows:
        verdict = "[green]pass[/]" if row.passed else "[bold red]FAIL[/]"
        table.add_row(row.stat, row.subject, f"{row.real:.3f}", f"{row.synthetic:.3f}", row.band, verdict)
    _console().print(table)
    failed = [r for r in rows if not r.passed]
    if failed:
        _console().print(f"[bold red]{len(failed)} statistic(s) out of band[/]")
        raise typer.Exit(code=1)
    _console().print(f"[green]all {len(rows)} statistics within their bands[/]")
