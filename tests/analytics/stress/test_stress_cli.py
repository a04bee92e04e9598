"""`quantum-trader stress`: the exit code follows the bounds, a broken one is printed loudly with its reason, the
report is one offline file, Monte Carlo is repeatable from the command line, and bad input is one line.

The strategy is swapped for a scripted one (the command builds ``engine.strategies.MultiAssetStrategy`` when it
runs), so the book each scenario meets is known: a long in every asset the limits allow, each with a stop 2%
below its entry, or nothing at all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs
from tests.analytics.stress.markets import HoldLongs, NeverTrades
from typer.testing import CliRunner

import quantum_trader.engine.strategies as strategies
from quantum_trader.cli.main import app

ENV = {"COLUMNS": "200"}
SMALL = ("--days", "6", "--market-seed", "3")


def _stress(runs: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["stress", *SMALL, "--runs", str(runs), *args], env=ENV)
    return result.exit_code, result.output


def _folder(runs: Path) -> Path:
    (folder,) = runs.iterdir()
    return folder


def test_a_broken_bound_is_printed_loudly_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strategies, "MultiAssetStrategy", HoldLongs)
    code, output = _stress(tmp_path, "--scenario", "flash_crash", "--scenario", "correlated_crash")
    assert code == 1, output
    assert "BROKEN flash_crash" in output and "gapped through its stop" in output
    assert "1 of 2 scenarios broke a bound" in output
    folder = _folder(tmp_path)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["broken"] == ["flash_crash"]
    table = pd.read_parquet(folder / "scenarios.parquet")
    assert table["scenario"].tolist() == ["flash_crash", "correlated_crash"]
    assert table["passed"].tolist() == [False, True]
    assert set(pd.read_parquet(folder / "equity.parquet")["scenario"]) == {"unstressed", "flash_crash",
                                                                           "correlated_crash"}
    html = (folder / "report.html").read_text("utf-8")
    assert html.count(get_plotlyjs()[:120]) == 1
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//", html, re.IGNORECASE)
    assert html.count('class="plotly-graph-div"') == 2  # one equity path per scenario
    assert "gapped through its stop" in html and "BROKEN" in html


def test_bounds_that_hold_exit_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strategies, "MultiAssetStrategy", NeverTrades)
    code, output = _stress(tmp_path, "--scenario", "flash_crash", "--scenario", "asset_delisted")
    assert code == 0, output
    assert "all 2 scenarios held their bounds" in output and "BROKEN" not in output
    assert json.loads((_folder(tmp_path) / "summary.json").read_text())["broken"] == []


def test_monte_carlo_from_the_command_line_is_repeatable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strategies, "MultiAssetStrategy", HoldLongs)
    frames, codes = [], []
    for name in ("a", "b"):
        code, output = _stress(tmp_path / name, "--monte-carlo", "2", "--seed", "9", "--scenario", "funding_spike",
                               "--scenario", "flash_crash")
        codes.append(code)
        assert "probability" in output and "95% interval (Wilson)" in output
        folder = _folder(tmp_path / name)
        frames.append(pd.read_parquet(folder / "draws.parquet"))
        assert code == (1 if frames[-1]["own_broken"].any() else 0), output
        assert (folder / "report.html").is_file()
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert len(frames[0]) == 2 and set(frames[0]["family"]) <= {"funding_spike", "flash_crash"}


def test_an_unknown_scenario_is_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    code, output = _stress(tmp_path / "runs", "--scenario", "black_swan")
    assert code == 2
    assert "--scenario: unknown scenario 'black_swan'; choose from correlated_crash" in output
    assert len(output.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_the_plain_profile_is_refused(tmp_path: Path) -> None:
    code, output = _stress(tmp_path, "--policy", "plain")
    assert code == 2 and "a stress test is about the limits" in output


def test_real_candles_from_a_catalog(shared_data: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    ingest = CliRunner().invoke(app, ["data", "ingest", str(shared_data / "candles/binance_spot_1h/BTCUSDT.csv.gz"),
                                      "--symbol", "BTC/USDT:USDT", "--timeframe", "1h", "--catalog", str(catalog)],
                                env=ENV)
    assert ingest.exit_code == 0, ingest.output
    result = CliRunner().invoke(app, ["stress", "--catalog", str(catalog), "--symbols", "BTC", "--start", "2025-01-01",
                                      "--end", "2025-03-01", "--scenario", "liquidity_crisis", "--phase", "3",
                                      "--runs", str(tmp_path / "runs")], env=ENV)
    folder = _folder(tmp_path / "runs")
    summary = json.loads((folder / "summary.json").read_text())
    assert result.exit_code == (1 if summary["broken"] else 0), result.output
    assert summary["market"].startswith(f"catalog {catalog} (1h, BTC/USDT:USDT)")
    (description,) = pd.read_parquet(folder / "scenarios.parquet")["description"]
    assert "no books for some: bar volume x0.05" in description  # spot candles carry no book: volume thins instead


def test_help_and_an_unknown_scenario_need_no_numpy(tmp_path: Path) -> None:
    from tests.cli.test_startup_imports import imported

    assert imported("stress", "--help", cwd=tmp_path) <= {"pydantic"}
    assert not imported("stress", "--scenario", "black_swan", cwd=tmp_path) & {"numpy", "pandas", "scipy", "plotly"}


@pytest.mark.parametrize("command", ["stress", "backtest"])
def test_an_exchange_name_with_a_line_break_stays_on_the_errors_one_line(command: str, tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    result = CliRunner().invoke(app, [command, "--catalog", str(tmp_path / "cat"), "--exchange", "x\ny\u2028z",
                                      "--runs", str(tmp_path / "runs")], env=ENV)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "no candles for" in lines[0], result.output
