"""The strategy a command runs: one we ship, by name, or a user's class, ``my_module:MyStrategy`` or
``path/to/file.py:MyStrategy``, built with the ``--param NAME=VALUE`` pairs as constructor arguments.

Importing a user's module runs code chosen at run time, which the pure layers never do: it
happens here, at the command line, and every way it can go wrong (no such module or file, no
such class, a class that is not a strategy, a parameter it does not take or cannot read) is one
line saying what to fix. ``backtest`` and ``paper`` both choose their strategy here, in two steps:
``parse_strategy`` checks the options' shape before anything is imported or read (a typo costs no
start-up), ``load_strategy`` imports and builds.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quantum_trader.engine.strategy import Strategy

BUILT_IN = ("multi-asset", "sma-cross")
STRATEGY_HELP = ("multi-asset, sma-cross, or your own class: my_module:MyStrategy or path/to/file.py:MyStrategy "
                 "(README: Writing a strategy).")
PARAM_HELP = "Strategy parameter NAME=VALUE (repeatable): sma-cross takes fast and slow; your class its constructor's."
_SMA_PARAMS = ("fast", "slow")


class StrategyLoadError(ValueError):
    """A ``--strategy`` or ``--param`` that does not give a strategy; the message is the one line to show."""


@dataclass(frozen=True)
class StrategyChoice:
    """``--strategy`` and ``--param`` checked for shape: a built-in name, or where a user's class is."""

    spec: str
    params: Mapping[str, str]
    module: str = ""
    """The user's module or file ("" for a built-in)."""
    class_name: str = ""


def parse_strategy(spec: str, params: Sequence[str]) -> StrategyChoice:
    """The options' shape, checked without importing anything (one clear line when wrong)."""
    pairs = _pairs(params)
    spec = spec.strip()
    if spec == "multi-asset" and pairs:
        raise StrategyLoadError(f"--param: multi-asset takes no --param (its settings are in the policy), "
                                f"got {sorted(pairs)}")
    if spec == "sma-cross":
        unknown = set(pairs) - set(_SMA_PARAMS)
        if unknown:
            raise StrategyLoadError(f"--param: sma-cross takes fast and slow, not {sorted(unknown)}")
        for key, value in pairs.items():
            if not value.isdigit():
                raise StrategyLoadError(f"--param {key}={value!r}: expected NAME=INTEGER, e.g. fast=10")
    if spec in BUILT_IN:
        return StrategyChoice(spec, pairs)
    module_name, sep, class_name = spec.rpartition(":")
    if not sep or not module_name or not class_name.isidentifier():
        raise StrategyLoadError(f"--strategy {spec!r}: choose one of {', '.join(BUILT_IN)}, or name your class as "
                                "my_module:MyStrategy or path/to/file.py:MyStrategy")
    return StrategyChoice(spec, pairs, module_name, class_name)


def load_strategy(choice: StrategyChoice) -> Strategy:
    """The strategy ``choice`` names, built with its parameters."""
    if not choice.module:
        return _built_in(choice.spec, choice.params)
    spec, class_name = choice.spec, choice.class_name
    found = _module(spec, choice.module).__dict__.get(class_name)
    if found is None:
        raise StrategyLoadError(f"--strategy {spec!r}: {choice.module} has no class {class_name!r}")
    if not inspect.isclass(found):
        raise StrategyLoadError(f"--strategy {spec!r}: {class_name} is a {type(found).__name__}, not a class")
    _check_members(spec, class_name, found, instance=False)
    return _as_strategy(spec, class_name, _build(spec, found, choice.params))


def _as_strategy(spec: str, class_name: str, built: object) -> Strategy:
    """The object built, if it meets the ``Strategy`` protocol (checked with isinstance); else one line."""
    from quantum_trader.engine.strategy import Strategy

    if isinstance(built, Strategy) and callable(built.start) and callable(built.on_bar):
        if not isinstance(built.name, str) or not built.name.strip():
            raise StrategyLoadError(f"--strategy {spec!r}: {class_name}.name must be a non-empty string (it names "
                                    f"the run), got {built.name!r}")
        return built
    _check_members(spec, class_name, built, instance=True)
    raise StrategyLoadError(f"--strategy {spec!r}: {class_name} is not a strategy (README: Writing a strategy)")


def _check_members(spec: str, class_name: str, found: object, *, instance: bool) -> None:
    """What the class (before it is built: its methods) or the object built (also ``name``, which __init__ may
    set) lacks of the ``Strategy`` protocol, as one line."""
    from quantum_trader.engine.strategy import STRATEGY_MEMBERS

    methods = [m for m in STRATEGY_MEMBERS if m != "name"]
    missing = [m for m in (STRATEGY_MEMBERS if instance else methods) if not hasattr(found, m)]
    not_callable = [m for m in methods if m not in missing and not callable(inspect.getattr_static(found, m))]
    if missing or not_callable:
        problems = [f"no {m}" for m in missing] + [f"{m} is not a method" for m in not_callable]
        raise StrategyLoadError(f"--strategy {spec!r}: {class_name} is not a strategy: {', '.join(problems)} "
                                f"(a strategy has {', '.join(STRATEGY_MEMBERS)}; README: Writing a strategy)")


def _pairs(params: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise StrategyLoadError(f"--param {item!r}: expected NAME=VALUE, e.g. fast=10")
        out[key.strip()] = value.strip()
    return out


def _built_in(name: str, pairs: Mapping[str, str]) -> Strategy:
    from quantum_trader.engine.strategies import MultiAssetStrategy, SmaCrossStrategy

    if name == "multi-asset":
        return MultiAssetStrategy()
    try:
        return SmaCrossStrategy(**{key: int(value) for key, value in pairs.items()})
    except ValueError as exc:
        raise StrategyLoadError(f"--param: {exc}") from None


def _module(spec: str, name: str) -> ModuleType:
    """The user's module: a file when ``name`` looks like a path, else an importable module (the working folder
    is searched last, so a module of the project or an installed package is found first)."""
    as_path = name.endswith(".py") or "/" in name or "\\" in name
    try:
        if as_path:
            return _from_file(spec, Path(name))
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.append(str(Path.cwd()))
        return importlib.import_module(name)
    except StrategyLoadError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(f"{exc.name}.")):
            raise StrategyLoadError(f"--strategy {spec!r}: no module named {exc.name!r} (importable from the working "
                                    "folder or PYTHONPATH; or give the file: path/to/file.py:MyStrategy)") from None
        raise StrategyLoadError(f"--strategy {spec!r}: importing {name} failed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 -- the user's module raised while importing: one line, not a traceback
        raise StrategyLoadError(f"--strategy {spec!r}: importing {name} failed: {type(exc).__name__}: {exc}") from None


def _from_file(spec: str, path: Path) -> ModuleType:
    if not path.is_file():
        raise StrategyLoadError(f"--strategy {spec!r}: no file {path}")
    resolved = path.resolve()
    # a name of its own per file, so two strategies called strategy.py do not replace each other
    name = f"qt_strategy_{resolved.stem}_{hashlib.sha1(str(resolved).encode()).hexdigest()[:8]}"
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise StrategyLoadError(f"--strategy {spec!r}: {path} is not a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and typing look the module up by name while it runs
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _build(spec: str, cls: type, pairs: Mapping[str, str]) -> object:
    """``cls(**params)``, each value read as the type its constructor declares (int, float, bool; else text)."""
    name = cls.__name__
    try:
        signature = inspect.signature(cls, eval_str=True)
    except (NameError, SyntaxError, TypeError, ValueError):  # annotations naming what the module does not define
        signature = None
    values: dict[str, object] = dict(pairs)
    if signature is not None:
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        taken = {p.name: p for p in signature.parameters.values() if p.kind in kinds}
        open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
        for key, raw in pairs.items():
            if key not in taken and not open_ended:
                takes = ", ".join(taken) or "no parameters"
                raise StrategyLoadError(f"--param {key}: {name} takes {takes}")
            wanted: object = str
            if key in taken:
                p = taken[key]
                if p.annotation is not inspect.Parameter.empty:
                    wanted = p.annotation
                elif p.default not in (inspect.Parameter.empty, None):
                    wanted = type(p.default)
            values[key] = _read(spec, key, raw, wanted)
    try:
        built: object = cls(**values)
    except Exception as exc:  # noqa: BLE001 -- the user's constructor refused: one line, not a traceback
        given = ", ".join(f"{k}={v!r}" for k, v in values.items())
        raise StrategyLoadError(f"--strategy {spec!r}: {name}({given}) failed: {type(exc).__name__}: {exc}") from None
    return built


def _read(spec: str, key: str, raw: str, wanted: object) -> object:
    """``raw`` as ``wanted`` (one clear line when it is not one); an annotation we cannot read keeps the text."""
    readers: dict[object, Callable[[str], object]] = {int: int, float: float, bool: _bool, str: str}
    reader = readers.get(wanted)
    if reader is None:
        return raw
    try:
        value = reader(raw)
    except ValueError:
        raise StrategyLoadError(f"--param {key}={raw!r}: {key} must be {_KINDS[wanted]} (--strategy {spec})") from None
    if isinstance(value, float) and value != value:
        raise StrategyLoadError(f"--param {key}={raw!r}: {key} must be a number (--strategy {spec})")
    return value


_KINDS: dict[object, str] = {int: "an integer", float: "a number", bool: "true or false", str: "text"}


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)
