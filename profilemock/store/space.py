"""Spaces as loaded: immutable, and indexed once so every lookup costs the same at any size.

What the server reads is a ``LiveSpace`` (``store/overlay.py``): one of these plus the
runtime changes a reset drops.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from profilemock.api import Collection
from profilemock.store.model import Profile


@dataclass(frozen=True, slots=True)
class SpaceSettings:
    default_source_id: str = "profilemock"
    computed_source_id: str = "personas"


@dataclass(frozen=True, slots=True)
class Space:
    """One space as loaded: its tokens, its profiles per collection and the indexes."""

    id: str
    tokens: tuple[str, ...]
    settings: SpaceSettings
    profiles: Mapping[Collection, Mapping[str, Profile]]
    """Collection -> segment id -> profile."""
    by_external_id: Mapping[Collection, Mapping[tuple[str, str], str]]
    """Collection -> (id type, id value) -> segment id."""
    by_folded_id: Mapping[Collection, Mapping[tuple[str, str], tuple[str, ...]]]
    """Collection -> lowercased (type, value) -> stored ``type:value`` spellings (for hints)."""
    by_activity: Mapping[Collection, tuple[Profile, ...]]
    """Collection -> profiles, most recently updated first (the legacy list route)."""
    links: Mapping[Collection, Mapping[str, tuple[str, ...]]]
    """Collection -> segment id -> linked segment ids of the other collection, in order."""
    rate_limit: float | None = 100.0
    """Requests per second (token bucket); None: unlimited."""
    burst: int | None = 100

    def get(self, collection: Collection, segment_id: str) -> Profile | None:
        """The loaded profile with this segment id."""
        return self.profiles[collection].get(segment_id)

    def find(self, collection: Collection, id_type: str, value: str) -> Profile | None:
        """The loaded profile with this external id, matched exactly."""
        segment_id = self.by_external_id[collection].get((id_type, value))
        return None if segment_id is None else self.profiles[collection][segment_id]


@dataclass(frozen=True, slots=True)
class Store:
    """Every loaded space, plus the clock setting the fixtures asked for."""

    spaces: Mapping[str, Space]
    now: int | None = None
    """The instant a fixture's ``now:`` froze the clock at, if any."""
    faults: tuple[Mapping[str, Any], ...] = ()
    """Fault rules from the fixture files' ``faults:``, in order."""
    realism: Mapping[str, Any] = field(default_factory=dict)
    """Realism switches from the fixture files' ``realism:``, as written."""


def by_activity(profiles: Iterable[Profile]) -> tuple[Profile, ...]:
    """Most recently updated first (the order of the legacy list route)."""
    return tuple(sorted(profiles, key=lambda p: (-p.metadata.updated_at, p.segment_id)))
