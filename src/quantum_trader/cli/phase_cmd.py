"""``quantum-trader phase status|show|promote|demote`` and ``quantum-trader killswitch status|reset|drill``.

Register in ``cli/main.py`` with ``app.add_typer(phase_cmd.phase_app, name="phase")`` and
``app.add_typer(phase_cmd.killswitch_app, name="killswitch")``.

The phase lives in the journal (SQLite file by default, PostgreSQL by URL). ``status`` shows the
next gate's progress (``analytics.gates_progress``); ``promote`` evaluates the gate out of the
current phase on the journal's operation (``--run`` only shows a backtest beside it) and is
refused (exit 1) while a required criterion fails or lacks evidence, unless ``--force --reason``
is given, which is recorded as forced. ``demote`` always works. A running paper or live session
on the same journal takes a promotion or demotion at its next decision (``engine.phase_follow``).

The kill switch's state is in the journal too (saved by the engine after every trip, re-arm or
reset): ``killswitch status`` shows it with the distance to both triggers from the last equity
the journal holds; ``killswitch reset`` is refused (exit 1) while the condition that tripped it
still holds, unless ``--force``, and every reset is recorded with who and why.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from quantum_trader.cli.console import console
from quantum_trader.cli.errors import fail
from quantum_trader.cli.gates_cmd import (
    journal_errors,
    journal_target,
    journal_verdict,
    load_policy_or_exit,
    open_journal,
    print_verdict,
    read_journal,
    with_support,
)
from quantum_trader.cli.options import catalog_root, symbol_option

if TYPE_CHECKING:
    from quantum_trader.config import Policy
    from quantum_trader.journal.records import EquitySnapshot, KillSwitchChange, KillSwitchRecord
    from quantum_trader.journal.store import Journal
    from quantum_trader.journal.trading import TradingJournal

phase_app = typer.Typer(help="The expansion phase: show it, promote through a gate, demote.", no_args_is_help=True)
killswitch_app = typer.Typer(help="The kill switch: status, reset (refused while its condition holds), paper drills.",
                             no_args_is_help=True)

JournalOpt = Annotated[str | None, typer.Option(
    "--journal", help="Journal SQLite file or database URL (default $QT_JOURNAL, else journal/<account>.sqlite "
                      "with the account $QT_ACCOUNT or 'default').")]
PolicyOpt = Annotated[Path | None, typer.Option("--policy", help="Policy YAML merged over the defaults.")]
OperatorOpt = Annotated[str, typer.Option("--operator", help="Who did it (default $USER).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Policy setting KEY=VALUE (repeatable).")]


def _journal(journal: str | None) -> Journal:
    """The journal, opened without creating anything: only a recorded change creates the file."""
    return open_journal(journal_target(journal))


def _now() -> int:
    return int(time.time() * 1000)


def _operator(value: str) -> str:
    return value or os.environ.get("USER", "")


@phase_app.command("show")
def show(journal: JournalOpt = None, policy_file: PolicyOpt = None) -> None:
    """The current phase, the assets it admits, and every recorded change and drill.

    Example: quantum-trader phase show --journal journal/default.sqlite
    """
    from rich.table import Table

    policy = load_policy_or_exit(policy_file)
    store = _journal(journal)
    current = read_journal(lambda: store.current_phase(policy.expansion.start_phase))
    p = policy.expansion.phases[current]
    extra = " + selected tier 3 on identified edge" if p.tier_3_selective else ""
    console.print(f"phase {current} ({p.name}): {', '.join(p.assets)}{extra}  [dim]{store.url}[/]", highlight=False)
    table = Table(title="Phase history")
    for col in ("time", "kind", "from", "to", "forced", "operator", "reason"):
        table.add_column(col, overflow="fold")
    for c in read_journal(store.phase_history):
        table.add_row(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(c.ts / 1000)), c.kind.value,
                      "-" if c.from_phase is None else str(c.from_phase), str(c.to_phase),
                      "FORCED" if c.forced else "", c.operator, c.reason)
    console.print(table)


@phase_app.command("status")
def status(
    journal: JournalOpt = None,
    policy_file: PolicyOpt = None,
    set_: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the progress as JSON (what /api/gates serves).")
                       ] = False,
) -> None:
    """The current phase, the assets it admits, the next gate with progress on each criterion, what blocks it
    and the earliest date it could open.

    Example: quantum-trader phase status --journal journal/default.sqlite
    """
    import sys

    from quantum_trader.analytics.gates_progress import gate_progress
    from quantum_trader.cli.bar_timeframes import policy_with_sets

    policy = policy_with_sets(policy_file, set_ or [])
    store = _journal(journal)
    progress = read_journal(lambda: gate_progress(store.db, policy, account=store.account))
    if as_json:
        sys.stdout.write(json.dumps(progress.to_dict(), indent=2, default=str) + "\n")
        return
    console.print(f"phase {progress.phase} ({progress.phase_name}): admits {', '.join(progress.admitted)}  "
                  f"[dim]{store.url}[/]", highlight=False)
    if progress.verdict is None:
        console.print("phase 3: no further gate", highlight=False)
        return
    v = progress.verdict
    console.print(f"next gate {v.gate} ({v.from_phase} -> {v.to_phase}):", highlight=False)
    for c in v.criteria:
        mark = {"pass": "[green]pass[/]", "fail": "[bold red]fail[/]"}.get(c.status.value, "[yellow]no evidence[/]")
        console.print(f"  {c.name} [{c.level.value}, accepts {c.accepts}]: {mark} - {c.detail}", highlight=False)
    if v.promotion_allowed:
        console.print("[green]the gate is open: quantum-trader phase promote[/]", highlight=False)
    else:
        console.print(f"[bold red]blocked by: {', '.join(c.name for c in v.blocking)}[/]", highlight=False)
    if progress.earliest_open is not None:
        from quantum_trader.domain.time import format_time

        console.print(f"earliest it could open: {format_time(progress.earliest_open)[:10]} "
                      "(if every month from now on is profitable)", highlight=False)


@phase_app.command("promote")
def promote_cmd(
    run: Annotated[str | None, typer.Option(
        "--run", help="A backtest run folder shown beside each criterion as supporting (never decides).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote although a required criterion fails.")] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why; required with --force.")] = "",
    operator: OperatorOpt = "",
    journal: JournalOpt = None,
    policy_file: PolicyOpt = None,
    set_: SetOpt = None,
) -> None:
    """Move up one phase if the gate out of the current phase, judged on the journal's operation, allows it.
    A running paper or live session on this journal takes the new phase at its next decision.

    Example: quantum-trader phase promote --journal journal/default.sqlite
    """
    from quantum_trader.analytics.gates_phase import PhaseError, promote
    from quantum_trader.cli.bar_timeframes import policy_with_sets

    policy = policy_with_sets(policy_file, set_ or [])
    store = _journal(journal)
    current = read_journal(lambda: store.current_phase(policy.expansion.start_phase))
    if current >= 3:
        raise fail("already in phase 3: there is no phase to promote to")
    verdict = with_support(journal_verdict(journal_target(journal), current, policy), run, store, policy)
    print_verdict(verdict)
    try:
        with journal_errors():
            change = promote(store, current, verdict, ts=_now(), reason=reason, force=force,
                             operator=_operator(operator))
    except PhaseError as exc:
        raise fail(f"refused: {exc}", code=1) from None
    tag = " [bold red](FORCED)[/]" if change.forced else ""
    console.print(f"phase {change.from_phase} -> {change.to_phase} recorded{tag}", highlight=False)


@phase_app.command("demote")
def demote_cmd(
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")],
    to: Annotated[int | None, typer.Option("--to", min=0, max=2, help="Target phase (default: one down).")] = None,
    operator: OperatorOpt = "",
    journal: JournalOpt = None,
    policy_file: PolicyOpt = None,
) -> None:
    """Move down (always allowed): the universe shrinks at once.

    Example: quantum-trader phase demote --reason "ETH edge gone" --journal journal/default.sqlite
    """
    from quantum_trader.analytics.gates_phase import PhaseError, demote

    policy = load_policy_or_exit(policy_file)
    if not reason.strip():
        raise fail("--reason: a demotion needs a reason, recorded with it")
    store = _journal(journal)
    current = read_journal(lambda: store.current_phase(policy.expansion.start_phase))
    try:
        with journal_errors():
            change = demote(store, current, ts=_now(), reason=reason, to_phase=to, operator=_operator(operator))
    except PhaseError as exc:
        raise fail(str(exc)) from None
    console.print(f"phase {change.from_phase} -> {change.to_phase} recorded", highlight=False)


def _given_prices(given: list[str]) -> dict[str, float]:
    """``--price BTC=60000`` (any symbol form) as a positive price per unified symbol."""
    prices: dict[str, float] = {}
    for item in given:
        asset, sep, value = item.partition("=")
        try:
            price = float(value)
        except ValueError:
            price = math.nan
        if not sep or not math.isfinite(price) or price <= 0:
            raise fail(f"--price {item!r}: expected ASSET=PRICE with a positive price, e.g. BTC=60000")
        prices[symbol_option("--price", asset)] = price
    return prices


def _prices(assets: tuple[str, ...], given: list[str], catalog: Path | None) -> dict[str, float]:
    """``--price BTC=60000`` values, else the last close of each asset in the catalog."""
    from quantum_trader.data.catalog import Catalog, CatalogError, default_catalog_root
    from quantum_trader.domain.kinds import DataKind
    from quantum_trader.domain.symbols import perp_symbol

    prices = _given_prices(given)
    cat = Catalog(catalog if catalog is not None else default_catalog_root())
    for asset in assets:
        symbol = perp_symbol(asset)
        if symbol in prices:
            continue
        infos = [i for i in cat.datasets() if i.symbol == symbol and i.kind is DataKind.CANDLES and i.timeframe]
        if not infos:
            raise fail(f"no price for {asset}: pass --price {asset}=<price> or a --catalog holding its candles")
        info = infos[0]
        try:
            bars = cat.read_bars(symbol, info.timeframe or "", exchange=info.exchange, start_ms=info.last_ts)
        except CatalogError as exc:
            raise fail(str(exc)) from None
        prices[symbol] = float(bars.close[-1])
    return prices


@killswitch_app.command("drill")
def drill(
    price: Annotated[list[str] | None, typer.Option("--price", help="ASSET=PRICE (repeatable).")] = None,
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog for last closes.")] = None,
    operator: OperatorOpt = "",
    journal: JournalOpt = None,
    policy_file: PolicyOpt = None,
) -> None:
    """Paper drill: open a position on every asset of the current phase, trip the kill switch deliberately,
    verify every position closed, and record the drill in the journal as gate evidence.

    Example: quantum-trader killswitch drill --price BTC=60000 --journal journal/default.sqlite
    """
    from quantum_trader.analytics.gates_drill import DrillError, run_drill

    policy = load_policy_or_exit(policy_file)
    _given_prices(price or [])
    if catalog is not None:
        catalog_root(catalog)
    store = _journal(journal)
    current = read_journal(lambda: store.current_phase(policy.expansion.start_phase))
    prices = _prices(policy.phase_assets(current), price or [], catalog)
    try:
        record = run_drill(policy, prices, ts=_now(), phase=current, operator=_operator(operator))
    except DrillError as exc:
        raise fail(str(exc)) from None
    with journal_errors():
        saved = store.record_drill(record)
    details = json.loads(saved.details)
    console.print(f"trip: {saved.trip_reason}", highlight=False)
    console.print(f"actions: {', '.join(details['actions'])}", highlight=False)
    verdict = "[green]passed[/]" if saved.passed else "[bold red]FAILED[/]"
    console.print(f"drill #{saved.id} (paper) {verdict}: {saved.positions_before} positions open, "
                  f"{saved.positions_after} left; recorded in {store.url}", highlight=False)
    if not saved.passed:
        raise typer.Exit(code=1)


@killswitch_app.command("status")
def status_cmd(journal: JournalOpt = None, policy_file: PolicyOpt = None, set_: SetOpt = None) -> None:
    """The kill switch as the journal holds it: state, trip reason and time, peak and day-start equity, and the
    distance to both triggers from the last equity snapshot, against the policy's limits (give the session's
    --policy and --set to measure against the limits it ran with).

    Example: quantum-trader killswitch status --journal journal/default.sqlite
    """
    from quantum_trader.cli.bar_timeframes import policy_with_sets

    policy = policy_with_sets(policy_file, set_ or [])
    store = _journal(journal)
    trading = _trading(store)
    record = read_journal(trading.load_killswitch)
    equity = read_journal(trading.latest_equity)
    _print_status(store.url, record, equity, policy, read_journal(trading.killswitch_history))


@killswitch_app.command("reset")
def reset_cmd(
    reason: Annotated[str, typer.Option("--reason", help="Why (required), recorded with the reset.")],
    force: Annotated[bool, typer.Option("--force", help="Reset although the condition that tripped it holds.")
                     ] = False,
    operator: OperatorOpt = "",
    journal: JournalOpt = None,
    policy_file: PolicyOpt = None,
    set_: SetOpt = None,
) -> None:
    """Re-arm a tripped kill switch: refused (exit 1) while the drawdown from peak, or the day's loss on the same
    UTC day, is still beyond its limit, unless --force; recorded with the operator and the reason. The limits are
    the policy's: give the session's --policy and --set, so a tighter limit it ran with is the one checked.

    Example: quantum-trader killswitch reset --reason "reviewed: stops widened" --journal journal/default.sqlite
    """
    from quantum_trader.cli.bar_timeframes import policy_with_sets
    from quantum_trader.journal.killswitch_ops import reset, reset_refusal

    policy = policy_with_sets(policy_file, set_ or [])
    if not reason.strip():
        raise fail("--reason: a reset needs a reason, recorded with it")
    store = _journal(journal)
    trading = _trading(store)
    record = read_journal(trading.load_killswitch)
    if record is None or not record.tripped:
        raise fail(f"refused: the kill switch is not tripped in journal {store.url} (armed): nothing to reset",
                   code=1)
    equity = read_journal(trading.latest_equity)
    now = _now()
    refusal = reset_refusal(record, equity, drawdown_limit=policy.portfolio.max_drawdown_portfolio,
                            daily_limit=policy.portfolio.max_daily_loss_portfolio, now=now)
    if refusal is not None and not force:
        raise fail(f"refused: {refusal}", code=1)
    new, change, notes = reset(record, equity, now=now, reason=reason, operator=_operator(operator),
                               forced=refusal is not None)
    with journal_errors():
        trading.save_killswitch(new, change)
    for note in notes:
        console.print(note, highlight=False)
    tag = " [bold red](FORCED)[/]" if change.forced else ""
    who = f" by {change.operator}" if change.operator else ""
    console.print(f"kill switch reset{tag}{who}: armed; recorded in {store.url}", highlight=False)


def _print_status(url: str, record: KillSwitchRecord | None, equity: EquitySnapshot | None, policy: Policy,
                  history: list[KillSwitchChange]) -> None:
    from quantum_trader.domain.time import format_time
    from quantum_trader.journal.killswitch_ops import daily_trigger, drawdown_trigger, what_tripped

    if record is None:
        console.print(f"kill switch: armed (no state saved in journal {url}: no session has run)", highlight=False)
        return
    state = record.state
    if state.tripped:
        since = min(t for t in (state.daily_trip_ts, state.drawdown_trip_ts) if t is not None)
        console.print(f"kill switch: [bold red]TRIPPED[/] ({what_tripped(record)}) since {format_time(since)} UTC",
                      highlight=False)
        console.print(f"  reason: {record.trip_reason or '-'}", highlight=False)
    else:
        console.print("kill switch: [green]armed[/]", highlight=False)
    console.print(f"  peak equity {record.peak_equity:,.2f}; day-start equity {record.day_start_equity:,.2f} "
                  f"({format_time(record.equity_day)[:10]} UTC); saved {format_time(record.ts)} UTC  [dim]{url}[/]",
                  highlight=False)
    if state.locks:
        locks = ", ".join(f"{asset} until {format_time(until)}" for asset, until in state.locks)
        console.print(f"  locked: {locks}", highlight=False)
    if equity is None:
        console.print("  no equity snapshot recorded: distances to the triggers unknown", highlight=False)
    else:
        pf = policy.portfolio
        console.print(f"  last equity {equity.equity:,.2f} at {format_time(equity.ts)} UTC", highlight=False)
        console.print(f"  {drawdown_trigger(record, equity.equity, pf.max_drawdown_portfolio).describe(equity.equity)}",
                      highlight=False)
        daily = daily_trigger(record, equity, pf.max_daily_loss_portfolio)
        console.print(f"  {daily.describe(equity.equity)}", highlight=False)
    for change in history[-5:]:
        who = f" by {change.operator}" if change.operator else ""
        console.print(f"  {format_time(change.ts)} {change.kind.value}{who}: {change.reason}", highlight=False)


def _trading(store: Journal) -> TradingJournal:
    """The trading records of the same journal and account (one connection pool)."""
    from quantum_trader.journal.trading import TradingJournal

    with journal_errors():
        return TradingJournal(store.db, account=store.account, session="cli")
