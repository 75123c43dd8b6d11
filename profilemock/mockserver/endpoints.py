"""Per-endpoint facts in one table: limits, cursor kind, query parameters.

The parameter parser, the cursor code and the docs all read this table; nothing else
hard-codes a limit.
"""

from __future__ import annotations

from dataclasses import dataclass

# Go's strconv.ParseBool spellings: what the real (Go) service accepts for booleans.
BOOLEAN_WORDS = {
    "1": True, "t": True, "T": True, "true": True, "TRUE": True, "True": True,
    "0": False, "f": False, "F": False, "false": False, "FALSE": False, "False": False,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What one route accepts and how it pages."""

    name: str
    default_limit: int
    page_max: int
    """The largest page served; larger accepted limits are clamped to it."""
    limit_max: int
    """The largest ``limit`` accepted without a 400."""
    params: tuple[str, ...]
    cursor_has_limit: bool = False
    """Whether ``cursor`` echoes ``limit`` (traits does, as real captures show)."""


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint(
            "traits", 10, 200, 200,
            ("class", "include", "limit", "verbose", "next"), cursor_has_limit=True,
        ),
        Endpoint("external_ids", 25, 25, 100, ("include", "limit", "verbose", "next")),
        Endpoint(
            "events", 10, 100, 100,
            ("start", "end", "include", "exclude", "limit", "sort", "next"),
        ),
        Endpoint("links", 20, 20, 100, ("limit", "next")),
        Endpoint("profiles", 10, 100, 100, ("limit", "next")),
    )
}  # fmt: skip

RESOURCES = ("traits", "external_ids", "events", "metadata", "links")
TRAIT_CLASSES = ("audience", "computed_trait")
EVENTS_WINDOW_DAYS = 14
