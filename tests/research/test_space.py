"""``--param`` as a user writes it: lists, ranges and the one-line refusals."""

from __future__ import annotations

import itertools

import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantum_trader.research.space import Space, SpaceError, parse_dimension, typed


def test_lists_and_stepped_ranges_include_both_ends() -> None:
    assert parse_dimension("fast=5,10,20").choices == ("5", "10", "20")
    assert parse_dimension("fast=5:20:5").choices == ("5", "10", "15", "20")
    assert parse_dimension("x=0.1:0.3:0.1").choices == ("0.1", "0.2", "0.3")  # no 0.30000000000000004
    assert parse_dimension("fast=5:21:5").choices == ("5", "10", "15", "20")


def test_ranges_without_a_step_are_for_optimisation() -> None:
    d = parse_dimension("fast=3:30")
    assert (d.low, d.high, d.integer, d.finite) == (3, 30, True, False)
    assert parse_dimension("lr=0.001:0.1:log").log
    with pytest.raises(SpaceError, match=r"--param fast=3:30: a sweep needs a list or a stepped range"):
        Space.parse(["fast=3:30"]).grid()


def test_a_dotted_name_is_a_policy_setting() -> None:
    space = Space.parse(["fast=5", "signals.model.atr_period=10,14"])
    assert space.split({"fast": "5", "signals.model.atr_period": "14"}) == (
        {"fast": "5"}, {"signals.model.atr_period": "14"})


@pytest.mark.parametrize(("item", "message"), [
    ("fast", "expected NAME=VALUES"),
    ("fast=", "no values after '='"),
    ("fast=10:5", "the range is empty"),
    ("fast=5:10:0", "the step must be positive"),
    ("fast=5:10:-1", "the step must be positive"),
    ("fast=a:b", "'a' is not a number"),
    ("fast=5,,10", "an empty value"),
    ("fast=5,5", "listed twice"),
    ("x=0:1:log", "a log range needs LOW > 0"),
    ("fast=1:2:3:4", "a range is LOW:HIGH"),
    ("fast=0:1e9:1", "use a larger step"),
    ("1x=5", "expected NAME=VALUES"),
])
def test_bad_parameters_are_one_line_naming_the_option(item: str, message: str) -> None:
    with pytest.raises(SpaceError) as info:
        parse_dimension(item)
    text = str(info.value)
    assert text.startswith(f"--param '{item}'") and message in text and "\n" not in text


def test_a_parameter_given_twice_is_refused() -> None:
    with pytest.raises(SpaceError, match="--param fast: given twice"):
        Space.parse(["fast=5", "fast=6"])


@given(st.lists(st.lists(st.integers(1, 99), min_size=1, max_size=4, unique=True), min_size=1, max_size=3))
def test_the_grid_is_every_combination_once(lists: list[list[int]]) -> None:
    items = [f"p{i}={','.join(map(str, values))}" for i, values in enumerate(lists)]
    grid = Space.parse(items).grid()
    expected = [dict(zip([f"p{i}" for i in range(len(lists))], map(str, combo), strict=True))
                for combo in itertools.product(*lists)]
    assert grid == expected


def test_optuna_suggests_within_the_ranges_as_text() -> None:
    space = Space.parse(["fast=3:30", "x=0.5:2.5", "kind=a,b"])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        values = space.suggest(study.ask())
        assert 3 <= int(values["fast"]) <= 30 and 0.5 <= float(values["x"]) <= 2.5 and values["kind"] in "ab"


def test_typed_values_for_the_table() -> None:
    assert typed("10") == 10 and typed("0.25") == 0.25 and typed("abc") == "abc" and typed("nan") == "nan"
