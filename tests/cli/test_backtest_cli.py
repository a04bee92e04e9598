"""`quantum-trader backtest` from the command line: a run folder, its headline, and clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantum_trader.cli.main import app

ENV = {"COLUMNS": "160"}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog")
    result = CliRunner().invoke(app, ["data", "synth", "--days", "12", "--seed", "3", "--catalog", str(root),
                                      "--assets", "BTC,ETH,SOL"], env=ENV)
    assert result.exit_code == 0, result.output
    return root


def _backtest(catalog: Path, runs: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["backtest", "--catalog", str(catalog), "--symbols", "BTC,ETH,SOL",
                                      "--runs", str(runs), *extra], env=ENV)
    return result.exit_code, result.output


def test_limit_entries_from_the_command_line_are_counted_in_metrics_headline_and_report(
        catalog: Path, tmp_path: Path) -> None:
    code, output = _backtest(catalog, tmp_path, "--entry", "limit", "--phase", "3")
    assert code == 0, output
    (run,) = tmp_path.iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    limits = metrics["limit_entries"]
    assert limits["placed"] > 0 and 0 < limits["filled"] <= limits["placed"]
    assert limits["placed"] == sum(limits[k] for k in ("filled", "expired", "cancelled", "rejected",
                                                       "refused_at_fill"))
    assert metrics["trades"] >= 1
    assert "limit entries filled" in output
    assert "Limit entries filled" in (run / "report.html").read_text()
    assert "type: limit" in (run / "policy.yaml").read_text()


def test_market_entries_leave_no_limit_counts(catalog: Path, tmp_path: Path) -> None:
    code, output = _backtest(catalog, tmp_path)
    assert code == 0, output
    (run,) = tmp_path.iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert "limit_entries" not in metrics
    assert "limit entries" not in output
    assert metrics["data_notes"] == [] and "data " not in output  # the synthetic catalog has every feed


def test_real_spot_candles_alone_say_what_the_venue_assumed(shared_data: Path, tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    ingest = CliRunner().invoke(app, ["data", "ingest", str(shared_data / "candles/binance_spot_1h/BTCUSDT.csv.gz"),
                                      "--symbol", "BTC/USDT:USDT", "--timeframe", "1h", "--catalog", str(cat)],
                                env=ENV)
    assert ingest.exit_code == 0, ingest.output
    result = CliRunner().invoke(app, ["backtest", "--catalog", str(cat), "--symbols", "BTC", "--timeframe", "1h",
                                      "--strategy", "sma-cross", "--policy", "plain", "--runs", str(tmp_path / "r"),
                                      "--start", "2025-01-01", "--end", "2025-04-01"], env=ENV)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("data ")]
    assert [line.split(" for ")[0] for line in lines] == [
        "data BTC/USDT:USDT is spot data standing in", "data no binanceusdm market metadata",
        "data no funding series", "data no mark-price series", "data no order books", "data 1h bars without 1m bars"]
    (run,) = (tmp_path / "r").iterdir()
    assert "Data the run did not have" in (run / "report.html").read_text()


def test_an_unknown_entry_type_is_refused_by_name(catalog: Path, tmp_path: Path) -> None:
    code, output = _backtest(catalog, tmp_path, "--entry", "iceberg")
    assert code == 2
    assert "--entry 'iceberg': choose market or limit" in output
    assert not any(tmp_path.iterdir())


def test_an_invalid_policy_file_is_refused_naming_the_key(catalog: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("venue:\n  entry:\n    expiry: soon\n")
    runs = tmp_path / "runs"
    code, output = _backtest(catalog, runs, "--policy", str(bad))
    assert code == 2
    assert "venue.entry.expiry" in output
    assert not runs.exists()


def test_the_progress_bar_hears_every_stage_in_order_and_the_kernel_in_steps(catalog: Path, tmp_path: Path) -> None:
    from quantum_trader.analytics.backtest import BacktestRequest, run_backtest
    from quantum_trader.config import load_policy
    from quantum_trader.engine.strategies import MultiAssetStrategy

    policy = load_policy(env={})
    heard: list[tuple[str, float]] = []
    request = BacktestRequest(catalog=catalog, symbols=("BTC/USDT:USDT", "ETH/USDT:USDT"),
                              strategy=MultiAssetStrategy(), policy=policy, policy_name="default",
                              exchange=None, runs_dir=tmp_path, report=False)
    run_backtest(request, progress=lambda message, fraction: heard.append((message, fraction)))
    fractions = [f for _, f in heard]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 0.9
    stages = list(dict.fromkeys(m.split(" ")[0] for m, _ in heard))
    assert stages == ["loading", "computing", "screening", "running", "writing"]
    kernel = [f for m, f in heard if m.startswith("running")]
    assert len(kernel) > 10 and kernel[-1] == pytest.approx(0.9)


def test_candles_without_volume_backtest_and_say_so(shared_data: Path, tmp_path: Path) -> None:
    """A TradingView export carries no volume: the run goes on, and says what that cost (no impact, no
    volume confirmation), instead of refusing the bars."""
    import pandas as pd

    cat = tmp_path / "catalog"
    for asset in ("BTC", "ETH"):
        frame = pd.read_csv(shared_data / f"candles/binance_spot_1h/{asset}USDT.csv.gz")
        frame["time"] = (pd.to_datetime(frame["timestamp"]) - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(
            seconds=1)
        path = tmp_path / f"{asset}_tradingview.csv"
        frame[["time", "open", "high", "low", "close"]].head(3000).to_csv(path, index=False)
        ingest = CliRunner().invoke(app, ["data", "ingest", str(path), "--symbol", asset, "--timeframe", "1h",
                                          "--catalog", str(cat)], env=ENV)
        assert ingest.exit_code == 0, ingest.output
    result = CliRunner().invoke(app, ["backtest", "--catalog", str(cat), "--symbols", "BTC,ETH", "--phase", "1",
                                      "--runs", str(tmp_path / "runs")], env=ENV)
    assert result.exit_code == 0, result.output
    assert "data no volume in the candles of BTC, ETH" in result.output


def test_load_whole_gives_the_streamed_run_folder(catalog: Path, tmp_path: Path) -> None:
    """1m bars stream from the catalog by default; ``--load-whole`` reads the range at once, with the same result."""
    import pandas as pd

    code, output = _backtest(catalog, tmp_path / "streamed", "--phase", "3")
    assert code == 0, output
    code, output = _backtest(catalog, tmp_path / "whole", "--phase", "3", "--load-whole")
    assert code == 0, output
    (streamed,) = (tmp_path / "streamed").iterdir()
    (whole,) = (tmp_path / "whole").iterdir()
    for name in ("trades", "equity", "events", "prices"):
        pd.testing.assert_frame_equal(pd.read_parquet(streamed / f"{name}.parquet"),
                                      pd.read_parquet(whole / f"{name}.parquet"), obj=name)
    assert len(pd.read_parquet(whole / "trades.parquet")) > 0
