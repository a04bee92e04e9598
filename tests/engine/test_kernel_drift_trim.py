"""drift.action: trim: a book that prices pushed above its exposure limit is cut back to it."""

from __future__ import annotations

import pytest

from quantum_trader.testkit import INITIAL_EQUITY, MarketBuilder, ScriptedDecisions, long, policy_with, run_kernel

ASSETS = ("BTC", "ETH", "SOL", "BNB")


def _run(action: str):  # type: ignore[no-untyped-def]
    b = MarketBuilder()
    for asset in ASSETS:
        b.bars(asset, [100, 100, 100, 100, 125, 125, 125, 125])
    data = b.build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long(a, entry=100, stop=80) for a in ASSETS]},
                                         also=range(2, 7))  # decisions while held: drift is watched there
    return b, run_kernel(data, script, policy=policy_with(drift={"action": action}))


def test_trim_cuts_the_book_back_under_the_exposure_limit_and_the_ledger_reconciles() -> None:
    b, rec = _run("trim")
    trades = rec.trades_frame()
    trims = trades[trades["exit_reason"] == "drift_trim"]
    assert len(trims) == 1  # one cut suffices: it covers its own fee
    assert (trims["exit_ts"] >= b.ts(5)).all()
    events = rec.events_frame()
    assert "drift_exposure_breach" in set(events["kind"]) and "drift_trim" in set(events["kind"])
    after = rec.equity_frame()
    trimmed_at = int(trims["exit_ts"].min())
    assert after[after["ts"] >= trimmed_at]["total_exposure"].iloc[0] <= 0.40 + 1e-9
    final_cash = float(rec.equity_frame()["cash"].iloc[-1])
    assert final_cash == pytest.approx(float(INITIAL_EQUITY) + trades["pnl"].sum(), abs=1e-6)


def test_alert_only_records_the_drift() -> None:
    _, rec = _run("alert")
    assert "drift_trim" not in set(rec.trades_frame()["exit_reason"])
    assert "drift_exposure_breach" in set(rec.events_frame()["kind"])
