"""A paper session with ``--journal`` keeps what it must not forget: orders before they leave, fills, the kill switch.

The kill switch across restarts: a session trips it (a drawdown limit the market breaks), the
process ends, and the next session on the same journal starts tripped and opens nothing until
``killswitch reset``; after the reset the next session trades again.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from quantum_trader.cli.main import app
from quantum_trader.domain.trading import Order, OrderSide, OrderType
from quantum_trader.engine.journaled import JournaledExecution
from quantum_trader.engine.ports import VenueEvent
from quantum_trader.journal import OrderStatus, TradingJournal

ENV = {"COLUMNS": "160"}
REPLAY = ("--replay", "--speed", "max", "--symbols", "BTC,ETH,SOL", "--phase", "3", "--start", "2025-01-01",
          "--end", "2025-01-10")
TRIPS = ("--set", "portfolio.max_drawdown_portfolio=0.004", "--set", "portfolio.max_daily_loss_portfolio=0.004",
         "--set", "per_asset.max_daily_loss_per_asset=0.004", "--set", "per_asset.max_risk_per_trade=0.004")
"""A drawdown limit of 0.4% (the policy keeps the daily and per-trade limits within it): the first losses trip it."""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog")
    result = CliRunner().invoke(app, ["data", "synth", "--days", "12", "--seed", "3", "--catalog", str(root),
                                      "--assets", "BTC,ETH,SOL"], env=ENV)
    assert result.exit_code == 0, result.output
    return root


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def _paper(catalog: Path, runs: Path, journal: Path, *extra: str) -> dict[str, object]:
    code, output = _invoke("paper", *REPLAY, "--catalog", str(catalog), "--runs", str(runs), "--journal",
                           str(journal), *extra)
    assert code == 0, output
    run = max(runs.iterdir(), key=lambda p: p.stat().st_mtime)
    metrics: dict[str, object] = json.loads((run / "metrics.json").read_text())
    metrics["output"] = output
    return metrics


def test_a_journalled_paper_session_holds_every_order_and_fill(catalog: Path, tmp_path: Path) -> None:
    metrics = _paper(catalog, tmp_path / "runs", tmp_path / "j.sqlite")
    store = TradingJournal(tmp_path / "j.sqlite")
    (session,) = store.sessions()
    journal = TradingJournal(tmp_path / "j.sqlite", session=session.session)
    orders = journal.orders(session=session.session)
    assert len(orders) == metrics["orders"] > 0
    fills = journal.fills_since(0)
    assert len(fills) == metrics["fills"] > 0
    assert {f.fill.client_order_id for f in fills} <= {o.order.client_order_id for o in orders}
    assert all(o.status is not OrderStatus.PENDING for o in orders), "every order heard back from the venue"


def test_the_kill_switch_survives_the_process_until_reset(catalog: Path, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    first = _paper(catalog, tmp_path / "runs1", journal, *TRIPS)
    assert first["kill_switch_trips"], "the tight drawdown limit must trip in the first session"
    code, output = _invoke("killswitch", "status", "--journal", str(journal))
    assert code == 0 and "tripped" in output.lower(), output

    second = _paper(catalog, tmp_path / "runs2", journal, *TRIPS)
    assert "kill switch tripped in journal" in str(second["output"])
    assert second["trades"] == 0 and second["fills"] == 0, "a tripped switch opens nothing"

    code, output = _invoke("killswitch", "reset", "--reason", "test over", "--force", "--journal", str(journal))
    assert code == 0, output
    third = _paper(catalog, tmp_path / "runs3", journal)
    assert "kill switch tripped" not in str(third["output"])
    assert int(third["trades"]) > 0  # type: ignore[call-overload]


class _Venue:
    """Records what the journal held at the moment each order reached it."""

    def __init__(self, journal: TradingJournal) -> None:
        self.journal = journal
        self.seen: list[bool] = []

    def submit(self, order: Order) -> None:
        self.seen.append(self.journal.order(order.client_order_id) is not None)

    def cancel(self, client_order_id: str, reason: str = "cancelled") -> None:
        """Nothing rests here."""

    def drain(self) -> list[VenueEvent]:
        return []

    def quote(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
              bar_volume: float) -> float:
        return reference


def test_an_order_is_journalled_before_it_leaves_and_never_sent_twice(tmp_path: Path) -> None:
    journal = TradingJournal(tmp_path / "j.sqlite", session="s")
    venue = _Venue(TradingJournal(tmp_path / "j.sqlite", session="s"))
    execution = JournaledExecution(venue, journal)
    order = Order("s-1", 1_700_000_000_000, "BTC/USDT:USDT", OrderSide.BUY, OrderType.MARKET, Decimal("0.01"))
    execution.submit(order)
    execution.submit(order)  # the same decision replayed: the journal knows it
    assert venue.seen == [True]
    assert execution.resends == 1


def test_a_journalled_paper_session_records_every_bar_and_decision(catalog: Path, tmp_path: Path) -> None:
    """What the dashboard and the gates read: a risk snapshot and an equity snapshot per bar, the matrix at each
    correlation update, every verdict of the risk engine, and the feed cursor at the last bar."""
    metrics = _paper(catalog, tmp_path / "runs", tmp_path / "j.sqlite")
    run = max((tmp_path / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    journal = TradingJournal(tmp_path / "j.sqlite")
    (session,) = journal.sessions()
    assert json.loads(session.detail)["phase"] == 3
    risk = journal.risk_snapshots()
    bars = int(metrics["paper"]["bars_fed"])  # type: ignore[index]
    assert len(risk) == bars and len(journal.equity_since(0)) >= bars
    curve = pd.read_parquet(run / "equity.parquet").set_index("ts")
    at = {r.ts: r for r in risk}
    # the curve's row at a fill or a funding settlement is the book just after it; the journal's is the close before
    fills = {f.fill.ts for f in journal.fills_since(0)}
    common = [ts for ts in curve.index if ts in at and ts not in fills and ts % 28_800_000]
    assert len(common) > 100, "the run folder's curve and the journal meet at the closes the curve keeps"
    for ts in common:
        row, snap = curve.loc[ts], at[ts]
        assert float(snap.equity) == pytest.approx(row["equity"], rel=1e-9), ts
        assert snap.exposure == pytest.approx(row["total_exposure"], abs=1e-9), ts
        assert snap.correlated_exposure == pytest.approx(row["correlated_exposure"], abs=1e-9), ts
        assert snap.positions == row["open_positions"], ts
    events = pd.read_parquet(run / "events.parquet")
    updates = journal.risk_snapshots(correlation_only=True)
    assert 0 < len(updates) <= int((events["kind"] == "correlation_update").sum()) + 1
    assert all(u.correlation is not None and len(u.correlation) == 3 for u in updates)
    assert max(r.exposure for r in risk) > 0 and all(r.positions >= 0 for r in risk)
    decisions = journal.decisions()
    refused = sum(1 for d in decisions if not d.decision.approved)
    assert len(decisions) >= int(metrics["trades"]) > 0 and refused == metrics["refused_intents"]
    cursor = TradingJournal(tmp_path / "j.sqlite", session=session.session).feed_cursor("replay:1m")
    assert cursor == risk[-1].ts - 60_000
