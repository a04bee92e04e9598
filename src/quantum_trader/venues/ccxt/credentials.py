"""API keys: read from the environment or a private file, held so that no log, error or report can print them.

Where they come from (in this order): ``--keys-file FILE`` (JSON: ``exchange``, ``network`` testnet or
mainnet, ``api_key``, ``api_secret``; refused unless only its owner may read it, mode 0600 or stricter),
else the environment: ``QT_<EXCHANGE>_API_KEY`` / ``QT_<EXCHANGE>_API_SECRET`` for mainnet and
``QT_<EXCHANGE>_TESTNET_API_KEY`` / ``QT_<EXCHANGE>_TESTNET_API_SECRET`` for the exchange's testnet
(``QT_BINANCEUSDM_API_KEY``, ``QT_BYBIT_TESTNET_API_SECRET``, ...). A session on one network never falls
back to the other's keys: testnet keys with a mainnet session (or the reverse) is refused with the line
that says so.

A ``Secret`` prints as ``***`` (``repr``, ``str``, f-strings, dataclass reprs), and ``Redactor`` scrubs
the revealed values from any text (log records, exception messages) before it leaves the process.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Network = Literal["mainnet", "testnet"]
MASK = "***"


class CredentialsError(ValueError):
    """Keys that cannot be used: missing, unreadable, too readable, or for the other network."""


@dataclass(frozen=True)
class Secret:
    """A value that only ``reveal`` gives back; everything else prints ``***``."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, _spec: str) -> str:
        return MASK


@dataclass(frozen=True)
class Credentials:
    exchange: str
    network: Network
    api_key: Secret
    api_secret: Secret
    source: str
    """Where they were read (a file's path or the variables' names), never the values."""

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.api_key.reveal(), self.api_secret.reveal())


def env_names(exchange: str, network: Network) -> tuple[str, str]:
    """The variables holding ``exchange``'s key and secret on ``network``."""
    stem = f"QT_{exchange.upper()}_{'TESTNET_' if network == 'testnet' else ''}API"
    return f"{stem}_KEY", f"{stem}_SECRET"


def _other(network: Network) -> Network:
    return "mainnet" if network == "testnet" else "testnet"


def load_credentials(exchange: str, network: Network, *, env: Mapping[str, str] | None = None,
                     keys_file: Path | None = None) -> Credentials:
    """The keys of ``exchange`` on ``network`` (see the module docstring), or one line saying what is wrong."""
    if keys_file is not None:
        return _from_file(keys_file, exchange, network)
    environ = os.environ if env is None else env
    key_name, secret_name = env_names(exchange, network)
    key, secret = environ.get(key_name, "").strip(), environ.get(secret_name, "").strip()
    if key and secret:
        return Credentials(exchange, network, Secret(key), Secret(secret), f"environment {key_name}/{secret_name}")
    other_key, other_secret = env_names(exchange, _other(network))
    if environ.get(other_key) and environ.get(other_secret):
        flag = "with --testnet" if network == "mainnet" else "without --testnet"
        raise CredentialsError(
            f"no {network} keys for {exchange}: {key_name} and {secret_name} are not set, but {_other(network)} keys "
            f"are ({other_key}); keys work only on the network they were made for: run {flag} or set the "
            f"{network} keys")
    missing = " and ".join(n for n, v in ((key_name, key), (secret_name, secret)) if not v)
    raise CredentialsError(f"no {network} API keys for {exchange}: set {missing} (or pass --keys-file FILE, "
                           "a JSON file readable by its owner only)")


def _from_file(path: Path, exchange: str, network: Network) -> Credentials:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CredentialsError(f"keys file {path}: not found") from None
    except OSError as exc:
        raise CredentialsError(f"keys file {path}: cannot be read ({exc.strerror})") from None
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(f"keys file {path}: mode {stat.S_IMODE(info.st_mode):04o} lets group or others read "
                               f"it; refused: run `chmod 600 {path}`")
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise CredentialsError(f"keys file {path}: not a JSON object with exchange, network, api_key and "
                               "api_secret") from None
    if not isinstance(document, dict):
        raise CredentialsError(f"keys file {path}: not a JSON object with exchange, network, api_key and api_secret")
    fields = {name: document.get(name) for name in ("exchange", "network", "api_key", "api_secret")}
    missing = [name for name, value in fields.items() if not isinstance(value, str) or not value.strip()]
    if missing:
        raise CredentialsError(f"keys file {path}: {', '.join(missing)} missing or empty")
    if fields["exchange"] != exchange:
        raise CredentialsError(f"keys file {path}: keys for {fields['exchange']}, not {exchange}")
    if fields["network"] not in ("mainnet", "testnet"):
        raise CredentialsError(f"keys file {path}: network must be mainnet or testnet, got {fields['network']!r}")
    if fields["network"] != network:
        flag = "with --testnet" if network == "mainnet" else "without --testnet"
        raise CredentialsError(f"keys file {path}: {fields['network']} keys, but the session trades {network}; "
                               f"keys work only on the network they were made for: run {flag} or use {network} keys")
    key, secret = str(fields["api_key"]).strip(), str(fields["api_secret"]).strip()
    return Credentials(exchange, network, Secret(key), Secret(secret), f"keys file {path}")


@dataclass
class Redactor(logging.Filter):
    """Replaces every secret it holds with ``***`` in text and in log records (install it on the handlers
    that leave the process: ``install``)."""

    values: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__init__()

    def __hash__(self) -> int:
        return id(self)

    def add(self, secrets: Iterable[str]) -> None:
        self.values.update(s for s in secrets if len(s) >= 4)

    def scrub(self, text: str) -> str:
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.values:
            record.msg = self.scrub(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True

    def install(self, loggers: Iterable[logging.Logger] = ()) -> None:
        """Filter the root logger's handlers and ``loggers`` (ccxt's, aiohttp's): whatever they pass on is clean."""
        for logger in (logging.getLogger(), *loggers):
            if self not in logger.filters:
                logger.addFilter(self)
            for handler in logger.handlers:
                if self not in handler.filters:
                    handler.addFilter(self)

    def __repr__(self) -> str:
        return f"Redactor({len(self.values)} secrets)"
