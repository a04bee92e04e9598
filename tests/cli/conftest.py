"""Fixtures of the command-line tests."""

from __future__ import annotations

import socket

import ccxt
import pytest
from tests.cli.test_data_cli import _fake_binance


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: sockets refuse, and ccxt's Binance USD-M answers from a fake (1500 1m bars from 2024-01-01)."""
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(ccxt.binanceusdm, "fetch", _fake_binance)
