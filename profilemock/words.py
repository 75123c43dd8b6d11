"""Counts in sentences: ``1 user``, ``100,000 users``."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: ``1 space``, ``100,000 users``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
