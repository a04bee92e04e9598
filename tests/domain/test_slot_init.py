"""``slot_init``: the decorated value classes build the same values as a dataclass' own ``__init__`` would, stay
frozen, keep their defaults and checks, and a class it cannot serve is refused at import, not silently."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import FrozenInstanceError, dataclass, field
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantum_trader.domain.slot_init import slot_init
from quantum_trader.domain.trading import (
    Fill,
    FundingEvent,
    Intent,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderSide,
    OrderType,
    Position,
    RiskDecision,
    RiskReason,
    Side,
    Verdict,
)
from quantum_trader.engine.strategy import Held
from quantum_trader.risk.batch import BatchResult


def _reference(cls: type, *args: object, **kwargs: object) -> object:
    """What the dataclass' generated ``__init__`` assigns: each field, its default where not given."""
    fields = dataclasses.fields(cls)
    values = dict(zip([f.name for f in fields], args, strict=False))
    values.update(kwargs)
    for f in fields:
        values.setdefault(f.name, f.default)
    return values


def _values(obj: object) -> dict[str, object]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # type: ignore[arg-type]


decimals = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1e9"), places=8)


@given(ts=st.integers(0, 2**62), quantity=decimals, price=decimals, fee=decimals, maker=st.booleans(),
       side=st.sampled_from(OrderSide), cid=st.text(max_size=8))
def test_a_fill_holds_what_it_was_given_and_its_defaults(ts: int, quantity: Decimal, price: Decimal, fee: Decimal,
                                                          maker: bool, side: OrderSide, cid: str) -> None:
    fill = Fill(ts, "BTC/USDT:USDT", side, quantity, price, fee, cid, is_maker=maker)
    assert _values(fill) == _reference(Fill, ts, "BTC/USDT:USDT", side, quantity, price, fee, cid, is_maker=maker)
    assert fill == Fill(ts=ts, symbol="BTC/USDT:USDT", side=side, quantity=quantity, price=price, fee=fee,
                        client_order_id=cid, is_maker=maker, liquidation=False)
    assert hash(fill) == hash(dataclasses.replace(fill))


def test_every_decorated_class_builds_its_fields_in_order_with_defaults() -> None:
    order = Order("id", 5, "ETH/USDT:USDT", OrderSide.SELL, OrderType.MARKET, Decimal(2), reduce_only=True)
    assert _values(order) == _reference(Order, "id", 5, "ETH/USDT:USDT", OrderSide.SELL, OrderType.MARKET,
                                        Decimal(2), reduce_only=True)
    event = OrderEvent(5, OrderEventKind.ACCEPTED, order)
    assert _values(event) == _reference(OrderEvent, 5, OrderEventKind.ACCEPTED, order)
    assert _values(FundingEvent(1, "X", 0.0001, 3.0)) == _reference(FundingEvent, 1, "X", 0.0001, 3.0)
    assert _values(RiskReason("r", "m")) == _reference(RiskReason, "r", "m")
    assert _values(Position("X", Decimal(-1), Decimal(3))) == _reference(Position, "X", Decimal(-1), Decimal(3))
    assert _values(Held(Side.LONG, "trend", 3)) == _reference(Held, Side.LONG, "trend", 3)
    intent = Intent(1, "X", Side.SHORT, 0.5, 10.0, 11.0, target_price=9.0)
    assert _values(intent) == _reference(Intent, 1, "X", Side.SHORT, 0.5, 10.0, 11.0, target_price=9.0)
    decision = RiskDecision(intent, Verdict.APPROVED, Decimal(0), (), 0.5)
    assert _values(BatchResult((decision,), (0,), ())) == _reference(BatchResult, (decision,), (0,), ())


def test_the_classes_stay_frozen_and_keep_their_checks() -> None:
    fill = Fill(1, "X", OrderSide.BUY, Decimal(1), Decimal(1), Decimal(0))
    with pytest.raises(FrozenInstanceError):
        fill.ts = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match="quantity must be non-zero"):
        Position("X", Decimal(0), Decimal(3))
    with pytest.raises(ValueError, match="edge_score"):
        Intent(1, "X", Side.LONG, 2.0, 10.0, 9.0)
    with pytest.raises(TypeError):
        Fill(1, "X", OrderSide.BUY, Decimal(1), Decimal(1))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Fill(1, "X", OrderSide.BUY, Decimal(1), Decimal(1), Decimal(0), nonsense=1)  # type: ignore[call-arg]


def test_a_class_it_cannot_serve_is_refused() -> None:
    @dataclass
    class Mutable:
        a: int

    with pytest.raises(TypeError, match="not a frozen dataclass with slots"):
        slot_init(Mutable)

    @dataclass(frozen=True, slots=True)
    class Derived:
        items: list[int] = field(default_factory=list, init=False)

    with pytest.raises(TypeError, match="items needs the dataclass' own __init__"):
        slot_init(Derived)


def test_a_default_factory_makes_a_fresh_value_for_each_instance() -> None:
    @slot_init
    @dataclass(frozen=True, slots=True)
    class WithFactory:
        name: str
        items: list[int] = field(default_factory=list)

    first, second = WithFactory("a"), WithFactory("b")
    assert first.items == [] and first.items is not second.items
    given_items = [1]
    assert WithFactory("c", given_items).items is given_items
    decision = RiskDecision(Intent(1, "X", Side.LONG, 0.5, 10.0, 9.0), Verdict.APPROVED, Decimal(1))
    assert decision.reasons == () and decision.equity_fraction is None


def test_a_value_built_is_of_its_own_class_and_no_twin_leaks() -> None:
    """The twin class is lent for the time of ``__init__`` only: what comes out, and what ``__post_init__`` sees,
    is the class itself, frozen; a check that fails leaves no half-built value of another class behind."""
    seen: list[type] = []

    @slot_init
    @dataclass(frozen=True, slots=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            seen.append(type(self))
            if self.value < 0:
                raise ValueError("negative")

    built = Checked(3)
    assert type(built) is Checked and seen == [Checked]
    assert isinstance(built, Checked) and built == Checked(3) and hash(built) == hash(Checked(3))
    with pytest.raises(FrozenInstanceError):
        built.value = 4  # type: ignore[misc]
    with pytest.raises(ValueError, match="negative"):
        Checked(-1)
    assert dataclasses.replace(built, value=5) == Checked(5)
    assert copy.copy(built) == built
    order = Order("id", 5, "ETH/USDT:USDT", OrderSide.SELL, OrderType.MARKET, Decimal(2))
    assert pickle.loads(pickle.dumps(order)) == order and type(pickle.loads(pickle.dumps(order))) is Order


def test_a_class_whose_slots_are_not_all_its_own_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Base:
        a: int

    @dataclass(frozen=True, slots=True)
    class Child(Base):
        b: int = 0

    with pytest.raises(TypeError, match="derives from"):
        slot_init(Child)
