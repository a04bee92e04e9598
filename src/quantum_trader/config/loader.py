"""Load, override and validate the policy, turning every failure into one readable line.

The file is read as the small, safe YAML of :mod:`policy_yaml` (which also records the
line of every key), merged over the defaults; ``QT__`` environment overrides are
applied to scalar leaves, and the result is validated in pydantic's strict JSON mode
(so ``"5"`` is not silently an int). Each error line starts with where the bad value
came from: ``file:line`` of its key, or the ``QT__`` variable that set it, so the
operator is sent to the place to fix and nowhere else.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from quantum_trader.config.policy import Policy
from quantum_trader.config.policy_yaml import YamlDocument, YamlError, json_key, read_yaml

ENV_PREFIX = "QT__"
_ENV_EXAMPLE = "write QT__<SECTION>__<KEY>=value, e.g. QT__PORTFOLIO__MAX_POSITIONS=4"
_DOTTED = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.\w+)+")
"""A key path such as ``portfolio.max_positions`` inside a cross-field rule's message."""

Lines = Mapping[tuple[str, ...], int]


class PolicyError(ValueError):
    """A policy that cannot be used; one line per problem, naming the file (and line) or the
    ``QT__`` variable, the key path, the value and the rule."""


@dataclass(frozen=True, slots=True)
class _Override:
    env_key: str
    path: tuple[str, ...]
    value: Any


def default_policy_text() -> str:
    return resources.files("quantum_trader.config").joinpath("default_policy.yaml").read_text("utf-8")


def _where(source: str, line: int | None) -> str:
    return f"{source}:{line}" if line is not None else source


def _read(text: str, source: str) -> YamlDocument:
    try:
        return read_yaml(text)
    except YamlError as problem:
        raise PolicyError(f"{_where(source, problem.line)}: {problem.message}") from None


def _env_overrides(env: Mapping[str, str]) -> list[_Override]:
    found = []
    for key, raw in sorted(env.items()):
        if not key.startswith(ENV_PREFIX):
            continue
        path = tuple(p.lower() for p in key[len(ENV_PREFIX):].split("__") if p)
        if not path:
            raise PolicyError(f"{key}: names no policy key; {_ENV_EXAMPLE}")
        try:
            value = read_yaml(raw).data
        except YamlError as problem:
            raise PolicyError(f"{key}: value {raw!r}: {problem.message}") from None
        found.append(_Override(key, path, value))
    return found


def _apply_override(data: dict[str, Any], override: _Override) -> None:
    path, env_key = override.path, override.env_key
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
    node[leaf] = override.value


def _merge(base: dict[Any, Any], override: Mapping[Any, Any]) -> dict[Any, Any]:
    """A user file overrides the defaults key by key; sections merge, lists and scalars replace.

    Keys match as JSON spells them, so a user's ``'1':`` replaces the default phase ``1:``.
    """
    merged = dict(base)
    known = {json_key(k): k for k in merged}
    for key, value in override.items():
        key = known.get(json_key(key), key)
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _mentions(message: str, path: tuple[str, ...]) -> bool:
    return ".".join(path) in _DOTTED.findall(message)


def _line_of(loc: tuple[str, ...], message: str, lines: Lines) -> int | None:
    """The key itself; else the first key a cross-field rule names that the file sets; else its section."""
    if loc in lines:
        return lines[loc]
    for mentioned in _DOTTED.findall(message):
        if tuple(mentioned.split(".")) in lines:
            return lines[tuple(mentioned.split("."))]
    for n in range(len(loc) - 1, 0, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _describe(err: ErrorDetails) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return "unknown key (not part of the policy; check the spelling)"
    if err["type"] == "missing":
        return "required key is missing"
    if "input" in err and not isinstance(err["input"], dict | list):
        return f"{msg}, got {err['input']!r}"
    return msg


def _format_errors(exc: ValidationError, source: str, lines: Lines, overrides: Sequence[_Override]) -> str:
    """One line per error, starting with the QT__ variable(s) that set the value, else ``file:line``."""
    out = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        text = _describe(err)
        blamed = [o.env_key for o in overrides if loc[: len(o.path)] == o.path or _mentions(text, o.path)]
        origin = ", ".join(blamed) if blamed else _where(source, _line_of(loc, text, lines))
        out.append(f"{origin}: {'.'.join(loc)}: {text}" if loc else f"{origin}: {text}")
    return "\n".join(out)


def parse_policy(text: str, source: str, *, env: Mapping[str, str] | None = None,
                 merge_defaults: bool = True) -> Policy:
    document = _read(text, source)
    raw = {} if document.data is None else document.data
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: the policy must be a mapping of sections, got {type(raw).__name__}")
    if merge_defaults:
        raw = _merge(_read(default_policy_text(), "default_policy.yaml").data, raw)
    overrides = _env_overrides(os.environ if env is None else env)
    for override in overrides:
        _apply_override(raw, override)
    try:
        return Policy.model_validate_json(json.dumps(raw), strict=True)
    except ValidationError as exc:
        raise PolicyError(_format_errors(exc, source, document.lines, overrides)) from None


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PolicyError(
            f"{source}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None


def _shown(file: Path) -> str:
    """The path as given, quoted and escaped if it holds a line break or another unprintable character: the
    error that names it is one line, and the name is exact (``'a\\u2028b'``, not two lines)."""
    text = str(file)
    return text if text.isprintable() else repr(text)


def load_policy(path: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> Policy:
    """The default policy, or a user's file merged over it, with ``QT__`` overrides applied.

    A user file need only state what it changes; every other value keeps the spec's default.
    """
    if path is None:
        return parse_policy(default_policy_text(), "default_policy.yaml", env=env, merge_defaults=False)
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{_shown(file)}: cannot read policy file: {exc.strerror}") from None
    return parse_policy(_decode(data, str(file)), str(file), env=env)


def policy_to_yaml(policy: Policy) -> str:
    return yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
