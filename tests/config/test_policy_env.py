"""``QT__`` overrides: a bad one is reported against the variable, in one line.

The variable is what the operator typed (in a shell, a unit file, a container's
environment); naming ``default_policy.yaml`` or their own file instead sends them to
look for a mistake where there is none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quantum_trader.config import PolicyError, load_policy, parse_policy


def _error(env: dict[str, str], text: str | None = None) -> str:
    with pytest.raises(PolicyError) as info:
        if text is None:
            load_policy(env=env)
        else:
            parse_policy(text, "my.yaml", env=env)
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return message


def test_a_field_error_names_the_variable_not_the_file() -> None:
    env = {"QT__PORTFOLIO__MAX_TOTAL_EXPOSURE": "1.4"}
    assert _error(env) == "QT__PORTFOLIO__MAX_TOTAL_EXPOSURE: portfolio.max_total_exposure: must be in (0, 1], got 1.4"
    assert _error(env, "portfolio: {max_positions: 4}\n") == (
        "QT__PORTFOLIO__MAX_TOTAL_EXPOSURE: portfolio.max_total_exposure: must be in (0, 1], got 1.4"
    )


def test_an_override_of_a_key_the_file_also_sets_is_blamed_on_the_variable() -> None:
    env = {"QT__PORTFOLIO__MAX_TOTAL_EXPOSURE": "1.4"}
    assert _error(env, "portfolio:\n  max_total_exposure: 0.3\n").startswith("QT__PORTFOLIO__MAX_TOTAL_EXPOSURE: ")


def test_a_cross_field_error_names_the_variable_that_broke_it() -> None:
    env = {"QT__PORTFOLIO__MAX_DAILY_LOSS_PORTFOLIO": "0.3"}
    assert _error(env) == (
        "QT__PORTFOLIO__MAX_DAILY_LOSS_PORTFOLIO: portfolio.max_daily_loss_portfolio (0.3) must be <= "
        "portfolio.max_drawdown_portfolio (0.2)"
    )


def test_errors_of_the_file_and_of_a_variable_each_name_their_own_source() -> None:
    env = {"QT__PORTFOLIO__MAX_POSITIONS": "0"}
    with pytest.raises(PolicyError) as info:
        parse_policy("per_asset:\n  max_risk_per_trade: 2\n", "my.yaml", env=env)
    assert str(info.value).splitlines() == [
        "my.yaml:2: per_asset.max_risk_per_trade: must be in (0, 1], got 2",
        "QT__PORTFOLIO__MAX_POSITIONS: portfolio.max_positions: must be a whole number > 0, got 0",
    ]


@pytest.mark.parametrize(
    ("raw", "got"),
    [("0x10", "'0x10'"), ("1_0", "'1_0'"), ("0o10", "'0o10'"), ("010", "'010'"), ("1:30", "'1:30'"), ("5", None)],
)
def test_only_decimal_numbers_are_numbers(raw: str, got: str | None) -> None:
    env = {"QT__PORTFOLIO__MAX_POSITIONS": raw}
    if got is None:
        assert load_policy(env=env).portfolio.max_positions == 5
        return
    assert _error(env) == (
        f"QT__PORTFOLIO__MAX_POSITIONS: portfolio.max_positions: Input should be a valid integer, got {got}"
    )


def test_a_variable_without_a_key() -> None:
    assert _error({"QT__": "1"}) == (
        "QT__: names no policy key; write QT__<SECTION>__<KEY>=value, e.g. QT__PORTFOLIO__MAX_POSITIONS=4"
    )
    assert _error({"QT______": "1"}).startswith("QT______: names no policy key")


def test_a_value_that_is_not_yaml() -> None:
    message = _error({"QT__X": "[1"})
    assert message.startswith("QT__X: value '[1': not valid YAML: ")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("&a [*a]", "QT__PORTFOLIO__MAX_POSITIONS: value '&a [*a]': YAML aliases (*name) are not allowed in a policy"),
        (
            "!!python/object/apply:os.getcwd []",
            "QT__PORTFOLIO__MAX_POSITIONS: value '!!python/object/apply:os.getcwd []': "
            "tag !!python/object/apply:os.getcwd is not allowed in a policy",
        ),
        ("[" * 50, "QT__PORTFOLIO__MAX_POSITIONS: value '" + "[" * 50 + "': nested deeper than 20 levels"),
    ],
)
def test_a_value_gets_the_same_yaml_rules_as_a_file(raw: str, expected: str) -> None:
    assert _error({"QT__PORTFOLIO__MAX_POSITIONS": raw}).startswith(expected)


def test_an_unknown_key_and_a_section_still_name_the_variable() -> None:
    assert _error({"QT__PORTFOLIO__NOPE": "1"}) == "QT__PORTFOLIO__NOPE: no policy key portfolio.nope"
    assert _error({"QT__PORTFOLIO": "1"}) == (
        "QT__PORTFOLIO: portfolio is a section, only scalar settings can be overridden"
    )


def test_a_file_error_with_a_valid_override_still_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("portfolio:\n  max_total_exposure: 1.4\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path, env={"QT__PORTFOLIO__MAX_POSITIONS": "4"})
    assert str(info.value) == f"{path}:2: portfolio.max_total_exposure: must be in (0, 1], got 1.4"
