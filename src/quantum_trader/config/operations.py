"""Operations: scenarios (section 7), dashboard and alerts (section 8), data feeds and
capacity (section 5), venue costs, and the reference market data (sectors, supply)."""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from quantum_trader.config.base import PolicyModel
from quantum_trader.config.types import (
    AssetCode,
    Duration,
    Fraction,
    HourOfDay,
    NonNegative,
    PercentFraction,
    PositiveInt,
    Timeframe,
    UnitInterval,
)
from quantum_trader.domain.time import MS_PER_DAY, duration_ms


class Scenario(PolicyModel):
    description: str
    probability: str
    """As the spec states it ("5% per year", "Higher (frequent)", "Low but catastrophic")."""
    probability_per_year: Fraction | None = None
    mitigation: tuple[str, ...]
    worst_case: str
    worst_case_loss: Fraction | None = None
    """Equity loss the mitigations cap the scenario at, where the spec gives a number."""


def _default_scenarios() -> dict[str, Scenario]:
    return {
        "correlated_crash": Scenario(
            description="All assets crash together", probability="5% per year", probability_per_year=0.05,
            mitigation=("Portfolio max exposure 40%", "Kill-switch still at -5%/-20%",
                        "Correlation monitoring stops new positions"),
            worst_case="-20% (kill-switch)", worst_case_loss=0.20,
        ),
        "single_asset_anomaly": Scenario(
            description="One asset moves against position", probability="Higher (frequent)",
            mitigation=("Per-asset daily limit 3%", "Individual stop-losses", "Position slot limits"),
            worst_case="-3% from single asset", worst_case_loss=0.03,
        ),
        "liquidity_crisis": Scenario(
            description="Sudden liquidity drops", probability="Low but catastrophic",
            mitigation=("Only trade Tier 1-2 assets", "No illiquid alts", "Position sizes respect liquidity"),
            worst_case="Slippage on exits",
        ),
    }


class TelegramChannel(PolicyModel):
    """Telegram ``sendMessage`` (ours, not the spec's). The bot token is a secret: it is never in the policy,
    only the name of the environment variable or the path of a file (mode 0600) that holds it."""

    chat_id: str
    api_base: str = "https://api.telegram.org"
    token_env: str = "QT_TELEGRAM_TOKEN"
    token_file: str | None = None


class AlertChannels(PolicyModel):
    """Where alerts are sent besides the journal and the log (ours, not the spec's): none by default.

    Webhook URLs that carry a secret (Slack's) are named by an environment variable, never written here."""

    webhook_url: str | None = None
    """A generic JSON webhook: one POST per alert."""
    slack_url_env: str | None = None
    """Environment variable holding a Slack incoming-webhook URL."""
    telegram: TelegramChannel | None = None
    dedupe_window: Duration = "15m"
    """The same alert (its de-duplication key) is sent once within this window."""
    max_per_minute: PositiveInt = 10
    """Per channel; alerts beyond it are summarised in one message when the minute ends."""
    retries: int = Field(default=3, ge=0, le=10)
    """Attempts after the first for a failed delivery (HTTP 5xx, 429 or no answer), with doubling backoff."""
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    queue_size: PositiveInt = 1000
    """Alerts waiting for delivery; beyond it new ones are dropped (and counted), never blocking trading."""


class AlertRearm(PolicyModel):
    """Re-arm margins of the level rules (ours, not the spec's): once a rule has fired, it fires again only after
    its value has come back past its level by this margin (hysteresis), so a value hovering at the line is one
    alert, not one per crossing. 0: re-armed as soon as the value is back at the line."""

    correlation_spike: UnitInterval = 0.10
    """Mean pairwise correlation: fired above ``correlation.spike_threshold`` (0.85), re-armed at or below 0.75."""
    correlation_pair_jump: UnitInterval = 0.10
    """One pair's rise between two updates: fired above ``correlation_pair_jump`` (0.30), re-armed once a rise is
    back at or below 0.20."""
    portfolio_exposure: UnitInterval = 0.05
    """Gross exposure: fired above ``portfolio_exposure_above`` (35%), re-armed at or below 30%."""
    liquidity_depth: UnitInterval = 0.25
    """Depth within 1% as a share of its usual depth: fired below ``1 - liquidity_drop`` (50%), re-armed at or
    above 75%."""
    liquidity_spread: UnitInterval = 0.20
    """A share of the spread limit (``asset_requirements.liquidity.max_spread``): fired above the limit, re-armed
    at or below 80% of it."""


class AlertRules(PolicyModel):
    correlation_spike: bool = True
    """Threshold in ``correlation.spike_threshold``."""
    correlation_pair_jump: NonNegative = 0.30
    """Ours, not the spec's: a correlation spike is also one pair's correlation rising by more than this
    between two updates of the matrix."""
    portfolio_exposure_above: Fraction = 0.35
    """spec: Portfolio exposure > 35%"""
    asset_removed_from_tier: bool = True
    liquidity_drop: Fraction = 0.5
    """Alert when depth within 1% falls by this share against its trailing median (below 50% of it)."""
    liquidity_median_window: Duration = "7d"
    """Ours: the trailing window of the usual depth (the spread limit is
    ``asset_requirements.liquidity.max_spread``)."""
    liquidity_short_window: Duration = "1h"
    """Ours: depth and spread "now" are their medians over this window (one thin snapshot is no drop)."""
    rearm: AlertRearm = AlertRearm()
    """How far back past its level a level rule's value must come before the rule fires again."""
    channels: AlertChannels = AlertChannels()

    @model_validator(mode="after")
    def _rearm_lines_exist(self) -> AlertRules:
        """A re-arm line past what the value can reach would silence the rule for good after its first alert."""
        rearm = self.rearm
        for name, margin, level in (
                ("portfolio_exposure", rearm.portfolio_exposure, self.portfolio_exposure_above),
                ("correlation_pair_jump", rearm.correlation_pair_jump, self.correlation_pair_jump),
                ("liquidity_depth", rearm.liquidity_depth, self.liquidity_drop)):
            if margin > level:
                raise ValueError(f"dashboard.alerts.rearm.{name} ({margin}) must be at most its level ({level}): "
                                 "the re-arm line would be out of reach")
        if rearm.liquidity_spread >= 1.0:
            raise ValueError(f"dashboard.alerts.rearm.liquidity_spread ({rearm.liquidity_spread}) must be below 1: "
                             "a spread never comes back to 0")
        return self


class Dashboard(PolicyModel):
    portfolio_view: tuple[str, ...] = (
        "Total equity", "Total exposure", "Total P&L (24h)", "Correlation heatmap", "Position slot usage",
    )
    per_asset_view: tuple[str, ...] = (
        "Current position", "Entry price", "Current P&L", "Risk remaining", "Regime classification",
    )
    alerts: AlertRules = AlertRules()
    host: str = "127.0.0.1"
    port: int = Field(default=8050, ge=1, le=65535)


FeedName = Literal["candles_1m", "candles_5m", "candles_1h", "orderbook_l2", "trade_flow", "funding_rate"]
CrossFeedName = Literal["correlation_matrix_24h", "btc_dominance", "total_market_cap", "sector_performance"]


def _feed_age(value: str) -> str:
    text = value.strip()
    if text in ("bar", "interval", "auto"):
        return text
    try:
        duration_ms(text)
    except ValueError:
        raise ValueError("must be a duration such as 5m or 8h, or bar, interval or auto") from None
    return text


FeedAge = Annotated[str, AfterValidator(_feed_age)]


class FeedMaxAge(PolicyModel):
    """How old a feed's latest value may be before a run treats it as missing (ours, not the spec's).

    A book snapshot, a mark price or a funding rate describes the market at its own time; one
    left over from hours or years before is not the market now. Past its age the venue uses its
    fallback (no book: spread plus impact, and the liquidity rule cannot bind; no mark: the
    bar's close; no funding: none charged) and the run's data notes say for which share of bars.
    Values: a duration (5m, 1h), ``bar`` (one bar of the run), ``interval`` (one funding
    interval) or ``auto`` (5 minutes, or one bar when bars are longer).
    """

    book: FeedAge = "auto"
    mark: FeedAge = "bar"
    funding: FeedAge = "interval"

    def resolve_ms(self, feed: Literal["book", "mark", "funding"], bar_ms: int, funding_interval_ms: int) -> int:
        value = getattr(self, feed)
        if value == "bar":
            return bar_ms
        if value == "interval":
            return funding_interval_ms
        if value == "auto":
            return max(5 * 60_000, bar_ms)
        return duration_ms(value)


class DataRequirements(PolicyModel):
    per_asset: tuple[FeedName, ...] = (
        "candles_1m", "candles_5m", "candles_1h", "orderbook_l2", "trade_flow", "funding_rate",
    )
    cross_asset: tuple[CrossFeedName, ...] = (
        "correlation_matrix_24h", "btc_dominance", "total_market_cap", "sector_performance",
    )
    base_timeframe: Timeframe = "1m"
    max_age: FeedMaxAge = FeedMaxAge()


class DataIngestPolicy(PolicyModel):
    """What a market-data ingest refuses (ours, not the spec's): values no loader may store without a word."""

    instrument_price_tolerance: PercentFraction = 0.05
    """A file whose prices differ from the stored series' overlap by a median ratio beyond this
    is refused as "looks like another instrument" (spot vs perpetual differ by the basis, well under 1%)."""
    max_abs_funding_rate: PercentFraction = 0.03
    """A funding rate above this per interval, either sign, is a bad row (exchanges cap funding well below)."""


class CapacityRow(PolicyModel):
    signals_per_minute: PositiveInt
    evaluations_per_minute: PositiveInt
    servers_required: PositiveInt


def _default_capacity() -> dict[str, CapacityRow]:
    return {
        "tier_1_only": CapacityRow(signals_per_minute=10, evaluations_per_minute=50, servers_required=1),
        "tier_1_plus_2": CapacityRow(signals_per_minute=30, evaluations_per_minute=150, servers_required=2),
        "full_portfolio": CapacityRow(signals_per_minute=50, evaluations_per_minute=250, servers_required=3),
    }


class VenueFees(PolicyModel):
    maker: float = Field(ge=-0.01, le=0.01)
    """Fraction of notional; negative is a rebate."""
    taker: float = Field(ge=0, le=0.01)


def _default_fees() -> dict[str, VenueFees]:
    return {
        "binanceusdm": VenueFees(maker=0.0002, taker=0.0005),
        "bybit": VenueFees(maker=0.0002, taker=0.00055),
    }


class EntryOrders(PolicyModel):
    """How entries reach the venue. Not in the spec: our execution defaults.

    ``market`` fills at the next bar's open as taker. ``limit`` rests a limit order
    ``limit_offset`` away from the decision's price on the passive side (below for a
    buy), paying the maker fee if it fills before ``expiry``; the risk engine checks it
    again at the fill, against the book as it is then.
    """

    type: Literal["market", "limit"] = "market"
    limit_offset: NonNegative = Field(default=0.0005, le=0.05)
    """Fraction of the decision price between it and the limit (0.0005 = 5 bp)."""
    expiry: Duration = "1h"
    """A limit entry not filled this long after it reached the venue is cancelled."""
    fill: Literal["through", "touch"] = "through"
    """``through``: a bar must trade beyond the limit (a queue ahead of us is assumed);
    ``touch``: reaching it is enough (optimistic)."""
    post_only: bool = True
    """A limit already marketable when it arrives is rejected (Binance GTX, Bybit PostOnly),
    so it never pays the taker fee; else it fills at once as taker, at most at the limit."""


class LiveVenue(PolicyModel):
    """How a live session holds the exchange account and the clock (ours, not the spec's).

    The leverage set on each symbol is ``margin.leverage`` (rounded to a whole number, as exchanges take
    it); the margin mode is set here. Both are set explicitly at the start and read back.
    """

    margin_mode: Literal["cross", "isolated"] = "cross"
    """Cross margin is what the simulated venue's liquidation model assumes."""
    max_clock_skew_ms: int = Field(default=1000, ge=50, le=60_000)
    """Past this difference between this machine's clock and the exchange's, entries halt."""
    stale_after_bars: int = Field(default=2, ge=1, le=100)
    """No closed bar for this many intervals: the feed is stale and entries halt."""
    streams: bool = True
    """Watch the exchange's websockets (ccxt.pro): closed candles from its kline stream, orders and fills from its
    user data stream, polling what they miss and everything while they are down; false: poll only."""


class Venue(PolicyModel):
    exchange: str = "binanceusdm"
    fees: dict[str, VenueFees] = Field(default_factory=_default_fees)
    funding_hours_utc: tuple[HourOfDay, ...] = (0, 8, 16)
    """UTC hours at which funding is paid; an hour listed twice would charge it twice."""
    latency_bars: int = Field(default=1, ge=1)
    """A signal at the close of bar t fills at the open of bar t + latency_bars; 0 would fill
    at the open of the very bar whose close made the decision (look-ahead), so it is refused."""
    entry: EntryOrders = EntryOrders()
    live: LiveVenue = LiveVenue()

    @property
    def funding_interval_ms(self) -> int:
        """The longest wait between two settlements of the schedule (8h for 00/08/16)."""
        hours = sorted(self.funding_hours_utc)
        if not hours:
            return MS_PER_DAY
        gaps = [b - a for a, b in pairwise(hours)] + [24 - hours[-1] + hours[0]]
        return max(gaps) * MS_PER_DAY // 24

    @field_validator("funding_hours_utc")
    @classmethod
    def _each_hour_once(cls, hours: tuple[int, ...]) -> tuple[int, ...]:
        twice = sorted({h for h in hours if hours.count(h) > 1})
        if twice:
            raise ValueError(f"lists hour {', '.join(map(str, twice))} twice")
        return hours


def _default_sectors() -> dict[str, tuple[str, ...]]:
    return {
        "L1": ("BTC", "ETH", "SOL", "AVAX"),
        "L2": ("MATIC",),
        "DeFi": ("LINK",),
        "exchange_tokens": ("BNB",),
        "payments": ("XRP",),
    }


def _default_supply() -> dict[str, float]:
    # Approximate circulating supply (units), used to turn prices into market caps.
    return {
        "BTC": 19_800_000, "ETH": 120_500_000, "SOL": 470_000_000, "BNB": 145_000_000,
        "XRP": 57_000_000_000, "AVAX": 410_000_000, "LINK": 630_000_000, "MATIC": 9_900_000_000,
    }


class MarketReference(PolicyModel):
    sectors: dict[str, tuple[AssetCode, ...]] = Field(default_factory=_default_sectors)
    circulating_supply: dict[AssetCode, NonNegative] = Field(default_factory=_default_supply)
