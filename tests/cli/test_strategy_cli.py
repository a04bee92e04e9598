"""``quantum-trader backtest --strategy ...``: the README's example strategy runs as the README shows, a user's
class loads by module or file, and each thing that can be wrong with it is one error line, leaving no run."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantum_trader.cli.main import app

ENV = {"COLUMNS": "200"}
ROOT = Path(__file__).parents[2]
SECTION = re.compile(r"^## Writing a strategy\n(.*?)^## ", re.S | re.M)


def readme_commands() -> list[list[str]]:
    """The ``quantum-trader`` command lines of the README's "Writing a strategy" section, as argument lists."""
    found = SECTION.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md has no 'Writing a strategy' section"
    return [line.split()[1:] for line in found.group(1).splitlines() if line.startswith("quantum-trader ")]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working folder with the project's examples/ (as in a clone), sys.path and sys.modules restored after."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith(("qt_strategy_", "mystrats")):
            del sys.modules[name]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=ENV)
    return result.exit_code, result.output


def test_the_readme_example_runs_as_shown(project: Path) -> None:
    synth, backtest = readme_commands()
    assert synth[:2] == ["data", "synth"] and "examples/breakout.py:Breakout" in backtest
    synth[synth.index("--days") + 1] = "20"  # the README's 60 days, shortened for the test
    code, output = invoke(*synth)
    assert code == 0, output
    code, output = invoke(*backtest)
    assert code == 0, output
    (run,) = (project / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["run"]["strategy"] == "breakout" and metrics["trades"] > 5
    assert "Backtest" in output and run.name.endswith("-breakout")


USER = '''
from quantum_trader.domain.trading import Intent, Side
from quantum_trader.engine.strategy import Decision, Subscription


class EveryDay:
    """Long each symbol at each day's first 1h close, out at the next: a known number of trades."""

    name = "every-day"

    def __init__(self, hours: int = 1) -> None:
        self.hours = hours

    def start(self, symbols, timeframe, policy):
        return Subscription("1h", lookback=1, correlation=False)

    def on_bar(self, view):
        hour = view.ts // 3_600_000 % 24
        intents = [Intent(view.bars[s].last().ts, s, Side.LONG, 0.5, view.bars[s].last().close, None, source="day")
                   for s in sorted(view.closed) if hour == 1]
        return intents, [(s, "next hour") for s in view.held if hour == 1 + self.hours]


class Raises(EveryDay):
    name = "raises"

    def on_bar(self, view):
        return {}[view.symbols[0]]


class Shapeless(EveryDay):
    name = "shapeless"

    def on_bar(self, view):
        return "buy"


class Half:
    name = "half"

    def start(self, symbols, timeframe, policy):
        return Subscription("1h")
'''


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog")
    code, output = invoke("data", "synth", "--days", "4", "--seed", "3", "--catalog", str(root), "--assets", "BTC,ETH")
    assert code == 0, output
    return root


def backtest(catalog: Path, spec: str, *extra: str) -> tuple[int, str]:
    return invoke("backtest", "--catalog", str(catalog), "--symbols", "BTC,ETH", "--policy", "plain", "--phase", "3",
                  "--runs", "runs", "--strategy", spec, *extra)


def test_a_users_class_by_module_from_the_working_folder(project: Path, catalog: Path) -> None:
    (project / "mystrats.py").write_text(USER)
    code, output = backtest(catalog, "mystrats:EveryDay", "--param", "hours=2")
    assert code == 0, output
    (run,) = (project / "runs").iterdir()
    trades = json.loads((run / "metrics.json").read_text())["trades"]
    assert trades == 2 * 4, "one trade a day per symbol"


@pytest.mark.parametrize(("spec", "params", "expected"), [
    ("mystrats:Nope", (), "error: --strategy 'mystrats:Nope': mystrats has no class 'Nope'"),
    ("mystrats:Half", (), "error: --strategy 'mystrats:Half': Half is not a strategy: no on_bar (a strategy has "
                          "name, start, on_bar; README: Writing a strategy)"),
    ("nowhere.py:EveryDay", (), "error: --strategy 'nowhere.py:EveryDay': no file nowhere.py"),
    ("mystrats:EveryDay", ("hours=soon",), "error: --param hours='soon': hours must be an integer"),
    ("mystrats:Raises", (), "error: backtest failed: strategy raises: on_bar at 2025-01-01 01:00:00 raised KeyError: "
                            "'BTC/USDT:USDT' (mystrats.py:"),
    ("mystrats:Shapeless", (), "error: backtest failed: strategy shapeless: on_bar returned str, not a Decision "
                               "(intents, exits)"),
])
def test_what_is_wrong_is_one_line_and_no_run(project: Path, catalog: Path, spec: str, params: tuple[str, ...],
                                              expected: str) -> None:
    (project / "mystrats.py").write_text(USER)
    code, output = backtest(catalog, spec, *(x for p in params for x in ("--param", p)))
    assert code == 2
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(expected), output
    assert not (project / "runs").exists() or not any((project / "runs").iterdir())
