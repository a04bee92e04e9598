"""`quantum-trader screen` on a catalog of real files: table, --json, --csv, unknown for missing data."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from quantum_trader.cli import screen_cmd
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.ingest import ingest_file

runner = CliRunner()
app = typer.Typer()
app.command("screen")(screen_cmd.screen)  # the line cli/main.py registers
app.command("noop")(lambda: None)  # two commands keep "screen" a sub-command, as in the real app


@pytest.fixture
def catalog(tmp_path: Path, shared_data: Path) -> Path:
    root = tmp_path / "catalog"
    cat = Catalog(root)
    ingest_file(cat, shared_data / "orderbook/bybit_xrpusdt-ob500.data.zip")
    ingest_file(cat, shared_data / "futures/XRP_USDT_USDT-8h-funding_rate.feather")
    ingest_file(cat, shared_data / "futures/XRP_USDT_USDT-5m-futures.feather")
    return root


def test_json_reports_every_criterion_with_unknown_for_missing_data(catalog: Path, shared_data: Path) -> None:
    result = runner.invoke(app, ["screen", "XRP", "--catalog", str(catalog), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["criterion"]: r for r in json.loads(result.output)}
    assert rows["funding_typical_8h"]["status"] == "pass"
    assert rows["funding_typical_8h"]["value"] == pytest.approx(0.0001)
    # 50 levels of XRP reach 0.25% from mid: a lower bound of ~$1.9M, below $5M, so unknown
    assert rows["depth_1pct"]["status"] == "unknown" and rows["depth_1pct"]["value"] > 1_000_000
    assert rows["spread"]["status"] == "pass"
    # no markets.json, 7 days of candles for a 30d/90d window, no BTC candles
    for name in ("perpetual_listed", "data_feed_gaps", "btc_correlation_90d"):
        assert rows[name]["status"] == "unknown", name
    # the median of the file's 24h windows (288 five-minute candles each, counted back from the last) is above
    # $500M, though its last 24h alone (about $401M) was below: a typical day decides, not the last one
    frame = pd.read_feather(shared_data / "futures/XRP_USDT_USDT-5m-futures.feather")
    usd = (frame["close"] * frame["volume"]).to_numpy()[::-1]
    days = [float(usd[i * 288:(i + 1) * 288].sum()) for i in range(len(usd) // 288)]
    assert rows["volume_24h"]["value"] == pytest.approx(float(np.median(days)))
    assert days[0] < 500e6 and rows["volume_24h"]["status"] == "pass"
    assert {r["asset_status"] for r in rows.values()} == {"unknown"}  # nothing failed; unknowns remain


def test_markets_file_decides_the_listing(catalog: Path) -> None:
    (catalog / "markets.json").write_text(json.dumps(
        {"XRP/USDT:USDT": {"symbol": "XRP/USDT:USDT", "type": "swap", "swap": True, "active": True}}))
    result = runner.invoke(app, ["screen", "XRP", "--catalog", str(catalog), "--json"])
    row = next(r for r in json.loads(result.output) if r["criterion"] == "perpetual_listed")
    assert row["status"] == "pass" and row["evidence"].endswith("markets.json")
    (catalog / "markets.json").write_text("[1, 2]")
    bad = runner.invoke(app, ["screen", "XRP", "--catalog", str(catalog)], env={"COLUMNS": "250"})
    assert bad.exit_code == 2 and "markets.json" in bad.output


def test_csv_has_a_header_and_one_row_per_criterion(catalog: Path) -> None:
    result = runner.invoke(app, ["screen", "XRP", "BTC", "--catalog", str(catalog), "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 16 and rows[0]["asset"] == "XRP"
    btc = [r for r in rows if r["asset"] == "BTC"]
    assert {r["status"] for r in btc} <= {"unknown", "n/a"}  # nothing of BTC in this catalog: never a pass


def test_table_shows_figures_thresholds_and_the_tier_outcome(catalog: Path) -> None:
    result = runner.invoke(app, ["screen", "XRP", "--catalog", str(catalog)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "funding_typical_8h" in result.output and "< 0.1000%" in result.output
    assert "unknown" in result.output and "Tiers" in result.output
    assert "asset_unverified XRP removed from tier 2 until verified" in result.output


def test_missing_catalog_is_one_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["screen", "--catalog", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_tier3_admission_reads_the_signals_edge(tmp_path: Path) -> None:
    """Tier 3 is admitted only on identified edge: the screen runs the signals to measure it."""
    from quantum_trader.data.synthetic import SynthConfig, generate_market
    from quantum_trader.data.synthetic.writer import write_market

    write_market(generate_market(SynthConfig(days=95, seed=2, assets=("BTC", "AVAX"))), Catalog(tmp_path / "c"))
    policy = tmp_path / "p.yaml"
    policy.write_text("asset_requirements:\n  liquidity: {min_daily_volume: 1.0e+8, min_depth_at_1pct: 1.0e+6}\n"
                      "asset_tiers:\n  tier_3: {min_edge_score: 0.01}\n")
    app = typer.Typer()
    app.command()(screen_cmd.screen)
    result = runner.invoke(app, ["BTC", "AVAX", "--catalog", str(tmp_path / "c"), "--policy", str(policy)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    avax = next(line for line in result.output.splitlines() if "│ AVAX" in line and "active" in line)
    assert "│ 3 " in avax
    high_bar = tmp_path / "high.yaml"
    high_bar.write_text(policy.read_text().replace("min_edge_score: 0.01", "min_edge_score: 0.99"))
    result = runner.invoke(app, ["BTC", "AVAX", "--catalog", str(tmp_path / "c"), "--policy", str(high_bar)],
                           env={"COLUMNS": "200"})
    assert any("│ AVAX" in line and "no_edge" in line and "edge 0." in line for line in result.output.splitlines())
