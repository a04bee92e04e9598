"""Properties of limit entries over random markets and random orders (hypothesis).

Whatever the prices and the orders, a limit entry:
- fills only while it is live: from the open of the bar it reached the venue, before its expiry;
- never fills beyond its limit, and at exactly the limit when it rested (post-only);
- fills a resting order only on a bar that traded through its limit;
- is counted once: placed = filled + expired + cancelled + rejected + refused at the fill;
and the ledger's cash at the end is the initial equity plus the trades' P&L.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from quantum_trader.domain.symbols import perp_symbol
from quantum_trader.domain.trading import Side
from quantum_trader.testkit import INITIAL_EQUITY, MarketBuilder, ScriptedDecisions, intent, policy_with, run_kernel

ASSETS = ("BTC", "ETH")
BARS = 40
EXPIRY_BARS = 3


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    paths = {}
    for asset in ASSETS:
        steps = draw(st.lists(st.floats(-0.03, 0.03), min_size=BARS, max_size=BARS))
        wicks = draw(st.lists(st.tuples(st.floats(0, 0.02), st.floats(0, 0.02)), min_size=BARS, max_size=BARS))
        close = 100.0 * np.cumprod(1.0 + np.array(steps))
        opens = np.r_[100.0, close[:-1]]
        rows = []
        for o, c, (up, down) in zip(opens, close, wicks, strict=True):
            o, c = round(float(o), 2), round(float(c), 2)
            rows.append((o, round(max(o, c) * (1 + up), 2), round(min(o, c) * (1 - down), 2), c))
        paths[asset] = rows
    orders = draw(st.lists(st.tuples(st.integers(0, BARS - 3), st.sampled_from(ASSETS), st.sampled_from(Side),
                                     st.floats(-0.01, 0.03)), max_size=12))
    return {"paths": paths, "orders": orders, "post_only": draw(st.booleans()),
            "fill": draw(st.sampled_from(["through", "touch"])), "plain": draw(st.booleans())}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_limit_entries_fill_only_within_their_life_and_limit(case: dict[str, Any]) -> None:
    b = MarketBuilder()
    for asset, rows in case["paths"].items():
        b.bars(asset, rows)
    data = b.build()
    script_rows: dict[int, dict[str, Any]] = {}
    limits: dict[tuple[int, str], tuple[Side, float]] = {}
    for row, asset, side, offset in case["orders"]:
        close = case["paths"][asset][row][3]
        # offset > 0 is passive (below a buy's decision price); < 0 crosses the next open.
        price = round(close * (1 - side.sign * offset), 2)
        stop = round(price * (1 - side.sign * 0.05), 2)
        script_rows.setdefault(row, {})[asset] = intent(asset, side, entry=price, stop=stop, limit=True)
        limits[(row + 1, perp_symbol(asset))] = (side, price)
    script = ScriptedDecisions.at_closes(data, intents={r: list(v.values()) for r, v in script_rows.items()})
    policy = policy_with(venue={"entry": {"expiry": f"{EXPIRY_BARS}h", "post_only": case["post_only"],
                                          "fill": case["fill"]}})
    rec = run_kernel(data, script, policy=policy, plain=case["plain"])
    trades = rec.trades_frame()
    grid = data.grid

    for trade in trades.itertuples():
        row = int(np.searchsorted(grid.ts, trade.entry_ts))
        placed = [p for (p, s) in limits if s == trade.symbol and p <= row]
        assert placed, f"{trade.symbol} filled at row {row} with no order placed before"
        place_row = max(placed)
        side, limit = limits[(place_row, trade.symbol)]
        assert trade.side == side.value
        assert row < place_row + EXPIRY_BARS, "filled after its expiry"
        beyond = (trade.entry_price - limit) * side.sign
        assert beyond <= 1e-9, f"filled at {trade.entry_price}, beyond the limit {limit}"
        col = grid.index(trade.symbol)
        o, hi, lo = float(grid.open[row, col]), float(grid.high[row, col]), float(grid.low[row, col])
        crossed_on_arrival = row == place_row and (o - limit) * side.sign <= 0
        if crossed_on_arrival:
            assert not case["post_only"], "a post-only order crossed on arrival"
        else:
            assert trade.entry_price == limit
            reached = lo if side is Side.LONG else hi
            through = (reached - limit) * -side.sign
            assert through > 0 or (case["fill"] == "touch" and through == 0), "filled on a bar that did not trade there"

    counts = rec.limit_entries
    for outcome in ("filled", "expired", "rejected", "refused_at_fill", "cancelled"):
        event(f"{outcome}: {'some' if counts[outcome] else 'none'}")
    assert counts["placed"] == sum(counts[k] for k in ("filled", "expired", "cancelled", "rejected",
                                                       "refused_at_fill"))
    assert counts["filled"] == len(trades.drop_duplicates(["symbol", "entry_ts"]))
    final_cash = float(rec.equity_frame()["cash"].iloc[-1])
    assert abs(final_cash - (float(INITIAL_EQUITY) + float(trades["pnl"].sum()))) < 1e-6
