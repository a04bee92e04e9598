"""The run folder: the one on-disk contract between the engine that writes a backtest and the tools that read it.

A run is a folder ``runs/<run-id>/`` of plain files (Parquet, JSON, YAML, HTML) so that any tool,
DuckDB or a spreadsheet, can open it without our code. The schema lives here, once: the engine
writes through the ``write_*`` helpers, the report and the CLI read through the lazy readers, and
both sides check the same columns (``engine.schema``), so a drift between writer and reader fails loudly at the file
that drifted instead of as a blank chart.

Runs written by earlier versions still load: a trades file from before ``funding_paid`` (its
``funding`` column was what the trade received) is read with the sign turned, and the columns it
lacks (``signal``, ``entry_slippage``) read as unknown: '' and NaN. Older runs have no
``prices.parquet``; the report says so instead of charting prices.

Every write goes to a hidden temp file in the same folder and is moved into place with
``os.replace``: a crash mid-write leaves the previous file (or none), never half a Parquet file.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from quantum_trader.domain.market import F64, I64
from quantum_trader.domain.time import MS_PER_HOUR
from quantum_trader.engine.schema import EQUITY_COLUMNS, EVENT_COLUMNS, PRICE_COLUMNS, TRADE_COLUMNS
from quantum_trader.monitor.alerts.model import ALERT_COLUMNS

TRADES_FILE: Final = "trades.parquet"
EQUITY_FILE: Final = "equity.parquet"
EVENTS_FILE: Final = "events.parquet"
PRICES_FILE: Final = "prices.parquet"
"""Per symbol, closes sampled at most hourly (``hourly_closes``): the report's price charts."""
CORRELATION_FILE: Final = "correlation.parquet"
"""Correlation matrix at the end of the run: column ``symbol`` plus one column per symbol, square."""
CORRELATION_AVERAGE_FILE: Final = "correlation_average.parquet"
"""Optional: the run's average correlation matrix, same layout as ``correlation.parquet``."""
ALERTS_FILE: Final = "alerts.parquet"
"""The alerts the rules raised over the run (``monitor.alerts``, ``ALERT_COLUMNS``); absent in older runs."""
METRICS_FILE: Final = "metrics.json"
POLICY_FILE: Final = "policy.yaml"
REPORT_FILE: Final = "report.html"

RUN_KEYS: Final = ("run_id", "strategy", "symbols", "start", "end", "bars", "policy_name", "created", "duration_s")
"""Keys of the ``run`` object inside metrics.json."""

_INT_COLUMNS: Final = frozenset(
    {"ts", "entry_ts", "exit_ts", "open_positions", "slots_tier_1", "slots_tier_2", "slots_tier_3"}
)
_STR_COLUMNS: Final = frozenset({"symbol", "side", "exit_reason", "kind", "rule", "message", "signal", "severity",
                                 "key"})
_UNKNOWN_TRADE_COLUMNS: Final[dict[str, str | float]] = {"signal": "", "entry_slippage": math.nan}
"""Trade columns added after runs were first written, and what an older run reads for them."""


class RunFolderError(ValueError):
    """A run folder file that is missing or does not match its schema; the message names file and column."""


def _upgrade_trades(frame: pd.DataFrame) -> pd.DataFrame:
    """A trades file of an earlier version in today's columns (see the module docstring)."""
    columns = {str(c) for c in frame.columns}
    if "funding" in columns and "funding_paid" not in columns:
        frame = frame.rename(columns={"funding": "funding_paid"})
        if pd.api.types.is_numeric_dtype(frame["funding_paid"].dtype):  # else the schema check names it
            frame["funding_paid"] = 0.0 - frame["funding_paid"].astype(np.float64)
    for name, unknown in _UNKNOWN_TRADE_COLUMNS.items():
        if name not in columns:
            frame[name] = unknown
    return frame


def hourly_closes(ts: I64, close: F64, symbols: Sequence[str], step_ms: int) -> pd.DataFrame:
    """Rows of prices.parquet from a run's grid: bar open times ``ts`` (T,), closes (T, N), NaN without a bar.

    Per symbol, the close of every bar that ends on a UTC hour, and of its first and last bar,
    stamped with the bar's close time. A year of 1m bars becomes 8,760 rows per symbol: enough
    for a chart, and cheap to select with a few vectorised passes.
    """
    ends = np.asarray(ts, dtype=np.int64) + int(step_ms)
    valid = np.isfinite(close)
    keep = valid & (ends % MS_PER_HOUR == 0)[:, None]
    listed = np.flatnonzero(valid.any(axis=0))
    keep[np.argmax(valid[:, listed], axis=0), listed] = True
    keep[valid.shape[0] - 1 - np.argmax(valid[::-1, listed], axis=0), listed] = True
    by_symbol = keep.T  # symbol-major: each symbol's rows together, in time order
    column, row = np.nonzero(by_symbol)
    return pd.DataFrame({"ts": ends[row], "symbol": np.asarray(list(symbols), dtype=object)[column],
                         "close": close.T[by_symbol]})


def _check_columns(frame: pd.DataFrame, expected: Sequence[str], file: Path) -> pd.DataFrame:
    """Exact column set, in schema order, with each column's kind checked.

    Timestamps must already be integers: a float ``ts`` means the writer lost the int64 ms
    convention somewhere upstream, and rounding it here would hide that bug.
    """
    columns = [str(c) for c in frame.columns]
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    if missing:
        raise RunFolderError(f"{file}: missing column(s) {', '.join(missing)} (expected {', '.join(expected)})")
    if extra:
        raise RunFolderError(f"{file}: unexpected column(s) {', '.join(extra)} (expected {', '.join(expected)})")
    out = frame.loc[:, list(expected)].reset_index(drop=True)
    for name in expected:
        out[name] = _coerce(out[name], name, file)
    return out


def _coerce(column: pd.Series, name: str, file: Path) -> pd.Series:
    if column.empty:  # an empty frame built from column names alone has object dtype everywhere
        kind: Any = np.int64 if name in _INT_COLUMNS else object if name in _STR_COLUMNS else np.float64
        return column.astype(kind)
    if name in _INT_COLUMNS:
        if not pd.api.types.is_integer_dtype(column.dtype):
            raise RunFolderError(f"{file}: column {name} must hold integers (epoch ms / counts), got {column.dtype}")
        return column.astype(np.int64)
    if name in _STR_COLUMNS:
        if column.isna().any():
            row = int(np.flatnonzero(column.isna().to_numpy())[0])
            raise RunFolderError(f"{file}: column {name} row {row} is empty; use '' when it does not apply")
        return column.astype(object).map(str)
    if not (pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype)):
        raise RunFolderError(f"{file}: column {name} must be numeric, got {column.dtype}")
    return column.astype(np.float64)


def atomic_write(target: Path, write: Callable[[Path], object]) -> Path:
    """Write through a hidden temp file in the same folder, then ``os.replace`` it over the target."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers and readers would choke on them."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunFolder:
    """One run's folder: lazy, cached readers for the report and CLI, validating writers for the engine."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._cache: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def run_id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    # ---- readers -------------------------------------------------------------------------------

    def _read_table(self, name: str, columns: Sequence[str],
                    upgrade: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> pd.DataFrame:
        if name not in self._cache:
            file = self.file(name)
            if not file.is_file():
                raise RunFolderError(f"{file}: file not found in run folder {self.path}")
            raw = pd.read_parquet(file)
            self._cache[name] = _check_columns(raw if upgrade is None else upgrade(raw), columns, file)
        frame: pd.DataFrame = self._cache[name]
        return frame.copy()

    def trades(self) -> pd.DataFrame:
        return self._read_table(TRADES_FILE, TRADE_COLUMNS, _upgrade_trades)

    def equity(self) -> pd.DataFrame:
        return self._read_table(EQUITY_FILE, EQUITY_COLUMNS)

    def events(self) -> pd.DataFrame:
        return self._read_table(EVENTS_FILE, EVENT_COLUMNS)

    def prices(self) -> pd.DataFrame:
        return self._read_table(PRICES_FILE, PRICE_COLUMNS)

    def alerts(self) -> pd.DataFrame:
        """The run's alerts (none in a run written before alerts were: an empty table)."""
        if not self.has(ALERTS_FILE):
            return _check_columns(pd.DataFrame(columns=list(ALERT_COLUMNS)), ALERT_COLUMNS, self.file(ALERTS_FILE))
        return self._read_table(ALERTS_FILE, ALERT_COLUMNS)

    def correlation(self, *, average: bool = False) -> pd.DataFrame:
        """The matrix indexed and columned by symbol (float64)."""
        name = CORRELATION_AVERAGE_FILE if average else CORRELATION_FILE
        if name not in self._cache:
            file = self.file(name)
            if not file.is_file():
                raise RunFolderError(f"{file}: file not found in run folder {self.path}")
            raw = pd.read_parquet(file)
            if "symbol" not in raw.columns:
                raise RunFolderError(f"{file}: missing column symbol")
            symbols = [str(s) for s in raw["symbol"]]
            self._cache[name] = _correlation_frame(symbols, raw.drop(columns="symbol"), file)
        matrix: pd.DataFrame = self._cache[name]
        return matrix.copy()

    def metrics(self) -> dict[str, Any]:
        if METRICS_FILE not in self._cache:
            file = self.file(METRICS_FILE)
            try:
                data = json.loads(file.read_text("utf-8"))
            except FileNotFoundError:
                raise RunFolderError(f"{file}: file not found in run folder {self.path}") from None
            except json.JSONDecodeError as exc:
                raise RunFolderError(f"{file}: not valid JSON: {exc}") from None
            _check_metrics(data, file)
            self._cache[METRICS_FILE] = data
        copy: dict[str, Any] = json.loads(json.dumps(self._cache[METRICS_FILE]))  # callers may mutate
        return copy

    def policy_text(self) -> str:
        file = self.file(POLICY_FILE)
        if not file.is_file():
            raise RunFolderError(f"{file}: file not found in run folder {self.path}")
        return file.read_text("utf-8")

    # ---- writers -------------------------------------------------------------------------------

    def _write_table(self, name: str, frame: pd.DataFrame, columns: Sequence[str]) -> Path:
        target = self.file(name)
        clean = _check_columns(frame, columns, target)
        self._cache.pop(name, None)
        return atomic_write(target, lambda tmp: clean.to_parquet(tmp, index=False))

    def write_trades(self, frame: pd.DataFrame) -> Path:
        return self._write_table(TRADES_FILE, frame, TRADE_COLUMNS)

    def write_equity(self, frame: pd.DataFrame) -> Path:
        return self._write_table(EQUITY_FILE, frame, EQUITY_COLUMNS)

    def write_events(self, frame: pd.DataFrame) -> Path:
        return self._write_table(EVENTS_FILE, frame, EVENT_COLUMNS)

    def write_alerts(self, frame: pd.DataFrame) -> Path:
        return self._write_table(ALERTS_FILE, frame, ALERT_COLUMNS)

    def write_prices(self, frame: pd.DataFrame) -> Path:
        """``hourly_closes`` of the run's grid (any frame in ``PRICE_COLUMNS``)."""
        return self._write_table(PRICES_FILE, frame, PRICE_COLUMNS)

    def write_correlation(
        self, symbols: Sequence[str], matrix: np.ndarray[Any, Any] | Sequence[Sequence[float]], *,
        average: bool = False,
    ) -> Path:
        name = CORRELATION_AVERAGE_FILE if average else CORRELATION_FILE
        target = self.file(name)
        values = np.asarray(matrix, dtype=np.float64)
        frame = _correlation_frame([str(s) for s in symbols], values, target)
        table = frame.reset_index(names="symbol")
        self._cache.pop(name, None)
        return atomic_write(target, lambda tmp: table.to_parquet(tmp, index=False))

    def write_metrics(self, metrics: Mapping[str, Any]) -> Path:
        target = self.file(METRICS_FILE)
        data = _json_safe(metrics)
        _check_metrics(data, target)
        text = json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n"
        self._cache.pop(METRICS_FILE, None)
        return atomic_write(target, lambda tmp: tmp.write_text(text, "utf-8"))

    def write_policy(self, text: str) -> Path:
        return atomic_write(self.file(POLICY_FILE), lambda tmp: tmp.write_text(text, "utf-8"))

    def write_text(self, name: str, text: str) -> Path:
        """Any other text artefact of the run (the report), with the same atomic guarantee."""
        return atomic_write(self.file(name), lambda tmp: tmp.write_text(text, "utf-8"))


def _correlation_frame(symbols: list[str], values: Any, file: Path) -> pd.DataFrame:
    if isinstance(values, pd.DataFrame):
        columns = [str(c) for c in values.columns]
        if columns != symbols:
            raise RunFolderError(
                f"{file}: the matrix columns ({', '.join(columns)}) must be the symbols in row order "
                f"({', '.join(symbols)})"
            )
        values = values.to_numpy(dtype=np.float64)
    n = len(symbols)
    if len(set(symbols)) != n:
        raise RunFolderError(f"{file}: duplicate symbols in {', '.join(symbols)}")
    if values.shape != (n, n):
        raise RunFolderError(f"{file}: the matrix is {values.shape}, expected ({n}, {n}) for symbols {symbols}")
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < -1.0 - 1e-9 or finite.max() > 1.0 + 1e-9):
        raise RunFolderError(f"{file}: correlations must lie in [-1, 1], got {finite.min():.3f}..{finite.max():.3f}")
    return pd.DataFrame(values, index=pd.Index(symbols, name="symbol"), columns=symbols)


def _check_metrics(data: Any, file: Path) -> None:
    if not isinstance(data, dict):
        raise RunFolderError(f"{file}: expected a JSON object, got {type(data).__name__}")
    run = data.get("run")
    if not isinstance(run, dict):
        raise RunFolderError(f"{file}: missing object 'run' with keys {', '.join(RUN_KEYS)}")
    missing = [k for k in RUN_KEYS if k not in run]
    if missing:
        raise RunFolderError(f"{file}: run object is missing key(s) {', '.join(missing)}")
    if not isinstance(run["symbols"], list):
        raise RunFolderError(f"{file}: run.symbols must be a list of symbols, got {run['symbols']!r}")


_SLUG_RE: Final = re.compile(r"[^a-z0-9]+")


def new_run_id(strategy: str, now_ms: int, root: str | Path | None = None) -> str:
    """``YYYYMMDD-HHMMSS-<strategy>`` in UTC: runs sort by start time as plain names.

    When ``root/<id>`` already exists (two runs in one second) a ``-2``, ``-3``... suffix keeps
    the earlier run untouched.
    """
    slug = _SLUG_RE.sub("-", strategy.lower()).strip("-")
    if not slug:
        raise ValueError(f"strategy name {strategy!r} has no letters or digits to name a run with")
    stamp = datetime.fromtimestamp(now_ms / 1000, tz=UTC).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{slug}"
    if root is None:
        return base
    folder = Path(root)
    candidate, n = base, 1
    while (folder / candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate
