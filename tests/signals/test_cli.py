"""The ``signals`` and ``check lookahead`` commands on a local Typer app."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from quantum_trader.cli import signals_cmd
from quantum_trader.domain.time import format_time
from quantum_trader.testkit.random_walk import random_walk_market

SYMS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    a.command("signals")(signals_cmd.signals)
    a.add_typer(signals_cmd.check_app, name="check")
    return a


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    from quantum_trader.data.catalog import Catalog

    root = tmp_path_factory.mktemp("catalog")
    m = random_walk_market(SYMS, 60 * 24 * 40, "1m", seed=4)
    cat = Catalog(root)
    for series in m.values():
        cat.write(series, exchange="binanceusdm")
    return root, int(m[SYMS[0]].ts[-1])


def test_signals_prints_a_table_per_asset_and_writes_a_plot(app: typer.Typer, catalog: tuple[Path, int],
                                                            tmp_path: Path) -> None:
    root, last = catalog
    out = tmp_path / "signals.html"
    at = format_time(last - 3 * 3_600_000).replace(" ", "T")
    res = CliRunner().invoke(app, ["signals", "--symbols", ",".join(SYMS), "--at", at, "--catalog", str(root),
                                   "--plot", str(out)], terminal_width=200)
    assert res.exit_code == 0, res.output
    for s in SYMS:
        assert s in res.output
    assert "regime:" in res.output and "chart written" in res.output
    html = out.read_text()
    assert "plotly" in html.lower() and len(html) > 1_000_000  # plotly.js is inlined: opens offline


def test_signals_without_btc_or_data_is_one_clear_error(app: typer.Typer, catalog: tuple[Path, int],
                                                        tmp_path: Path) -> None:
    root, _ = catalog
    res = CliRunner().invoke(app, ["signals", "--symbols", "ETH/USDT:USDT", "--at", "2024-02-01", "--catalog",
                                   str(root)])
    assert res.exit_code == 2 and "baseline asset BTC" in res.output
    res = CliRunner().invoke(app, ["signals", "--symbols", ",".join(SYMS), "--at", "2024-02-01",
                                   "--catalog", str(tmp_path / "missing")], terminal_width=200)
    assert res.exit_code == 2 and "missing does not exist" in " ".join(res.output.split())
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(app, ["signals", "--symbols", ",".join(SYMS), "--at", "2024-02-01",
                                   "--catalog", str(tmp_path / "empty")], terminal_width=200)
    assert res.exit_code == 2 and "no candles for BTC/USDT:USDT" in " ".join(res.output.split())


def test_check_lookahead_passes_shipped_and_reports_a_leak(app: typer.Typer, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    ok = CliRunner().invoke(app, ["check", "lookahead", "--signal", "edge", "--synthetic", "--cuts", "5"])
    assert ok.exit_code == 0 and "no look-ahead" in ok.output
    (tmp_path / "leaky_user_sig.py").write_text(
        "import numpy as np\n\ndef future(bars):\n    return np.r_[bars.close[1:], np.nan]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    bad = CliRunner().invoke(app, ["check", "lookahead", "--signal", "leaky_user_sig:future", "--synthetic",
                                   "--bars", "200", "--cuts", "3"], terminal_width=200)
    assert bad.exit_code == 1 and "values changed" in " ".join(bad.output.split())
    unknown = CliRunner().invoke(app, ["check", "lookahead", "--signal", "nope"])
    assert unknown.exit_code == 2 and "unknown signal" in unknown.output


def test_check_lookahead_on_catalog_data(app: typer.Typer, catalog: tuple[Path, int]) -> None:
    root, _ = catalog
    res = CliRunner().invoke(app, ["check", "lookahead", "--signal", "trend_z", "--catalog", str(root),
                                   "--bars", "900", "--cuts", "4"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "900 bars" in " ".join(res.output.split())
