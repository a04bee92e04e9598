"""The default policy with a few settings changed, validated exactly like a user's file.

Scenario tests and users' experiments usually want "the spec's policy, except this":
overrides go through the same merge and strict validation as a policy file, so a typo
or an out-of-range value is the same one clear ``PolicyError`` a user would get, and
``QT__`` environment variables are ignored so a developer's shell cannot change a test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from quantum_trader.config import Policy, PolicyError, parse_policy

SOURCE = "policy overrides"


def _nest(dotted: Mapping[str, Any]) -> dict[str, Any]:
    """``{"portfolio.max_positions": 3}`` -> ``{"portfolio": {"max_positions": 3}}``."""
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        parts = key.split(".")
        if not all(parts):
            raise PolicyError(f"{SOURCE}: {key!r} is not a dotted policy key such as 'portfolio.max_positions'")
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise PolicyError(f"{SOURCE}: {key!r} sets a key under a value given elsewhere")
            node = child
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = dict(value) if isinstance(value, Mapping) else value
    return merged


def policy_with(dotted: Mapping[str, Any] | None = None, /, **sections: Mapping[str, Any]) -> Policy:
    """The default policy with overrides, by dotted key or by section (both may be combined).

    ``policy_with({"portfolio.max_positions": 3}, venue={"latency_bars": 2})``
    """
    overrides = _merge(_nest(dotted or {}), sections)
    text = yaml.safe_dump(overrides, sort_keys=False)
    return parse_policy(text, SOURCE, env={})
