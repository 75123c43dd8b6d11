"""Words in messages: counts (``1 user``, ``100,000 users``), the closest of names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: ``1 space``, ``100,000 users``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def closest(value: str, names: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The one of ``names`` a mistyped ``value`` most likely meant, or None."""
    close = difflib.get_close_matches(value, list(names), n=1, cutoff=cutoff)
    return close[0] if close else None
