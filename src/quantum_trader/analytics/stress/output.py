"""A stress run's folder, ``runs/<time>-stress/`` (or ``-monte-carlo``): plain files any tool can open.

- ``scenarios.parquet`` / ``draws.parquet``: one row per scenario or per Monte Carlo run;
- ``equity.parquet``: the scenarios' equity paths (column ``scenario``; ``unstressed`` is the run without a shock);
- ``summary.json``: what was run on what, and the verdicts;
- ``policy.yaml``: the policy in force; ``report.html``: the offline report.

Every file is written to a hidden temp file and moved into place, as the run folder does, so an
interrupted run never leaves half a file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from quantum_trader.analytics.run_folder import atomic_write, new_run_id
from quantum_trader.analytics.stress.montecarlo import DrawResult, MonteCarloConfig
from quantum_trader.analytics.stress.report import build_stress_html
from quantum_trader.analytics.stress.report_mc import build_mc_html
from quantum_trader.analytics.stress.rows import data_row
from quantum_trader.analytics.stress.runner import StressOutcome
from quantum_trader.analytics.stress.summary import BreachRate, draws_frame, own_rate
from quantum_trader.config import Policy, policy_to_yaml
from quantum_trader.domain.time import format_time

REPORT_FILE = "report.html"


def write_parquet(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    return atomic_write(folder / name, lambda tmp: frame.to_parquet(tmp, index=False))


def write_text(folder: Path, name: str, text: str) -> Path:
    return atomic_write(folder / name, lambda tmp: tmp.write_text(text, "utf-8"))


def write_json(folder: Path, name: str, data: Mapping[str, Any]) -> Path:
    return write_text(folder, name, json.dumps(data, indent=2, default=str) + "\n")


def new_folder(runs_dir: Path, kind: str) -> Path:
    runs_dir.mkdir(parents=True, exist_ok=True)
    folder = runs_dir / new_run_id(kind, int(time.time() * 1000), runs_dir)
    folder.mkdir(parents=False, exist_ok=False)
    return folder


def _paths(outcome: StressOutcome) -> pd.DataFrame:
    frames = [outcome.baseline.equity.assign(scenario="unstressed")]
    frames += [r.equity.assign(scenario=r.name) for r in outcome.results]
    return pd.concat(frames, ignore_index=True)[["scenario", "ts", "equity", "drawdown", "total_exposure",
                                                 "open_positions"]]


def write_stress(runs_dir: Path, outcome: StressOutcome, policy: Policy, *, policy_name: str, phase: int) -> Path:
    """The scenarios' folder; returns it."""
    folder = new_folder(runs_dir, "stress")
    write_parquet(folder, "scenarios.parquet", pd.DataFrame([data_row(r) for r in outcome.results]))
    write_parquet(folder, "equity.parquet", _paths(outcome))
    write_text(folder, "policy.yaml", policy_to_yaml(policy))
    market = outcome.market
    write_json(folder, "summary.json", {
        "kind": "stress", "market": market.source, "symbols": list(market.symbols),
        "start": format_time(market.start_ms), "end": format_time(market.end_ms), "policy_name": policy_name,
        "phase": phase, "in_market": outcome.in_market, "not_run": list(outcome.not_run),
        "scenarios": {r.name: {"passed": r.passed, "why": list(r.why)} for r in outcome.results},
        "broken": [r.name for r in outcome.broken],
    })
    write_text(folder, REPORT_FILE, build_stress_html(outcome, policy_name=policy_name, phase=phase,
                                                      run_id=folder.name))
    return folder


def write_monte_carlo(runs_dir: Path, results: list[DrawResult], rates: list[BreachRate], config: MonteCarloConfig,
                      policy: Policy, *, market_source: str, policy_name: str) -> Path:
    """The Monte Carlo folder; returns it."""
    folder = new_folder(runs_dir, "monte-carlo")
    write_parquet(folder, "draws.parquet", draws_frame(results))
    write_text(folder, "policy.yaml", policy_to_yaml(policy))
    broke, low, high = own_rate(results)
    write_json(folder, "summary.json", {
        "kind": "monte-carlo", "market": market_source, "policy_name": policy_name, "runs": config.runs,
        "seed": config.seed, "families": list(config.families), "severity": list(config.severity),
        "correlation": list(config.correlation), "block_days": config.block_days, "bootstrap": config.bootstrap,
        "phase": config.phase,
        "breach_probability": {r.bound.label: {"breaches": r.breaches, "runs": r.runs, "probability": r.rate,
                                               "wilson_95": [r.low, r.high]} for r in rates},
        "own_bounds_broken": {"draws": broke, "wilson_95": [low, high]},
    })
    write_text(folder, REPORT_FILE, build_mc_html(results, rates, config, market_source=market_source,
                                                  policy_name=policy_name, run_id=folder.name))
    return folder
