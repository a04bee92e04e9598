"""`make demo` runs this: the whole pipeline on embedded defaults must keep working."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from quantum_trader.cli.main import app


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One demo run shared by the tests: (its run folder, what the command printed)."""
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--days", "40", "--seed", "5", "--out", str(out)],
                                env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    runs = list((out / "runs").iterdir())
    assert len(runs) == 1
    assert (out / "catalog" / "exchange=synthetic" / "markets.json").is_file()
    return runs[0], result.output


def test_demo_runs_market_backtest_report_and_gate(demo: tuple[Path, str]) -> None:
    run, output = demo
    for name in ("trades.parquet", "equity.parquet", "events.parquet", "metrics.json", "policy.yaml",
                 "prices.parquet", "report.html"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["run"]["bars"] == 40 * 1440
    assert metrics["trades"] > 0
    assert "screening:" in output and "gate phase_0_to_1" in output
    assert "a backtest cannot open a gate" in output  # issue 17: a backtest only shows what it supports


def _headline(output: str, label: str) -> str:
    match = re.search(rf"│ {re.escape(label)}\s+│\s+([-+0-9.,%]+) │", output)
    assert match, f"no {label!r} line in the headline:\n{output}"
    return match.group(1)


def test_headline_report_and_metrics_give_one_refusal_count(demo: tuple[Path, str]) -> None:
    """Each refused intent is counted once, and the same number is printed, stored and reported."""
    run, output = demo
    metrics = json.loads((run / "metrics.json").read_text())
    refused = metrics["refused_intents"]
    assert refused > 0
    # rules add up to more: an intent counts under every rule that refused it
    assert sum(metrics["refusals_by_rule"].values()) >= refused
    assert _headline(output, "refused intents") == f"{refused:,}"
    html = (run / "report.html").read_text("utf-8")
    assert f"{refused:,} intents refused" in html
    reported = {int(n.replace(",", "")) for n in re.findall(r"([0-9,]+) intents refused", html)}
    assert reported == {refused}


def test_funding_is_a_cost_everywhere(demo: tuple[Path, str]) -> None:
    """Positive funding = paid by us: the headline, metrics.json, trades.parquet and the report agree."""
    run, output = demo
    metrics = json.loads((run / "metrics.json").read_text())
    trades = pd.read_parquet(run / "trades.parquet")
    paid = float(trades["funding_paid"].sum())
    assert paid != 0.0
    assert metrics["funding_paid"] == pytest.approx(paid)
    assert _headline(output, "funding paid") == f"{paid:,.2f}"
    # pnl is net of both costs: a trade's gross P&L minus fees minus funding paid
    gross = (trades["exit_price"] - trades["entry_price"]) * trades["quantity"] \
        * trades["side"].map({"long": 1.0, "short": -1.0})
    assert (trades["pnl"] - (gross - trades["fees"] - trades["funding_paid"])).abs().max() < 0.02
    html = (run / "report.html").read_text("utf-8")
    assert "Funding received" not in html
    assert f'<div class="label">Funding paid</div><div class="value neg">{paid:,.2f}<' in html \
        or f'<div class="label">Funding paid</div><div class="value pos">{paid:,.2f}<' in html
