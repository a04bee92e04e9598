"""``--strategy`` and ``--param``: a built-in by name or a user's class by module or file, and one clear line for
everything that can be wrong with them (``cli.strategy_loader``, shared by ``backtest`` and ``paper``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantum_trader.cli.strategy_loader import StrategyLoadError, load_strategy, parse_strategy
from quantum_trader.engine.strategies import MultiAssetStrategy, SmaCrossStrategy
from quantum_trader.engine.strategy import STRATEGY_MEMBERS, BatchStrategy, Decision, Strategy, Subscription

GOOD = '''
from quantum_trader.engine.strategy import Decision, Subscription


class Hold:
    """Does nothing, with parameters of each kind."""

    name = "hold"

    def __init__(self, window: int = 3, scale: float = 1.0, loud: bool = False, label: str = "x") -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window, self.scale, self.loud, self.label = window, scale, loud, label

    def start(self, symbols, timeframe, policy):
        return Subscription(timeframe)

    def on_bar(self, view):
        return Decision()


class Nameless:
    def __init__(self, name: str = "") -> None:
        self.name = name

    def start(self, symbols, timeframe, policy):
        return Subscription(timeframe)

    def on_bar(self, view):
        return Decision()


class NoOnBar:
    name = "half"

    def start(self, symbols, timeframe, policy):
        return Subscription(timeframe)


class NotCallable:
    name = "odd"
    start = 3
    on_bar = None


def helper():
    return 1
'''


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working folder holding ``mystrats.py``, ``broken.py``; sys.path and sys.modules restored after."""
    (tmp_path / "mystrats.py").write_text(GOOD)
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom at import')\n")
    (tmp_path / "needs.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def load(spec: str, *params: str) -> Strategy:
    return load_strategy(parse_strategy(spec, params))


def refused(spec: str, *params: str) -> str:
    with pytest.raises(StrategyLoadError) as info:
        load(spec, *params)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_built_ins_by_name() -> None:
    assert isinstance(load("multi-asset"), MultiAssetStrategy)
    sma = load("sma-cross", "fast=5", "slow=20")
    assert isinstance(sma, SmaCrossStrategy) and (sma.fast, sma.slow) == (5, 20)
    assert isinstance(sma, BatchStrategy)


def test_a_users_class_by_module_and_by_file_with_typed_parameters(folder: Path) -> None:
    by_module = load("mystrats:Hold", "window=7", "scale=0.5", "loud=yes", "label=a b")
    assert (by_module.name, vars(by_module)) == ("hold", {"window": 7, "scale": 0.5, "loud": True, "label": "a b"})
    by_file = load(f"{folder / 'mystrats.py'}:Hold")
    assert by_file.name == "hold" and type(by_file).__name__ == "Hold"
    assert not isinstance(by_file, BatchStrategy), "no prepare: the backtest runs its on_bar"
    assert load("./mystrats.py:Hold").name == "hold"


def test_the_example_strategy_loads_from_its_file() -> None:
    example = Path(__file__).parents[2] / "examples" / "breakout.py"
    strategy = load(f"{example}:Breakout", "window=12", "stop_ranges=2.5")
    assert strategy.name == "breakout" and isinstance(strategy, Strategy)


@pytest.mark.parametrize(("spec", "params", "expected"), [
    ("nope", (), "--strategy 'nope': choose one of multi-asset, sma-cross, or name your class as my_module:MyStrategy"),
    ("mystrats:", (), "choose one of multi-asset, sma-cross"),
    (":Hold", (), "choose one of multi-asset, sma-cross"),
    ("no_such_module_xyz:Hold", (), "--strategy 'no_such_module_xyz:Hold': no module named 'no_such_module_xyz'"),
    ("missing/strat.py:Hold", (), "--strategy 'missing/strat.py:Hold': no file missing/strat.py"),
    ("mystrats:Nope", (), "--strategy 'mystrats:Nope': mystrats has no class 'Nope'"),
    ("mystrats:helper", (), "helper is a function, not a class"),
    ("mystrats:NoOnBar", (), "NoOnBar is not a strategy: no on_bar (a strategy has name, start, on_bar; README: "
                             "Writing a strategy)"),
    ("mystrats:NotCallable", (), "NotCallable is not a strategy: start is not a method, on_bar is not a method"),
    ("mystrats:Nameless", (), "Nameless.name must be a non-empty string (it names the run), got ''"),
    ("broken:Hold", (), "--strategy 'broken:Hold': importing broken failed: RuntimeError: boom at import"),
    ("broken.py:Hold", (), "importing broken.py failed: RuntimeError: boom at import"),
    ("needs:Hold", (), "importing needs failed: No module named 'no_such_dependency_xyz'"),
    ("mystrats:Hold", ("window",), "--param 'window': expected NAME=VALUE, e.g. fast=10"),
    ("mystrats:Hold", ("=3",), "--param '=3': expected NAME=VALUE"),
    ("mystrats:Hold", ("depth=3",), "--param depth: Hold takes window, scale, loud, label"),
    ("mystrats:Hold", ("window=abc",), "--param window='abc': window must be an integer (--strategy mystrats:Hold)"),
    ("mystrats:Hold", ("scale=nan",), "--param scale='nan': scale must be a number"),
    ("mystrats:Hold", ("loud=maybe",), "--param loud='maybe': loud must be true or false"),
    ("mystrats:Hold", ("window=0",), "--strategy 'mystrats:Hold': Hold(window=0) failed: ValueError: window must "
                                     "be >= 1, got 0"),
    ("multi-asset", ("fast=3",), "--param: multi-asset takes no --param"),
    ("sma-cross", ("depth=3",), "--param: sma-cross takes fast and slow, not ['depth']"),
    ("sma-cross", ("fast=x",), "--param fast='x': expected NAME=INTEGER"),
    ("sma-cross", ("fast=30", "slow=10"), "--param: sma-cross: need 0 < fast < slow, got fast=30, slow=10"),
])
def test_every_wrong_choice_is_one_line_saying_what_to_fix(folder: Path, spec: str, params: tuple[str, ...],
                                                            expected: str) -> None:
    assert expected in refused(spec, *params)


def test_the_shape_is_checked_before_anything_is_imported(folder: Path) -> None:
    """``parse_strategy`` never imports the user's module: a broken module is only found by ``load_strategy``."""
    choice = parse_strategy("broken:Hold", ["x=1"])
    assert "broken" not in sys.modules and (choice.module, choice.class_name) == ("broken", "Hold")
    with pytest.raises(StrategyLoadError):
        load_strategy(choice)


def test_the_members_named_are_the_protocols() -> None:
    """``STRATEGY_MEMBERS`` (what the loader names as missing) is exactly what ``isinstance(x, Strategy)`` checks."""

    def made(members: tuple[str, ...]) -> object:
        fields: dict[str, object] = {"name": "x", "start": lambda self, *a: Subscription("1m"),
                                     "on_bar": lambda self, view: Decision()}
        return type("Made", (), {m: fields[m] for m in members})()

    assert isinstance(made(STRATEGY_MEMBERS), Strategy)
    for member in STRATEGY_MEMBERS:
        assert not isinstance(made(tuple(m for m in STRATEGY_MEMBERS if m != member)), Strategy), member
