"""Delivery against a local receiver on 127.0.0.1: payload shapes, retry, de-duplication, the rate limit under a
storm, never blocking the caller, and the Telegram token kept out of every log line."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.receiver import Receiver

from quantum_trader.config.operations import AlertChannels, TelegramChannel
from quantum_trader.monitor.alerts import Alert, AlertKind
from quantum_trader.monitor.alerts.channels import AlertConfigError, Channel, ChannelKind, channels_of, read_token
from quantum_trader.monitor.alerts.delivery import AlertDispatcher, DeliverySettings

TOKEN = "123456:AAE-very-secret-bot-token"
FAST = DeliverySettings(backoff_s=0.01, timeout_s=2.0)


def _alert(i: int = 0, key: str | None = None, ts: int = 1_735_689_600_000) -> Alert:
    return Alert.of(ts + i, AlertKind.EXPOSURE, f"portfolio exposure 36.{i}% above 35.0%", key or f"k{i}",
                    value=0.36, limit=0.35)


def _channels(url: str) -> list[Channel]:
    config = AlertChannels(webhook_url=f"{url}/hook", slack_url_env="SLACK_URL",
                           telegram=TelegramChannel(chat_id="42", api_base=url))
    return channels_of(config, {"SLACK_URL": f"{url}/services/T0/B0/slacksecret", "QT_TELEGRAM_TOKEN": TOKEN})


def test_payload_shapes_of_webhook_telegram_and_slack() -> None:
    receiver = Receiver()
    with receiver.running() as url:
        dispatcher = AlertDispatcher(_channels(url), FAST)
        dispatcher.submit(_alert(1))
        dispatcher.close()
    (hook,) = receiver.bodies("/hook")
    assert hook == {"source": "quantum-trader", "kind": "portfolio_exposure", "severity": "warning",
                    "message": "portfolio exposure 36.1% above 35.0%", "ts": 1_735_689_600_001,
                    "time": "2025-01-01 00:00:00", "key": "k1", "symbol": "", "value": 0.36, "limit": 0.35}
    (telegram,) = receiver.bodies(f"/bot{TOKEN}/sendMessage")
    assert telegram["chat_id"] == "42" and telegram["disable_web_page_preview"] is True
    assert "[warning] portfolio_exposure\nportfolio exposure 36.1% above 35.0%" in telegram["text"]
    (slack,) = receiver.bodies("/services/T0/B0/slacksecret")
    assert set(slack) == {"text"} and "portfolio exposure 36.1% above 35.0%" in slack["text"]


def test_a_500_is_retried_until_delivered() -> None:
    receiver = Receiver(fail_next=2)
    with receiver.running() as url:
        dispatcher = AlertDispatcher([Channel(ChannelKind.WEBHOOK, f"{url}/hook", "webhook")], FAST)
        dispatcher.submit(_alert())
        dispatcher.close()
    assert receiver.attempts == 3 and len(receiver.bodies()) == 1
    assert dispatcher.counts()["webhook"]["sent"] == 1 and dispatcher.counts()["webhook"]["failed"] == 0


def test_a_delivery_that_keeps_failing_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver(status=500)
    with receiver.running() as url:
        dispatcher = AlertDispatcher([Channel(ChannelKind.WEBHOOK, f"{url}/hook", "webhook 127.0.0.1")], FAST)
        with caplog.at_level(logging.WARNING, "quantum_trader.alerts"):
            dispatcher.submit(_alert())
            dispatcher.close()
    assert receiver.attempts == FAST.retries + 1
    assert dispatcher.counts()["webhook 127.0.0.1"]["failed"] == 1
    assert "not delivered after 4 attempt(s): HTTP 500" in caplog.text


def test_the_same_key_within_the_window_is_sent_once() -> None:
    receiver = Receiver()
    window = FAST.dedupe_window_ms
    with receiver.running() as url:
        dispatcher = AlertDispatcher([Channel(ChannelKind.WEBHOOK, f"{url}/hook", "webhook")], FAST)
        for ts in (0, 1, window - 1, window, window + 5):
            dispatcher.submit(_alert(key="exposure", ts=1_000_000 + ts))
        dispatcher.close()
    assert [b["ts"] for b in receiver.bodies()] == [1_000_000, 1_000_000 + window]
    assert dispatcher.deduplicated == 3


def test_a_storm_of_100_alerts_is_ten_messages_and_one_summary() -> None:
    receiver = Receiver()
    with receiver.running() as url:
        channels = [Channel(ChannelKind.WEBHOOK, f"{url}/hook", "webhook"),
                    Channel(ChannelKind.SLACK, f"{url}/slack", "slack")]
        dispatcher = AlertDispatcher(channels, FAST)
        for i in range(100):
            dispatcher.submit(_alert(i))
        dispatcher.close()
    hooks = receiver.bodies("/hook")
    assert len(hooks) == 11 and all(h["kind"] == "portfolio_exposure" for h in hooks[:10])
    summary = hooks[-1]
    assert summary["kind"] == "alert_summary" and summary["count"] == 90
    assert summary["kinds"] == {"portfolio_exposure": 90}
    slack = receiver.bodies("/slack")
    assert len(slack) == 11 and slack[-1]["text"].startswith("⚠️ [warning] 90 more alerts held back by the rate limit")
    assert dispatcher.counts()["webhook"] == {"sent": 11, "failed": 0, "dropped": 0, "held": 90, "summaries": 1}


def test_submit_never_blocks_on_a_stuck_channel() -> None:
    release = threading.Event()
    posted: list[dict[str, Any]] = []

    def stuck(url: str, payload: dict[str, Any], timeout: float) -> int:
        release.wait(10)
        posted.append(payload)
        return 200

    settings = DeliverySettings(queue_size=2, backoff_s=0.01)
    dispatcher = AlertDispatcher([Channel(ChannelKind.WEBHOOK, "http://unused", "webhook")], settings, post=stuck)
    for i in range(20):  # the worker holds one, the queue two: the rest are dropped, the caller never waits
        dispatcher.submit(_alert(i))
    counts = dispatcher.counts()["webhook"]
    assert 17 <= counts["dropped"] <= 18
    release.set()
    dispatcher.close()
    assert len(posted) == 20 - dispatcher.counts()["webhook"]["dropped"]


def test_no_answer_is_a_counted_failure(caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver()
    with receiver.running() as url:
        pass  # closed: nothing listens on that port any more
    channel = channels_of(AlertChannels(telegram=TelegramChannel(chat_id="1", api_base=url)),
                          {"QT_TELEGRAM_TOKEN": TOKEN})
    dispatcher = AlertDispatcher(channel, DeliverySettings(retries=1, backoff_s=0.01, timeout_s=1.0))
    with caplog.at_level(logging.DEBUG):
        dispatcher.submit(_alert())
        dispatcher.close()
    assert dispatcher.counts()[f"telegram {url.split('//')[1]}"]["failed"] == 1
    assert "not delivered" in caplog.text


def test_the_telegram_token_never_reaches_a_log(caplog: pytest.LogCaptureFixture) -> None:
    def leaky(url: str, payload: dict[str, Any], timeout: float) -> int:
        raise OSError(f"connection reset while posting to {url}")

    (channel,) = channels_of(AlertChannels(telegram=TelegramChannel(chat_id="1")), {"QT_TELEGRAM_TOKEN": TOKEN})
    assert TOKEN in channel.url and TOKEN not in channel.shown and TOKEN not in repr(channel.shown)
    dispatcher = AlertDispatcher([channel], DeliverySettings(retries=0), post=leaky)
    with caplog.at_level(logging.DEBUG):
        dispatcher.submit(_alert())
        dispatcher.close()
    assert "connection reset while posting to https://api.telegram.org/bot***/sendMessage" in caplog.text
    assert TOKEN not in caplog.text


def test_the_token_file_must_be_private(tmp_path: Path) -> None:
    file = tmp_path / "token"
    file.write_text(TOKEN + "\n")
    os.chmod(file, 0o644)
    with pytest.raises(AlertConfigError, match=r"token_file .*token: readable by others \(mode 644\); chmod 600 it"):
        read_token("UNUSED", str(file), {})
    os.chmod(file, 0o600)
    assert read_token("UNUSED", str(file), {}) == TOKEN
    with pytest.raises(AlertConfigError, match="no bot token in environment variable QT_TELEGRAM_TOKEN"):
        read_token("QT_TELEGRAM_TOKEN", None, {})
    with pytest.raises(AlertConfigError, match="environment variable NOPE is not set"):
        channels_of(AlertChannels(slack_url_env="NOPE"), {})


def test_no_channel_by_default() -> None:
    assert channels_of(AlertChannels(), {"QT_TELEGRAM_TOKEN": TOKEN}) == []
