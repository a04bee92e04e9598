"""The gates judged on a real journal: paper sessions replayed on a synthetic catalog (100 days of 4h bars).

Issue 17's proof: a BTC-only paper session in phase 0 can pass 0 -> 1 (with the policy accepting paper and
months shortened by --set; the real defaults stay the spec's) when profitable over the months asked and not
otherwise; ETH traded, an unresolved incident or a feed gap beyond the bound is refused with the reason; a
promotion and a demotion during a running session change what it trades at the next decision, and a restart
starts in the journal's phase.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantum_trader.analytics.gates_progress import gate_progress
from quantum_trader.cli.main import app
from quantum_trader.config import Policy
from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.trading import OrderSide
from quantum_trader.journal import TradingJournal
from quantum_trader.journal.store import Journal, PhaseChange, PhaseEventKind

ENV = {"COLUMNS": "250", "QT_JOURNAL": ""}
BARS = ("--timeframe", "4h", "--set", "signals.model.timeframe=4h")
G01 = "expansion.phase_gates.phase_0_to_1"
ACCEPT_PAPER = ("months_profitable_btc", "max_drawdown_experienced", "operations_stable", "sharpe_ratio", "win_rate")
PAPER_OK = (*(x for k in ACCEPT_PAPER for x in ("--set", f"{G01}.evidence.{k}=live,paper")),
            "--set", f"{G01}.evidence.kill_switch_tested=live,testnet,drill")
"""The policy accepting paper operation and a paper drill for 0 -> 1 (the defaults accept live only)."""
MONTHS_25D = ("--set", "expansion.phase_gates.operations.month_length=25d")


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog")
    code, out = _invoke("data", "synth", "--days", "100", "--seed", "3", "--catalog", str(root), "--assets", "BTC,ETH")
    assert code == 0, out
    for asset in ("BTC", "ETH"):
        code, out = _invoke("data", "resample", "--symbol", asset, "--to", "4h", "--catalog", str(root))
        assert code == 0, out
    return root


@pytest.fixture(scope="module")
def btc_journal(catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A paper session on BTC alone in phase 0, with a paper kill-switch drill recorded."""
    where = tmp_path_factory.mktemp("btc")
    journal = where / "j.sqlite"
    code, out = _invoke("paper", "--replay", "--speed", "max", "--symbols", "BTC", "--phase", "0", *BARS,
                        "--catalog", str(catalog), "--runs", str(where / "runs"), "--journal", str(journal))
    assert code == 0, out
    code, out = _invoke("killswitch", "drill", "--price", "BTC=60000", "--journal", str(journal))
    assert code == 0, out
    return journal


def _copy(source: Path, target: Path) -> None:
    """A copy of a journal in WAL mode (copying the file alone would drop what the WAL has not checkpointed)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _gate(journal: Path, *sets: str) -> tuple[int, dict[str, dict[str, object]], str]:
    code, out = _invoke("gates", "--journal", str(journal), "--phase", "0", "--json", *sets)
    data = json.loads(out)
    return code, {c["name"]: c for c in data["criteria"]}, data["summary"]


def test_paper_operation_is_refused_by_the_spec_defaults(btc_journal: Path) -> None:
    code, crit, _ = _gate(btc_journal)
    assert code == 1
    assert crit["3_months_profitable_btc"]["status"] == "no evidence"
    assert "paper is not accepted here (accepts live)" in str(crit["3_months_profitable_btc"]["detail"])
    assert crit["kill_switch_tested"]["status"] == "no evidence", "a paper drill is not a test in real conditions"


def test_profitable_btc_operation_in_phase_0_opens_the_gate_when_the_policy_accepts_paper(btc_journal: Path) -> None:
    code, crit, summary = _gate(btc_journal, *PAPER_OK)
    assert code == 0, (summary, crit)
    assert crit["3_months_profitable_btc"]["status"] == "pass"
    assert "90 of 90 days" in str(crit["3_months_profitable_btc"]["detail"])
    assert crit["operations_stable"]["status"] == "pass"
    policy = Policy()
    progress = gate_progress(btc_journal, policy).to_dict()
    assert progress["phase"] == 0 and progress["admitted"] == ["BTC"] and progress["open"] is False
    json.dumps(progress)


def test_a_losing_month_among_those_asked_refuses_the_gate(btc_journal: Path) -> None:
    code, crit, summary = _gate(btc_journal, *PAPER_OK, *MONTHS_25D)  # 25-day months: the middle one lost
    assert code == 1
    months = crit["3_months_profitable_btc"]
    assert months["status"] == "fail" and "1 of 3 months profitable" in str(months["detail"]), months
    assert "3_months_profitable_btc (fail)" in summary


def test_an_unresolved_incident_makes_operations_unstable(btc_journal: Path, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    _copy(btc_journal, journal)
    TradingJournal(journal, session="ops").open_incident("reconciliation", "exchange shows 0.01 BTC the ledger lacks",
                                                         safe_action="entries paused", ts=1_740_000_000_000)
    code, crit, _ = _gate(journal, *PAPER_OK)
    assert code == 1
    ops = crit["operations_stable"]
    assert ops["status"] == "fail" and "1 unresolved incident(s), first reconciliation" in str(ops["detail"]), ops


def test_a_feed_gap_beyond_the_bound_makes_operations_unstable(btc_journal: Path, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    _copy(btc_journal, journal)
    with sqlite3.connect(journal) as con:  # the process down for two days: no bar close journalled
        start = con.execute("select min(ts) from risk_snapshots").fetchone()[0] + 40 * 86_400_000
        con.execute("delete from risk_snapshots where ts > ? and ts < ?", (start, start + 2 * 86_400_000))
    code, crit, _ = _gate(journal, *PAPER_OK)
    assert code == 1
    ops = crit["operations_stable"]
    assert ops["status"] == "fail" and "feed gap(s) beyond 2h" in str(ops["detail"]), ops


FOUR_HOURS = """
signals:
  model: {timeframe: 4h}
  asset_models:
    ETH: {trend_lookback_hours: 16}
"""
"""4h decisions for BTC and ETH (ETH's 18h trend lookback is no whole number of 4h bars)."""


def _request(catalog: Path, journal: Path, phase: int | None):  # type: ignore[no-untyped-def]
    from quantum_trader.cli.backtest_cmd import run_request

    policy = journal.parent / "policy.yaml"
    policy.write_text(FOUR_HOURS)
    return run_request(symbols="BTC,ETH", strategy="multi-asset", param=[], policy=str(policy),
                       set_=[], catalog=catalog, exchange=None, start=None, end=None,
                       timeframe="4h", phase=phase, journal=str(journal), equity=100_000.0, runs=journal.parent / "r",
                       no_slippage=False, entry=None, command="paper")


def test_promotion_and_demotion_take_effect_at_the_next_decision_and_survive_a_restart(catalog: Path,
                                                                                        tmp_path: Path) -> None:
    from quantum_trader.analytics.paper import open_paper

    journal = tmp_path / "j.sqlite"
    store = Journal(journal)
    session = open_paper(_request(catalog, journal, 0), None, journal=TradingJournal(journal, session="s1"))
    total = session.total
    marks: dict[str, int] = {}

    def on_bar(chunk: MarketChunk) -> None:
        bars = session.replay.stats.bars
        close = int(chunk.ts[-1]) + chunk.step
        if bars == total * 2 // 5:
            store.record_phase_change(PhaseChange(close, PhaseEventKind.PROMOTE, 0, 1, "test", True, "ana"))
            marks["promote"] = close
        elif bars == total * 4 // 5:
            store.record_phase_change(PhaseChange(close, PhaseEventKind.DEMOTE, 1, 0, "ETH edge gone", False, "ana"))
            marks["demote"] = close

    asyncio.run(session.run(on_bar))
    trading = TradingJournal(journal)
    eth = [f.fill for f in trading.fills_after(None) if asset_of(f.fill.symbol) == "ETH"]
    assert eth, "ETH traded once promoted"
    assert min(f.ts for f in eth) > marks["promote"], "no ETH before the promotion"
    changes = [a for a in trading.alerts() if a.kind == "phase_change" and a.message.startswith("phase")]
    assert [a.message[:10] for a in changes] == ["phase 0 ->", "phase 1 ->"]
    step = 4 * 3_600_000
    assert marks["promote"] <= changes[0].ts <= marks["promote"] + 2 * step, "taken at the next decision"
    assert marks["demote"] <= changes[1].ts <= marks["demote"] + 2 * step
    held = Decimal(0)
    for f in sorted(eth, key=lambda f: f.ts):
        signed = f.quantity if f.side is OrderSide.BUY else -f.quantity
        if f.ts > changes[1].ts:
            assert abs(held + signed) < abs(held), "after the demotion ETH only closes"
        held += signed
    assert held == 0
    assert session.replay.driver.kernel.settings.phase == 0
    # a restart takes the journal's phase (no --phase given)
    store.record_phase_change(PhaseChange(1, PhaseEventKind.PROMOTE, 0, 1, "again", True, "ana"))
    again = open_paper(_request(catalog, journal, None), None, journal=TradingJournal(journal, session="s2"))
    assert again.prepared.settings.phase == 1
    assert not again.prepared.settings.excluded


def test_phase_status_shows_the_progress_and_promote_records_who(btc_journal: Path, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    _copy(btc_journal, journal)
    code, out = _invoke("phase", "status", "--journal", str(journal))
    assert code == 0, out
    assert "phase 0 (BTC ONLY): admits BTC" in out and "next gate phase_0_to_1 (0 -> 1)" in out
    assert "blocked by: 3_months_profitable_btc" in out and "paper is not accepted here" in out
    refused = _invoke("phase", "promote", "--journal", str(journal))
    assert refused[0] == 1 and Journal(journal).current_phase(0) == 0
    code, out = _invoke("phase", "status", "--journal", str(journal), "--json", *PAPER_OK)
    assert code == 0 and json.loads(out)["open"] is True, out
    code, out = _invoke("phase", "promote", "--journal", str(journal), "--operator", "ana", *PAPER_OK)
    assert code == 0 and "phase 0 -> 1 recorded" in out and "FORCED" not in out, out
    last = Journal(journal).phase_history()[-1]
    assert (last.kind, last.to_phase, last.operator, last.forced) == (PhaseEventKind.PROMOTE, 1, "ana", False)
    code, out = _invoke("phase", "status", "--journal", str(journal))
    assert "phase 1 (ADD ETHEREUM): admits BTC, ETH" in out
