"""The order desk keeps a record (order, intent, reason) only for an order that is still open: the last event of
an order forgets it. A run of years sends an order per fill; records kept for ever grew memory with the history,
and a record read after its order ended would be a stale one."""

from __future__ import annotations

from quantum_trader.analytics.backtest import assemble_market
from quantum_trader.config import load_policy
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.engine.inputs import KernelSettings
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.strategies import MultiAssetStrategy


def _held_ids(kernel: Kernel) -> set[str]:
    """Every order the simulated venue still holds: on its way, resting, protecting a position."""
    orders = kernel.exchange.orders
    ids = {t.order.client_order_id for t in orders.traveling}
    ids |= {limit.order.client_order_id for limit in orders.limits.values()}
    for protection in orders.protection.values():
        ids |= {o.client_order_id for o in (protection.stop, protection.target) if o is not None}
    return ids


def test_the_desk_holds_records_of_open_orders_only() -> None:
    market = generate_market(SynthConfig(days=45, assets=("BTC", "ETH", "SOL")))
    data = assemble_market(market.bars, market.funding, market.books)
    policy = load_policy(env={"QT__VENUE__ENTRY__TYPE": "limit"})
    seen: list[int] = []

    def check(done: int, _total: int) -> None:
        """Between two processed bars (where progress is told) every event so far has been booked: the desk
        holds records of what the venue holds, nothing more."""
        assert kernel.core is not None
        stale = set(kernel.core.desk.placed) - _held_ids(kernel)
        assert not stale, f"records of ended orders kept at row {done}: {stale}"
        seen.append(len(kernel.core.desk.placed))

    kernel = Kernel(data, KernelSettings(policy=policy))
    rec = kernel.run(MultiAssetStrategy().prepare(market.bars, policy), on_rows=check)
    assert rec.fills > 20 and len(seen) > 100 and max(seen) > 0
    assert rec.orders > rec.fills  # stops, targets and limits that ended without a fill were sent too
    assert kernel.core is not None and kernel.core.desk.placed == {}  # the end of the data ended every order
