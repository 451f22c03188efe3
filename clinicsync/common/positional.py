"""Frozen dataclasses built positionally on hot paths, at a fraction of their ``__init__``'s cost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any, TypeVar

_Frozen = TypeVar("_Frozen")


def positional_builder(cls: type[_Frozen]) -> Callable[..., _Frozen]:
    """A constructor of the frozen dataclass ``cls`` taking every field positionally, in
    declaration order: the same object ``cls(...)`` builds (same type, fields, equality and
    hash, still frozen), at a sixth of the cost. Why: a frozen dataclass's ``__init__`` sets
    each field through ``object.__setattr__`` (~0.3 µs a field; an appointment has 18), and the
    import builds one appointment per row (issue 32). Here a twin class of the same layout
    (the same ``__slots__``, or both with a ``__dict__``) stores the fields with plain
    attribute stores and then becomes ``cls`` (``__class__`` assignment, which Python allows
    only between classes of one layout). For hot paths that pass every field; others call
    ``cls`` itself. Used by the mapping's generated code and the store's batch path (issue 32)
    and by the CSV connector for each row's RawRecord."""
    declared = fields(cls)  # type: ignore[arg-type]
    names = [f.name for f in declared]
    if hasattr(cls, "__post_init__") or any(not f.init or f.default_factory is not MISSING for f in declared):
        raise TypeError(f"{cls.__name__}: only plain fields can be built positionally")
    slots = cls.__dict__.get("__slots__")
    assigned = "\n".join(f"        self.{name} = {name}" for name in names)
    source = (
        f"class _Twin:\n"
        f"    {'' if slots is None else f'__slots__ = {tuple(slots)!r}'}\n"
        f"    def __init__(self, {', '.join(names)}):\n{assigned}\n"
        f"        self.__class__ = _cls\n"
    )
    namespace: dict[str, Any] = {"_cls": cls}
    exec(source, namespace)  # noqa: S102 - our own source, built from the dataclass's field names
    twin: Callable[..., _Frozen] = namespace["_Twin"]
    return twin
