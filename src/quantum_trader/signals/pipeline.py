"""All signals of a set of assets, batch over a history or live one 1m bar at a time.

Composition: per-asset :class:`~quantum_trader.signals.model.AssetModel` on the model
timeframe, ``btc_divergence`` and ``sector_momentum`` on the same bars, and the
correlation monitor on the returns timeframe, whose BTC correlation drives the
``correlation_breakdown`` edge adjustment. Batch and live share every formula; the live
path vectorises the per-asset decision across assets so a 1m bar costs microseconds.

A decision at model bar ``ts`` is known at ``ts + timeframe`` (when the bar closes); the
correlation it uses is the latest 5m value closed by then, never a later one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from quantum_trader.config.policy import Policy
from quantum_trader.domain.market import Bar, BarSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.domain.trading import Intent
from quantum_trader.indicators.bar_indicators import LogReturnState
from quantum_trader.signals.aggregate import BarAggregator
from quantum_trader.signals.cross_asset import (
    BtcDivergence,
    SectorMomentum,
    apply_correlation_breakdown,
    cross_intent,
)
from quantum_trader.signals.features import FEATURE_NAMES, AssetFeaturesState
from quantum_trader.signals.model import AssetModel, Decision, ModelFrame, ModelParams, align_asof, decide, explain
from quantum_trader.universe.correlation import CorrelationHistory, CorrelationMonitor, CorrelationMonitorState

F64 = npt.NDArray[np.float64]


class SignalSet:
    """The configured signals of ``symbols`` (ccxt unified); one of them must be the baseline (BTC)."""

    def __init__(self, symbols: list[str] | tuple[str, ...], policy: Policy) -> None:
        self.symbols = tuple(symbols)
        self.assets = tuple(asset_of(s) for s in self.symbols)
        self.policy = policy
        sp = policy.signals
        self.timeframe = sp.model.timeframe
        self.baseline = sp.model.baseline_asset
        if self.baseline not in self.assets:
            raise ValueError(
                f"signals need the baseline asset {self.baseline} among the symbols, got {list(self.symbols)}"
            )
        self.btc = self.assets.index(self.baseline)
        self.models = tuple(AssetModel(s, sp, self.timeframe) for s in self.symbols)
        self.params = ModelParams.stack([m.params for m in self.models])
        self.divergence = BtcDivergence(sp.cross_asset.btc_divergence, self.timeframe)
        self.sector = SectorMomentum(sp.cross_asset.sector_momentum, policy.market_reference, self.timeframe)
        self.monitor = CorrelationMonitor(self.assets, policy, self.baseline)

    # ---------------------------------------------------------------- batch
    def batch(self, bars: Mapping[str, BarSeries], corr_bars: Mapping[str, BarSeries] | None = None) -> BatchSignals:
        """``bars``: model-timeframe bars per symbol; ``corr_bars``: returns-timeframe bars.

        Each symbol may have its own clock: an asset whose history starts later (or has gaps)
        joins when its data begins. Decisions are on the union of the bar times; each asset's
        model runs on its own bars, and an asset without a bar at a time has NaN features there
        (no decision, so it neither trades nor blocks the others). Pairs with BTC use the times
        both have; the correlation monitor carries an asset's last close through its gaps.
        """
        for s in self.symbols:
            if s not in bars:
                raise ValueError(f"signals batch: no {self.timeframe} bars for {s}")
        ts = union_clock([bars[s].ts for s in self.symbols])
        rows = {s: np.searchsorted(ts, bars[s].ts) for s in self.symbols}
        frames = {m.symbol: {k: _spread(ts.size, rows[m.symbol], v) for k, v in
                             m.features.batch(bars[m.symbol]).items()} for m in self.models}
        btc = self.symbols[self.btc]
        btc_z = frames[btc]["trend_z"]
        out: dict[str, ModelFrame] = {}
        for m in self.models:
            bz = None if m.symbol == btc else btc_z
            out[m.symbol] = ModelFrame(m.symbol, ts, frames[m.symbol], decide(frames[m.symbol], bz, m.params),
                                       m.params, bz)
        div = {s: self._divergence(ts, bars[s], bars[btc]) for s in self.symbols if s != btc}
        rets = {a: _spread(ts.size, rows[s], self.sector.returns.batch(bars[s].close))
                for a, s in zip(self.assets, self.symbols, strict=True)}
        sig = {a: frames[s]["sigma_long"] for a, s in zip(self.assets, self.symbols, strict=True)}
        _, sector = self.sector.decide(rets, sig)
        corr = btc_corr = None
        if corr_bars is not None:
            cts, closes = carried_closes([corr_bars[s] for s in self.symbols])
            step = timeframe_ms(self.policy.correlation.returns_timeframe)
            known = ts + timeframe_ms(self.timeframe) - step
            # the matrices a decision can read (the last one known at its close) are the only ones kept
            at = np.searchsorted(cts, known, side="right") - 1
            # compact: every figure at those rows only (the last kept row at or before a time is the last row there)
            corr = self.monitor.batch(cts, closes, keep=np.unique(at[at >= 0]), compact=True)
            del closes
            btc_corr = np.column_stack([align_asof(corr.ts, corr.btc_corr[:, j], known)
                                        for j in range(len(self.symbols))])
        return BatchSignals(self, ts, out, div, sector, corr, btc_corr)

    def _divergence(self, ts: npt.NDArray[np.int64], bars: BarSeries, btc: BarSeries) -> dict[str, F64]:
        """The spread model on the times both the asset and BTC have a bar, placed on ``ts``."""
        both = np.intersect1d(bars.ts, btc.ts, assume_unique=True)
        d = self.divergence.batch(bars.close[np.searchsorted(bars.ts, both)],
                                  btc.close[np.searchsorted(btc.ts, both)])
        rows = np.searchsorted(ts, both)
        out = {k: _spread(ts.size, rows, v) for k, v in d.items()}
        direction, out["edge"] = self.divergence.decide(out["z"])
        out["direction"] = direction.astype(np.float64)
        return out

    def stream(self, source_timeframe: str = "1m") -> LiveSignals:
        return LiveSignals(self, source_timeframe)

    # ---------------------------------------------------------------- shared
    def intents(
        self, ts: int, values: list[dict[str, float]], d: Decision,
        div: Mapping[str, tuple[int, float, float]], sector: Mapping[str, tuple[int, float]], btc_corr: F64 | None,
    ) -> list[Intent]:
        """Intents of one decision bar from per-asset values; the one place both paths build them."""
        sp = self.policy.signals
        mult = sp.model.stop_atr_multiple
        min_edge = sp.model.min_edge_score
        btc_z = values[self.btc]["trend_z"]
        found: list[Intent] = []
        # the decision's arrays read once, as Python numbers (not an element at a time)
        regimes, directions, edges, stops = d.regime.tolist(), d.direction.tolist(), d.edge.tolist(), d.stop.tolist()
        # A candidate below the minimum edge is dropped, its reasons never read: they are not written for it.
        for j, (sym, asset) in enumerate(zip(self.symbols, self.assets, strict=True)):
            v = values[j]
            cands: list[Intent | None] = []
            direction = directions[j]
            if direction != 0:
                p = self.models[j].params
                bz = 0.0 if j == self.btc or btc_z != btc_z else btc_z
                edge = float(edges[j])
                reasons = () if edge < min_edge else explain(
                    asset, v, (int(regimes[j]), int(direction), edge, float(stops[j])), p, bz)
                cands.append(cross_intent(ts, sym, int(direction), edge, v["close"], v["atr"],
                                          mult, "trend", reasons))
            if sym in div and div[sym][0] != 0:
                dd, de, dz = div[sym]
                why = () if de < min_edge else (
                    f"btc_divergence: {self.divergence.cfg.lookback} spread z {dz:+.2f} beyond "
                    f"±{self.divergence.cfg.threshold_std:g}; "
                    f"{'reversion' if self.divergence.cfg.expected_reversion else 'continuation'}",)
                cands.append(cross_intent(ts, sym, dd, de, v["close"], v["atr"], mult, "btc_divergence", why))
            if asset in sector and sector[asset][0] != 0:
                sd, se = sector[asset]
                why = () if se < min_edge else (
                    f"sector_momentum: {'+'.join(self.sector.cfg.assets_in_sector)} is the "
                    f"{'strongest' if sd > 0 else 'weakest'} sector over {self.sector.cfg.lookback}",)
                cands.append(cross_intent(ts, sym, sd, se, v["close"], v["atr"], mult, "sector_momentum", why))
            for it in cands:
                if it is None or it.edge_score < min_edge:
                    continue
                if btc_corr is not None:
                    it = apply_correlation_breakdown(it, asset, float(btc_corr[j]),
                                                     sp.cross_asset.correlation_breakdown, self.baseline)
                found.append(it)
        return found


def union_clock(clocks: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
    """Every bar time any of the series has, ascending (one array when they all agree)."""
    first = clocks[0]
    if all(c.shape == first.shape and np.array_equal(c, first) for c in clocks[1:]):
        return first
    return np.unique(np.concatenate(clocks))


def _spread(size: int, rows: npt.NDArray[np.intp], values: F64) -> F64:
    """Values of one series' own bars placed on the union clock (NaN where it had no bar)."""
    if rows.size == size:
        return values
    out = np.full(size, np.nan)
    out[rows] = values
    return out


def carried_closes(series: list[BarSeries]) -> tuple[npt.NDArray[np.int64], F64]:
    """(T, n) closes on the union clock: each column's last close carried through its gaps, NaN
    before its first bar (the correlation monitor leaves pairs with an absent asset unknown)."""
    ts = union_clock([s.ts for s in series])
    closes = np.column_stack([_spread(ts.size, np.searchsorted(ts, s.ts), s.close) for s in series])
    if np.isnan(closes).any():
        filled = np.where(np.isnan(closes), -1, np.arange(ts.size)[:, None])
        np.maximum.accumulate(filled, axis=0, out=filled)
        closes = np.where(filled >= 0, closes[np.maximum(filled, 0), np.arange(closes.shape[1])], np.nan)
    return ts, closes


@dataclass(frozen=True, slots=True)
class BatchSignals:
    signals: SignalSet
    ts: npt.NDArray[np.int64]
    frames: dict[str, ModelFrame]
    divergence: dict[str, dict[str, F64]]
    sector: dict[str, tuple[npt.NDArray[np.int8], F64]]
    correlation: CorrelationHistory | None
    btc_corr: F64 | None
    """(T, n) BTC correlation known at each model bar's close."""

    _rows: _Rows | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def rows(self) -> _Rows:
        """The signals by decision bar, as tables read a row at a time (made at the first ask)."""
        rows = self._rows
        if rows is None:
            rows = _Rows.of(self)
            object.__setattr__(self, "_rows", rows)
        return rows

    def intents_at(self, i: int) -> list[Intent]:
        s = self.signals
        rows = self.rows
        div_row = rows.divergence[i].tolist()
        sector_row = rows.sector[i].tolist()
        if not rows.direction[i].any() and not any(div_row[0::3]) and not any(sector_row[0::2]):
            return []  # no model, spread or sector has a direction: no candidate (about half of the decisions)
        values = [dict(zip(names, table[i].tolist(), strict=True)) for names, table in rows.features]
        dec = Decision(rows.regime[i], rows.direction[i], rows.edge[i], rows.stop[i])
        div = {sym: (int(div_row[3 * k]), div_row[3 * k + 1], div_row[3 * k + 2])
               for k, sym in enumerate(self.divergence)}
        sector = {a: (int(sector_row[2 * k]), sector_row[2 * k + 1]) for k, a in enumerate(self.sector)}
        bc = None if self.btc_corr is None else self.btc_corr[i]
        return s.intents(int(self.ts[i]), values, dec, div, sector, bc)


@dataclass(frozen=True, slots=True)
class _Rows:
    """``BatchSignals`` by decision bar: what ``intents_at`` reads of one bar, one row of a few tables instead of
    an element of dozens of arrays (made once, at the first decision that asks)."""

    features: tuple[tuple[tuple[str, ...], F64], ...]
    """Per symbol: its feature names and their (T, F) values."""
    regime: npt.NDArray[np.int8]
    direction: npt.NDArray[np.int8]
    edge: F64
    stop: F64
    """(T, n) each: the per-asset decisions."""
    divergence: F64
    """(T, 3 k): direction, edge and z of each divergence symbol, in ``BatchSignals.divergence`` order."""
    sector: F64
    """(T, 2 m): direction and edge of each sector asset, in ``BatchSignals.sector`` order."""
    trend_z: F64
    """(T, n): each symbol's trend z (the exit rule reads it for the held ones)."""

    @classmethod
    def of(cls, batch: BatchSignals) -> _Rows:
        symbols = batch.signals.symbols
        frames = [batch.frames[sym] for sym in symbols]
        size = batch.ts.size
        features = tuple((tuple(f.features), np.column_stack([np.asarray(v, dtype=np.float64)
                                                             for v in f.features.values()]))
                         for f in frames)
        decisions = [f.decision for f in frames]
        div = [v[name] for v in batch.divergence.values() for name in ("direction", "edge", "z")]
        sector = [a for dd, de in batch.sector.values() for a in (dd, de)]
        return cls(
            features=features,
            regime=np.column_stack([d.regime for d in decisions]),
            direction=np.column_stack([d.direction for d in decisions]),
            edge=np.column_stack([d.edge for d in decisions]),
            stop=np.column_stack([d.stop for d in decisions]),
            divergence=np.column_stack(div).astype(np.float64) if div else np.empty((size, 0)),
            sector=np.column_stack(sector).astype(np.float64) if sector else np.empty((size, 0)),
            trend_z=np.column_stack([np.asarray(f.features["trend_z"], dtype=np.float64) for f in frames]),
        )


@dataclass(frozen=True, slots=True)
class LiveOutput:
    ts: int
    decision: Decision
    values: list[dict[str, float]]
    intents: list[Intent]


class ModelStepper:
    """The signal set's decision at one close of the model timeframe, from the model bars closing then.

    Any symbol may have no bar at a close (a gap, not started yet, or ended): it then has no
    features there and decides nothing, its divergence waits for a close both it and BTC have,
    exactly as the batch has NaN on its rows of the union clock. O(1) per bar and symbol.
    """

    def __init__(self, s: SignalSet) -> None:
        self.s = s
        self._feat: list[AssetFeaturesState] = [m.stream() for m in s.models]
        self._div = {sym: s.divergence.stream() for sym in s.symbols if sym != s.symbols[s.btc]}
        self._ret: list[LogReturnState] = [s.sector.returns.stream() for _ in s.symbols]
        self._absent = (math.nan,) * len(FEATURE_NAMES)

    def step(self, ts: int, bars: Sequence[Bar | None], btc_corr: F64 | None) -> LiveOutput:
        """``bars`` in ``symbols`` order (None: no bar at this close); ``ts`` is the bars' open time;
        ``btc_corr``: each symbol's correlation to BTC known at the close (None: not known)."""
        s = self.s
        rows = [self._absent if b is None else self._feat[j].update(b.ts, b.high, b.low, b.close, b.volume)
                for j, b in enumerate(bars)]
        arr = np.array(rows)
        f = {name: arr[:, k] for k, name in enumerate(FEATURE_NAMES)}
        btc_z = np.where(np.arange(len(bars)) == s.btc, 0.0, arr[s.btc, 2])
        dec = decide(f, btc_z, s.params)
        btc_bar = bars[s.btc]
        div_syms = list(self._div)
        zs = np.array([self._div[sym].update(b.close, btc_bar.close)[2] if b is not None and btc_bar is not None
                       else math.nan for sym, b in zip(s.symbols, bars, strict=True) if sym in self._div])
        dd, de = s.divergence.decide(zs)
        div = {sym: (int(dd[k]), float(de[k]), float(zs[k])) for k, sym in enumerate(div_syms)}
        rets = {a: math.nan if b is None else self._ret[j].update(b.close)
                for j, (a, b) in enumerate(zip(s.assets, bars, strict=True))}
        _, sec = s.sector.decide(rets, {a: rows[j][6] for j, a in enumerate(s.assets)})
        sector = {a: (int(d), float(e)) for a, (d, e) in sec.items()}
        values = [dict(zip(FEATURE_NAMES, r, strict=True)) for r in rows]
        return LiveOutput(ts, dec, values, s.intents(ts, values, dec, div, sector, btc_corr))


class LiveSignals:
    """Feed every symbol's 1m bar of one minute; a closed model bar returns a :class:`LiveOutput`."""

    def __init__(self, s: SignalSet, source_timeframe: str) -> None:
        self.s = s
        rtf = s.policy.correlation.returns_timeframe
        self._agg = [BarAggregator(sym, source_timeframe, s.timeframe) for sym in s.symbols]
        self._cagg = [BarAggregator(sym, source_timeframe, rtf) for sym in s.symbols]
        self._step = ModelStepper(s)
        self.monitor: CorrelationMonitorState = s.monitor.stream()
        self.btc_corr: F64 | None = None
        self.events: list[object] = []

    def on_bars(self, bars: list[Bar]) -> LiveOutput | None:
        """``bars`` in ``symbols`` order, all of the same minute (forward-fill a missing one)."""
        s, n = self.s, len(self.s.symbols)
        if len(bars) != n:
            raise ValueError(f"live signals: expected {n} bars ({', '.join(s.symbols)}), got {len(bars)}")
        closed5 = [self._cagg[j].update(b.ts, b.open, b.high, b.low, b.close, b.volume) for j, b in enumerate(bars)]
        if all(closed5):
            snap = self.monitor.update(closed5[0][-1].ts, np.array([c[-1].close for c in closed5]))
            self.btc_corr = snap.btc_corr
            self.events.extend(snap.events)
        closed = [self._agg[j].update(b.ts, b.open, b.high, b.low, b.close, b.volume) for j, b in enumerate(bars)]
        if not all(closed):
            return None
        return self._decide([c[-1] for c in closed])

    def on_model_bars(self, bars: list[Bar]) -> LiveOutput:
        """Closed model-timeframe bars of every symbol (when the feed already aggregates)."""
        return self._decide(bars)

    def _decide(self, bars: list[Bar]) -> LiveOutput:
        return self._step.step(bars[0].ts, bars, self.btc_corr)
