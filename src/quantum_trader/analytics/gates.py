"""What a backtest run supports of the phase gates of spec section 4 (never their status), and the verdict types.

A gate opens on operation only (``gates_ops``, reading a journal of paper, testnet and live
sessions); a backtest is shown beside it as "supporting". This module measures the same
criteria on a run folder so an operator sees what the research supports, in a verdict whose
``promotion_allowed`` is always False (``GateVerdict.evidence == "backtest"``).

Each gate is a list of criteria, required or recommended; each criterion reports the
measured value, the threshold, ``pass``/``fail``/``no evidence`` and the file the value
came from. Promotion is allowed only when every *required* criterion passed: a criterion
without evidence blocks exactly like a failure, because "we did not look" is not "it
held". Recommended criteria are shown and never block.

How the spec's words are measured (the choices are stated here once):

* *N months profitable*: the latest complete UTC calendar months in a row with positive
  P&L (BTC trades closed in the month for phase 0; the equity curve for the portfolio),
  counted back from the last complete month: old success followed by losses does not count;
* *kill switch tested*: a journal drill that tripped and closed every position, or a real
  trip in the run after which the next equity row shows no open position;
* *operations stable*: no event of an incident kind (errors, liquidations...) in the run;
* *correlation monitoring working*: ``correlation_update`` events never further apart
  (nor from the run's ends) than ``max_correlation_update_gap``;
* *no portfolio limit breaches*: no entry fill above a limit (limits bind there; measured at
  the fill, ``limits_at_fill``, or for older runs on the next equity row, ``ENTRY_TOLERANCE``),
  never more positions than allowed, no drawdown past the limit, no drift breach or
  kill-switch trip event; each counted once per entry, stretch of rows or event
  (``gates_breaches``);
* *3 months stable with 3 assets*: trailing complete months with at least ``min_assets``
  assets traded and neither an incident nor a kill-switch trip;
* *slot management working*: no equity row breaking a slot cap (tier caps, reserved tier-1
  slots, total), with the slot-priority conflicts the run resolved counted;
* *position sizing validated*: on stopped trades, the mean realised loss / planned risk
  within ``1 ± sizing_tolerance``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import empyrical as ep
import numpy as np

from quantum_trader.analytics.gates_breaches import fills_over, find_breaches
from quantum_trader.analytics.gates_evidence import (
    CORRELATION_UPDATE,
    INCIDENT_KINDS,
    Evidence,
    assets_traded,
    complete_months,
    events_of,
    monthly_equity_pnl,
    monthly_trade_pnl,
    trailing_streak,
)
from quantum_trader.analytics.metrics import ANNUALISATION, daily_returns, drawdown_stats
from quantum_trader.config.policy import Policy
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import duration_ms, format_time

STOP_EXITS = frozenset({"stop", "stop_gap"})
GATES = {0: "phase_0_to_1", 1: "phase_1_to_2", 2: "phase_2_to_3"}


class Level(StrEnum):
    REQUIRED = "required"
    RECOMMENDED = "recommended"


class GateStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NO_EVIDENCE = "no evidence"


@dataclass(frozen=True, slots=True)
class GateCriterion:
    name: str
    level: Level
    status: GateStatus
    value: float | int | None
    threshold: str
    """The rule, e.g. ``>= 3 months``, ``> -15.00%``."""
    detail: str
    source: str
    """The file or journal the value came from."""
    accepts: str = ""
    """The kinds of evidence the policy accepts for it (live, paper, testnet, drill)."""
    supporting: str = ""
    """What a backtest shows beside it: never its status."""


BACKTEST = "backtest"


@dataclass(frozen=True, slots=True)
class GateVerdict:
    gate: str
    from_phase: int
    to_phase: int
    criteria: tuple[GateCriterion, ...]
    evidence: str = "journal"
    """``journal`` (operation: may open the gate) or ``backtest`` (what a run supports: never opens it)."""

    @property
    def blocking(self) -> tuple[GateCriterion, ...]:
        return tuple(c for c in self.criteria if c.level is Level.REQUIRED and c.status is not GateStatus.PASS)

    @property
    def supported(self) -> bool:
        """Every required criterion held on this evidence (for a backtest: what it supports, nothing more)."""
        return not self.blocking

    @property
    def promotion_allowed(self) -> bool:
        """Only operation opens a gate: a backtest never does, whatever it shows."""
        return self.evidence != BACKTEST and not self.blocking

    def summary(self) -> str:
        if self.evidence == BACKTEST:
            held = sum(1 for c in self.criteria if c.level is Level.REQUIRED and c.status is GateStatus.PASS)
            need = sum(1 for c in self.criteria if c.level is Level.REQUIRED)
            return (f"a backtest cannot open a gate: it supports {held} of {need} required criteria of "
                    f"{self.from_phase} -> {self.to_phase}; the gate reads operation (quantum-trader gates --journal)")
        if self.promotion_allowed:
            return f"promotion {self.from_phase} -> {self.to_phase} allowed: every required criterion passed"
        names = ", ".join(f"{c.name} ({c.status.value})" for c in self.blocking)
        return f"promotion {self.from_phase} -> {self.to_phase} refused: {names}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate, "from_phase": self.from_phase, "to_phase": self.to_phase, "evidence": self.evidence,
            "promotion_allowed": self.promotion_allowed, "supported": self.supported, "summary": self.summary(),
            "criteria": [
                {"name": c.name, "level": c.level.value, "status": c.status.value, "value": c.value,
                 "threshold": c.threshold, "detail": c.detail, "source": c.source, "accepts": c.accepts,
                 "supporting": c.supporting}
                for c in self.criteria
            ],
        }


def _crit(name: str, level: Level, ok: bool | None, value: float | int | None, threshold: str, detail: str,
          source: str) -> GateCriterion:
    status = GateStatus.NO_EVIDENCE if ok is None else GateStatus.PASS if ok else GateStatus.FAIL
    return GateCriterion(name, level, status, value, threshold, detail, source)


def _absent(name: str, level: Level, threshold: str, detail: str, source: str) -> GateCriterion:
    return _crit(name, level, None, None, threshold, detail, source)


# ------------------------------------------------------------------------------ criteria


def months_profitable(ev: Evidence, name: str, need: int, asset: str | None) -> GateCriterion:
    what = f"{asset} trades" if asset else "portfolio equity"
    threshold = f">= {need} months"
    if ev.equity is None or (asset is not None and ev.trades is None):
        return _absent(name, Level.REQUIRED, threshold, f"no equity curve or trades to measure {what} by month",
                       ev.where("equity" if ev.trades is not None or asset is None else "trades"))
    months = complete_months(ev.equity)
    if asset is not None and ev.trades is not None:
        pnl, src = monthly_trade_pnl(ev.trades, months, asset), ev.where("trades")
    else:
        pnl, src = monthly_equity_pnl(ev.equity, months), ev.where("equity")
    streak = trailing_streak([p > 0 for p in pnl])
    shown = ", ".join(f"{m.label} {p:+,.0f}" for m, p in zip(months, pnl, strict=True)) or "no complete month"
    return _crit(name, Level.REQUIRED, streak >= need, streak, threshold,
                 f"latest consecutive profitable months of {what}: {shown}", src)


def max_drawdown(ev: Evidence, limit: float) -> GateCriterion:
    threshold = f"> {limit:.2%}"
    if ev.equity is None or ev.equity.empty:
        return _absent("max_drawdown_experienced", Level.REQUIRED, threshold, "no equity curve", ev.where("equity"))
    dd, days = drawdown_stats(ev.equity["ts"].to_numpy(np.int64), ev.equity["equity"].to_numpy(np.float64))
    return _crit("max_drawdown_experienced", Level.REQUIRED, dd > limit, dd, threshold,
                 f"worst drawdown {dd:.2%}, longest underwater {days:.0f} days", ev.where("equity"))


def kill_switch_tested(ev: Evidence) -> GateCriterion:
    name, threshold = "kill_switch_tested", "a drill or trip that closed every position"
    passed = [d for d in ev.drills if d.passed]
    if passed:
        d = passed[-1]
        return _crit(name, Level.REQUIRED, True, len(passed), threshold,
                     f"drill #{d.id} ({d.mode}) at {format_time(d.ts)}: {d.positions_before} positions closed",
                     ev.drill_source or "journal")
    trips = events_of(ev.events, {"kill_switch_trip"}) if ev.events is not None else None
    closed, unverified = 0, 0
    if trips is not None and ev.equity is not None:
        ts = ev.equity["ts"].to_numpy(np.int64)
        positions = ev.equity["open_positions"].to_numpy(np.int64)
        for trip in trips["ts"].to_numpy(np.int64):
            i = int(np.searchsorted(ts, trip, side="right"))
            if i >= ts.size:
                unverified += 1
            elif positions[i] == 0:
                closed += 1
    if closed:
        return _crit(name, Level.REQUIRED, True, closed, threshold,
                     f"{closed} real trip(s) followed by a flat book", ev.where("events"))
    failed = len(ev.drills) + (0 if trips is None else len(trips) - unverified)
    if failed:
        return _crit(name, Level.REQUIRED, False, 0, threshold,
                     f"{failed} drill(s)/trip(s) left positions open", ev.drill_source or ev.where("events"))
    why = "no drill recorded and no kill-switch trip in the run"
    if unverified:
        why = f"{unverified} trip(s) at the run's end: no later equity row shows the book flat"
    return _absent(name, Level.REQUIRED, threshold, why, ev.drill_source or ev.where("events"))


def operations_stable(ev: Evidence) -> GateCriterion:
    if ev.events is None:
        return _absent("operations_stable", Level.REQUIRED, "0 incidents", "no event log", ev.where("events"))
    bad = events_of(ev.events, INCIDENT_KINDS)
    detail = "no incident events" if bad.empty else (
        f"{len(bad)} incidents, first {bad['kind'].iloc[0]} at {format_time(int(bad['ts'].iloc[0]))}: "
        f"{bad['message'].iloc[0]}")
    return _crit("operations_stable", Level.REQUIRED, bad.empty, len(bad), "0 incidents", detail, ev.where("events"))


def sharpe(ev: Evidence, name: str, need: float) -> GateCriterion:
    threshold = f"> {need:g}"
    if ev.equity is None:
        return _absent(name, Level.RECOMMENDED, threshold, "no equity curve", ev.where("equity"))
    returns = daily_returns(ev.equity["ts"].to_numpy(np.int64), ev.equity["equity"].to_numpy(np.float64))
    if returns.size < 2:
        return _absent(name, Level.RECOMMENDED, threshold, "fewer than 2 daily returns", ev.where("equity"))
    value = float(ep.sharpe_ratio(returns, annualization=ANNUALISATION))
    if not np.isfinite(value):
        return _absent(name, Level.RECOMMENDED, threshold, "flat equity: Sharpe undefined", ev.where("equity"))
    return _crit(name, Level.RECOMMENDED, value > need, value, threshold,
                 f"annualised ({ANNUALISATION}) over {returns.size} daily returns", ev.where("equity"))


def win_rate(ev: Evidence, need: float, asset: str) -> GateCriterion:
    threshold = f"> {need:.0%}"
    chosen = None if ev.trades is None else ev.trades[[asset_of(s) == asset for s in ev.trades["symbol"]]]
    if chosen is None or chosen.empty:
        return _absent("win_rate", Level.RECOMMENDED, threshold, f"no {asset} trades", ev.where("trades"))
    value = float((chosen["pnl"] > 0).mean())
    return _crit("win_rate", Level.RECOMMENDED, value > need, value, threshold, f"{len(chosen)} {asset} trades",
                 ev.where("trades"))


def correlation_monitoring(ev: Evidence, max_gap: str) -> GateCriterion:
    name, limit = "correlation_monitoring_working", duration_ms(max_gap)
    threshold = f"updates <= {max_gap} apart"
    updates = None if ev.events is None else events_of(ev.events, {CORRELATION_UPDATE})
    if updates is None or updates.empty:
        return _absent(name, Level.REQUIRED, threshold, f"no {CORRELATION_UPDATE} events recorded",
                       ev.where("events"))
    ts = np.sort(updates["ts"].to_numpy(np.int64))
    if ev.equity is not None and not ev.equity.empty:
        ts = np.concatenate([[int(ev.equity["ts"].iloc[0])], ts, [int(ev.equity["ts"].iloc[-1])]])
    gaps = np.diff(ts)
    worst = int(gaps.max()) if gaps.size else 0
    at = format_time(int(ts[int(np.argmax(gaps))])) if gaps.size else "-"
    return _crit(name, Level.REQUIRED, worst <= limit, worst / 3_600_000, threshold,
                 f"{len(updates)} updates; longest gap {worst / 3_600_000:.2f}h from {at}", ev.where("events"))


def limit_breaches(ev: Evidence, policy: Policy) -> GateCriterion:
    """Breaches counted as breaches (``gates_breaches``): entry fills over a limit, stretches, events."""
    name, threshold = "no_portfolio_limit_breaches", "0 breaches"
    if ev.equity is None and ev.events is None and fills_over(ev.metrics) is None:
        return _absent(name, Level.REQUIRED, threshold, "no equity curve, event log or fill measure", ev.source)
    found = find_breaches(ev, policy)
    src = ", ".join(ev.files[k] for k in ("metrics", "equity", "events") if k in ev.files)
    return _crit(name, Level.REQUIRED, found.total == 0, found.total, threshold, found.detail(format_time), src)


def asset_performance(ev: Evidence, asset: str) -> GateCriterion:
    name, threshold = f"{asset.lower()}_performance_positive", "> 0"
    chosen = None if ev.trades is None else ev.trades[[asset_of(s) == asset for s in ev.trades["symbol"]]]
    if chosen is None or chosen.empty:
        return _absent(name, Level.RECOMMENDED, threshold, f"no {asset} trades", ev.where("trades"))
    pnl = float(chosen["pnl"].sum())
    return _crit(name, Level.RECOMMENDED, pnl > 0, pnl, threshold, f"net P&L of {len(chosen)} {asset} trades",
                 ev.where("trades"))


def months_stable_assets(ev: Evidence, need: int, min_assets: int) -> GateCriterion:
    name, threshold = f"{need}_months_stable_{min_assets}_assets", f">= {need} months"
    if ev.equity is None or ev.trades is None or ev.events is None:
        return _absent(name, Level.REQUIRED, threshold, "needs the equity curve, trades and events", ev.source)
    months = complete_months(ev.equity)
    bad = events_of(ev.events, INCIDENT_KINDS | {"kill_switch_trip"})["ts"].to_numpy(np.int64)
    parts, flags = [], []
    for m in months:
        lo, hi = int(m.start.value // 1_000_000), int(m.end.value // 1_000_000)
        n = len(assets_traded(ev.trades, lo, hi))
        incidents = int(((bad >= lo) & (bad < hi)).sum())
        flags.append(n >= min_assets and incidents == 0)
        parts.append(f"{m.label} {n} assets{f', {incidents} incidents/trips' if incidents else ''}")
    streak = trailing_streak(flags)
    return _crit(name, Level.REQUIRED, streak >= need, streak, threshold,
                 "; ".join(parts) or "no complete month", f"{ev.where('trades')}, {ev.where('events')}")


def slot_management(ev: Evidence, policy: Policy) -> GateCriterion:
    name, threshold = "slot_management_working", "0 slot violations"
    if ev.equity is None or ev.equity.empty:
        return _absent(name, Level.REQUIRED, threshold, "no equity curve with slot usage", ev.where("equity"))
    slots = policy.position_slots
    alloc = slots.allocation_by_tier
    eq = ev.equity
    t2, t3, n = (eq[c].to_numpy(np.int64) for c in ("slots_tier_2", "slots_tier_3", "open_positions"))
    if int(n.max()) < 2:
        return _absent(name, Level.REQUIRED, threshold, "never more than one position open: slots never shared",
                       ev.where("equity"))
    bad = ((t2 > alloc.tier_2.max_slots) | (t3 > alloc.tier_3.max_slots) | (n > slots.total_slots)
           | (t2 + t3 > slots.total_slots - alloc.tier_1.reserved_slots))
    conflicts = 0 if ev.events is None else int((ev.events["rule"] == "slot_priority").sum())
    detail = f"{conflicts} slot conflicts resolved by priority; peak {int(n.max())} positions"
    if bad.any():
        i = int(np.argmax(bad))
        detail = (f"first violation at {format_time(int(eq['ts'].iloc[i]))}: tier-2 {t2[i]}, tier-3 {t3[i]}, "
                  f"total {n[i]}; " + detail)
    return _crit(name, Level.REQUIRED, not bad.any(), int(bad.sum()), threshold, detail, ev.where("equity"))


def position_sizing(ev: Evidence, tolerance: float) -> GateCriterion:
    name, threshold = "position_sizing_validated", f"mean loss/planned risk within 1 ± {tolerance:g}"
    stopped = None if ev.trades is None else ev.trades[ev.trades["exit_reason"].isin(sorted(STOP_EXITS))
                                                       & (ev.trades["planned_risk"] > 0)]
    if stopped is None or stopped.empty:
        return _absent(name, Level.REQUIRED, threshold, "no stopped trades with a planned risk", ev.where("trades"))
    ratio = (-stopped["pnl"] / stopped["planned_risk"]).to_numpy(np.float64)
    mean = float(ratio.mean())
    return _crit(name, Level.REQUIRED, abs(mean - 1.0) <= tolerance, mean, threshold,
                 f"{ratio.size} stopped trades; ratio range {ratio.min():.2f} .. {ratio.max():.2f}",
                 ev.where("trades"))


# ------------------------------------------------------------------------------ gates


def evaluate_gate(from_phase: int, ev: Evidence, policy: Policy) -> GateVerdict:
    """What a backtest run supports of the gate out of ``from_phase`` (0, 1 or 2): the criteria measured on the
    run, in a verdict that can never allow promotion (``GateVerdict.evidence`` is ``backtest``)."""
    gates = policy.expansion.phase_gates
    baseline = policy.signals.model.baseline_asset
    if from_phase == 0:
        g01 = gates.phase_0_to_1
        criteria = [
            months_profitable(ev, f"{g01.required.months_profitable_btc}_months_profitable_{baseline.lower()}",
                              g01.required.months_profitable_btc, baseline),
            max_drawdown(ev, g01.required.max_drawdown_experienced),
            kill_switch_tested(ev),
            operations_stable(ev),
            sharpe(ev, "sharpe_ratio", g01.recommended.sharpe_ratio),
            win_rate(ev, g01.recommended.win_rate, baseline),
        ]
    elif from_phase == 1:
        g12 = gates.phase_1_to_2
        profitable = months_profitable(ev, f"{g12.required.months_profitable_multi}_months_profitable_multi",
                                       g12.required.months_profitable_multi, None)
        criteria = [
            _multi_asset(profitable, ev),
            correlation_monitoring(ev, g12.required.max_correlation_update_gap),
            limit_breaches(ev, policy),
            asset_performance(ev, "ETH"),
            sharpe(ev, "portfolio_sharpe", g12.recommended.portfolio_sharpe),
        ]
    elif from_phase == 2:
        g23 = gates.phase_2_to_3.required
        criteria = [
            months_stable_assets(ev, g23.months_stable_assets, g23.min_assets),
            slot_management(ev, policy),
            position_sizing(ev, g23.sizing_tolerance),
        ]
    else:
        raise ValueError(f"no gate out of phase {from_phase}: gates lead out of phases 0, 1 and 2")
    return GateVerdict(GATES[from_phase], from_phase, from_phase + 1, tuple(criteria), evidence=BACKTEST)


def _multi_asset(profitable: GateCriterion, ev: Evidence) -> GateCriterion:
    """A portfolio that traded one asset proves nothing about multi-asset profitability."""
    if profitable.status is not GateStatus.PASS or ev.trades is None:
        return profitable
    traded = sorted(assets_traded(ev.trades))
    if len(traded) >= 2:
        return profitable
    return GateCriterion(profitable.name, profitable.level, GateStatus.FAIL, profitable.value, profitable.threshold,
                         f"only {', '.join(traded) or 'no asset'} traded: not a multi-asset run; "
                         + profitable.detail, profitable.source)
