"""The YAML a policy is written in: PyYAML's safe loader, with what a risk policy never needs taken out.

``yaml.safe_load`` builds no Python objects, but it still lets through what makes a
policy mean something other than what it says, or never load at all:

- a key given twice keeps the last value, silently (a repeated ``portfolio:`` section
  drops the first one whole);
- aliases are shared references: a 1 KB "billion laughs" file is 400 million strings
  once the policy is merged and serialised (98 s and 3.5 GB, then a MemoryError);
- the composer recurses once per nesting level, so ``[[[[...`` ends in a RecursionError;
- YAML 1.1 scalars: ``0x10`` is 16, ``1_0`` is 10, ``010`` is 8, ``1:30`` is 90, ``on``
  is true, ``.inf`` is a number and ``2024-01-01`` a date that JSON cannot carry.

So :class:`PolicyLoader` refuses aliases, tags other than ``!!str``/``!!seq``/``!!map``
and nesting deeper than :data:`MAX_DEPTH`; it resolves only decimal numbers, ``true``/
``false`` and null (anything else stays text, for pydantic to refuse with the value
shown), and :func:`read_yaml` refuses a repeated key, naming both lines. Every problem
is a :class:`YamlError` with the line, so the loader can print one line per problem.
Numbers are YAML 1.1's decimal ones plus an exponent without a point or sign (``5e8``,
``1e-4``, as JSON writes them), so ``yaml.safe_dump`` output reads back the same except
a text value spelled like such a number (it is written unquoted), which no policy has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, Event, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 20
"""Nested lists and mappings, the document's own mapping included (the default policy uses 5)."""

_CORE = "tag:yaml.org,2002:"
_EXPLICIT_TAGS = frozenset({f"{_CORE}str", f"{_CORE}seq", f"{_CORE}map", "!"})
"""Tags a file may write: they only say "text", "list" or "mapping" (``!`` is plain text)."""


class YamlError(ValueError):
    """Why a text is not a policy's YAML, and the 1-based line where it shows (None when unknown)."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class YamlDocument:
    data: Any
    """Plain dicts, lists, str, int, float, bool and None; None for an empty document."""
    lines: Mapping[tuple[str, ...], int]
    """Key path (keys as JSON will spell them, list indexes as text) -> line of that key or item."""


class PolicyLoader(yaml.SafeLoader):
    """Safe loader without aliases, foreign tags, deep nesting or YAML 1.1's implicit types."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: Event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, AliasEvent):
            raise YamlError(line, f"YAML aliases (*name) are not allowed in a policy: write out the value of "
                                    f"*{event.anchor}")
        tag = event.tag if isinstance(event, ScalarEvent | CollectionStartEvent) else None
        if tag is not None and tag not in _EXPLICIT_TAGS:
            shown = "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag
            raise YamlError(line, f"tag {shown} is not allowed in a policy (plain values, lists and mappings only)")
        if not isinstance(event, CollectionStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlError(line, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


PolicyLoader.yaml_implicit_resolvers = {}  # SafeLoader's YAML 1.1 set is replaced, not extended
_RESOLVERS = (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
    ("float", r"^[-+]?(?:(?:(?:0|[1-9][0-9]*)\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|(?:0|[1-9][0-9]*)[eE][-+]?[0-9]+)$",
     "-+0123456789."),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
)
for _name, _pattern, _first in _RESOLVERS:
    PolicyLoader.add_implicit_resolver(f"{_CORE}{_name}", re.compile(_pattern), list(_first))


def json_key(value: object) -> str:
    """A mapping key as ``json.dumps`` writes it, so ``1`` and ``'1'`` are the same key, as they will be."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _index(loader: PolicyLoader, node: Node, path: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> None:
    """Record the line of every key and item, refusing a key given twice or a key that is not a value."""
    if isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, str(i))] = item.start_mark.line + 1
            _index(loader, item, (*path, str(i)), lines)
    elif isinstance(node, MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                where = f"{_dotted(path)}: " if path else ""
                raise YamlError(line, f"{where}a key must be a plain value, not a list or mapping")
            key = json_key(loader.construct_object(key_node))
            if key in first:
                raise YamlError(line, f"duplicate key {_dotted((*path, key))} (first at line {first[key]})")
            first[key] = lines[(*path, key)] = line
            _index(loader, value_node, (*path, key), lines)


def _problem(exc: yaml.YAMLError, text: str) -> YamlError:
    """PyYAML's several-line report as one line: the problem, its context, the line."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return YamlError(line, f"not valid YAML: unacceptable character #x{exc.character:04x}")
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        at_line = mark.line + 1 if mark is not None else None
        problem = exc.problem or "malformed"
        if exc.context and problem.startswith("but "):  # "expected a single document ..., but found another"
            return YamlError(at_line, f"not valid YAML: {exc.context}, {problem}")
        context = ""
        if exc.context:
            at = f" at line {exc.context_mark.line + 1}" if exc.context_mark is not None else ""
            context = f" ({exc.context}{at})"
        return YamlError(at_line, f"not valid YAML: {problem}{context}")
    return YamlError(None, "not valid YAML: " + " ".join(str(exc).split()))


def read_yaml(text: str) -> YamlDocument:
    """Parse one policy document; every failure is a :class:`YamlError` naming its line."""
    try:
        loader = PolicyLoader(text)  # checks every character at once
    except yaml.YAMLError as exc:
        raise _problem(exc, text) from None
    try:
        root = loader.get_single_node()
        if root is None:
            return YamlDocument(None, {})
        lines: dict[tuple[str, ...], int] = {}
        _index(loader, root, (), lines)
        return YamlDocument(loader.construct_document(root), lines)
    except yaml.YAMLError as exc:
        raise _problem(exc, text) from None
    finally:
        loader.dispose()
