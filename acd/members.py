"""Enum members as plain class attributes, for code that names them on every event.

On CPython 3.11 `SomeEnum.MEMBER` is slow (about 0.2 µs): `EnumType` defines `__getattr__`,
which sends every attribute lookup on an enum class through a generic Python-level hook.
`members(SomeEnum)` returns a plain class holding the same member objects, so `S.READY` is
an ordinary, cached class attribute and `agent.state is S.READY` still compares identities
with the real members. Only attribute access is supported: the namespace cannot be iterated,
called or used in annotations; use the enum itself for those.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar, cast

E = TypeVar("E", bound=Enum)


def members(enum: type[E]) -> type[E]:
    """A plain class whose attributes are the members of `enum` (typed as the enum)."""
    ns = type(enum.__name__ + "Members", (), dict(enum.__members__))
    return cast("type[E]", ns)
