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


def not_one_of(name: str, value: object, allowed: Iterable[str]) -> str:
    """Why ``value`` is no ``name``: ``no route is called `trait`; routes are …; did you
    mean `traits`?`` — the allowed names listed, the closest suggested."""
    names = list(allowed)
    close = closest(str(value), names)
    guess = f"; did you mean `{close}`?" if close else ""
    called = f"no {name} is called `{value}`" if str(value) else f"no {name} has an empty name"
    return f"{called}; {name}s are {', '.join(names)}{guess}"
