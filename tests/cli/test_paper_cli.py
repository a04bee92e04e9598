"""`quantum-trader paper`: a backtest's run bar by bar on the event loop, with a panel, a clean Ctrl-C and parity.

- ``paper --replay ... --speed max`` writes the run folder ``backtest`` writes for the same options: the same
  orders, fills, trades, equity curve, events, prices, correlation and policy; the metrics differ only in
  what names the run (id, creation time, duration, mode) and the paper run's own pace and latency.
- Ctrl-C (SIGINT, sent after some bars) stops after the current bar: what is held is closed at that close
  and the run folder of the bars that ran is written, readable like any other.
- Without ``--replay`` it replays the demo's synthetic market; the two sets of options do not mix.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
from collections.abc import AsyncGenerator, Iterable
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from quantum_trader.analytics import paper as paper_module
from quantum_trader.analytics.run_folder import RunFolder
from quantum_trader.cli.main import app
from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.time import parse_time
from quantum_trader.engine.paper_watch import PaperSnapshot

ENV = {"COLUMNS": "160"}
TABLES = ("trades", "equity", "events", "prices", "correlation")
RUN_NAMING = ("run_id", "created", "duration_s", "mode")


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


def _only_run(runs: Path) -> Path:
    (run,) = runs.iterdir()
    return run


OPTIONS = {
    "multi-asset, whole policy": ("--symbols", "BTC,ETH,SOL", "--phase", "3", "--start", "2025-01-01",
                                  "--end", "2025-01-08"),
    "sma-cross, plain, limit entries": ("--symbols", "BTC,ETH", "--strategy", "sma-cross", "--policy", "plain",
                                        "--start", "2025-01-03", "--end", "2025-01-05", "--entry", "limit",
                                        "--set", "venue.entry.expiry=15m"),
}


@pytest.mark.parametrize("options", OPTIONS.values(), ids=list(OPTIONS))
def test_paper_replay_at_full_speed_writes_the_backtests_run_folder(
        catalog: Path, tmp_path: Path, options: tuple[str, ...]) -> None:
    code, output = _invoke("backtest", "--catalog", str(catalog), "--runs", str(tmp_path / "b"), *options)
    assert code == 0, output
    code, output = _invoke("paper", "--replay", "--speed", "max", "--catalog", str(catalog),
                           "--runs", str(tmp_path / "p"), *options)
    assert code == 0, output
    backtest, paper = RunFolder(_only_run(tmp_path / "b")), RunFolder(_only_run(tmp_path / "p"))
    assert paper.run_id.endswith("-paper-" + backtest.run_id.split("-", 2)[2])
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(backtest, table)(), getattr(paper, table)(), obj=table)
    assert len(backtest.trades()) >= 3
    assert backtest.policy_text() == paper.policy_text()
    b, p = backtest.metrics(), paper.metrics()
    assert (b["run"]["mode"], p["run"]["mode"]) == ("backtest", "paper")
    assert p["paper"]["speed"] == "max" and p["paper"]["bars_fed"] == p["run"]["bars"]
    assert not p["paper"]["stopped_early"]
    for m in (b, p):
        m.pop("paper", None)
        for key in RUN_NAMING:
            m["run"].pop(key)
    assert b == p
    # the last progress line is printed at the last bar, before the end of the data closes what is still held
    # (one order per position, its trade's exit reason end_of_data)
    closed_at_end = int((backtest.trades()["exit_reason"] == "end_of_data").sum())
    assert f"orders {b['orders'] - closed_at_end:,}" in output


def _interrupting(after: int) -> object:
    """``analytics.paper.paced`` that sends this process SIGINT (what Ctrl-C sends) once ``after`` bars are out."""
    real = paper_module.paced

    async def paced(chunks: Iterable[MarketChunk], speed: float | None) -> AsyncGenerator[MarketChunk, None]:
        sent = 0
        async for chunk in real(chunks, speed):
            if sent == after:
                os.kill(os.getpid(), signal.SIGINT)
                await asyncio.sleep(0.05)  # the loop takes the signal as it would between two paced bars
            yield chunk
            sent += 1

    return paced


def test_ctrl_c_stops_after_the_current_bar_and_writes_the_run_folder_of_what_ran(
        catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    after = 4_000  # a position is open by then (the run above holds one from day 2)
    monkeypatch.setattr(paper_module, "paced", _interrupting(after))
    code, output = _invoke("paper", "--replay", "--speed", "max", "--catalog", str(catalog), "--symbols",
                           "BTC,ETH,SOL", "--phase", "3", "--runs", str(tmp_path))
    assert code == 0, output
    assert "stopped at" in output and "what was held is closed at that close" in output
    run = RunFolder(_only_run(tmp_path))
    metrics = run.metrics()
    fed = metrics["paper"]["bars_fed"]
    assert metrics["paper"]["stopped_early"] and after < fed <= after + 2  # the signal lands between two bars
    assert metrics["run"]["bars"] == fed and metrics["run"]["end"] < "2025-01-13"
    stopped_at = parse_time(metrics["paper"]["stopped_at"])
    assert stopped_at == parse_time("2025-01-01") + fed * 60_000
    trades, equity = run.trades(), run.equity()
    assert len(trades) >= 1 and (trades["exit_ts"] <= stopped_at).all()
    assert (trades["exit_reason"] == "end_of_data").any()  # held at the stop, closed at its close
    assert int(equity["ts"].iloc[-1]) == stopped_at and equity["open_positions"].iloc[-1] == 0
    assert (run.events()["ts"] <= stopped_at).all()
    assert metrics["trades"] == len(trades) and run.has("report.html")


def test_ctrl_c_before_the_first_bar_writes_nothing(
        catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(_chunks: Iterable[MarketChunk], _speed: float | None) -> AsyncGenerator[MarketChunk, None]:
        raise KeyboardInterrupt
        yield  # an async generator that never yields a bar

    monkeypatch.setattr(paper_module, "paced", interrupted)
    code, output = _invoke("paper", "--replay", "--catalog", str(catalog), "--symbols", "BTC", "--runs",
                           str(tmp_path / "runs"))
    assert code == 2
    assert output.strip().splitlines()[-1] == ("error: paper run stopped before its first bar: nothing ran, "
                                               "no run folder written")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_stopped_paper_run_folder_shows_what_it_supports_and_opens_no_gate(
        catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paper_module, "paced", _interrupting(2_000))
    code, output = _invoke("paper", "--replay", "--speed", "max", "--catalog", str(catalog), "--symbols", "BTC",
                           "--runs", str(tmp_path))
    assert code == 0, output
    code, output = _invoke("gates", str(_only_run(tmp_path)), "--phase", "0")
    # issue 17: a run folder is no gate evidence (a paper session's is its journal): it shows what it supports
    assert code == 1 and "phase_0_to_1" in output and "a backtest cannot open a gate" in output, output


def test_paper_without_arguments_replays_the_demo_market(tmp_path: Path) -> None:
    code, output = _invoke("paper", "--days", "2", "--seed", "4", "--out", str(tmp_path), "--speed", "50000")
    assert code == 0, output
    run = RunFolder(_only_run(tmp_path / "runs"))
    metrics = run.metrics()
    assert metrics["run"]["mode"] == "paper" and metrics["run"]["bars"] == 2 * 1440
    assert metrics["paper"]["speed"] == 50000 and len(metrics["run"]["symbols"]) == 8
    assert (tmp_path / "catalog" / "exchange=synthetic").is_dir()
    # piped output: a line per simulated day, not terminal control codes
    assert "2025-01-02 00:00:00  bar 1,440/2,880  equity " in output
    assert "2025-01-03 00:00:00  bar 2,880/2,880" in output and "\x1b[" not in output


def test_a_terminal_gets_the_live_panel(catalog: Path, tmp_path: Path) -> None:
    from quantum_trader.cli.backtest_cmd import run_request
    from quantum_trader.cli.paper_cmd import watch

    request = run_request(symbols="BTC,ETH,SOL", strategy="multi-asset", param=[], policy="default", set_=[],
                          catalog=catalog, exchange=None, start="2025-01-02", end="2025-01-04", timeframe=None,
                          phase=3, journal=None, equity=100_000.0, runs=tmp_path, no_slippage=False, entry=None)
    session = paper_module.open_paper(request, None)
    screen = io.StringIO()
    stats = watch(session, Console(file=screen, force_terminal=True, width=140, color_system=None))
    assert stats.bars == 2 * 1440 and not stats.stopped
    shown = screen.getvalue()
    last = shown[shown.rindex("paper · "):]  # the last frame drawn
    snap = session.snapshot()
    assert "paper · 2025-01-04 00:00:00 UTC · bar 2,880/2,880 · full speed" in last
    assert f"{snap.equity:,.2f}" in last and f"{snap.exposure:.1%}" in last
    assert "Ctrl-C stops after the current bar and writes the run folder" in last
    assert snap.orders > 0 and snap.activity
    for line in snap.activity:
        assert line.text[:40] in last
    for held in snap.positions:
        assert held.symbol in last


def test_the_panel_shows_equity_exposure_positions_and_the_last_decisions(catalog: Path, tmp_path: Path) -> None:
    from quantum_trader.cli.backtest_cmd import run_request
    from quantum_trader.cli.paper_panel import render_panel

    request = run_request(symbols="BTC,ETH,SOL", strategy="multi-asset", param=[], policy="default", set_=[],
                          catalog=catalog, exchange=None, start="2025-01-01", end="2025-01-05", timeframe=None,
                          phase=3, journal=None, equity=100_000.0, runs=tmp_path, no_slippage=False, entry=None)
    session = paper_module.open_paper(request, None)
    seen: list[PaperSnapshot] = []

    def stop_when_held(_chunk: MarketChunk) -> None:
        if session.replay.driver.kernel.ledger.positions:
            seen.append(session.snapshot())  # what the panel draws while the position is open
            session.replay.stop()

    stats = asyncio.run(session.run(stop_when_held))
    assert stats.stopped
    (snap,) = seen
    (held,) = snap.positions
    assert snap.exposure == pytest.approx(held.quantity * held.mark / snap.equity)
    assert snap.equity == pytest.approx(snap.cash + held.unrealised)
    console = Console(record=True, width=140, color_system=None)
    console.print(render_panel(snap, 60.0))
    text = console.export_text()
    assert f"{snap.equity:,.2f}" in text and f"{snap.exposure:.1%}" in text
    assert held.symbol in text and f"{held.unrealised:+,.2f}" in text
    assert "60 bars/s" in text and snap.time in text
    assert f"{held.symbol} {'buy' if held.side == 'long' else 'sell'}" in text  # its order and its fill


@pytest.mark.parametrize(("speed", "shown"), [("0", "'0'"), ("fast", "'fast'"), ("-5", "'-5'"), ("nan", "'nan'")])
def test_a_bad_speed_is_one_clear_line(tmp_path: Path, speed: str, shown: str) -> None:
    code, output = _invoke("paper", "--speed", speed, "--out", str(tmp_path / "out"))
    assert code == 2
    assert output.strip() == f"error: --speed {shown}: bars a second (a positive number, e.g. 60) or max"
    assert not (tmp_path / "out").exists()


def test_the_demo_and_catalog_options_do_not_mix(tmp_path: Path) -> None:
    code, output = _invoke("paper", "--symbols", "BTC", "--start", "2025-01-01", "--out", str(tmp_path / "o"))
    assert code == 2 and output.strip().startswith("error: --symbols, --start: options of a catalog replay; add "
                                                   "--replay")
    code, output = _invoke("paper", "--replay", "--days", "3", "--catalog", str(tmp_path))
    assert code == 2 and output.strip().startswith("error: --days: options of the demo market")
    assert not any(tmp_path.iterdir())


def test_metrics_json_of_a_paper_run_holds_the_pace_and_latency(catalog: Path, tmp_path: Path) -> None:
    code, output = _invoke("paper", "--replay", "--speed", "max", "--catalog", str(catalog), "--symbols",
                           "BTC,ETH", "--strategy", "sma-cross", "--policy", "plain", "--start", "2025-01-03",
                           "--end", "2025-01-04", "--runs", str(tmp_path))
    assert code == 0, output
    paper = json.loads((_only_run(tmp_path) / "metrics.json").read_text())["paper"]
    latency = paper["bar_to_orders_ms"]
    assert latency["bars"] > 0 and 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    assert f"bar to orders at the venue: p50 {latency['p50']:.3f} ms, p99 {latency['p99']:.3f} ms" in output


@pytest.mark.parametrize(("given", "speed"), [("60", 60.0), ("0.5", 0.5), ("1e3", 1000.0), ("max", None),
                                               ("MAX", None), (" max ", None)])
def test_speed_is_bars_a_second_or_max(given: str, speed: float | None) -> None:
    from quantum_trader.cli.paper_cmd import speed_option

    assert speed_option(given) == speed
