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

from collections.abc import Mapping
from dataclasses import dataclass

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
        """``bars``: model-timeframe bars per symbol on one shared clock; ``corr_bars``: returns-timeframe bars."""
        ref = bars[self.symbols[self.btc]]
        for s in self.symbols:
            if s not in bars:
                raise ValueError(f"signals batch: no {self.timeframe} bars for {s}")
            if not np.array_equal(bars[s].ts, ref.ts):
                raise ValueError(f"signals batch: {s} bars are not on the same clock as {ref.symbol}; align them first")
        frames = {m.symbol: m.features.batch(bars[m.symbol]) for m in self.models}
        btc_z = frames[self.symbols[self.btc]]["trend_z"]
        out: dict[str, ModelFrame] = {}
        for m in self.models:
            bz = None if m.symbol == self.symbols[self.btc] else btc_z
            out[m.symbol] = ModelFrame(m.symbol, ref.ts, frames[m.symbol], decide(frames[m.symbol], bz, m.params),
                                       m.params, bz)
        btc_close = ref.close
        div = {s: self.divergence.batch(bars[s].close, btc_close) for s in self.symbols if s != ref.symbol}
        for d in div.values():
            direction, d["edge"] = self.divergence.decide(d["z"])
            d["direction"] = direction.astype(np.float64)
        rets = {a: self.sector.returns.batch(bars[s].close) for a, s in zip(self.assets, self.symbols, strict=True)}
        sig = {a: frames[s]["sigma_long"] for a, s in zip(self.assets, self.symbols, strict=True)}
        _, sector = self.sector.decide(rets, sig)
        corr = btc_corr = None
        if corr_bars is not None:
            cts = corr_bars[ref.symbol].ts
            closes = np.column_stack([corr_bars[s].close for s in self.symbols])
            corr = self.monitor.batch(cts, closes)
            step = timeframe_ms(self.policy.correlation.returns_timeframe)
            known = ref.ts + timeframe_ms(self.timeframe) - step
            btc_corr = np.column_stack([align_asof(cts, corr.btc_corr[:, j], known) for j in range(len(self.symbols))])
        return BatchSignals(self, ref.ts, out, div, sector, corr, btc_corr)

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
        btc_z = values[self.btc]["trend_z"]
        found: list[Intent] = []
        for j, (sym, asset) in enumerate(zip(self.symbols, self.assets, strict=True)):
            v = values[j]
            cands: list[Intent | None] = []
            if d.direction[j] != 0:
                p = self.models[j].params
                bz = 0.0 if j == self.btc or btc_z != btc_z else btc_z
                reasons = explain(asset, v, (int(d.regime[j]), int(d.direction[j]), float(d.edge[j]),
                                             float(d.stop[j])), p, bz)
                cands.append(cross_intent(ts, sym, int(d.direction[j]), float(d.edge[j]), v["close"], v["atr"],
                                          mult, "trend", reasons))
            if sym in div and div[sym][0] != 0:
                dd, de, dz = div[sym]
                why = (f"btc_divergence: {self.divergence.cfg.lookback} spread z {dz:+.2f} beyond "
                       f"±{self.divergence.cfg.threshold_std:g}; "
                       f"{'reversion' if self.divergence.cfg.expected_reversion else 'continuation'}",)
                cands.append(cross_intent(ts, sym, dd, de, v["close"], v["atr"], mult, "btc_divergence", why))
            if asset in sector and sector[asset][0] != 0:
                sd, se = sector[asset]
                why = (f"sector_momentum: {'+'.join(self.sector.cfg.assets_in_sector)} is the "
                       f"{'strongest' if sd > 0 else 'weakest'} sector over {self.sector.cfg.lookback}",)
                cands.append(cross_intent(ts, sym, sd, se, v["close"], v["atr"], mult, "sector_momentum", why))
            for it in cands:
                if it is None or it.edge_score < sp.model.min_edge_score:
                    continue
                if btc_corr is not None:
                    it = apply_correlation_breakdown(it, asset, float(btc_corr[j]),
                                                     sp.cross_asset.correlation_breakdown, self.baseline)
                found.append(it)
        return found


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

    def intents_at(self, i: int) -> list[Intent]:
        s = self.signals
        values = [self.frames[sym].values_at(i) for sym in s.symbols]
        d = [self.frames[sym].decision for sym in s.symbols]
        dec = Decision(*(np.array([getattr(x, f)[i] for x in d]) for f in ("regime", "direction", "edge", "stop")))
        div = {
            sym: (int(v["direction"][i]), float(v["edge"][i]), float(v["z"][i])) for sym, v in self.divergence.items()
        }
        sector = {a: (int(dd[i]), float(de[i])) for a, (dd, de) in self.sector.items()}
        bc = None if self.btc_corr is None else self.btc_corr[i]
        return s.intents(int(self.ts[i]), values, dec, div, sector, bc)


@dataclass(frozen=True, slots=True)
class LiveOutput:
    ts: int
    decision: Decision
    values: list[dict[str, float]]
    intents: list[Intent]


class LiveSignals:
    """Feed every symbol's 1m bar of one minute; a closed model bar returns a :class:`LiveOutput`."""

    def __init__(self, s: SignalSet, source_timeframe: str) -> None:
        self.s = s
        rtf = s.policy.correlation.returns_timeframe
        self._agg = [BarAggregator(sym, source_timeframe, s.timeframe) for sym in s.symbols]
        self._cagg = [BarAggregator(sym, source_timeframe, rtf) for sym in s.symbols]
        self._feat: list[AssetFeaturesState] = [m.stream() for m in s.models]
        self._div = {sym: s.divergence.stream() for sym in s.symbols if sym != s.symbols[s.btc]}
        self._ret: list[LogReturnState] = [s.sector.returns.stream() for _ in s.symbols]
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
        s = self.s
        rows = [self._feat[j].update(b.ts, b.high, b.low, b.close, b.volume) for j, b in enumerate(bars)]
        arr = np.array(rows)
        f = {name: arr[:, k] for k, name in enumerate(FEATURE_NAMES)}
        btc_z = np.where(np.arange(len(bars)) == s.btc, 0.0, arr[s.btc, 2])
        dec = decide(f, btc_z, s.params)
        btc_close = bars[s.btc].close
        div_syms = list(self._div)
        zs = np.array([self._div[sym].update(bars[j].close, btc_close)[2] for j, sym in enumerate(s.symbols)
                       if sym in self._div])
        dd, de = s.divergence.decide(zs)
        div = {sym: (int(dd[k]), float(de[k]), float(zs[k])) for k, sym in enumerate(div_syms)}
        rets = {a: self._ret[j].update(bars[j].close) for j, a in enumerate(s.assets)}
        _, sec = s.sector.decide(rets, {a: rows[j][6] for j, a in enumerate(s.assets)})
        sector = {a: (int(d), float(e)) for a, (d, e) in sec.items()}
        values = [dict(zip(FEATURE_NAMES, r, strict=True)) for r in rows]
        ts = bars[0].ts
        return LiveOutput(ts, dec, values, s.intents(ts, values, dec, div, sector, self.btc_corr))
