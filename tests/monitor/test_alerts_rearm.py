"""A level rule fires again only after its value came back past its level by the policy's margin (hysteresis).

The property, for every level rule: between two alerts of one rule the value went past the re-arm line, and
an armed rule whose value crosses its level fires there. The run-folder path (``run_alerts``, which feeds the
book only where its latch changes) gives the alerts the book gives when fed every row.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantum_trader.config import load_policy
from quantum_trader.config.policy import Policy
from quantum_trader.monitor.alerts import AlertRuleBook, RuleSettings
from quantum_trader.monitor.alerts.model import Alert
from quantum_trader.monitor.alerts.run_alerts import RunInputs, run_alerts

H = 3_600_000
USUAL = 10e6
SYMBOLS = ("BTC", "ETH", "SOL")


def _settings(**rearm: float) -> RuleSettings:
    return RuleSettings.of_policy(Policy.model_validate({"dashboard": {"alerts": {"rearm": rearm}}}))


def _pair_matrix(c: float) -> list[list[float]]:
    m = np.full((3, 3), 0.2)
    np.fill_diagonal(m, 1.0)
    m[0, 1] = m[1, 0] = c
    return m.tolist()


# Each level rule as (feed one value, the alerts it raised), its level, its re-arm line, and which way it fires.
Feed = Callable[[AlertRuleBook, int, float], list[Alert]]
RULES: dict[str, tuple[Feed, Callable[[RuleSettings], float], Callable[[RuleSettings], float], bool]] = {
    "exposure": (lambda b, t, x: b.exposure(t, x), lambda s: s.exposure_above, lambda s: s.exposure_rearm, True),
    "correlation_mean": (lambda b, t, x: b.correlation(t, SYMBOLS, None, x), lambda s: s.spike_threshold,
                         lambda s: s.spike_rearm, True),
    "liquidity_depth:BTC": (lambda b, t, x: b.liquidity(t, "BTC", x * USUAL, USUAL),
                            lambda s: 1.0 - s.liquidity_drop, lambda s: 1.0 - s.liquidity_drop + s.depth_margin,
                            False),
    "liquidity_spread:BTC": (lambda b, t, x: b.liquidity(t, "BTC", None, None, x * b.s.max_spread),
                             lambda s: 1.0, lambda s: 1.0 - s.spread_margin, True),
}


def _fired(rule: str, settings: RuleSettings, values: list[float]) -> list[int]:
    feed = RULES[rule][0]
    book = AlertRuleBook(settings)
    return [i for i, x in enumerate(values) if any(a.key == rule for a in feed(book, i * H, x))]


def _check_hysteresis(rule: str, settings: RuleSettings, values: list[float]) -> list[int]:
    _, level_of, line_of, above = RULES[rule]
    level, line = level_of(settings), line_of(settings)
    past_level = [(x > level) if above else (x < level) for x in values]
    past_line = [(x <= line) if above else (x >= line) for x in values]
    fired = _fired(rule, settings, values)
    assert all(past_level[i] for i in fired)
    for a, b in itertools.pairwise(fired):
        assert any(past_line[a + 1:b]), f"{rule}: alerts at {a} and {b} without the value back past {line}"
    # and nothing is missed: an armed rule fires where its value crosses its level
    armed = True
    for i, (over, back) in enumerate(zip(past_level, past_line, strict=True)):
        if armed and over:
            assert i in fired, f"{rule}: armed and past its level at {i}, no alert"
            armed = False
        elif back:
            armed = True
    return fired


values = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=80)
margins = st.floats(0.0, 0.2)


@given(st.sampled_from(sorted(RULES)), values, margins)
def test_between_two_alerts_of_a_rule_its_value_went_past_the_rearm_line(rule: str, series: list[float],
                                                                          margin: float) -> None:
    settings = _settings(correlation_spike=margin, portfolio_exposure=margin, liquidity_depth=margin,
                         liquidity_spread=margin)
    _check_hysteresis(rule, settings, series)


@given(st.lists(st.floats(-0.5, 1.0, allow_nan=False), min_size=2, max_size=60), margins)
def test_a_pair_jump_rearms_once_a_rise_is_back_below_its_line(series: list[float], margin: float) -> None:
    settings = _settings(correlation_pair_jump=margin)
    book = AlertRuleBook(settings)
    key = "correlation_pair:BTC/ETH"
    fired = [i for i, c in enumerate(series)
             if any(a.key == key for a in book.correlation(i * H, SYMBOLS, _pair_matrix(c), None))]
    rises = [None, *(b - a for a, b in itertools.pairwise(series))]
    line = settings.pair_jump - margin
    assert all(rises[i] is not None and rises[i] > settings.pair_jump for i in fired)  # type: ignore[operator]
    for a, b in itertools.pairwise(fired):
        assert any(r is not None and r <= line for r in rises[a + 1:b])


def test_a_value_hovering_at_the_line_is_one_alert() -> None:
    series = [0.30, 0.36, 0.34, 0.36, 0.33, 0.37, 0.31, 0.36, 0.29, 0.36]
    assert _fired("exposure", _settings(portfolio_exposure=0.0), series) == [1, 3, 5, 7, 9]
    assert _fired("exposure", _settings(portfolio_exposure=0.05), series) == [1, 9]  # re-armed at 0.29 <= 0.30
    means = [0.80, 0.86, 0.84, 0.87, 0.76, 0.90, 0.75, 0.88]
    assert _fired("correlation_mean", _settings(correlation_spike=0.10), means) == [1, 7]


def test_the_margins_are_the_policy_files_and_documented() -> None:
    policy = load_policy(None)
    rearm = policy.dashboard.alerts.rearm
    assert (rearm.correlation_spike, rearm.correlation_pair_jump, rearm.portfolio_exposure, rearm.liquidity_depth,
            rearm.liquidity_spread) == (0.10, 0.10, 0.05, 0.25, 0.20)
    s = RuleSettings.of_policy(policy)
    assert s.spike_rearm == pytest.approx(0.75) and s.exposure_rearm == pytest.approx(0.30)
    assert s.spread_rearm == pytest.approx(0.8 * s.max_spread)


@pytest.mark.parametrize(("rearm", "field"), [
    ({"portfolio_exposure": 0.5}, "dashboard.alerts.rearm.portfolio_exposure (0.5) must be at most its level"),
    ({"liquidity_depth": 0.6}, "dashboard.alerts.rearm.liquidity_depth (0.6) must be at most its level"),
    ({"liquidity_spread": 1.0}, "dashboard.alerts.rearm.liquidity_spread (1.0) must be below 1"),
    ({"correlation_spike": -0.1}, "correlation_spike"),
    ({"portfolio_exposure": "a lot"}, "portfolio_exposure"),
])
def test_a_margin_out_of_reach_is_one_clear_error(rearm: dict[str, object], field: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        Policy.model_validate({"dashboard": {"alerts": {"rearm": rearm}}})
    assert field in str(caught.value)


@given(st.lists(st.floats(0.0, 0.6, allow_nan=False), min_size=1, max_size=60), margins)
def test_a_run_folder_raises_the_exposure_alerts_of_the_book_fed_every_row(series: list[float],
                                                                           margin: float) -> None:
    settings = _settings(portfolio_exposure=margin)
    equity = pd.DataFrame({"ts": [i * H for i in range(len(series))], "total_exposure": series})
    events = pd.DataFrame(columns=["ts", "kind", "symbol", "rule", "message", "value", "limit"])
    found = [a.ts // H for a in run_alerts(RunInputs(equity=equity, events=events), settings)]
    assert found == _fired("exposure", settings, series)


@given(st.lists(st.floats(0.1, 1.0, allow_nan=False), min_size=1, max_size=60), margins)
def test_a_run_folder_raises_the_spread_alerts_of_the_book_fed_every_row(series: list[float],
                                                                         margin: float) -> None:
    settings = _settings(liquidity_spread=margin)
    spread = np.array(series) * 2 * settings.max_spread
    times = np.arange(len(series), dtype=np.int64) * 2 * settings.short_window_ms  # one snapshot per median window
    events = pd.DataFrame(columns=["ts", "kind", "symbol", "rule", "message", "value", "limit"])
    inputs = RunInputs(equity=pd.DataFrame({"ts": [], "total_exposure": []}), events=events,
                       spreads={"BTC": (times, spread)})
    found = [int(a.ts) for a in run_alerts(inputs, settings)]
    book = AlertRuleBook(settings)
    expected = [int(t) for t, x in zip(times, spread, strict=True) if book.liquidity(int(t), "BTC", None, None, x)]
    assert found == expected
