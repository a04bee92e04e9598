"""A signal named on the command line: one we ship, or a user's ``package.module:function``.

Importing a user's module runs code chosen at run time, which the pure ``signals`` layer
never does (its look-ahead checker takes the function it checks). The command resolves
the name here and hands the function over, so a typo or a module that does not import
is one clear line instead of a traceback.
"""

from __future__ import annotations

import importlib
from typing import cast

from quantum_trader.config.policy import Policy
from quantum_trader.signals.lookahead import SignalFn, shipped_signals


class SignalLoadError(ValueError):
    """A signal name that is neither shipped nor an importable ``module:function``."""


def load_signal(name: str, policy: Policy | None = None) -> SignalFn:
    """A shipped signal by name, or a user's ``package.module:function`` mapping BarSeries -> array(s)."""
    shipped = shipped_signals(policy)
    if name in shipped:
        return shipped[name]
    if ":" not in name:
        raise SignalLoadError(
            f"unknown signal {name!r}: use one of {', '.join(sorted(shipped))} or 'package.module:function'"
        )
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SignalLoadError(f"signal {name!r}: cannot import module {module_name!r} ({exc})") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise SignalLoadError(f"signal {name!r}: {module_name} has no callable {attr!r}")
    # The user's function is untyped by nature; check_lookahead validates what it returns, bar by bar.
    return cast(SignalFn, fn)
