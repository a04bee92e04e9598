"""The layer guard fails when it should: each kind of violation, injected alone into a copy of
the package, is caught and named by file, line and what it did.

A guard that passes the real package proves nothing by itself; these cases are the holes it
once had (relative imports, modules named in strings, file reads in pure layers, ``from time
import time``, the ``__init__`` files) and their neighbours.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.test_layers import PACKAGE, PURE_IO_ALLOWED, check_package

MARK = "  # <- injected"

CASES: dict[str, tuple[str, str, str]] = {
    # name: (file, code appended (MARK on the offending line), what the failure says)
    "relative import upwards": ("signals/regime.py", f"from ..data import catalog{MARK}",
                                "imports quantum_trader.data (from ..data)"),
    "relative import of a layer": ("risk/rules.py", f"from .. import engine{MARK}",
                                   "imports quantum_trader.engine (from ..)"),
    "relative import in a layer's __init__": ("signals/__init__.py", f"from ..engine.kernel import Kernel{MARK}",
                                              "imports quantum_trader.engine.kernel (from ..engine.kernel)"),
    "relative import above the package": ("domain/time.py", f"from ... import x{MARK}",
                                          "relative import beyond the package (from ...)"),
    "package __init__ imports a layer": ("__init__.py", f"from quantum_trader.cli import main{MARK}",
                                         "imports quantum_trader.cli"),
    "package __init__ reads the clock": ("__init__.py", f"import time\nSTARTED = time.time(){MARK}",
                                         "reads the clock: time.time()"),
    "layer __init__ opens a file": ("portfolio/__init__.py", f"LEDGER = open('ledger.csv'){MARK}",
                                    "calls open() (I/O in a pure layer)"),
    "importlib string import": ("universe/tiers.py",
                                f"import importlib\nimportlib.import_module('quantum_trader.data.catalog'){MARK}",
                                "imports quantum_trader.data.catalog by name (importlib.import_module())"),
    "aliased import_module of an f-string": (
        "indicators/rolling.py",
        "from importlib import import_module as load\ndef f(x):\n"
        f"    return load(f'quantum_trader.venues.{{x}}'){MARK}",
        "imports quantum_trader.venues by name (importlib.import_module())"),
    "__import__ string import": ("risk/book.py", f"__import__('quantum_trader.journal.store'){MARK}",
                                 "imports quantum_trader.journal.store by name (__import__())"),
    "module named at run time": ("signals/model.py",
                                 f"import importlib\ndef f(name):\n    return importlib.import_module(name){MARK}",
                                 "imports a module named at run time (importlib.import_module())"),
    "exec": ("signals/features.py", f"exec('x = 1'){MARK}", "calls exec(): code chosen at run time"),
    "exec beside the one allowed": ("domain/slot_init.py", f"def slot_init_copy(text):\n    exec(text){MARK}",
                                    "calls exec(): code chosen at run time"),
    "eval in the allowed file": ("domain/slot_init.py", f"X = eval('1'){MARK}",
                                 "calls eval(): code chosen at run time"),
    "open": ("risk/engine.py", f"def f():\n    return open('x'){MARK}", "calls open() (I/O in a pure layer)"),
    "print": ("portfolio/ledger.py", f"def f():\n    print('x'){MARK}", "calls print() (I/O in a pure layer)"),
    "pd.read_csv": ("universe/screening.py", f"import pandas as pd\nFRAME = pd.read_csv('x.csv'){MARK}",
                    "calls pandas.read_csv() (I/O in a pure layer)"),
    "pandas.read_parquet": ("signals/pipeline.py", f"import pandas\nFRAME = pandas.read_parquet('x'){MARK}",
                            "calls pandas.read_parquet() (I/O in a pure layer)"),
    "np.load": ("indicators/bar_indicators.py", f"import numpy as np\nA = np.load('x.npy'){MARK}",
                "calls numpy.load() (I/O in a pure layer)"),
    "np.save": ("risk/limits.py", f"import numpy as np\nnp.save('x.npy', [1]){MARK}",
                "calls numpy.save() (I/O in a pure layer)"),
    "np.fromfile": ("signals/regime.py", f"from numpy import fromfile\nA = fromfile('x'){MARK}",
                    "calls numpy.fromfile() (I/O in a pure layer)"),
    "pq.read_table": ("risk/drift.py", f"import pyarrow.parquet as pq\nT = pq.read_table('x'){MARK}",
                      "calls pyarrow.parquet.read_table() (I/O in a pure layer)"),
    "os.environ": ("signals/cross_asset.py", f"import os\nKEY = os.environ.get('KEY'){MARK}",
                   "reads os.environ (I/O in a pure layer)"),
    "from time import time": ("signals/aggregate.py", f"from time import time\ndef f():\n    return time(){MARK}",
                              "reads the clock: time.time()"),
    "aliased time": ("risk/kill_switch.py", f"from time import time as now\ndef f():\n    return now(){MARK}",
                     "reads the clock: time.time()"),
    "aliased datetime.now": ("portfolio/margin.py",
                             f"from datetime import datetime as dt\ndef f():\n    return dt.now(){MARK}",
                             "reads the clock: datetime.datetime.now()"),
    "module datetime": ("domain/trading.py", f"import datetime\ndef f():\n    return datetime.datetime.now(){MARK}",
                        "reads the clock: datetime.datetime.now()"),
    "aliased time module": ("universe/correlation.py", f"import time as t\ndef f():\n    return t.monotonic(){MARK}",
                            "reads the clock: time.monotonic()"),
    "pd.Timestamp('now')": ("risk/market.py", f"import pandas as pd\ndef f():\n    return pd.Timestamp('now'){MARK}",
                            "reads the clock: pandas.Timestamp()"),
    "global": ("risk/batch.py", f"COUNT = 0\ndef f():\n    global COUNT{MARK}\n    COUNT += 1",
               "declares global COUNT (state in a pure layer)"),
    "edge library in config": ("config/policy.py", f"import duckdb{MARK}", "imports duckdb (I/O in a pure layer)"),
    "open in config": ("config/policy.py", f"def f():\n    return open('x'){MARK}",
                       "calls open() (I/O in a pure layer)"),
    "allowed call in another function of the allowed file": (
        "config/loader.py", f"def other(p):\n    return Path(p).read_bytes(){MARK}",
        "calls Path(p).read_bytes() (I/O in a pure layer)"),
}
PATH_METHODS = ["read_text", "read_bytes", "write_text", "write_bytes", "open", "mkdir", "unlink"]


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "quantum_trader"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _inject(root: Path, rel: str, code: str) -> str:
    """Append ``code`` to ``rel``; the ``file:line`` of its marked line."""
    path = root / rel
    before = path.read_text(encoding="utf-8")
    text = before.rstrip("\n") + "\n\n\n" + code + "\n"
    path.write_text(text, encoding="utf-8")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.endswith(MARK))
    return f"{rel}:{line}"


def test_an_untouched_copy_passes(tmp_path: Path) -> None:
    assert [str(v) for v in check_package(_copy(tmp_path))] == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_injected_violation_fails_naming_file_and_violation(case: str, tmp_path: Path) -> None:
    rel, code, what = CASES[case]
    root = _copy(tmp_path)
    where = _inject(root, rel, code)
    assert f"{where} {what}" in [str(v) for v in check_package(root)]


@pytest.mark.parametrize("method", PATH_METHODS)
def test_path_io_in_a_pure_layer_fails(method: str, tmp_path: Path) -> None:
    root = _copy(tmp_path)
    where = _inject(root, "signals/model.py", f"from pathlib import Path\ndef f():\n    Path('x').{method}(){MARK}")
    assert [str(v) for v in check_package(root)] == [f"{where} calls Path('x').{method}() (I/O in a pure layer)"]


def test_an_allowance_covers_one_call_in_one_function(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    rel = "config/loader.py"
    where = _inject(root, rel, f"def default_policy_text_copy():\n    return Path('x').read_text(){MARK}")
    assert any(a.path == rel and a.api == ".read_text" for a in PURE_IO_ALLOWED)
    assert [str(v) for v in check_package(root)] == [f"{where} calls Path('x').read_text() (I/O in a pure layer)"]
