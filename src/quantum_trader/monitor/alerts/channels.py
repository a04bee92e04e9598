"""Where alerts are sent besides the journal and the log: a generic JSON webhook, Telegram and Slack.

A ``Channel`` is its URL and its message format; secrets (the Telegram bot token sits in its URL path, a
Slack incoming-webhook URL is itself the secret) are listed in ``secrets`` so every line the delivery logs
is scrubbed of them, and ``shown`` is what a log may name. The token is read from the environment or from a
file only its owner can read (mode 0600), never from the policy.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from quantum_trader.config.operations import AlertChannels
from quantum_trader.domain.time import format_time
from quantum_trader.monitor.alerts.model import Alert, Severity


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"
    TELEGRAM = "telegram"
    SLACK = "slack"


class AlertConfigError(ValueError):
    """A channel that cannot be set up: one line naming the setting."""


ICON = {Severity.INFO: "ℹ️", Severity.WARNING: "⚠️", Severity.CRITICAL: "🛑"}
RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


@dataclass(frozen=True)
class Channel:
    kind: ChannelKind
    url: str
    """Where to POST (may hold a secret: never logged, see ``shown``)."""
    shown: str
    secrets: tuple[str, ...] = ()
    chat_id: str = ""

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def payload(self, alert: Alert) -> dict[str, Any]:
        if self.kind is ChannelKind.WEBHOOK:
            return webhook_payload(alert)
        return self._text(f"{ICON[alert.severity]} [{alert.severity}] {alert.kind}\n{alert.message}\n"
                          f"{format_time(alert.ts)} UTC")

    def summary(self, alerts: Sequence[Alert]) -> dict[str, Any]:
        """One message for the alerts a rate limit held back."""
        counts = Counter(str(a.kind) for a in alerts)
        worst = max((a.severity for a in alerts), key=RANK.__getitem__)
        what = ", ".join(f"{n} {kind}" for kind, n in counts.most_common())
        span = f"{format_time(alerts[0].ts)} to {format_time(alerts[-1].ts)} UTC"
        text = f"{len(alerts)} more alerts held back by the rate limit ({what}), {span}"
        if self.kind is ChannelKind.WEBHOOK:
            return {"source": "quantum-trader", "kind": "alert_summary", "severity": str(worst), "message": text,
                    "count": len(alerts), "kinds": dict(counts), "keys": sorted({a.key for a in alerts})}
        return self._text(f"{ICON[worst]} [{worst}] {text}")

    def _text(self, text: str) -> dict[str, Any]:
        if self.kind is ChannelKind.TELEGRAM:
            return {"chat_id": self.chat_id, "text": text, "disable_web_page_preview": True}
        return {"text": text}  # Slack incoming webhook


def webhook_payload(alert: Alert) -> dict[str, Any]:
    return {"source": "quantum-trader", "kind": str(alert.kind), "severity": str(alert.severity),
            "message": alert.message, "ts": alert.ts, "time": format_time(alert.ts), "key": alert.key,
            "symbol": alert.symbol, "value": alert.value, "limit": alert.limit}


def read_token(env_name: str, file: str | None, env: Mapping[str, str]) -> str:
    """The bot token: from ``file`` when given (refused unless only its owner may read it), else ``env_name``."""
    if file:
        path = Path(file).expanduser()
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise AlertConfigError(f"dashboard.alerts.channels.telegram.token_file {path}: {exc.strerror}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AlertConfigError(f"dashboard.alerts.channels.telegram.token_file {path}: readable by others "
                                   f"(mode {stat.S_IMODE(mode):o}); chmod 600 it")
        token = path.read_text(encoding="utf-8").strip()
        where = f"file {path}"
    else:
        token = env.get(env_name, "").strip()
        where = f"environment variable {env_name}"
    if not token:
        raise AlertConfigError(f"dashboard.alerts.channels.telegram: no bot token in {where}")
    return token


def channels_of(config: AlertChannels, env: Mapping[str, str] | None = None) -> list[Channel]:
    """The channels the policy configures (none by default)."""
    env = os.environ if env is None else env
    found: list[Channel] = []
    if config.webhook_url:
        found.append(Channel(ChannelKind.WEBHOOK, config.webhook_url, f"webhook {_host(config.webhook_url)}"))
    if config.slack_url_env:
        url = env.get(config.slack_url_env, "").strip()
        if not url:
            raise AlertConfigError(f"dashboard.alerts.channels.slack_url_env: environment variable "
                                   f"{config.slack_url_env} is not set")
        found.append(Channel(ChannelKind.SLACK, url, f"slack {_host(url)}", secrets=(url, url.rsplit("/", 1)[-1])))
    if config.telegram is not None:
        t = config.telegram
        token = read_token(t.token_env, t.token_file, env)
        base = t.api_base.rstrip("/")
        found.append(Channel(ChannelKind.TELEGRAM, f"{base}/bot{token}/sendMessage", f"telegram {_host(base)}",
                             secrets=(token,), chat_id=t.chat_id))
    return found


def _host(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0]
