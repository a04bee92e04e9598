"""Read the spec's own tables (YAML and Python blocks of the markdown) into plain values.

The drift test compares these with the policy defaults, so the spec stays the single
source of the numbers: edit one without the other and the suite fails.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import yaml

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "multi-asset-expansion.md"

_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
_COMPARISON = re.compile(r":\s*([<>][^\n#]*?)\s*(#.*)?$", re.M)


def _quote_comparisons(body: str) -> str:
    """YAML reads ``> 0.8`` as a folded scalar; the spec means a comparison, so quote it."""
    return _COMPARISON.sub(lambda m: f': "{m.group(1).strip()}"', body)


def _python_literal(body: str, name: str) -> Any:
    match = re.search(rf"{name}\s*=\s*(\{{.*\}})", body, re.S)
    assert match is not None, f"{name} not found in the spec"
    text = re.sub(r"#[^\n]*", "", match.group(1)).replace("true", "True").replace("false", "False")
    return ast.literal_eval(text)


def spec_tables(text: str) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for lang, body in _BLOCK.findall(text):
        if lang == "yaml":
            tables.update(yaml.safe_load(_quote_comparisons(body)))
        elif lang == "python":
            for name in ("MULTI_ASSET_RISK_LIMITS", "ASSET_MODEL_CONFIG", "CROSS_ASSET_SIGNALS"):
                if f"{name} =" in body:
                    tables[name] = _python_literal(body, name)
            if "def check_correlation_limit" in body:
                tables["check_correlation_limit"] = body
    return tables


def money(text: str) -> float:
    """``$500M`` -> 500e6, ``$5M`` -> 5e6, ``$50B+`` -> 50e9."""
    match = re.fullmatch(r"\$(\d+(?:\.\d+)?)([MB])\+?", text.strip())
    assert match is not None, f"not a money figure: {text!r}"
    return float(match.group(1)) * {"M": 1e6, "B": 1e9}[match.group(2)]


def percent(text: str) -> float:
    match = re.search(r"(-?\d+(?:\.\d+)?)%", text)
    assert match is not None, f"no percentage in {text!r}"
    return float(match.group(1)) / 100.0


def bound(text: str) -> float:
    """``< 0.85`` -> 0.85, ``> 50%`` -> 0.5, ``< -15%`` -> -0.15."""
    value = text.strip().lstrip("<>").strip()
    return percent(value) if value.endswith("%") else float(value)
