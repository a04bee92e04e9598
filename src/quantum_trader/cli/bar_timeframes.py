"""Which bars a command reads, and a policy whose timeframes can be built from them, decided before any work.

The multi-asset signals need their policy timeframes (``signals.model.timeframe``, 1h, and
``correlation.returns_timeframe``, 5m) to be whole multiples of the bars. On a catalog of
hourly candles the 5m correlation returns cannot be built; that used to surface as an error
deep in the run, after the data was loaded. Here it is settled first:

* the correlation returns timeframe, when the user did not set it (policy file, ``QT__``
  variable or ``--set``) and it is finer than the bars, becomes the bars' timeframe, with one
  line saying so: hourly data just works;
* anything else that does not fit stops with one line giving the exact ``--set`` to pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantum_trader.cli.errors import fail
from quantum_trader.cli.options import policy_problem
from quantum_trader.domain.time import timeframe_ms

if TYPE_CHECKING:
    from quantum_trader.config import Policy

MODEL_KEY = "signals.model.timeframe"
CORR_KEY = "correlation.returns_timeframe"
ENV_PREFIX = "QT__"


def env_key(dotted: str) -> str:
    return ENV_PREFIX + "__".join(part.upper() for part in dotted.split("."))


def set_overrides(items: Sequence[str]) -> dict[str, str]:
    """``--set correlation.returns_timeframe=1h`` as the ``QT__`` variable the policy loader applies."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        parts = key.split(".")
        if not sep or not all(p.strip() and p.replace("_", "").isalnum() for p in parts) or not value.strip():
            raise fail(f"--set {item!r}: expected KEY=VALUE with a dotted policy key, "
                       f"e.g. --set {CORR_KEY}=1h")
        out[env_key(key)] = value.strip()
    return out


def policy_with_sets(path: Path | None, sets: Sequence[str]) -> Policy:
    """The policy (defaults, ``path``, ``QT__`` variables, then ``--set``), or one line per problem."""
    from quantum_trader.config import PolicyError, load_policy

    overrides = set_overrides(sets)
    try:
        return load_policy(path, env={**os.environ, **overrides})
    except PolicyError as exc:
        message = policy_problem(str(exc))
        for item, key in zip(sets, overrides, strict=True):
            message = message.replace(f"{key}:", f"--set {item.strip()}:")
        raise fail(f"invalid policy {message}") from None


def explicit_keys(path: Path | None, sets: Sequence[str], env: Mapping[str, str] | None = None) -> set[str]:
    """The timeframe keys the user chose (in the policy file, a ``QT__`` variable or ``--set``)."""
    environ = {k.upper(): v for k, v in (os.environ if env is None else env).items()}
    chosen = {key for key in (MODEL_KEY, CORR_KEY) if env_key(key) in environ or env_key(key) in set_overrides(sets)}
    if path is not None and path.is_file():
        import yaml

        try:
            data: Any = yaml.safe_load(path.read_text("utf-8"))
        except (OSError, yaml.YAMLError):
            data = None
        for key in (MODEL_KEY, CORR_KEY):
            node = data
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                chosen.add(key)
    return chosen


def fit_policy(policy: Policy, bars: str, explicit: Iterable[str]) -> tuple[Policy, list[str]]:
    """The policy the multi-asset signals can run on ``bars``, and a line for each change made to it."""
    step = timeframe_ms(bars)
    model = policy.signals.model.timeframe
    if timeframe_ms(model) % step:
        raise fail(f"the policy's {MODEL_KEY} ({model}) cannot be built from {bars} bars: pass a --timeframe that "
                   f"divides {model}, or --set {MODEL_KEY}={bars} (or {env_key(MODEL_KEY)}={bars})")
    return fit_correlation(policy, bars, explicit)


def fit_correlation(policy: Policy, bars: str, explicit: Iterable[str]) -> tuple[Policy, list[str]]:
    """The policy with correlation returns that can be built from ``bars`` (what any strategy's risk checks read)."""
    step = timeframe_ms(bars)
    corr = policy.correlation.returns_timeframe
    if not timeframe_ms(corr) % step:
        return policy, []
    if CORR_KEY in set(explicit) or timeframe_ms(corr) > step:
        raise fail(f"the policy's {CORR_KEY} ({corr}) cannot be built from {bars} bars: pass "
                   f"--set {CORR_KEY}={bars} (or {env_key(CORR_KEY)}={bars})")
    correlation = policy.correlation.model_copy(update={"returns_timeframe": bars})
    fitted = policy.model_copy(update={"correlation": correlation})
    return fitted, [f"{CORR_KEY} {corr} is finer than the {bars} bars: correlations use {bars} returns "
                    f"(choose another with --set {CORR_KEY}=...)"]


def with_entry(policy: Policy, entry: str | None) -> Policy:
    """The policy with ``--entry`` (market or limit orders for entries) applied, when given."""
    if entry is None:
        return policy
    venue = policy.venue.model_copy(update={"entry": policy.venue.entry.model_copy(update={"type": entry})})
    return policy.model_copy(update={"venue": venue})


def fitted_for(strategy: object, policy: Policy, bars: str, explicit: Iterable[str]) -> tuple[Policy, list[str]]:
    """The policy fitted to the run's bars for ``strategy``: the multi-asset strategy's timeframes and the
    correlation's, or the correlation's alone for another strategy whose risk checks read it; the reference
    sma-cross reads no correlation and takes the policy as it is (notes: what was changed, one line each)."""
    from quantum_trader.engine.strategies import MultiAssetStrategy, SmaCrossStrategy

    if isinstance(strategy, SmaCrossStrategy):
        return policy, []
    fit = fit_policy if isinstance(strategy, MultiAssetStrategy) else fit_correlation
    return fit(policy, bars, explicit)


def candle_timeframes(root: Path, symbols: Sequence[str], exchange: str | None) -> dict[str, set[str]]:
    """The candle timeframes the catalog holds for each symbol (on ``exchange``, or any)."""
    from quantum_trader.data.catalog import Catalog
    from quantum_trader.domain.kinds import DataKind

    held: dict[str, set[str]] = {s: set() for s in symbols}
    for info in Catalog(root).datasets():
        if info.kind is DataKind.CANDLES and info.symbol in held and info.timeframe and (
                exchange is None or info.exchange == exchange):
            held[info.symbol].add(info.timeframe)
    return held


def finest_common_timeframe(root: Path, symbols: Sequence[str], exchange: str | None) -> str:
    """The finest candle timeframe every symbol has: what ``backtest`` reads when ``--timeframe`` is not given."""
    held = candle_timeframes(root, symbols, exchange)
    where = f"catalog {root}" + (f" (exchange {exchange!r})" if exchange else "")
    missing = [s for s, tfs in held.items() if not tfs]
    if missing:
        raise fail(f"no candles for {', '.join(missing)} in {where}; "
                   "add them with `quantum-trader data ingest|download|synth` or leave them out of --symbols")
    common = set.intersection(*held.values())
    if not common:
        have = "; ".join(f"{s}: {', '.join(sorted(t, key=timeframe_ms))}" for s, t in held.items())
        raise fail(f"the symbols share no candle timeframe in {where} ({have}); "
                   "resample with `quantum-trader data resample` or pass --timeframe")
    return min(common, key=timeframe_ms)
