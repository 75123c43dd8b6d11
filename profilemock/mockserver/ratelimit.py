"""Per-space token buckets that read the server clock, so tests drive them without sleeping.

The real API allows 100 requests/s per space by default (``api.DEFAULT_RATE``; a
``store.space.Limit`` says rate and burst). A bucket holds ``burst`` tokens,
refills at ``rate`` per second of the clock's time (``Clock.ticks_ns``: a clock pinned by
``--now`` still passes time), and each admitted request takes one.
"""

from __future__ import annotations

from profilemock.clock import Clock
from profilemock.store.space import Limit
from profilemock.timeutil import NS_PER_SECOND


class _Bucket:
    __slots__ = ("last", "limit", "tokens")

    def __init__(self, limit: Limit, now: int) -> None:
        self.limit = limit
        self.tokens = float(limit.burst)
        self.last = now

    def take(self, now: int) -> bool:
        elapsed = now - self.last
        if elapsed > 0:
            refill = elapsed * self.limit.rate / NS_PER_SECOND
            self.tokens = min(float(self.limit.burst), self.tokens + refill)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimiter:
    """One bucket per space; limits come from the fixtures, the CLI or the test."""

    def __init__(self, clock: Clock, limits: dict[str, Limit | None]) -> None:
        """``limits`` by space id (None: unlimited); a reset returns to them."""
        self._clock = clock
        self._loaded = dict(limits)
        self._limits = dict(limits)
        self._buckets: dict[str, _Bucket] = {}

    def limit_of(self, space_id: str) -> Limit | None:
        return self._limits.get(space_id)

    def set_limit(self, space_id: str, limit: Limit | None) -> None:
        """Change a space's limit (its bucket starts full)."""
        self._limits[space_id] = limit
        self._buckets.pop(space_id, None)

    def admit(self, space_id: str) -> bool:
        """Whether a request to ``space_id`` may go through now; takes a token if so."""
        limit = self._limits.get(space_id)
        if limit is None:
            return True
        now = self._clock.ticks_ns()
        bucket = self._buckets.get(space_id)
        if bucket is None:
            bucket = self._buckets[space_id] = _Bucket(limit, now)
        return bucket.take(now)

    def reload(self, limits: dict[str, Limit | None]) -> None:
        """New loaded limits (fixtures reloaded). A space whose limit was changed at run
        time keeps it; the others take the new one, and keep their bucket if it is the
        same."""
        for space_id, limit in limits.items():
            current = self._limits.get(space_id)
            changed_at_run_time = space_id in self._loaded and current != self._loaded[space_id]
            if not changed_at_run_time and current != limit:
                self.set_limit(space_id, limit)
        self._loaded = dict(limits)

    def reset(self) -> None:
        """Limits as loaded, every bucket full."""
        self._limits = dict(self._loaded)
        self._buckets.clear()
