"""``quantum-trader demo``: the main job on embedded defaults, runnable on any machine.

Synthetic market -> local catalog -> full multi-asset backtest under the whole policy ->
report. Later stages (gates, stress) join this pipeline as they land, so ``make demo``
always shows the whole product as it stands.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from quantum_trader.cli.backtest_cmd import print_headline
from quantum_trader.cli.console import console
from quantum_trader.cli.gates_cmd import print_verdict
from quantum_trader.cli.options import load_policy_or_exit, output_dir
from quantum_trader.cli.screen_cmd import gather, stored_markets
from quantum_trader.cli.synth_cmd import MAX_DAYS, generate_into, print_summary
from quantum_trader.domain.symbols import asset_of, perp_symbol

if TYPE_CHECKING:
    from quantum_trader.analytics.backtest import BacktestRequest
    from quantum_trader.config import Policy

DEFAULT_OUT = Path(os.environ.get("QT_DEMO_DIR", "demo-output"))


DEMO_PHASE = 3
"""The demo shows the whole multi-asset machinery: the last phase, whatever a local journal says."""


DaysOpt = Annotated[int, typer.Option(min=1, max=MAX_DAYS, help="Days of synthetic 1m history to generate.")]
SeedOpt = Annotated[int, typer.Option(min=0, help="Seed of the synthetic market (same seed, same market).")]
OutOpt = Annotated[Path, typer.Option(help="Folder for the demo's catalog and outputs (env QT_DEMO_DIR).")]
DEMO_DAYS, DEMO_SEED = 90, 7


def demo(days: DaysOpt = DEMO_DAYS, seed: SeedOpt = DEMO_SEED, out: OutOpt = DEFAULT_OUT) -> None:
    """Run the main job on embedded defaults: synthetic market, full multi-asset backtest, report.

    Example: quantum-trader demo --days 30 --seed 7
    """
    from quantum_trader.analytics.backtest import run_backtest
    from quantum_trader.analytics.gates import evaluate_gate
    from quantum_trader.analytics.gates_evidence import Evidence
    from quantum_trader.cli.progress import stage_progress

    output_dir("--out", out)
    policy = load_policy_or_exit(None)
    started = time.perf_counter()
    request = demo_request(days, seed, out, policy)
    with stage_progress("backtest") as update:
        result = run_backtest(request, progress=update, lines=update.say)
    print_headline(result)
    console.print("\n[bold]Expansion gate[/] (what the backtest supports: a gate opens on paper or live operation "
                  "only, judged from the journal by quantum-trader gates --journal)")
    print_verdict(evaluate_gate(0, Evidence.from_run(result.run.path), policy))
    console.print(f"demo finished in {time.perf_counter() - started:.1f} s")


def demo_request(days: int, seed: int, out: Path, policy: Policy) -> BacktestRequest:
    """Generate the demo's synthetic market into ``out/catalog``, say what it is (summary, policy, screening,
    phase) and return the run over it: every asset, the multi-asset strategy, phase 3, runs in ``out/runs``.
    ``paper`` without ``--replay`` replays the same run bar by bar."""
    from quantum_trader.analytics.backtest import BacktestRequest, default_settings
    from quantum_trader.data.synthetic import SynthConfig
    from quantum_trader.engine.strategies import MultiAssetStrategy

    catalog = out / "catalog"
    market = generate_into(SynthConfig(days=days, seed=seed), catalog)
    print_summary(market)
    pf = policy.portfolio
    console.print(
        f"policy: {pf.max_positions} positions, total exposure <= {pf.max_total_exposure:.0%}, correlated <= "
        f"{pf.max_correlated_exposure:.0%}, kill switch at -{pf.max_daily_loss_portfolio:.0%} day / "
        f"-{pf.max_drawdown_portfolio:.0%} drawdown"
    )
    _print_screening(catalog, tuple(asset_of(s) for s in market.bars), policy)
    phase = policy.expansion.phases[DEMO_PHASE]
    console.print(f"phase {DEMO_PHASE} ({phase.name}), the demo's own (a backtest reads the journal's): admits "
                  f"{', '.join(phase.assets)}{' and tier 3 on identified edge' if phase.tier_3_selective else ''}; "
                  f"assets are screened again every {policy.universe.rescreen_every}", highlight=False)
    return BacktestRequest(
        catalog=catalog, symbols=tuple(market.bars), policy=policy, policy_name="default",
        strategy=MultiAssetStrategy(), exchange="synthetic", runs_dir=out / "runs", phase_source="the demo's",
        settings=default_settings(policy, phase=DEMO_PHASE, plain=False),
    )


def _print_screening(catalog: Path, assets: tuple[str, ...], policy: Policy) -> None:
    """One line: which assets pass the spec's inclusion criteria on the generated market."""
    from quantum_trader.data.catalog import Catalog
    from quantum_trader.universe.screening import Status, screen_asset

    cat = Catalog(catalog)
    markets, source = stored_markets(catalog, None)
    btc = cat.read_bars(perp_symbol(policy.signals.model.baseline_asset), "1m")
    screens = [screen_asset(gather(cat, a, policy, exchange=None, markets=markets, markets_source=source,
                                   btc=btc), policy) for a in assets]
    passed = [s.asset for s in screens if s.status is Status.PASS]
    failed = {s.asset: [c.criterion for c in s.criteria if c.status is not Status.PASS] for s in screens
              if s.status is not Status.PASS}
    why = "; ".join(f"{a}: {', '.join(c)}" for a, c in failed.items())
    console.print(f"screening: {len(passed)} of {len(screens)} pass ({', '.join(passed)})"
                  + (f"; not passing: {why}" if why else ""), highlight=False)
