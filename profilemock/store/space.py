"""Spaces as loaded: immutable, and indexed once so every lookup costs the same at any size.

What the server reads is a ``LiveSpace`` (``store/overlay.py``): one of these plus the
runtime changes a reset drops.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from profilemock.api import COLLECTIONS, DEFAULT_RATE, Collection
from profilemock.problems import Problem
from profilemock.store.model import Profile
from profilemock.words import counted, show

MAX_RATE = 1e9
"""Above this a limit is no limit (and ``int(rate)``, the default burst, stays finite)."""
MAX_BURST = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Limit:
    """``rate`` requests per second with bursts of up to ``burst``."""

    rate: float
    burst: int

    @classmethod
    def per_second(cls, rate: float, burst: int | None = None) -> Limit:
        if not 0 < rate < MAX_RATE:
            raise ValueError(
                f"a rate limit must be above 0 and below {MAX_RATE:.0e} requests/s"
                f" (None: no limit), got {rate}"
            )
        size = max(1, int(rate)) if burst is None else burst
        if not 1 <= size <= MAX_BURST:
            raise ValueError(
                f"a burst must be at least 1 request and at most {MAX_BURST}, got {burst}"
            )
        return cls(float(rate), size)

    @classmethod
    def parse(cls, value: Any) -> Limit | None:
        """A space's ``rate_limit`` as fixtures, the admin API and the CLI give it: requests
        per second, ``{"per_second": N, "burst": M}``, or None for no limit.

        Raises ValueError saying what is allowed."""
        try:
            if value is None:
                return None
            if isinstance(value, bool):
                raise ValueError(value)
            if isinstance(value, (int, float)):
                return cls.per_second(value)
            if (
                isinstance(value, dict)
                and set(value) <= {"per_second", "burst"}
                and "per_second" in value
                and not isinstance(value["per_second"], bool)
                and not isinstance(value.get("burst"), (bool, float))
            ):
                return cls.per_second(value["per_second"], value.get("burst"))
        except (TypeError, ValueError, OverflowError):
            pass
        raise ValueError(
            f'`rate_limit` must be requests per second above 0, {{"per_second": N, "burst": M}},'
            f" or null for no limit; got {show(value)}"
        )

    def as_dict(self) -> dict[str, Any]:
        """``{"per_second": rate, "burst": burst}``: what ``parse`` reads back."""
        return {"per_second": self.rate, "burst": self.burst}


DEFAULT_LIMIT = Limit.per_second(DEFAULT_RATE)


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
    by_activity: Mapping[Collection, Sequence[Profile]]
    """Collection -> profiles, most recently updated first (the legacy list route)."""
    links: Mapping[Collection, Mapping[str, tuple[str, ...]]]
    """Collection -> segment id -> linked segment ids of the other collection, in order."""
    rate_limit: Limit | None = DEFAULT_LIMIT
    """Requests per second and burst (token bucket); None: unlimited."""

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
    """The instant the fixtures' ``now:`` names, if any (it pins the clock's date unless
    the clock stood still already: ``--now`` wins)."""
    now_written: str | None = None
    """That ``now:`` as written (``-1d`` is the same ``now:`` at every load, read against
    the clock each time: a reload tells a changed one by this)."""
    faults: tuple[Mapping[str, Any], ...] = ()
    """Fault rules from the fixture files' ``faults:``, in order."""
    realism: Mapping[str, Any] = field(default_factory=dict)
    """Realism switches from the fixture files' ``realism:``, as written."""
    warnings: tuple[Problem, ...] = ()
    """What loads but is served differently from how it is written (mixed-case emails)."""

    def counts(self) -> Counts:
        """How many spaces, users and accounts were loaded."""
        users, accounts = (
            sum(len(s.profiles[c]) for s in self.spaces.values()) for c in COLLECTIONS
        )
        return len(self.spaces), users, accounts


Counts = tuple[int, int, int]
"""Spaces, users and accounts (``Store.counts``)."""


def counts_text(counts: Counts) -> str:
    """``1 space, 2,000 users, 0 accounts``: what a load or a reload tells."""
    nouns = ("space", "user", "account")
    return ", ".join(counted(n, noun) for n, noun in zip(counts, nouns, strict=True))


def by_activity(profiles: Iterable[Profile]) -> tuple[Profile, ...]:
    """Most recently updated first (the order of the legacy list route)."""
    return tuple(sorted(profiles, key=lambda p: (-p.metadata.updated_at, p.segment_id)))
