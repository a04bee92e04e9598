"""The policy file is read as a small, safe YAML: each way out of it is one line with the file and line.

A risk policy decides how much money is at stake, so what PyYAML's ``safe_load`` lets
through silently is refused here: a key given twice (the last one would win unseen),
aliases (a 1 KB alias bomb took 98 s and 3.5 GB before a MemoryError), tags, nesting
that only an attack needs, bytes that are not UTF-8, and YAML 1.1's surprising
numbers (``0x10`` is 16, ``1_0`` is 10, ``1:30`` is 90).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantum_trader.config import PolicyError, load_policy, parse_policy


def _error(text: str) -> str:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "my.yaml", env={})
    return str(info.value)


def _one_line(message: str) -> str:
    assert "\n" not in message, f"not one line: {message!r}"
    return message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "portfolio:\n  max_positions: 4\n  max_total_exposure: 0.3\n  max_positions: 3\n",
            "my.yaml:4: duplicate key portfolio.max_positions (first at line 2)",
        ),
        (
            "portfolio:\n  max_positions: 4\nper_asset:\n  max_risk_per_trade: 0.01\nportfolio:\n  max_positions: 3\n",
            "my.yaml:5: duplicate key portfolio (first at line 1)",
        ),
        (
            "expansion:\n  phases:\n    1: {name: a}\n    '1': {name: b}\n",
            "my.yaml:4: duplicate key expansion.phases.1 (first at line 3)",
        ),
        (
            "margin:\n  maintenance_tiers:\n    default:\n      - {max_notional: 1, maintenance_margin_rate: 0.1,"
            " max_notional: 2}\n",
            "my.yaml:4: duplicate key margin.maintenance_tiers.default.0.max_notional (first at line 4)",
        ),
    ],
)
def test_a_key_given_twice_names_both_lines(text: str, expected: str) -> None:
    assert _one_line(_error(text)) == expected


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)
"""The classic "billion laughs": 9 ** 9 (387 million) strings from about 400 bytes."""


@pytest.mark.parametrize(
    "text",
    [
        "portfolio: &p {max_positions: 4}\nper_asset: *p\n",
        "base: &b {max_positions: 4}\nportfolio:\n  <<: *b\n",
        ALIAS_BOMB,
    ],
)
def test_aliases_are_refused_at_their_line(text: str) -> None:
    message = _one_line(_error(text))
    assert message.startswith(f"my.yaml:{text.count(chr(10), 0, text.index('*')) + 1}: ")
    assert "aliases (*name) are not allowed in a policy" in message


def test_a_merge_key_is_just_an_unknown_key() -> None:
    """Without aliases ``<<`` merges nothing: it is a key the policy does not have."""
    assert "portfolio.<<: unknown key" in _error("portfolio:\n  <<: {max_positions: 4}\n")


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("portfolio: {max_positions: !!python/object/apply:os.getcwd []}", "!!python/object/apply:os.getcwd"),
        ("portfolio: !!python/name:os.system {}", "!!python/name:os.system"),
        ("portfolio: {max_positions: !!int 0x10}", "!!int"),
        ("portfolio: {max_positions: !!binary aGVsbG8=}", "!!binary"),
        ("portfolio: {max_positions: !custom 4}", "!custom"),
        ("expansion: {phases: {0: {name: !!timestamp 2024-01-01}}}", "!!timestamp"),
    ],
)
def test_tags_are_refused(text: str, tag: str) -> None:
    assert _one_line(_error(text)) == (
        f"my.yaml:1: tag {tag} is not allowed in a policy (plain values, lists and mappings only)"
    )


def test_the_plain_string_tags_are_kept() -> None:
    policy = parse_policy("expansion: {phases: {0: {name: !!str 2024, months: !!str 10}}}", "my.yaml", env={})
    assert policy.expansion.phases[0].name == "2024" and policy.expansion.phases[0].months == "10"


def test_nesting_deeper_than_20_is_refused() -> None:
    deep = "a: " + "[" * 21 + "]" * 21
    assert _one_line(_error(deep)) == "my.yaml:1: nested deeper than 20 levels"
    bomb = "[" * 200_000  # PyYAML alone recurses once per level: RecursionError, not an answer
    assert _one_line(_error(bomb)) == "my.yaml:1: nested deeper than 20 levels"


def test_nesting_of_20_is_read() -> None:
    assert "portfolio.x: unknown key" in _error("portfolio: {x: " + "[" * 18 + "]" * 18 + "}")


@pytest.mark.parametrize(
    ("text", "got"),
    [
        ("portfolio: {max_positions: 0x10}", "'0x10'"),
        ("portfolio: {max_positions: 1_0}", "'1_0'"),
        ("portfolio: {max_positions: 0o7}", "'0o7'"),
        ("portfolio: {max_positions: 010}", "'010'"),
        ("portfolio: {max_positions: 1:30}", "'1:30'"),
        ("portfolio: {max_positions: 0b11}", "'0b11'"),
    ],
)
def test_yaml_11_integers_are_not_numbers(text: str, got: str) -> None:
    assert _one_line(_error(text)) == f"my.yaml:1: portfolio.max_positions: Input should be a valid integer, got {got}"


@pytest.mark.parametrize("value", ["1_0.5", ".inf", "-.inf", ".nan", "1:30.0"])
def test_yaml_11_floats_are_not_numbers(value: str) -> None:
    assert f"sizing.fee_estimate: Input should be a valid number, got '{value}'" in _error(
        f"sizing: {{fee_estimate: {value}}}"
    )


@pytest.mark.parametrize("value", ["yes", "on", "No", "off", "y"])
def test_only_true_and_false_are_booleans(value: str) -> None:
    assert f"sizing.reduce_instead_of_refuse: Input should be a valid boolean, got '{value}'" in _error(
        f"sizing: {{reduce_instead_of_refuse: {value}}}"
    )


def test_plain_numbers_booleans_and_nulls_still_read() -> None:
    policy = parse_policy(
        "portfolio: {max_positions: +4, max_total_exposure: .35, max_correlated_exposure: 2.5e-1}\n"
        "sizing: {fee_estimate: 5e-4, slippage_estimate: 5.0E-4, reduce_instead_of_refuse: False}\n"
        "asset_requirements: {liquidity: {min_daily_volume: 5e8}}\n"
        "scenarios: {x: {description: d, probability: p, probability_per_year: ~, mitigation: [], worst_case: w}}\n",
        "my.yaml",
        env={},
    )
    assert policy.portfolio.max_positions == 4
    assert policy.portfolio.max_total_exposure == 0.35 and policy.portfolio.max_correlated_exposure == 0.25
    assert policy.sizing.fee_estimate == policy.sizing.slippage_estimate == 0.0005
    assert policy.sizing.reduce_instead_of_refuse is False
    assert policy.asset_requirements.liquidity.min_daily_volume == 5e8
    assert policy.scenarios["x"].probability_per_year is None


def test_a_date_is_text_not_a_crash() -> None:
    """YAML 1.1 reads 2024-01-01 as a date, which no policy value is; here it stays text."""
    policy = parse_policy("expansion: {phases: {0: {name: 2024-01-01}}}", "my.yaml", env={})
    assert policy.expansion.phases[0].name == "2024-01-01"
    assert "portfolio.max_positions: Input should be a valid integer, got '2024-01-01'" in _error(
        "portfolio: {max_positions: 2024-01-01}"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("portfolio: [unclosed\n", "my.yaml:2: not valid YAML: "),
        ("portfolio: {max_positions: 4}\n---\nper_asset: {}\n", "my.yaml:2: not valid YAML: "),
        ("portfolio:\n\tmax_positions: 4\n", "my.yaml:2: not valid YAML: "),
        ("portfolio: {max_positions: 4}\nx: \x00\n", "my.yaml:2: not valid YAML: unacceptable character #x0000"),
        ("? [a, b]\n: 1\n", "my.yaml:1: a key must be a plain value, not a list or mapping"),
    ],
)
def test_malformed_yaml_is_one_line_with_its_line(text: str, expected: str) -> None:
    assert _one_line(_error(text)).startswith(expected)


def test_not_utf8_is_one_line_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("portfolio:\n  max_positions: 4   # r\u00e9duit\n".encode("latin-1"))
    with pytest.raises(PolicyError) as info:
        load_policy(path, env={})
    assert _one_line(str(info.value)) == f"{path}:2: not UTF-8 text (byte 0xe9); save the file as UTF-8"


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfportfolio:\n  max_positions: 4\n")
    assert load_policy(path, env={}).portfolio.max_positions == 4


def test_validation_errors_name_the_line_of_the_key() -> None:
    text = "# my limits\nportfolio:\n  max_positions: 4\n  max_total_exposure: 1.4\n"
    assert _error(text) == "my.yaml:4: portfolio.max_total_exposure: must be in (0, 1], got 1.4"


def test_several_errors_are_one_line_each_with_their_lines() -> None:
    text = "portfolio:\n  max_total_exposure: 2\n  max_positions: -1\n"
    assert _error(text).splitlines() == [
        "my.yaml:2: portfolio.max_total_exposure: must be in (0, 1], got 2",
        "my.yaml:3: portfolio.max_positions: must be a whole number > 0, got -1",
    ]


def test_a_cross_field_error_names_the_line_of_the_key_the_file_sets() -> None:
    text = "portfolio:\n  max_positions: 5\nper_asset:\n  max_daily_loss_per_asset: 0.06\n"
    assert _error(text) == (
        "my.yaml:4: per_asset.max_daily_loss_per_asset (0.06) must be <= portfolio.max_daily_loss_portfolio (0.05)"
    )


KEYS = st.sampled_from(["max_positions", "max_total_exposure", "x", "1", "true"])


@given(st.lists(KEYS, min_size=2, max_size=6))
def test_any_repeated_key_is_refused_and_none_is_lost(keys: list[str]) -> None:
    text = "portfolio:\n" + "".join(f"  {k}: 1\n" for k in keys)
    repeated = [i for i, k in enumerate(keys) if k in keys[:i]]
    try:
        parse_policy(text, "my.yaml", env={})
    except PolicyError as exc:
        message = str(exc)
    else:
        message = ""
    if repeated:
        first = keys.index(keys[repeated[0]])
        assert message == (
            f"my.yaml:{repeated[0] + 2}: duplicate key portfolio.{keys[repeated[0]]} (first at line {first + 2})"
        )
    else:
        assert "duplicate key" not in message
