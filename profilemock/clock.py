"""The one clock of a server: real time, frozen at an instant, pinned at one, or offset
from real time.

Everything that depends on "now" (the 14-day events window, relative fixture timestamps,
the timestamps the fake writes) reads ``now_ns``; what measures time passing (the rate
limiter's refill, the propagation delay) reads ``ticks_ns``. The two differ only for a
clock *pinned* by configuration (``--now``, a fixture's ``now:``, the marker's ``now=``):
its date stands still — data served for days never ages — while time still passes, so a
rate limit's bucket refills and a delayed change shows. A clock *frozen* by a test or the
admin API stands still in both: the test moves it, and nothing happens without it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from profilemock.timeutil import LATEST_NS, check_instant

Setting = tuple[int | None, int, int | None, int]
"""What ``Clock.snapshot`` saves and ``Clock.restore`` puts back."""


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
        self._pinned_since: int | None = None
        """The source's time when the clock was pinned (None: not pinned)."""
        self._banked = 0
        """Time that passed while the clock was pinned, before its pin ended: kept in
        ``ticks_ns`` so that it never goes back when a pinned clock is frozen (a bucket
        emptied then would wait for the clock to pass it again)."""

    @classmethod
    def pinned_at(cls, at_ns: int | None, *, source: Callable[[], int] = time.time_ns) -> Clock:
        """A clock pinned at ``at_ns`` (see ``pin``); running when it is None."""
        clock = cls(source=source)
        if at_ns is not None:
            clock.pin(at_ns)
        return clock

    @property
    def frozen(self) -> bool:
        """Whether its date stands still (frozen, or pinned) until advanced."""
        return self._frozen_at is not None

    @property
    def pinned(self) -> bool:
        """Whether its date stands still while time passes (``pin``)."""
        return self._pinned_since is not None

    def now_ns(self) -> int:
        """The current time of this clock, never past the end of year 9999."""
        if self._frozen_at is not None:
            return self._frozen_at
        # A clock set running near the end of year 9999 stops there: past it, no RFC 3339
        # timestamp could print the time (advance and freeze refuse to go further).
        return min(self._source() + self._offset, LATEST_NS)

    def ticks_ns(self) -> int:
        """The time that measures how much passed (the rate limiter, the propagation
        delay): ``now_ns``, but for a pinned clock, whose time passes while its date
        stands still, and one run up to the end of year 9999, whose date stops there.
        Only differences of it mean anything."""
        frozen_at = self._frozen_at
        if frozen_at is None:
            # Not now_ns, which stops at the end of year 9999: the time runs on, as a pinned
            # clock's does (a bucket read from the date would never refill again).
            return self._source() + self._offset + self._banked
        pinned_since = self._pinned_since
        passed = 0 if pinned_since is None else self._source() - pinned_since
        return frozen_at + self._banked + passed

    def _unpin(self) -> None:
        """Ends a pin, banking the time that passed during it."""
        if self._pinned_since is not None:
            self._banked += self._source() - self._pinned_since
            self._pinned_since = None

    def freeze(self, at_ns: int | None = None) -> None:
        """Stop the clock at ``at_ns`` (default: where it is now): its date and its time
        stand still until advanced."""
        self._frozen_at = self.now_ns() if at_ns is None else check_instant(at_ns)
        self._unpin()

    def pin(self, at_ns: int | None = None) -> None:
        """Pin the clock's date at ``at_ns`` (default: where it is now) while its time
        passes (``ticks_ns``): what configuration asks for, a date to serve the data from."""
        self._frozen_at = self.now_ns() if at_ns is None else check_instant(at_ns)
        self._unpin()
        self._pinned_since = self._source()

    def unfreeze(self) -> None:
        """Let the clock run again from where it stands, offset from real time."""
        if self._frozen_at is not None:
            self._offset = self._frozen_at - self._source()
            self._frozen_at = None
            self._unpin()

    def advance(self, by_ns: int) -> None:
        """Move the clock forward (or back, with a negative amount); a TimestampError if it
        would leave the years 1000 to 9999 (and the clock stays where it is)."""
        check_instant(self.now_ns() + by_ns)
        if self._frozen_at is not None:
            self._frozen_at += by_ns
        else:
            self._offset += by_ns

    def snapshot(self) -> Setting:
        """The clock's setting, to restore later (a reset puts the clock back)."""
        return (self._frozen_at, self._offset, self._pinned_since, self._banked)

    def restore(self, snapshot: Setting) -> None:
        self._frozen_at, self._offset, self._pinned_since, self._banked = snapshot

    def set_offset(self, offset_ns: int) -> None:
        """Run at real time plus ``offset_ns``."""
        self._frozen_at = None
        self._unpin()
        self._offset = offset_ns
