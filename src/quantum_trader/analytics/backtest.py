"""A backtest: the kernel composed with a replay of the catalog and the simulated venue.

Everything is read and aligned once (bars onto one grid, funding, depth within 1% from
the stored books, typical spreads), the strategy decides (in batch when it can), the
kernel runs, and the run folder receives trades, equity, events, correlation, metrics,
the policy used and the HTML report.

A paper replay (``analytics.paper``) is the same run with the kernel fed one bar at a time
on the asyncio loop: it shares ``prepare_run`` (market, decisions, universe) and
``write_run`` (the run folder, its metrics naming the mode) with the backtest, so the two
differ only in how the bars reach the kernel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np

from quantum_trader.analytics.data_notes import FINER_TIMEFRAME, data_notes
from quantum_trader.analytics.heap import release_free_memory
from quantum_trader.analytics.market_summary import MarketSummary, SummarisedFeed
from quantum_trader.analytics.metrics import compute_metrics
from quantum_trader.analytics.replay_market import (
    assemble_market,
    book_depth_and_spread,
    load_market,
    spot_stand_ins,
    with_mark_prices,
)
from quantum_trader.analytics.report import render_report
from quantum_trader.analytics.run_folder import RunFolder, new_run_id
from quantum_trader.analytics.streamed_market import CatalogWindows, streamed_market
from quantum_trader.analytics.universe_replay import (
    AssetStanding,
    ReplayInputs,
    WindowReader,
    admitted_by_phase,
    correlation_clock,
    listed_from,
    replay_universe,
    start_standings,
)
from quantum_trader.config import Policy, policy_to_yaml
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.markets import stored_listing
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import MS_PER_DAY, format_time, timeframe_ms
from quantum_trader.domain.trading import Intent
from quantum_trader.engine.catalog_feed import streamed_bars, streamed_decision_bars
from quantum_trader.engine.incremental import decisions_for
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.recorder import EventRow, Recorder
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.engine.strategy import Decisions, Strategy
from quantum_trader.monitor.alerts import RuleSettings, alerts_frame, run_alerts
from quantum_trader.monitor.alerts.run_alerts import alert_counts, inputs_of_run

__all__ = [
    "BacktestRequest", "BacktestResult", "PreparedRun", "assemble_market", "book_depth_and_spread",
    "default_settings", "load_market", "prepare_run", "run_backtest", "with_mark_prices", "write_run",
]


@dataclass(frozen=True)
class BacktestRequest:
    catalog: Path
    symbols: tuple[str, ...]
    strategy: Strategy
    policy: Policy
    policy_name: str = "default"
    exchange: str | None = None
    timeframe: str = "1m"
    start_ms: int | None = None
    end_ms: int | None = None
    runs_dir: Path = Path("runs")
    settings: KernelSettings | None = None
    report: bool = True
    phase_source: str = "given"
    """Where the phase came from (the journal, --phase, the policy's start): recorded in the run."""
    stream: bool | None = None
    """Replay the catalog a window at a time (memory flat in the length of history) or load it whole; None:
    stream unless the bars are coarser than 1m (a coarse run reads 1m bars whole to order stops and targets)."""

    @property
    def streamed(self) -> bool:
        if self.stream is not None:
            return self.stream
        return timeframe_ms(self.timeframe) <= timeframe_ms(FINER_TIMEFRAME)


@dataclass(frozen=True)
class BacktestResult:
    run: RunFolder
    metrics: dict[str, object]
    recorder: Recorder
    seconds: float
    """Wall time of the kernel loop alone."""


@dataclass(frozen=True)
class PreparedRun:
    """What a run needs before its first bar: the aligned market, the strategy's decisions, the settings with
    the universe applied, and each requested asset's standing (tradable or not, and why)."""

    data: MarketData
    decisions: Decisions
    settings: KernelSettings
    standings: list[AssetStanding]
    feed: SummarisedFeed | None = None
    """The catalog's bars a window at a time (a streamed run: ``data.grid`` then has no rows); None: the
    bars are in ``data.grid``."""

    @property
    def rows(self) -> int:
        return self.feed.total_rows if self.feed is not None else int(self.data.grid.ts.size)


def run_backtest(request: BacktestRequest, progress: Callable[[str, float], None] | None = None,
                 lines: Callable[[str], None] | None = None) -> BacktestResult:
    """Load, compute signals, run the kernel, write the run folder; ``progress(message, fraction)``
    hears each stage and the kernel's share of the bars (fraction of the whole run, 0..1); ``lines``
    hears, before the first bar, which requested assets can trade and why not, one line each."""
    say = progress or (lambda _msg, _fraction: None)
    prepared = prepare_run(request, say, lines, stream=request.streamed)
    data = prepared.data
    kernel = Kernel(data, prepared.settings, feed=prepared.feed)
    bars_note = f"running {prepared.rows:,} bars x {len(data.grid.symbols)} assets"
    say(bars_note, 0.3)
    started = time.perf_counter()
    rec = kernel.run(prepared.decisions,
                     on_rows=lambda done, total: say(bars_note, 0.3 + 0.6 * done / max(total, 1)))
    seconds = time.perf_counter() - started
    release_free_memory()  # each stage's transients freed: the write's peak is not stacked on theirs
    say("writing the run folder and the report", 0.9)
    run = write_run(request, prepared, kernel, seconds)
    return BacktestResult(run=run, metrics=run.metrics(), recorder=rec, seconds=seconds)


def prepare_run(request: BacktestRequest, say: Callable[[str, float], None],
                lines: Callable[[str], None] | None = None, *, stream: bool = False) -> PreparedRun:
    """Read the market, compute the strategy's decisions in batch, apply the universe (stages 0..0.3 of
    ``say``); ``lines`` hears each requested asset's standing. ``stream``: the kernel reads the catalog a
    window at a time (``PreparedRun.feed``) and nothing reads the bars whole at the run's timeframe."""
    catalog = Catalog(request.catalog)
    say("loading market data", 0.0)
    feed = None
    reader: WindowReader | None = None
    if stream:
        data, catalog_feed = streamed_market(catalog, request.symbols, timeframe=request.timeframe,
                                             exchange=request.exchange, start_ms=request.start_ms,
                                             end_ms=request.end_ms, policy=request.policy)
        feed = SummarisedFeed(catalog_feed, MarketSummary(catalog_feed.symbols, request.timeframe),
                              funding=data.funding, ages=data.feed_ages)
        bars = _decision_bars(request, catalog, catalog_feed.symbols)
        reader = CatalogWindows(catalog, request.timeframe, request.exchange, request.start_ms, request.end_ms)
        span = (catalog_feed.start_ts, catalog_feed.last_ts)
    else:
        bars, data = load_market(catalog, request.symbols, timeframe=request.timeframe, exchange=request.exchange,
                                 start_ms=request.start_ms, end_ms=request.end_ms, policy=request.policy)
        span = (int(data.grid.ts[0]), int(data.grid.ts[-1]))
    release_free_memory()
    say(f"computing {request.strategy.name} signals", 0.1)
    decisions = decisions_for(request.strategy, bars, request.policy)
    release_free_memory()
    settings = request.settings or KernelSettings(policy=request.policy)
    data, settings, standings = _universe(request, catalog, bars, data, decisions, settings, say,
                                          span=span, reader=reader)
    del bars
    release_free_memory()
    for standing in standings:
        (lines or (lambda _line: None))(standing.line())
    return PreparedRun(data, decisions, settings, standings, feed)


def _decision_bars(request: BacktestRequest, catalog: Catalog, symbols: tuple[str, ...]) -> dict[str, BarSeries]:
    """The bars the strategy decides on in a streamed run: the multi-asset strategy's finest signal timeframe
    (the correlation's returns; its models' timeframe is a multiple), resampled window by window, where the
    run's bars are finer, with closes only and the models' bars resampled from them window by window
    (``DecisionBars``: what the strategy and the screens read of them); any other strategy reads the run's own
    bars (its decisions are per bar anyway)."""
    want = request.policy.correlation.returns_timeframe
    model = request.policy.signals.model.timeframe
    have = timeframe_ms(request.timeframe)
    if (isinstance(request.strategy, MultiAssetStrategy) and timeframe_ms(want) > have
            and timeframe_ms(want) % have == 0 and MS_PER_DAY % timeframe_ms(want) == 0):
        step, finest = timeframe_ms(model), timeframe_ms(want)
        if step > finest and step % finest == 0 and MS_PER_DAY % step == 0:
            return streamed_decision_bars(catalog, symbols, request.timeframe, want, (model,),
                                          exchange=request.exchange, start_ms=request.start_ms, end_ms=request.end_ms)
        return streamed_bars(catalog, symbols, request.timeframe, want, exchange=request.exchange,
                             start_ms=request.start_ms, end_ms=request.end_ms)
    read = {s: catalog.read_bars(s, request.timeframe, exchange=request.exchange, start_ms=request.start_ms,
                                 end_ms=request.end_ms) for s in symbols}
    return {s: series for s, series in read.items() if len(series)}


def _universe(request: BacktestRequest, catalog: Catalog, bars: Mapping[str, BarSeries], data: MarketData,
              decisions: Decisions, settings: KernelSettings, say: Callable[[str, float], None], *,
              span: tuple[int, int], reader: WindowReader | None
              ) -> tuple[MarketData, KernelSettings, list[AssetStanding]]:
    """The universe the run may trade: the phase's assets with a tier, rescreened on the run's own data.

    A plain run (comparisons with other engines) has no policy universe: every asset trades.
    """
    policy, phase = request.policy, settings.phase
    if settings.policy.fixed_fraction:  # the policy the kernel runs (``plain`` is applied to the settings)
        return data, settings, [AssetStanding(asset_of(s), True, "plain policy: no tiers or phases")
                                for s in request.symbols if s in bars] + [
            AssetStanding(asset_of(s), False, "no bars in the requested range") for s in request.symbols
            if s not in bars]
    schedule = None
    if policy.universe.in_backtests:
        say("screening the universe on the run's own data", 0.2)
        intents = _edge_intents(decisions)
        markets = stored_listing(catalog.root, request.exchange)[0]
        inputs = ReplayInputs(bars=bars, corr_bars=correlation_clock(bars, policy), books=data.books,
                              funding=data.funding, listed=listed_from(markets, bars),
                              spot=spot_stand_ins(catalog, list(bars), request.timeframe, request.exchange),
                              reader=reader)
        schedule = replay_universe(inputs, intents, policy, phase=phase, start=span[0], end=span[1])
        data = replace(data, universe=schedule)
    excluded = frozenset(s for s in bars if not admitted_by_phase(policy, phase, asset_of(s)))
    return data, replace(settings, excluded=excluded), start_standings(request.symbols, bars, policy, phase, schedule)


def _edge_intents(decisions: Decisions) -> Iterator[tuple[int, tuple[Intent, ...]]]:
    """(decision time, intents) of every decision, in time order, as the universe's tier-3 edge reads them:
    without the reasons, which it never reads and which are most of an intent's memory, and made as the
    screens reach them (``replay_universe`` holds only the edge lookback's: held whole, a history's intents
    cost about 10 MB a year of hourly decisions on five assets even without their reasons)."""
    for k, ts in enumerate(decisions.close_ts.tolist()):
        yield int(ts), tuple(replace(i, reasons=()) for i in decisions.intents(k))


def _tier_events(data: MarketData, last_ts: int) -> list[EventRow]:
    """The universe's changes as run events: kind ``tier_change``, the rule naming what happened (those up to the
    run's last bar close: a paper run stopped early has not reached the later ones)."""
    if data.universe is None:
        return []
    symbol_of = {asset_of(s): s for s in data.grid.symbols}
    end = last_ts + timeframe_ms(data.grid.timeframe)
    return [(int(e.ts), "tier_change", symbol_of.get(e.asset, e.asset), str(e.kind),
             f"{e.message}: {'; '.join(e.evidence)}" if e.evidence else e.message, float("nan"), float("nan"))
            for e in data.universe.events() if int(e.ts) <= end]


def write_run(request: BacktestRequest, prepared: PreparedRun, kernel: Kernel, seconds: float, *,
              mode: str = "backtest", data: MarketData | None = None,
              extra: Mapping[str, object] | None = None) -> RunFolder:
    """The run folder of a finished run: trades, equity, events, correlation, prices, policy, metrics, report.

    ``mode`` (backtest or paper) is recorded in the metrics' ``run`` object; ``data`` is the market the run
    went through (a paper run stopped early: its bars up to the stop; default the prepared market); ``extra``
    adds top-level metrics (a paper run's pace and latency)."""
    if data is None and prepared.feed is not None:
        summary = prepared.feed.summary
        data = replace(prepared.data, feed_gaps=summary.feed_gaps())
    else:
        data = prepared.data if data is None else data
        summary = MarketSummary.of_grid(data.grid)
    if summary.first_ts is None or summary.last_ts is None:
        raise ValueError("the run went through no bars: there is nothing to write")
    rec = kernel.rec
    standings = prepared.standings
    now_ms = int(time.time() * 1000)
    request.runs_dir.mkdir(parents=True, exist_ok=True)
    name = request.strategy.name if mode == "backtest" else f"{mode}-{request.strategy.name}"
    run_id = new_run_id(name, now_ms, request.runs_dir)
    run = RunFolder(request.runs_dir / run_id)
    run.path.mkdir(parents=True, exist_ok=False)
    tier_events = _tier_events(data, summary.last_ts)
    rec.events.extend(tier_events)
    rec.events.sort(key=lambda row: row[0])  # stable: the kernel's own order within a time is kept
    trades, equity, events = rec.trades_frame(), rec.equity_frame(), rec.events_frame()
    run.write_trades(trades)
    run.write_equity(equity)
    run.write_events(events)
    alerts = run_alerts(inputs_of_run(data, prepared.decisions, equity, events,
                                      summary.last_ts + timeframe_ms(data.grid.timeframe)),
                        RuleSettings.of_policy(request.policy))
    run.write_alerts(alerts_frame(alerts))
    run.write_correlation(list(data.grid.symbols), kernel.corr)
    run.write_prices(summary.prices())
    run.write_policy(policy_to_yaml(request.policy))
    metrics = compute_metrics(
        equity["ts"].to_numpy(dtype=np.int64), equity["equity"].to_numpy(dtype=float),
        equity["total_exposure"].to_numpy(dtype=float), trades,
        refusals_by_rule=dict(rec.refusals), kill_switch_trips=rec.kill_switch_trips,
    )
    grid = data.grid
    metrics["orders"] = rec.orders
    metrics["fills"] = rec.fills
    metrics["refused_intents"] = rec.refused_intents
    metrics["alerts"] = alert_counts(alerts)
    metrics["data_notes"] = data_notes(data, request.timeframe, slippage=kernel.settings.slippage, summary=summary)
    if rec.fill_limits is not None:
        metrics["limits_at_fill"] = rec.fill_limits.summary()
    if rec.limit_entries:
        metrics["limit_entries"] = {k: rec.limit_entries[k] for k in
                                    ("placed", "filled", "expired", "cancelled", "rejected", "refused_at_fill")}
    metrics["run"] = {
        "run_id": run_id, "strategy": request.strategy.name, "symbols": list(grid.symbols),
        "start": format_time(summary.first_ts), "end": format_time(summary.last_ts), "bars": summary.rows,
        "policy_name": request.policy_name, "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(seconds, 3), "mode": mode,
        "assets": {s: {"first_bar": format_time(first), "last_bar": format_time(last), "bars": count}
                   for s, (first, last, count) in summary.spans().items()},
        "phase": kernel.settings.phase, "phase_source": request.phase_source,
    }
    metrics["universe"] = {
        "start": [{"asset": s.asset, "tradable": s.tradable, "why": s.why} for s in standings],
        "rescreen_every": request.policy.universe.rescreen_every if data.universe is not None else None,
        "tier_changes": len(tier_events),
        "intents_outside_universe": dict(sorted(rec.outside_universe.items())),
    }
    metrics.update(extra or {})
    run.write_metrics(metrics)
    if request.report:
        render_report(RunFolder(run.path))
    return run


def default_settings(policy: Policy, *, phase: int, plain: bool, equity: float = 100_000.0,
                     slippage: bool = True) -> KernelSettings:
    return KernelSettings(policy=policy.as_fixed_fraction() if plain else policy,
                          initial_equity=Decimal(repr(equity)), phase=phase,
                          slippage=slippage)
