"""A generated market stored in the catalog reads back unchanged, asset by asset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quantum_trader.data.catalog import Catalog
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.data.synthetic.writer import write_market
from quantum_trader.domain.market import DataKind


def test_written_market_reads_back_identically(tmp_path: Path) -> None:
    market = generate_market(SynthConfig(days=2, assets=("BTC", "SOL")))
    calls: list[tuple[int, int, str]] = []
    catalog = Catalog(tmp_path)
    write_market(market, catalog, progress=lambda done, total, sym: calls.append((done, total, sym)))
    assert calls == [(1, 2, "BTC/USDT:USDT"), (2, 2, "SOL/USDT:USDT")]
    for sym, bars in market.bars.items():
        back = catalog.read_bars(sym, "1m", exchange="synthetic")
        np.testing.assert_array_equal(back.ts, bars.ts)
        np.testing.assert_array_equal(back.close, bars.close)
        np.testing.assert_array_equal(back.volume, bars.volume)
    kinds = {(d.symbol, d.kind) for d in catalog.datasets()}
    for sym in market.bars:
        for kind in DataKind:
            assert (sym, kind) in kinds
    funding = catalog.read_funding("SOL/USDT:USDT", exchange="synthetic")
    np.testing.assert_array_equal(funding.rate, market.funding["SOL/USDT:USDT"].rate)
    mark = catalog.read_bars("SOL/USDT:USDT", "1m", exchange="synthetic", kind=DataKind.MARK)
    np.testing.assert_array_equal(mark.close, market.mark["SOL/USDT:USDT"].close)
    flow = catalog.read_trade_flow("BTC/USDT:USDT", "1m", exchange="synthetic")
    np.testing.assert_array_equal(flow.taker_buy_volume, market.trade_flow["BTC/USDT:USDT"].taker_buy_volume)
    book = catalog.read_book("BTC/USDT:USDT", exchange="synthetic")
    np.testing.assert_array_equal(book.ask_sz, market.books["BTC/USDT:USDT"].ask_sz)


def test_rewriting_the_same_market_changes_nothing(tmp_path: Path) -> None:
    market = generate_market(SynthConfig(days=1, assets=("ETH",)))
    catalog = Catalog(tmp_path)
    write_market(market, catalog)
    write_market(market, catalog)
    info = catalog.dataset("ETH/USDT:USDT", DataKind.CANDLES, "1m", exchange="synthetic")
    assert info is not None and info.rows == 1440


def test_the_synthetic_venue_lists_its_perpetuals_for_screening_and_backtests(tmp_path: Path) -> None:
    from quantum_trader.data.markets import read_markets, stored_instruments
    from quantum_trader.data.synthetic import SynthConfig, generate_market
    from quantum_trader.data.synthetic.writer import write_market
    from quantum_trader.domain.instrument import guess_instrument
    from quantum_trader.universe.screening import perpetual_listed

    market = generate_market(SynthConfig(days=1, seed=1, assets=("BTC", "SOL")))
    write_market(market, Catalog(tmp_path))
    markets = read_markets(tmp_path, "synthetic").records()
    assert sorted(markets) == ["BTC/USDT:USDT", "SOL/USDT:USDT"]
    assert all(perpetual_listed(markets, s) for s in markets)
    instruments = stored_instruments(tmp_path, "synthetic", list(markets))
    first = float(market.bars["BTC/USDT:USDT"].close[0])
    assert instruments["BTC/USDT:USDT"] == guess_instrument("BTC/USDT:USDT", first)
    write_market(generate_market(SynthConfig(days=1, seed=1, assets=("ETH",))), Catalog(tmp_path))
    assert sorted(read_markets(tmp_path, "synthetic").markets) == ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]
