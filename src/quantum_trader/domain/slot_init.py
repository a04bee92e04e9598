"""A faster ``__init__`` for the frozen, slotted dataclasses a replay builds per fill (orders, fills, events,
positions, intents).

A frozen dataclass' generated ``__init__`` assigns each field through ``object.__setattr__`` (it must get past its
own ``__setattr__``, which refuses). A backtest builds several such values per fill, tens of thousands of times,
and those assignments were a tenth of a replay's work. The ``__init__`` made here lends the instance, for the time
of its construction, a twin class: the same slots and nothing else, so it has no ``__setattr__`` of its own and
each field is one plain slot store. The instance gets its own class back before ``__post_init__`` runs and
before anything else sees it. The class stays what it was: frozen (assigning a field still raises), with the
same fields, defaults, ``__post_init__`` check, equality, hash and repr; only how ``__init__`` fills the slots
differs. ``tests/domain/test_slot_init.py`` proves each decorated class builds the value the dataclass' own
``__init__`` builds.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, cast

_T = TypeVar("_T")
_UNSET = object()
"""A field with a ``default_factory`` not given: the factory makes its value."""


def slot_init(cls: type[_T]) -> type[_T]:
    """Replace the ``__init__`` of ``cls`` (a ``@dataclass(frozen=True, slots=True)`` deriving from ``object``) by
    one that fills the slots through a twin class. A field with ``init=False`` is refused: the dataclass' own
    ``__init__`` sets it in ways this one does not copy, and a silent difference there would be worse than the
    cost. The twin's layout is checked here, at import: a class whose instances cannot lend it is refused."""
    spec = getattr(cls, "__dataclass_params__", None)
    if spec is None or not spec.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"slot_init: {cls.__name__} is not a frozen dataclass with slots")
    twin = twin_of(cls)
    namespace: dict[str, Any] = {"_post_init": getattr(cls, "__post_init__", None), "_unset": _UNSET,
                                 "_lend": object.__setattr__, "_twin": twin, "_cls": cls}
    signature, body = [], ["    _lend(self, '__class__', _twin)"]
    for i, f in enumerate(dataclasses.fields(cast(Any, cls))):
        if not f.init:
            raise TypeError(f"slot_init: {cls.__name__}.{f.name} needs the dataclass' own __init__")
        if f.default_factory is not dataclasses.MISSING:  # a fresh value per instance, as the dataclass makes
            namespace[f"_factory{i}"] = f.default_factory
            signature.append(f"{f.name}=_unset")
            body.append(f"    self.{f.name} = _factory{i}() if {f.name} is _unset else {f.name}")
            continue
        if f.default is dataclasses.MISSING:
            signature.append(f.name)
        else:
            namespace[f"_default{i}"] = f.default
            signature.append(f"{f.name}=_default{i}")
        body.append(f"    self.{f.name} = {f.name}")
    body.append("    self.__class__ = _cls")
    if namespace["_post_init"] is not None:
        body.append("    _post_init(self)")
    source = f"def __init__(self, {', '.join(signature)}):\n" + "\n".join(body) + "\n"
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def twin_of(cls: type) -> type:
    """A class with the slots of ``cls`` (slotted, deriving from ``object``) and nothing else, whose instances
    take the class of ``cls`` (``obj.__class__ = cls``) once their slots are filled: ``cls`` is refused here, at
    import, if its layout does not allow it."""
    if cls.__bases__ != (object,) or "__slots__" not in cls.__dict__:
        raise TypeError(f"slot_init: {cls.__name__} derives from {cls.__bases__}: its slots are not all its own")
    twin = type(f"_{cls.__name__}Slots", (), {"__slots__": cls.__dict__["__slots__"], "__module__": cls.__module__})
    probe: object = object.__new__(cls)
    try:
        object.__setattr__(probe, "__class__", twin)
        probe.__class__ = cls
    except TypeError as error:
        raise TypeError(f"slot_init: {cls.__name__}'s instances cannot lend a twin class: {error}") from None
    return twin
