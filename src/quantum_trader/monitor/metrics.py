"""``/metrics`` for Prometheus: the dashboard's figures, read from the source at each scrape.

A collector on its own registry (not the process-wide default), so two apps in one process (the
tests) never share a series, and a scrape reads what is committed at that moment. One call of the source's
``scrape`` per scrape: it asks once what changed in the journal and reads again only the figures whose rows did
(a new bar: the last snapshots, the kill switch and the feed, a few index seeks), the portfolio being the one the
JSON API and the page show for the same version.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from quantum_trader.monitor.source import DashboardSource

LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def _gauge(name: str, doc: str, value: float | None) -> GaugeMetricFamily | None:
    return None if value is None else GaugeMetricFamily(name, doc, value=value)


class DashboardCollector(Collector):
    def __init__(self, source: DashboardSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        scrape = self.source.scrape()
        p = scrape.portfolio
        ks = p.killswitch
        singles = (
            ("qt_equity", "Account equity at the last bar close (quote currency).", p.equity),
            ("qt_exposure", "Gross notional over equity.", p.exposure),
            ("qt_exposure_limit", "Policy: maximum total exposure.", p.exposure_limit),
            ("qt_exposure_alert", "Policy: exposure alert line.", p.exposure_alert),
            ("qt_correlated_exposure", "Largest correlated group's exposure over equity.", p.correlated_exposure),
            ("qt_correlated_exposure_limit", "Policy: maximum correlated exposure.", p.correlated_limit),
            ("qt_positions", "Open positions.", float(p.positions)),
            ("qt_pnl_24h", "Equity change over the last 24 hours (quote currency).", p.pnl_24h),
            ("qt_killswitch_tripped", "1 when the kill switch is tripped.", 1.0 if ks.tripped else 0.0),
            ("qt_daily_loss", "Loss since the UTC day's start over day-start equity.", ks.daily.loss),
            ("qt_daily_loss_limit", "Policy: daily loss that trips the kill switch.", ks.daily.limit),
            ("qt_drawdown", "Loss from peak over peak equity.", ks.drawdown.loss),
            ("qt_drawdown_limit", "Policy: drawdown that trips the kill switch.", ks.drawdown.limit),
            ("qt_phase", "Current expansion phase.", float(p.phase)),
            ("qt_feed_lag_seconds", "Wall clock minus the feed cursor's last move.",
             None if p.feed_lag_ms is None else p.feed_lag_ms / 1000),
        )
        for name, doc, value in singles:
            metric = _gauge(name, doc, value)
            if metric is not None:
                yield metric
        used = GaugeMetricFamily("qt_slots_used", "Position slots used, by tier.", labels=["tier"])
        limit = GaugeMetricFamily("qt_slots_limit", "Policy: slots reserved (tier 1) or allowed (2, 3).",
                                  labels=["tier"])
        for tier in p.slots.tiers:
            used.add_metric([str(tier.tier)], tier.used)
            limit.add_metric([str(tier.tier)], tier.limit)
        yield used
        yield limit
        yield GaugeMetricFamily("qt_slots_total", "Policy: total position slots.", value=p.slots.total)
        alerts = GaugeMetricFamily("qt_alerts", "Alerts recorded, by kind.", labels=["kind"])
        for kind, count in sorted(scrape.alert_counts.items()):
            alerts.add_metric([kind], count)
        yield alerts
        yield from latency_histogram(scrape.order_latencies_ms)


def latency_histogram(latencies_ms: list[float]) -> Iterator[Metric]:
    """Order latencies in seconds as a Prometheus histogram (cumulative buckets: how many took at most each bound)."""
    seconds = [ms / 1000 for ms in latencies_ms]
    if not seconds:
        return
    ordered = sorted(seconds)
    buckets = [(repr(b), bisect_right(ordered, b)) for b in LATENCY_BUCKETS_S]
    buckets.append(("+Inf", len(seconds)))
    yield HistogramMetricFamily("qt_order_latency_seconds", "Order created to its last update (recent orders).",
                                buckets=buckets, sum_value=sum(seconds))


def metrics_registry(source: DashboardSource) -> CollectorRegistry:
    """The app's registry, made once: its one collector reads the source at each scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DashboardCollector(source))
    return registry


def render_metrics(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text exposition format, and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
