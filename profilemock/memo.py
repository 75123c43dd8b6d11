"""A bounded memo for values that depend on their key alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """Values computed once per key. Bounded: it forgets everything when full, which costs
    a hit nothing, where an LRU's bookkeeping would cost every hit.

        value = memo.get(key)
        if value is None:
            value = memo.keep(key, compute())   # if compute() raises, nothing is kept
    """

    def __init__(self, size: int) -> None:
        self._known: dict[K, V] = {}
        self._size = size
        self.get: Callable[[K], V | None] = self._known.get
        """The value kept for a key, or None (the dict's own ``get``: hits are on hot paths)."""

    def __len__(self) -> int:
        return len(self._known)

    def keep(self, key: K, value: V) -> V:
        """Keep ``value`` for ``key`` and return it."""
        if len(self._known) >= self._size:
            self._known.clear()
        self._known[key] = value
        return value
