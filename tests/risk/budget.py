"""Example budgets of the risk property tests, scaled by the hypothesis profile that is loaded.

Each test states its budget under the default profile (100 examples); the ``ci`` profile
(150, see tests/conftest.py) raises every one of them by the same half.
"""

from __future__ import annotations

from hypothesis import settings

DEFAULT_EXAMPLES = 100


def examples(budget: int) -> int:
    """``budget`` scaled by the loaded profile's ``max_examples`` against the default's 100."""
    return max(1, budget * settings.default.max_examples // DEFAULT_EXAMPLES)
