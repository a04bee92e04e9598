"""Load, override and validate the policy, turning every failure into one readable line.

YAML is parsed, environment overrides are applied to scalar leaves, and the result is
validated in pydantic's strict JSON mode (so ``"5"`` is not silently an int).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from quantum_trader.config.policy import Policy

ENV_PREFIX = "QT__"


class PolicyError(ValueError):
    """A policy that cannot be used; the message names the file, key path, value and rule."""


def default_policy_text() -> str:
    return resources.files("quantum_trader.config").joinpath("default_policy.yaml").read_text("utf-8")


def _format_error(source: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not part of the policy; check the spelling)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        got = f", got {err['input']!r}" if "input" in err and err["type"] not in ("missing",) else ""
        if err["type"] == "extra_forbidden" or isinstance(err.get("input"), dict | list):
            got = ""
        lines.append(f"{path}: {msg}{got}" if path else msg)
    return f"{source}: " + ("\n  ".join(lines) if len(lines) == 1 else "\n  " + "\n  ".join(lines))


def _env_overrides(env: Mapping[str, str]) -> list[tuple[list[str], Any, str]]:
    found = []
    for key, raw in sorted(env.items()):
        if key.startswith(ENV_PREFIX):
            path = [p.lower() for p in key[len(ENV_PREFIX):].split("__") if p]
            found.append((path, yaml.safe_load(raw), key))
    return found


def _apply_override(data: dict[str, Any], path: list[str], value: Any, env_key: str) -> None:
    node: Any = data
    for i, part in enumerate(path[:-1]):
        key: Any = int(part) if part.isdigit() and isinstance(node, dict) and int(part) in node else part
        if not isinstance(node, dict) or key not in node:
            raise PolicyError(f"{env_key}: no policy key {'.'.join(path[: i + 1])}")
        node = node[key]
    leaf = path[-1]
    if not isinstance(node, dict) or leaf not in node:
        raise PolicyError(f"{env_key}: no policy key {'.'.join(path)}")
    if isinstance(node[leaf], dict | list):
        raise PolicyError(f"{env_key}: {'.'.join(path)} is a section, only scalar settings can be overridden")
    node[leaf] = value


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A user file overrides the defaults key by key; sections merge, lists and scalars replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_policy(text: str, source: str, *, env: Mapping[str, str] | None = None,
                 merge_defaults: bool = True) -> Policy:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: the policy must be a mapping of sections, got {type(raw).__name__}")
    if merge_defaults:
        defaults = yaml.safe_load(default_policy_text())
        raw = _merge(defaults, raw)
    for path, value, env_key in _env_overrides(os.environ if env is None else env):
        _apply_override(raw, path, value, env_key)
    try:
        return Policy.model_validate_json(json.dumps(raw), strict=True)
    except ValidationError as exc:
        raise PolicyError(_format_error(source, exc)) from None


def load_policy(path: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> Policy:
    """The default policy, or a user's file merged over it, with ``QT__`` overrides applied.

    A user file need only state what it changes; every other value keeps the spec's default.
    """
    if path is None:
        return parse_policy(default_policy_text(), "default_policy.yaml", env=env, merge_defaults=False)
    file = Path(path)
    try:
        text = file.read_text("utf-8")
    except OSError as exc:
        raise PolicyError(f"{file}: cannot read policy file: {exc.strerror}") from None
    return parse_policy(text, str(file), env=env)


def policy_to_yaml(policy: Policy) -> str:
    return yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
