"""Loaded profiles built on first access, kept in a bounded cache.

Building a profile (every trait, id and event serialised to its JSON bytes) is most of
what loading cost: 100,000 profiles took ~20 s and ~1.8 GB. The loader checks every
profile at load — a bad file still fails at start, with file and line — and keeps for each
only its recipe (the fixture data it was checked from); ``Profiles`` builds one from its
recipe when a request first needs it and keeps the latest ``limit`` built ones.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Generic, TypeVar, overload

from profilemock.store.model import Profile

R = TypeVar("R")

CACHE_SIZE = 20_000
"""Built profiles kept at once (~17 kB each with the generated data: ~350 MB at most)."""

COLLECT_EVERY = 250
"""Profiles built while the cache evicts between two young collections of the garbage
collector. Python counts the objects made less those freed: a built profile evicting one
as large leaves the count where it was, so with the cache full (a million profiles, where
nearly every request builds one) young collections all but stopped, and the rare one
walked every profile built since — 40 to 80 ms with the server stopped (in-process,
200,000 misses: the longest pause 69 ms, now 11; the 99th 42 ms, now 2; the same time a
miss)."""
_evicting_builds = 0


class Profiles(Mapping[str, Profile], Generic[R]):
    """Segment id -> profile, built from its recipe on first access.

    Building cannot fail (the loader checked the recipe); a profile evicted from the cache
    and asked for again is built again, equal to the first.
    """

    __slots__ = ("_build", "_cache", "_limit", "_recipes")

    def __init__(
        self, recipes: Mapping[str, R], build: Callable[[R], Profile], limit: int = CACHE_SIZE
    ) -> None:
        self._recipes = recipes
        self._build = build
        self._cache: OrderedDict[str, Profile] = OrderedDict()
        """Oldest first: a dict evicting from its front scans the holes its deletions left
        (~10 µs an eviction with 20,000 kept); an OrderedDict pops its first in O(1)."""
        self._limit = max(1, limit)

    def __getitem__(self, segment_id: str) -> Profile:
        found = self._cache.get(segment_id)
        if found is None:
            found = self._built(segment_id, self._recipes[segment_id])
        return found

    def get(self, segment_id: str, default: Profile | None = None) -> Profile | None:  # type: ignore[override]
        found = self._cache.get(segment_id)
        if found is not None:
            return found
        recipe = self._recipes.get(segment_id)
        return default if recipe is None else self._built(segment_id, recipe)

    def _built(self, segment_id: str, recipe: R) -> Profile:
        global _evicting_builds
        profile = self._build(recipe)
        cache = self._cache
        if len(cache) >= self._limit:
            while len(cache) >= self._limit:
                try:  # the oldest first; another thread may be evicting too
                    cache.popitem(last=False)
                except KeyError:
                    break
            _evicting_builds += 1
            if _evicting_builds % COLLECT_EVERY == 0:
                gc.collect(1)
        cache[segment_id] = profile
        return profile

    def __contains__(self, segment_id: object) -> bool:
        return segment_id in self._recipes

    def __iter__(self) -> Iterator[str]:
        return iter(self._recipes)

    def __len__(self) -> int:
        return len(self._recipes)

    @property
    def cached(self) -> int:
        """How many profiles are built and kept now."""
        return len(self._cache)


class InOrder(Sequence[Profile]):
    """Profiles most recently updated first (the legacy list route), each looked up when a
    page reads it: sorted by ``(-updated_at, segment_id)`` from what the loader checked,
    when first read (sorting a million profiles takes seconds of a start most runs do not
    need)."""

    __slots__ = ("_ids", "_lookup", "_sorted", "_updated")

    def __init__(
        self, updated: Sequence[int], ids: Sequence[str], lookup: Callable[[str], Profile]
    ) -> None:
        """``updated[n]`` is when the profile ``ids[n]`` was last updated."""
        self._updated = updated
        self._ids = ids
        self._sorted: tuple[tuple[str, ...], tuple[int, ...]] | None = None
        self._lookup = lookup

    def _ranked(self) -> tuple[tuple[str, ...], tuple[int, ...]]:
        found = self._sorted
        if found is None:  # two threads at once both sort: the same order, from the columns
            ranked = sorted(zip((-u for u in self._updated), self._ids, strict=True))
            ids = tuple(segment_id for _, segment_id in ranked)
            found = self._sorted = (ids, tuple(-negated for negated, _ in ranked))
        return found

    @overload
    def __getitem__(self, index: int) -> Profile: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Profile]: ...

    def __getitem__(self, index: int | slice) -> Profile | Sequence[Profile]:
        ids = self._ranked()[0]
        if isinstance(index, slice):
            return [self._lookup(s) for s in ids[index]]
        return self._lookup(ids[index])

    def __len__(self) -> int:
        return len(self._ids)

    def order(self) -> Iterator[tuple[int, str]]:
        """(updated_at, segment_id) of each profile, in this order (nothing is built)."""
        ids, updated = self._ranked()
        return zip(updated, ids, strict=True)
