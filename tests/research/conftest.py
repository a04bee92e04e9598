"""A small synthetic catalog (12 days of 1m bars, three assets) and the study setup over it."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantum_trader.analytics.backtest import default_settings
from quantum_trader.cli.main import app
from quantum_trader.cli.research_cmd import make_strategy
from quantum_trader.config import load_policy
from quantum_trader.data.catalog import Catalog
from quantum_trader.research.market import read_inputs
from quantum_trader.research.trial import StudySetup

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("research-catalog")
    result = CliRunner().invoke(app, ["data", "synth", "--days", "12", "--seed", "3", "--catalog", str(root),
                                      "--assets", "BTC,ETH,SOL"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    return root


def study_setup(catalog: Path, strategy: str, *, plain: bool) -> StudySetup:
    policy = load_policy(None)
    inputs = read_inputs(Catalog(catalog), SYMBOLS, timeframe="1m", exchange="synthetic", start_ms=None, end_ms=None)
    return StudySetup(market=inputs, policy=policy, settings=default_settings(policy, phase=3, plain=plain),
                      make_strategy=functools.partial(make_strategy, strategy), plain=plain)


@pytest.fixture(scope="session")
def sma_setup(catalog: Path) -> StudySetup:
    """sma-cross under the plain policy: the reference strategy, fast enough for many trials."""
    return study_setup(catalog, "sma-cross", plain=True)
