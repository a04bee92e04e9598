"""Catalog speed: write, load and resample a year of 1m bars for five assets.

Target: loading 5 assets x 1 year of 1m bars (2.6M rows) from the catalog into NumPy
arrays in under 2 s. Writes a temporary catalog of random-walk bars first, then prints
write rows/s (catalog.write of ready arrays, incl. Parquet encoding, fsync and the dataset
lock), ingest rows/s of a one-year 1m CSV through loader, quality check and write, the
same CSV ingested again (lock, merge, conflict and instrument checks over a full overlap;
nothing is written), the full load time, a one-month ranged load (start/end pushdown) and
resample rows/s (1m -> 5m, 1h).

Run: .venv/bin/python benchmarks/bench_catalog.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from quantum_trader.data.catalog import Catalog
from quantum_trader.data.ingest import ingest_file
from quantum_trader.data.resample import resample_bars
from quantum_trader.domain.market import BarSeries

ASSETS = ("BTC", "ETH", "SOL", "BNB", "XRP")
MINUTES_PER_YEAR = 525_600
T0 = 1_704_067_200_000  # 2024-01-01 UTC
MIN = 60_000


def random_walk(symbol: str, n: int, seed: int) -> BarSeries:
    rng = np.random.default_rng(seed)
    ts = T0 + np.arange(n, dtype=np.int64) * MIN
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0008, n)))
    open_ = np.r_[close[0], close[:-1]]
    wiggle = np.abs(rng.normal(0.0, 0.0004, n)) * close
    high = np.maximum(open_, close) + wiggle
    low = np.minimum(open_, close) - wiggle
    volume = rng.gamma(2.0, 5.0, n)
    return BarSeries(symbol, "1m", ts, open_, high, low, close, volume)


def main() -> None:
    series = [random_walk(f"{a}/USDT:USDT", MINUTES_PER_YEAR, i) for i, a in enumerate(ASSETS)]
    total = sum(len(s) for s in series)
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog(Path(tmp))
        t = time.perf_counter()
        for s in series:
            catalog.write(s, exchange="binanceusdm")
        write_s = time.perf_counter() - t
        print(f"write   : {total:,} rows in {write_s:.2f} s = {total / write_s:,.0f} rows/s")

        same = [random_walk(f"{a}/USDT:USDT", MINUTES_PER_YEAR, i) for i, a in enumerate(ASSETS)]
        t = time.perf_counter()
        for s in same:
            catalog.write(s, exchange="binanceusdm")  # identical re-write: verified unchanged, not rewritten
        rewrite_s = time.perf_counter() - t
        print(f"re-write: {total:,} identical rows verified unchanged in {rewrite_s:.2f} s")

        csv = Path(tmp) / "BTCUSDT-1m.csv"
        one = series[0]
        pd.DataFrame({
            "timestamp": pd.to_datetime(one.ts, unit="ms", utc=True).strftime("%Y-%m-%d %H:%M:%S+00:00"),
            "open": one.open, "high": one.high, "low": one.low, "close": one.close, "volume": one.volume,
        }).to_csv(csv, index=False)
        target = Catalog(Path(tmp) / "ingest")
        t = time.perf_counter()
        result = ingest_file(target, csv, symbol="BTC/USDT:USDT", timeframe="1m")
        ingest_s = time.perf_counter() - t
        print(f"ingest  : {result.rows_read:,}-row CSV (read + quality check + write) in {ingest_s:.2f} s = "
              f"{result.rows_read / ingest_s:,.0f} rows/s")
        t = time.perf_counter()
        again = ingest_file(target, csv, symbol="BTC/USDT:USDT", timeframe="1m")
        again_s = time.perf_counter() - t
        print(f"re-ingest: the same CSV again ({again.write.rows_unchanged:,} rows checked against the stored ones, "
              f"none written) in {again_s:.2f} s = {again.rows_read / again_s:,.0f} rows/s")

        fresh = Catalog(Path(tmp))  # cold DuckDB connection, as a new process would have
        t = time.perf_counter()
        loaded = [fresh.read_bars(f"{a}/USDT:USDT", "1m") for a in ASSETS]
        load_s = time.perf_counter() - t
        rows = sum(len(b) for b in loaded)
        verdict = "PASS" if load_s < 2.0 else "FAIL"
        print(f"load    : {rows:,} rows (5 assets x 1 year 1m) in {load_s:.3f} s = {rows / load_s:,.0f} rows/s "
              f"[target < 2 s: {verdict}]")

        t = time.perf_counter()
        month = [fresh.read_bars(f"{a}/USDT:USDT", "1m", start_ms=T0 + 180 * 86_400_000,
                                 end_ms=T0 + 210 * 86_400_000) for a in ASSETS]
        ranged_s = time.perf_counter() - t
        print(f"ranged  : {sum(len(b) for b in month):,} rows (5 x 30 days) in {ranged_s:.3f} s")

        for tf in ("5m", "1h"):
            t = time.perf_counter()
            out = [resample_bars(b, tf) for b in loaded]
            rs = time.perf_counter() - t
            print(f"resample: 1m -> {tf}: {rows:,} rows in {rs:.3f} s = {rows / rs:,.0f} rows/s "
                  f"({sum(len(o) for o in out):,} bars)")


if __name__ == "__main__":
    main()
