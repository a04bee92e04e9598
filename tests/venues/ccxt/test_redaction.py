"""A known API key and secret fed through every path a live session has: never printed, logged or stored.

The fake exchange is made to echo both in its error messages (an exchange quoting a request back), on an
order refusal and on the account setup, and to drop and rate-limit requests so the retry and lookup paths
log; then every output is searched: the command's output and error lines, every log record at DEBUG, the
exception text, the reprs of the request, keys, session and client, and every file of the run folder (the
tables read back as text, not grepped as compressed bytes).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pandas as pd
import pytest
from tests.fakes.binance_http import Fault
from tests.fakes.server import FakeBinance
from tests.venues.ccxt.conftest import credentials
from tests.venues.ccxt.test_session import _request
from typer.testing import CliRunner

from quantum_trader.analytics.live import open_live
from quantum_trader.cli.main import app
from quantum_trader.domain.market import BarSeries

KEY = "QTKEY-known-0000-1111-2222-3333"
SECRET = "QTSECRET-known-4444-5555-6666-7777"
ECHO = f"Invalid request signed by {KEY} with {SECRET}"


def _clean(text: str, where: str) -> None:
    assert KEY not in text and SECRET not in text, f"a key reached {where}"


def _run_folder_text(run: Path) -> str:
    parts = []
    for path in sorted(run.rglob("*")):
        if path.suffix == ".parquet":
            parts.append(pd.read_parquet(path).to_csv())
        elif path.is_file():
            parts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(parts)


def test_no_output_log_error_repr_or_run_file_holds_the_keys(bars: dict[str, BarSeries], tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeBinance.of(bars, cursor=1, api_key=KEY)
    fake.server.faults += [Fault("POST", "/fapi/v1/order", "reject", code=-1022, msg=ECHO, times=2),
                           Fault("POST", "/fapi/v1/order", "429"), Fault("GET", "/fapi/v1/userTrades", "500"),
                           Fault("POST", "/fapi/v1/order", "drop", seconds=2.5)]
    env = {"COLUMNS": "200", "QT_DEBUG": "", "QT_RUNS": str(tmp_path / "runs"), "QT_EXCHANGE_RATE_LIMIT_MS": "1",
           "QT_BINANCEUSDM_API_KEY": KEY, "QT_BINANCEUSDM_API_SECRET": SECRET,
           "QT_JOURNAL": str(tmp_path / "j.sqlite")}
    with caplog.at_level(logging.DEBUG), fake.running() as url:
        result = CliRunner().invoke(app, ["live", "--confirm-real-money", "--symbols", "BTC,ETH,SOL",
                                          "--warmup-bars", "0", "--phase", "3", "--max-bars", "60"],
                                    env={**env, "QT_EXCHANGE_API_URL": url})
    assert result.exit_code == 0, result.output
    assert any(fault.times == 0 for fault in fake.server.faults), "the faults were met"
    journal = b"".join(p.read_bytes() for p in tmp_path.glob("j.sqlite*"))
    assert b"live-binanceusdm" in journal, "the session wrote its journal"
    assert KEY.encode() not in journal and SECRET.encode() not in journal, "no key in the journal"
    (run,) = (tmp_path / "runs").iterdir()
    files = _run_folder_text(run)
    assert "signed by *** with ***" in files, "the refusal was recorded, its echo scrubbed"
    _clean(result.output, "the command's output")
    _clean(caplog.text + "".join(r.getMessage() for r in caplog.records), "the logs")
    _clean(files, "the run folder")


def test_an_error_line_quoting_the_keys_is_scrubbed(bars: dict[str, BarSeries], tmp_path: Path) -> None:
    fake = FakeBinance.of(bars, cursor=1, api_key=KEY)
    fake.server.faults.append(Fault("GET", "/fapi/v1/positionSide/dual", "reject", code=-2015, msg=ECHO))
    env = {"COLUMNS": "250", "QT_DEBUG": "", "QT_RUNS": str(tmp_path / "runs"), "QT_EXCHANGE_RATE_LIMIT_MS": "1",
           "QT_BINANCEUSDM_API_KEY": KEY, "QT_BINANCEUSDM_API_SECRET": SECRET,
           "QT_JOURNAL": str(tmp_path / "j.sqlite")}
    with fake.running() as url:
        result = CliRunner().invoke(app, ["live", "--confirm-real-money", "--warmup-bars", "0", "--phase", "3"],
                                    env={**env, "QT_EXCHANGE_API_URL": url})
    assert result.exit_code == 2
    assert "refused the API key" in result.output and "signed by *** with ***" in result.output
    _clean(result.output, "the error line")


def test_the_reprs_of_request_keys_session_and_client_hold_no_key(bars: dict[str, BarSeries]) -> None:
    fake = FakeBinance.of(bars, cursor=1, api_key=KEY)
    keys = credentials(key=KEY, secret=SECRET)

    async def go(url: str) -> list[str]:
        request = _request(bars, "live", 3, api_url=url)
        request = type(request)(**{**request.__dict__, "credentials": keys})
        session = await open_live(request)
        texts = [repr(request), repr(keys), str(keys), repr(session), repr(session.client), repr(session.redactor),
                 repr(session.client.settings), str(request.__dict__)]
        await session.run()
        texts += [repr(session), repr(session.incidents)]
        return texts

    with fake.running() as url:
        texts = asyncio.run(go(url))
    for text in texts:
        _clean(text, "a repr")
