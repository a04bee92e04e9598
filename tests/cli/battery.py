"""The bad-argument battery's machinery: the command tree, a cheap valid baseline per command, bad values, a sandbox.

Used by test_bad_arguments.py (chosen bad values) and test_bad_arguments_text.py (generated text).

The commands are found by walking the Click tree of ``quantum-trader``, so a new command or
option is covered without touching this file. Each run starts from a baseline invocation
that is valid but cheap (an empty catalog, outputs in a fresh folder) and replaces one
parameter with a bad value: a wrong type, an impossible date, a malformed symbol or
timeframe, a path that is missing, a file where a folder belongs (and the reverse), a NUL
byte; or with hypothesis-generated text. The tests use the ``offline`` fixture (conftest.py):
the network is cut off and ccxt's Binance answers from a fake, so ``data download`` runs offline.

What is asserted: no traceback and no exception escaping; exit code 0, 1 (a documented
refusal: a gate, a drill, a check) or 2; on exit code 2 at most a few lines, and no file
created in the working folder or in the paths the command was given to write to.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import typer.testing
from typer.main import get_command
from typer.testing import CliRunner

from quantum_trader.cli.main import app

runner = CliRunner()
EXCHANGE_INFO = Path(__file__).parents[1] / "data" / "fixtures" / "binanceusdm_exchangeInfo.json"
MAX_ERROR_LINES = 4
"""``error: ...`` is one line; Click's usage errors are three (usage, hint, error); a policy may list two problems."""

# A valid, cheap invocation of each command: reads hit an empty catalog, writes go under {fresh}.
# demo's --out is under a file, so that a value it accepts does not run the whole demo.
BASELINE: dict[str, dict[str, Any]] = {
    "demo": {"days": "1", "out": "{afile}/out"},
    "backtest": {"catalog": "{cat}", "runs": "{fresh}/runs"},
    "paper": {"replay": True, "catalog": "{cat}", "runs": "{fresh}/runs"},
    "live": {"runs": "{fresh}/runs"},  # checked, then refused: no --confirm-real-money
    "signals": {"symbols": "BTC,ETH", "at": "2025-01-01", "catalog": "{cat}", "plot": "{fresh}/plot.html"},
    "screen": {"catalog": "{cat}"},
    "gates": {"target": "{fresh}/run", "journal": "{fresh}/j.sqlite"},
    "policy show": {},
    "policy validate": {"file": "{root}/policy.yaml"},
    "data ingest": {"file": "{root}/candles.csv", "catalog": "{fresh}/cat"},
    "data list": {"catalog": "{cat}"},
    "data check": {"catalog": "{cat}"},
    "data resample": {"symbol": "BTC", "to": "1h", "catalog": "{cat}"},
    "data download": {"symbols": "BTC", "since": "2024-01-01", "until": "2024-01-01T00:30", "catalog": "{fresh}/cat"},
    "data synth": {"days": "1", "assets": "BTC", "catalog": "{fresh}/cat"},
    "data calibrate": {"real": "{adir}", "days": "1"},
    "data markets": {"exchange": "binanceusdm", "from_file": "{root}/exchangeInfo.json", "catalog": "{fresh}/cat"},
    "check lookahead": {"signal": "trend_z", "catalog": "{cat}", "bars": "50", "cuts": "2"},
    "phase show": {"journal": "{fresh}/j.sqlite"},
    "phase status": {"journal": "{fresh}/j.sqlite"},
    "phase promote": {"journal": "{fresh}/j.sqlite"},
    "phase demote": {"reason": "test", "journal": "{fresh}/j.sqlite"},
    "killswitch drill": {"price": ["BTC=60000"], "catalog": "{cat}", "journal": "{fresh}/j.sqlite"},
    **{f"research {kind}": {"catalog": "{cat}", "out": "{fresh}/out", "serial": True, "strategy": "sma-cross",
                            "param": ["fast=5", "slow=30"]} for kind in ("sweep", "optimize", "walk-forward")},
    "killswitch status": {"journal": "{fresh}/j.sqlite"},
    "killswitch reset": {"reason": "test", "journal": "{fresh}/j.sqlite"},
    "journal status": {"journal": "{fresh}/j.sqlite"},
    "journal upgrade": {"journal": "{fresh}/j.sqlite"},
    "journal downgrade": {"to": "0001", "journal": "{fresh}/j.sqlite"},
    "journal incidents": {"journal": "{fresh}/j.sqlite"},
    "journal resolve": {"incident": "1", "by": "tester", "resolution": "test", "journal": "{fresh}/j.sqlite"},
    "stress": {"catalog": "{cat}", "runs": "{fresh}/runs"},
    "dashboard": {"journal": "{fresh}/j.sqlite"},  # refused (no such journal) before it would serve forever
}
DATES = {"start", "end", "at", "since", "until"}
SYMBOLS = {"symbols", "symbol", "assets"}
TIMEFRAMES = {"timeframe", "to", "source_tf"}
DIR_IN = {"catalog", "real"}
FILE_IN = {"policy", "policy_file", "markets", "file", "from_file"}
DIR_OUT = {"out", "runs"}
WRITES_CATALOG = {"data synth", "data ingest", "data download", "data markets"}

HUGE = "99999999999999999999"
BAD_INT = ("abc", "1.5", "-1", HUGE, "", "0x10")
BAD_FLOAT = ("abc", "nan", "inf", "-1", "", "1e309")
BAD_DATE = ("2025-13-01", "2025-02-30", "yesterday", "", "2025-01-01T25:00", "99999-01-01")
BAD_SYMBOL = ("BTC/", "", "ΒTC", "BTC,,ETH/", "USDT", "BTC/USDT:USDT:X", "BT C")
BAD_TIMEFRAME = ("7s", "0m", "", "1x", "-1h", "1.5h")
BAD_JOURNAL = ("nosuchdriver://x/y", "postgresql://ana:s3cret@127.0.0.1:1/qt", "{adir}", "{afile}")
NAMED: dict[str, tuple[str, ...]] = {
    "strategy": ("nope", ""), "entry": ("iceberg", ""), "section": ("nope", ""), "signal": ("nope", "os:nope_fn", ""),
    "param": ("fast=x", "=1", "fast", "fast=-1", "nope=3", "fast=30"), "price": ("BTC", "BTC=abc", "BTC=-1",
                                                                                    "BTC=nan", "=1", "BTC/=1"),
    "set_": ("nonsense", "a.b=1", "portfolio.max_positions=abc", "=", "portfolio=1"), "fmt": ("nope",),
    "target": ("", "nope", "{afile}", "{adir}"), "run": ("nope", "{adir}", "{afile}"),
    "policy": ("missing.yaml", "{adir}", "{afile}"), "kind": ("nope", ""), "volume_unit": ("nope", ""),
    "speed": ("0", "-1", "fast", "nan", "inf", "", "1e309"),
}
"""Values that must be refused (exit code 2) for parameters known by name."""
NOT_REFUSED = {"exchange", "reason", "operator", "assets@screen", "journal@phase promote"}
"""Parameters where a strange value may be valid (an exchange folder, free text, an asset screened as unknown)."""


@dataclass(frozen=True)
class Case:
    command: str
    param: str
    value: str
    must_fail: bool

    def __str__(self) -> str:
        return f"{self.command}:{self.param}={self.value!r}"


def commands() -> dict[str, Any]:
    found: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = command

    walk(ROOT, [])
    return found


ROOT = get_command(app)
COMMANDS = commands()


def kind_of(param: Any) -> str:
    annotation = param.type_descriptor.annotation
    if getattr(param, "is_flag", False):
        return "flag"
    if annotation is Path:
        return "path"
    if isinstance(annotation, type) and issubclass(annotation, bool):
        return "flag"
    if annotation in (int, float):
        return annotation.__name__
    return "text"


def _bad_paths(command: str, name: str) -> list[tuple[str, bool]]:
    if name in DIR_OUT or (name == "catalog" and command in WRITES_CATALOG):
        return [("{afile}", True), ("{afile}/below", True), ("bad\x00path", True)]
    if name in DIR_IN:
        return [("{root}/missing/x", True), ("{afile}", True), ("bad\x00path", True)]
    if name in FILE_IN:
        return [("{root}/missing.yaml", True), ("{afile}", True), ("{adir}", True), ("bad\x00path", True)]
    return [("{adir}", False), ("{afile}/below", False), ("bad\x00path", True)]


def _bad_values(command: str, param: Any) -> list[tuple[str, bool]]:
    name, kind = param.name, kind_of(param)
    refused = not ({name, f"{name}@{command}"} & NOT_REFUSED)
    if kind == "int":
        return [(v, v != HUGE) for v in BAD_INT]  # a huge seed is still a seed
    if kind == "float":
        return [(v, True) for v in BAD_FLOAT]
    if kind == "path":
        return _bad_paths(command, name)
    if name in NAMED:
        return [(v, refused) for v in NAMED[name]]
    if name in DATES:
        return [(v, True) for v in BAD_DATE]
    if name in SYMBOLS:
        return [(v, refused) for v in BAD_SYMBOL]
    if name in TIMEFRAMES:
        return [(v, True) for v in BAD_TIMEFRAME]
    if name == "journal":
        return [(v, refused) for v in BAD_JOURNAL]
    return [(v, False) for v in ("", "nope", "-", "☃", "x=y=z", "../..")]


def cases() -> list[Case]:
    out = []
    for command, cmd in COMMANDS.items():
        for param in cmd.params:
            if kind_of(param) == "flag":
                continue
            out.extend(Case(command, param.name, value, must_fail) for value, must_fail in _bad_values(command, param))
    return out


CASES = cases()


@contextlib.contextmanager
def sandbox() -> Iterator[dict[str, str]]:
    """A fresh folder per run: cwd/ (the working folder), cat/ (an empty catalog), fresh/ (for outputs)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for sub in ("cwd", "cat", "fresh", "adir"):
            (root / sub).mkdir()
        (root / "afile").write_text("not a catalog, a policy or a journal\n")
        (root / "candles.csv").write_text("a,b\n1,2\n")
        (root / "policy.yaml").write_text("portfolio: {max_positions: 0}\n")
        shutil.copy(EXCHANGE_INFO, root / "exchangeInfo.json")
        places = {"root": str(root), "cat": str(root / "cat"), "fresh": str(root / "fresh"),
                  "adir": str(root / "adir"), "afile": str(root / "afile")}
        with contextlib.chdir(root / "cwd"):
            yield places


def arguments(command: str, replace: str | None = None, value: str = "") -> list[str]:
    cmd = COMMANDS[command]
    chosen = dict(BASELINE.get(command, {}))
    if replace is not None:
        chosen[replace] = [value]
    args = command.split()
    for param in cmd.params:
        if param.name not in chosen:
            if param.required:
                chosen[param.name] = "x"  # a new command without a baseline: the battery still runs it
            else:
                continue
        values = chosen[param.name]
        if values is True:  # a flag
            args.append(param.opts[0])
            continue
        for item in values if isinstance(values, list) else [values]:
            args.extend([param.opts[0], item] if param.param_type_name == "option" else [item])
    return args


def run_case(command: str, param: str | None, raw: str) -> tuple[int, str, str]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("QT_")}
    env.update(COLUMNS="200", QT_DEBUG=None)
    with sandbox() as places:
        value = raw.format(**places) if "{" in raw and "}" in raw else raw
        args = arguments(command, param, value)
        args = [a.format(**places) if "{" in a and a != value else a for a in args]
        # the command tree is built once, not at each of the ~900 runs (Typer rebuilds it per invoke)
        with mock.patch.object(typer.testing, "_get_command", lambda _app: ROOT):
            result = runner.invoke(app, args, env=env)
        output = result.output
        assert "Traceback" not in output, f"{args}\n{output}"
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{args}: {result.exception!r}\n{output}")
        assert result.exit_code in (0, 1, 2), f"{args}\n{output}"
        if result.exit_code == 2:
            lines = [line for line in output.splitlines() if line.strip()]
            assert 1 <= len(lines) <= MAX_ERROR_LINES, f"{args}\n{output}"
            left = [p for p in (Path(places["root"]) / "cwd", Path(places["fresh"]), Path(places["cat"]))
                    if any(p.iterdir())]
            assert not left, f"{args} failed but left files in {left}: {[list(p.iterdir()) for p in left]}"
        assert "s3cret" not in output
        return result.exit_code, output, " ".join(args)
