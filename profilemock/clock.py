"""The one clock of a server: real time, frozen at an instant, or offset from real time.

Everything that depends on "now" (the 14-day events window, relative fixture timestamps,
and later the rate limiter) reads this object, so a test can move time without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from profilemock.timeutil import LATEST_NS, check_instant


class Clock:
    """A controllable clock in integer nanoseconds since the Unix epoch."""

    def __init__(
        self,
        frozen_at: int | None = None,
        *,
        source: Callable[[], int] = time.time_ns,
    ) -> None:
        self._source = source
        self._frozen_at = frozen_at
        self._offset = 0

    @property
    def frozen(self) -> bool:
        """Whether the clock stands still until advanced."""
        return self._frozen_at is not None

    def now_ns(self) -> int:
        """The current time of this clock, never past the end of year 9999."""
        if self._frozen_at is not None:
            return self._frozen_at
        # A clock set running near the end of year 9999 stops there: past it, no RFC 3339
        # timestamp could print the time (advance and freeze refuse to go further).
        return min(self._source() + self._offset, LATEST_NS)

    def freeze(self, at_ns: int | None = None) -> None:
        """Stop the clock at ``at_ns`` (default: where it is now)."""
        self._frozen_at = self.now_ns() if at_ns is None else check_instant(at_ns)

    def unfreeze(self) -> None:
        """Let the clock run again from where it stands, offset from real time."""
        if self._frozen_at is not None:
            self._offset = self._frozen_at - self._source()
            self._frozen_at = None

    def advance(self, by_ns: int) -> None:
        """Move the clock forward (or back, with a negative amount); a TimestampError if it
        would leave the years 1000 to 9999 (and the clock stays where it is)."""
        check_instant(self.now_ns() + by_ns)
        if self._frozen_at is not None:
            self._frozen_at += by_ns
        else:
            self._offset += by_ns

    def snapshot(self) -> tuple[int | None, int]:
        """The clock's setting, to restore later (a reset puts the clock back)."""
        return (self._frozen_at, self._offset)

    def restore(self, snapshot: tuple[int | None, int]) -> None:
        self._frozen_at, self._offset = snapshot

    def set_offset(self, offset_ns: int) -> None:
        """Run at real time plus ``offset_ns``."""
        self._frozen_at = None
        self._offset = offset_ns
