"""A timer as its own heap entry (see acd.timers).

Kept apart from `TimerHeap`: a list subclass cannot be a compiled (mypyc) class, and the heap
can (docs/performance.md, the compiled core).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Timer(list[Any]):
    """A cancellable deadline that calls `fn(arg)` when due.

    A timer is its own heap entry, `[at, seq, fn, arg]`: lists compare item by item in C and
    `seq` is unique, so the heap never compares `fn` or `arg`. (One is filed with every offer:
    a list costs less to build than an object with a Python `__init__` plus a tuple.)
    """

    __slots__ = ()

    @property
    def at(self) -> float:
        """When it falls due."""
        at: float = self[0]
        return at

    @property
    def fn(self) -> Callable[[Any], None] | None:
        """What it calls (None once cancelled)."""
        fn: Callable[[Any], None] | None = self[2]
        return fn

    @property
    def arg(self) -> Any:
        """The argument `fn` gets."""
        return self[3]

    @property
    def cancelled(self) -> bool:
        """Whether `cancel()` was called."""
        return self[2] is None

    def cancel(self) -> None:
        """The timer will not fire."""
        self[2] = self[3] = None  # also lets go of the argument while it waits in the heap
