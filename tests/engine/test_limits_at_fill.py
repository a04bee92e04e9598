"""The limits hold at the fill, not only at the decision.

A market entry is decided at a bar's close and fills at the next bar's open, paying slippage.
Sized at the decision price, a position capped at exactly 10% of equity ends above 10% as soon
as the open is a little higher or slippage costs anything. The risk engine sizes it at the
expected fill instead (the decision price moved by the venue's slippage estimate and the
policy's ``sizing.fill_buffer``), and every run measures each entry fill against the limits.
"""

from __future__ import annotations

from typing import Any

import pytest

from quantum_trader.analytics.backtest import assemble_market
from quantum_trader.domain.market import BarSeries
from quantum_trader.engine.inputs import KernelSettings
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.testkit import MarketBuilder, ScriptedDecisions, long, policy_with, run_kernel, short


def _gap_run(side: str, gap: float, *, slippage: bool = True, policy: Any = None) -> Any:
    """One entry capped by the 10% position limit, decided at 100 and filled at an open ``gap`` away."""
    b = MarketBuilder()
    b.bars("BTC", [100.0, 100.0, (100 * (1 + gap),) * 4, 100 * (1 + gap), 100 * (1 + gap)])
    b.bars("ETH", [50.0] * 5)
    data = b.build()
    entry = long("BTC", entry=100, stop=90) if side == "long" else short("BTC", entry=100, stop=110)
    script = ScriptedDecisions.at_closes(data, intents={1: [entry]})
    kernel = Kernel(data, KernelSettings(policy=policy or policy_with(), slippage=slippage))
    kernel.run(script)
    return kernel.rec


@pytest.mark.parametrize("side", ["long", "short"])
def test_a_position_capped_at_ten_percent_is_at_most_ten_percent_at_its_fill(side: str) -> None:
    rec = _gap_run(side, 0.0004)
    check = rec.fill_limits.summary()
    assert check["entries"] == 1
    assert check["max_position_size"]["fills_over"] == 0
    assert check["max_position_size"]["worst"] <= 0.10
    assert check["max_position_size"]["worst"] > 0.0995  # sized at the expected fill, not far below it


def test_a_gap_beyond_the_buffer_is_reported_not_hidden() -> None:
    rec = _gap_run("long", 0.01)  # the open is 1% above the decision: 20 times the 5 bp buffer
    check = rec.fill_limits.summary()["max_position_size"]
    assert check["fills_over"] == 1 and check["worst"] > 0.10
    assert check["worst_excess_of_limit"] == pytest.approx(check["worst"] / 0.10 - 1.0)


def test_a_larger_buffer_covers_a_larger_gap() -> None:
    rec = _gap_run("long", 0.01, policy=policy_with({"sizing.fill_buffer": 0.012}))
    assert rec.fill_limits.summary()["max_position_size"]["fills_over"] == 0


def test_plain_runs_measure_nothing() -> None:
    b = MarketBuilder()
    b.bars("BTC", [100.0] * 5)
    data = b.build()
    rec = run_kernel(data, ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=None)]}),
                     plain=True)
    assert rec.fill_limits is None


def test_no_fill_breaks_a_limit_on_two_years_of_real_hourly_data(real_1h: dict[str, BarSeries]) -> None:
    """The issue's target: no entry fill above a limit by more than 0.05% of it (measured: none above)."""
    bars = {real_1h[a].symbol: real_1h[a] for a in ("BTC", "ETH", "SOL", "XRP")}
    policy = policy_with({"correlation.returns_timeframe": "1h"})
    kernel = Kernel(assemble_market(bars), KernelSettings(policy=policy))
    kernel.run(MultiAssetStrategy().prepare(bars, policy))
    summary = kernel.rec.fill_limits.summary()
    assert summary["entries"] > 1000
    for rule in ("max_position_size", "max_total_exposure", "max_correlated_exposure"):
        figures = summary[rule]
        assert figures["worst"] <= figures["limit"] * 1.0005, (rule, figures)
        assert figures["fills_over"] == 0, (rule, figures)  # sized at the decision close: 436 of 1,347 were
