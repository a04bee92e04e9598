"""`quantum-trader research` from the command line: a table and an offline summary, or one clear line."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs
from typer.testing import CliRunner

from quantum_trader.cli.main import app

ENV = {"COLUMNS": "160", "QT_CATALOG": None, "QT_RAY_ADDRESS": None}
SMA = ["--strategy", "sma-cross", "--policy", "plain", "--symbols", "BTC,ETH", "--serial"]


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["research", *args], env=ENV)
    return result.exit_code, result.output


def _study(out: Path) -> Path:
    (folder,) = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith("synthetic")]
    return folder


def test_a_sweep_runs_on_the_synthetic_market_without_a_catalog(tmp_path: Path) -> None:
    code, output = _run("sweep", *SMA, "--param", "fast=5,10", "--param", "slow=30,60", "--days", "3",
                        "--out", str(tmp_path))
    assert code == 0, output
    assert "generating the synthetic demo market (3 days, seed 7)" in output
    folder = _study(tmp_path)
    frame = pd.read_parquet(folder / "results.parquet")
    assert sorted(zip(frame["param.fast"], frame["param.slow"], strict=True)) == [(5, 30), (5, 60), (10, 30), (10, 60)]
    assert set(frame["state"]) <= {"complete", "failed"} and frame["window_start"].nunique() == 1
    html = (folder / "summary.html").read_text()
    assert "fig-heatmap" in html and "Overfitting diagnostics" in html
    assert html.count(get_plotlyjs()[:200]) == 1  # plotly.js inlined once, nothing fetched: opens offline
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.IGNORECASE)
    code, output = _run("sweep", *SMA, "--param", "fast=5", "--param", "slow=30", "--days", "3",
                        "--out", str(tmp_path))
    assert code == 0 and "the synthetic market in" in output  # generated once, then reused


def test_walk_forward_writes_test_folds_and_the_stitched_curve(catalog: Path, tmp_path: Path) -> None:
    code, output = _run("walk-forward", *SMA, "--catalog", str(catalog), "--exchange", "synthetic",
                        "--param", "fast=3:10", "--param", "slow=20:60", "--folds", "2", "--trials", "2",
                        "--batch", "2", "--out", str(tmp_path))
    assert code == 0, output
    assert "out of sample, stitched" in output
    frame = pd.read_parquet(_study(tmp_path) / "results.parquet")
    tests = frame[frame["role"] == "test"]
    assert list(tests["fold"]) == [0, 1] and (frame["role"] == "train").sum() == 4
    assert (tests["window_start"].iloc[1] == tests["window_end"].iloc[0])
    html = (_study(tmp_path) / "summary.html").read_text()
    assert "Out-of-sample equity" in html and "Parameter path" in html


def test_optimize_with_a_pruner(catalog: Path, tmp_path: Path) -> None:
    code, output = _run("optimize", *SMA, "--catalog", str(catalog), "--param", "fast=3:10", "--param",
                        "slow=20:60", "--trials", "3", "--pruner", "median", "--objective", "calmar",
                        "--out", str(tmp_path))
    assert code == 0, output
    assert "pruner median, 4 steps" in output
    frame = pd.read_parquet(_study(tmp_path) / "results.parquet")
    assert len(frame) == 3 and (frame["steps_run"] >= 1).all()


@pytest.mark.parametrize(("args", "message"), [
    (["sweep", "--param", "fast=10:5"], "error: --param 'fast=10:5': the range is empty (10 is not below 5)"),
    (["sweep", "--param", "fast=5:50"], "a sweep needs a list or a stepped range"),
    (["optimize", "--objective", "sortino"], "error: --objective 'sortino': choose one of sharpe, calmar, return"),
    (["optimize", "--drawdown-cap", "1.5"], "error: --drawdown-cap 1.5: must be a fraction in (0, 1)"),
    (["optimize", "--pruner", "median", "--steps", "1"], "error: --pruner median needs --steps 2 or more"),
    (["optimize", "--sampler", "grid"], "error: --sampler 'grid': choose one of tpe, random, qmc"),
    (["walk-forward", "--train", "3x"], "error: --train '3x': not a duration"),
    (["sweep", "--strategy", "sma-cross"], "error: --param: give the parameters of sma-cross to vary"),
])
def test_bad_options_are_one_line_before_any_work(tmp_path: Path, args: list[str], message: str) -> None:
    code, output = _run(*args, "--out", str(tmp_path / "out"))
    assert code == 2
    assert message in output and len(output.strip().splitlines()) <= 2
    assert not (tmp_path / "out").exists()  # refused before the market was generated


def test_folds_that_do_not_fit_the_data(catalog: Path, tmp_path: Path) -> None:
    code, output = _run("walk-forward", *SMA, "--catalog", str(catalog), "--param", "fast=3:10", "--param",
                        "slow=20:60", "--folds", "4", "--train", "30d", "--test", "5d", "--out", str(tmp_path))
    assert code == 2
    assert "error: --train and --test: 4 folds need 50.0 days" in output and "data spans 12.0 days" in output
