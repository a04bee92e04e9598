"""Alerts (spec section 8): the rules, their evaluation over a finished run and in a session, and delivery.

``rules`` holds the conditions (pure, edge-triggered); ``run_alerts`` feeds them a run folder's series;
``watcher`` feeds them a session bar by bar and journals, logs and dispatches each alert; ``channels`` and
``delivery`` send them to a webhook, Telegram or Slack off the trading loop.
"""

from quantum_trader.monitor.alerts.model import ALERT_COLUMNS, Alert, AlertKind, Severity
from quantum_trader.monitor.alerts.rules import AlertRuleBook, RuleSettings
from quantum_trader.monitor.alerts.run_alerts import RunInputs, TierChangeRow, alerts_frame, run_alerts
from quantum_trader.monitor.alerts.watcher import AlertWatcher

__all__ = ["ALERT_COLUMNS", "Alert", "AlertKind", "AlertRuleBook", "AlertWatcher", "RuleSettings", "RunInputs",
           "Severity", "TierChangeRow", "alerts_frame", "run_alerts"]
