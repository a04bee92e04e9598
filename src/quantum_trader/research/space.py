"""The parameters a study varies, as a user writes them: ``--param NAME=SPEC``, one per parameter.

SPEC is a list ``5,10,20``, a stepped range ``5:50:5`` (both ends included), a range ``5:50`` (integers
when both ends are; floats otherwise) or ``0.001:0.1:log`` (a log-scaled float range), or one value. A
sweep needs a finite grid (lists, stepped ranges); an optimisation takes any. A NAME with a dot is a
policy setting (``risk.x=...``, applied as ``--set`` is); any other is a constructor parameter of the
strategy. Values travel as text, as ``--param`` gives them, so the strategy loader reads them as it
always does (the type its constructor declares).

Every mistake is one ``SpaceError`` line naming the ``--param`` and what to write instead.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_GRID = 100_000
"""A grid larger than this is refused before anything runs (a typo in a step, not a study)."""


class SpaceError(ValueError):
    """A ``--param`` that does not describe values; the message is the one line to show."""


@dataclass(frozen=True)
class Dimension:
    """One parameter: a list of values (``choices``) or a numeric range (``low``..``high``)."""

    name: str
    choices: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 0.0
    integer: bool = False
    log: bool = False

    @property
    def is_policy(self) -> bool:
        return "." in self.name

    @property
    def finite(self) -> bool:
        return bool(self.choices)

    def describe(self) -> str:
        if self.choices:
            return ",".join(self.choices)
        return f"{_text(self.low, self.integer)}:{_text(self.high, self.integer)}{':log' if self.log else ''}"


def _text(value: float, integer: bool) -> str:
    """A number as ``--param`` would give it: ``10``, ``0.25`` (no float noise such as 0.30000000000000004)."""
    if integer:
        return str(round(value))
    return repr(float(f"{value:.12g}"))


def _number(option: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpaceError(f"{option}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SpaceError(f"{option}: {text!r} is not a finite number")
    return value


def _is_int(text: str) -> bool:
    return text.strip().lstrip("+-").isdigit()


def _listed(option: str, spec: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in spec.split(","))
    if any(not v for v in values):
        raise SpaceError(f"{option}: an empty value in the list")
    if len(set(values)) != len(values):
        raise SpaceError(f"{option}: a value is listed twice")
    return values


def parse_dimension(item: str) -> Dimension:
    """One ``--param NAME=SPEC``."""
    name, sep, spec = item.partition("=")
    name, spec = name.strip(), spec.strip()
    option = f"--param {item.strip()!r}"
    if not sep or not name or not all(part.isidentifier() for part in name.split(".")):
        raise SpaceError(f"{option}: expected NAME=VALUES, e.g. fast=5,10,20 or fast=5:50:5 or fast=5:50")
    if not spec:
        raise SpaceError(f"{option}: no values after '='")
    if ":" not in spec:
        return Dimension(name, choices=_listed(option, spec))
    parts = [p.strip() for p in spec.split(":")]
    if len(parts) not in (2, 3):
        raise SpaceError(f"{option}: a range is LOW:HIGH, LOW:HIGH:STEP or LOW:HIGH:log")
    low, high = _number(option, parts[0]), _number(option, parts[1])
    if high <= low:
        raise SpaceError(f"{option}: the range is empty ({parts[0]} is not below {parts[1]})")
    integer = _is_int(parts[0]) and _is_int(parts[1])
    if len(parts) == 2:
        return Dimension(name, low=low, high=high, integer=integer)
    if parts[2].lower() == "log":
        if low <= 0:
            raise SpaceError(f"{option}: a log range needs LOW > 0")
        return Dimension(name, low=low, high=high, integer=False, log=True)
    step = _number(option, parts[2])
    if step <= 0:
        raise SpaceError(f"{option}: the step must be positive, got {parts[2]}")
    integer = integer and _is_int(parts[2])
    count = math.floor((high - low) / step + 1e-9) + 1
    if count > MAX_GRID:
        raise SpaceError(f"{option}: {count:,} values; use a larger step")
    values = tuple(_text(low + i * step, integer) for i in range(count))
    return Dimension(name, choices=values)


@dataclass(frozen=True)
class Space:
    """Every parameter a study varies, in the order given."""

    dimensions: tuple[Dimension, ...]

    @classmethod
    def parse(cls, items: Sequence[str]) -> Space:
        dims = tuple(parse_dimension(item) for item in items)
        names = [d.name for d in dims]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise SpaceError(f"--param {twice[0]}: given twice; give each parameter once")
        return cls(dims)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    def grid(self) -> list[dict[str, str]]:
        """Every combination, the first parameter varying slowest (a sweep needs lists or stepped ranges)."""
        ranged = [d for d in self.dimensions if not d.finite]
        if ranged:
            d = ranged[0]
            raise SpaceError(f"--param {d.name}={d.describe()}: a sweep needs a list or a stepped range "
                             f"(e.g. {d.name}={d.describe()}:STEP); ranges without a step are for `research optimize`")
        size = math.prod(len(d.choices) for d in self.dimensions)
        if size > MAX_GRID:
            raise SpaceError(f"--param: the grid has {size:,} combinations (at most {MAX_GRID:,}); use larger steps")
        return [dict(zip(self.names, combo, strict=True))
                for combo in itertools.product(*(d.choices for d in self.dimensions))]

    def suggest(self, trial: Any) -> dict[str, str]:
        """An Optuna trial's values for every parameter, as text."""
        out: dict[str, str] = {}
        for d in self.dimensions:
            if d.choices:
                out[d.name] = str(trial.suggest_categorical(d.name, list(d.choices)))
            elif d.integer:
                out[d.name] = str(trial.suggest_int(d.name, int(d.low), int(d.high)))
            else:
                out[d.name] = _text(trial.suggest_float(d.name, d.low, d.high, log=d.log), False)
        return out

    def split(self, values: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """(strategy parameters, policy settings) of one parameter set."""
        strategy = {k: v for k, v in values.items() if "." not in k}
        policy = {k: v for k, v in values.items() if "." in k}
        return strategy, policy


def typed(value: str) -> int | float | str:
    """A parameter's text as the number it is, for the table and the charts (text stays text)."""
    if _is_int(value):
        return int(value)
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value
