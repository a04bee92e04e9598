"""API keys: from the environment or a private file, for the network asked and no other, and never printed."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from quantum_trader.venues.ccxt.credentials import CredentialsError, Redactor, Secret, env_names, load_credentials

MAIN = {"QT_BINANCEUSDM_API_KEY": "main-key-1234", "QT_BINANCEUSDM_API_SECRET": "main-secret-5678"}
TEST = {"QT_BINANCEUSDM_TESTNET_API_KEY": "test-key-1234", "QT_BINANCEUSDM_TESTNET_API_SECRET": "test-secret-5678"}


def test_the_variables_are_named_per_exchange_and_network() -> None:
    assert env_names("binanceusdm", "mainnet") == ("QT_BINANCEUSDM_API_KEY", "QT_BINANCEUSDM_API_SECRET")
    assert env_names("bybit", "testnet") == ("QT_BYBIT_TESTNET_API_KEY", "QT_BYBIT_TESTNET_API_SECRET")


def test_each_network_reads_its_own_keys() -> None:
    both = {**MAIN, **TEST}
    main = load_credentials("binanceusdm", "mainnet", env=both)
    test = load_credentials("binanceusdm", "testnet", env=both)
    assert (main.api_key.reveal(), main.network) == ("main-key-1234", "mainnet")
    assert (test.api_secret.reveal(), test.network) == ("test-secret-5678", "testnet")


@pytest.mark.parametrize(("env", "network", "expected"), [
    ({}, "mainnet", "no mainnet API keys for binanceusdm: set QT_BINANCEUSDM_API_KEY and QT_BINANCEUSDM_API_SECRET"),
    ({"QT_BINANCEUSDM_API_KEY": "k"}, "mainnet", "set QT_BINANCEUSDM_API_SECRET (or pass --keys-file"),
    (TEST, "mainnet", "no mainnet keys for binanceusdm: QT_BINANCEUSDM_API_KEY and QT_BINANCEUSDM_API_SECRET are not "
                      "set, but testnet keys are (QT_BINANCEUSDM_TESTNET_API_KEY); keys work only on the network "
                      "they were made for: run with --testnet"),
    (MAIN, "testnet", "but mainnet keys are (QT_BINANCEUSDM_API_KEY); keys work only on the network they were made "
                      "for: run without --testnet"),
])
def test_missing_or_other_network_keys_are_one_line(env: dict[str, str], network: str, expected: str) -> None:
    with pytest.raises(CredentialsError) as caught:
        load_credentials("binanceusdm", network, env=env)  # type: ignore[arg-type]
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    for value in {**MAIN, **TEST}.values():
        assert value not in str(caught.value)


def _keys_file(tmp_path: Path, mode: int, **fields: str) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"exchange": "binanceusdm", "network": "testnet", "api_key": "file-key-1234",
                                "api_secret": "file-secret-5678", **fields}))
    os.chmod(path, mode)
    return path


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_keys_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = _keys_file(tmp_path, mode)
    with pytest.raises(CredentialsError, match=rf"keys file {path}: mode 0{mode:o} lets group or others read it; "
                                               rf"refused: run `chmod 600 {path}`"):
        load_credentials("binanceusdm", "testnet", keys_file=path)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_keys_file_is_read(tmp_path: Path, mode: int) -> None:
    found = load_credentials("binanceusdm", "testnet", keys_file=_keys_file(tmp_path, mode))
    assert (found.api_key.reveal(), found.api_secret.reveal()) == ("file-key-1234", "file-secret-5678")
    assert found.source == f"keys file {tmp_path / 'keys.json'}"


@pytest.mark.parametrize(("fields", "network", "expected"), [
    ({}, "mainnet", "testnet keys, but the session trades mainnet; keys work only on the network they were made "
                    "for: run with --testnet or use mainnet keys"),
    ({"exchange": "bybit"}, "testnet", "keys for bybit, not binanceusdm"),
    ({"api_secret": ""}, "testnet", "api_secret missing or empty"),
    ({"network": "prod"}, "testnet", "network must be mainnet or testnet, got 'prod'"),
])
def test_a_keys_file_for_something_else_is_refused(tmp_path: Path, fields: dict[str, str], network: str,
                                                   expected: str) -> None:
    with pytest.raises(CredentialsError, match=expected):
        load_credentials("binanceusdm", network, keys_file=_keys_file(tmp_path, 0o600, **fields))  # type: ignore


def test_a_secret_prints_as_stars_wherever_it_goes() -> None:
    secret = Secret("hunter2-hunter2")
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>20}", repr([secret])):
        assert "hunter2" not in text and "***" in text


def test_the_redactor_scrubs_text_log_records_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    redactor = Redactor()
    redactor.add(["main-key-1234", "main-secret-5678"])
    assert redactor.scrub("key=main-key-1234&x=main-secret-5678") == "key=***&x=***"
    logger = logging.getLogger("ccxt.redaction-test")
    logger.addFilter(redactor)
    with caplog.at_level(logging.DEBUG, logger="ccxt.redaction-test"):
        logger.debug("signed with %s", "main-secret-5678")
        try:
            raise RuntimeError("refused main-key-1234")
        except RuntimeError:
            logger.exception("request failed")
    text = caplog.text + "".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "main-key-1234" not in text and "main-secret-5678" not in text
    assert "signed with ***" in text and "refused ***" in text
