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

Setting = tuple[int | None, int, bool]
"""What ``Clock.snapshot`` saves and ``Clock.restore`` puts back: the date's setting (time
passed is not saved: it never goes back)."""


class Clock:
    """A controllable clock in integer nanoseconds since the Unix epoch: a date
    (``now_ns``), and the time that passes (``ticks_ns``)."""

    def __init__(
        self,
        frozen_at: int | None = None,
        *,
        source: Callable[[], int] = time.time_ns,
        ticker: Callable[[], int] | None = None,
    ) -> None:
        """``source`` gives the date of a running clock; ``ticker`` the time that passes
        (default: the source, but the system's monotonic clock for the system's time, which
        NTP may set back: the time passed would go back with it)."""
        self._source = source
        if ticker is None:
            ticker = time.monotonic_ns if source is time.time_ns else source
        self._ticker = ticker
        self._frozen_at = frozen_at
        self._offset = 0
        self._pinned = False
        self._ticks = self.now_ns()
        """``ticks_ns`` when it was last settled (``_settle``), at ``_ticks_source``."""
        self._ticks_source = ticker()

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
        return self._frozen_at is not None and self._pinned

    def now_ns(self) -> int:
        """The current time of this clock, never past the end of year 9999."""
        if self._frozen_at is not None:
            return self._frozen_at
        # A clock set running near the end of year 9999 stops there: past it, no RFC 3339
        # timestamp could print the time (advance and freeze refuse to go further).
        return min(self._source() + self._offset, LATEST_NS)

    def ticks_ns(self) -> int:
        """The time that passed (what the rate limiter and the propagation delay measure):
        real time while the clock runs or is pinned, plus every ``advance``; it stands
        while the clock is frozen, and never goes back — a date set earlier (``freeze``,
        ``pin`` or ``restore`` at an instant) moves the date only, so a bucket emptied or
        a change delayed before waits no longer than its time. Only differences of it mean
        anything."""
        if self._frozen_at is None or self._pinned:
            return self._ticks + self._ticker() - self._ticks_source
        return self._ticks

    def _settle(self) -> None:
        """Keeps the time passed so far, before the clock's setting changes."""
        self._ticks = self.ticks_ns()
        self._ticks_source = self._ticker()

    def freeze(self, at_ns: int | None = None) -> None:
        """Stop the clock at ``at_ns`` (default: where it is now): its date and its time
        stand still until advanced."""
        at = self.now_ns() if at_ns is None else check_instant(at_ns)
        self._settle()
        self._frozen_at, self._pinned = at, False

    def pin(self, at_ns: int | None = None) -> None:
        """Pin the clock's date at ``at_ns`` (default: where it is now) while its time
        passes (``ticks_ns``): what configuration asks for, a date to serve the data from."""
        at = self.now_ns() if at_ns is None else check_instant(at_ns)
        self._settle()
        self._frozen_at, self._pinned = at, True

    def unfreeze(self) -> None:
        """Let the clock run again from where it stands, offset from real time."""
        if self._frozen_at is not None:
            self._settle()
            self._offset = self._frozen_at - self._source()
            self._frozen_at, self._pinned = None, False

    def advance(self, by_ns: int) -> None:
        """Move the clock forward (or back, with a negative amount); a TimestampError if it
        would leave the years 1000 to 9999 (and the clock stays where it is). Forward, its
        time passes by as much."""
        at = check_instant(self.now_ns() + by_ns)
        if self._frozen_at is not None:
            self._frozen_at = at
        else:
            # From the date it reads: one run past the end of year 9999 stopped there.
            self._offset = at - self._source()
        self._ticks += max(by_ns, 0)

    def copy(self) -> Clock:
        """A clock set as this one stands, on the same sources, to move apart from it."""
        clock = Clock(source=self._source, ticker=self._ticker)
        clock.restore(self.snapshot())
        return clock

    def snapshot(self) -> Setting:
        """The clock's setting, to restore later (a reset puts the clock back)."""
        return (self._frozen_at, self._offset, self._pinned)

    def restore(self, snapshot: Setting) -> None:
        self._settle()
        self._frozen_at, self._offset, self._pinned = snapshot

    def set_offset(self, offset_ns: int) -> None:
        """Run at real time plus ``offset_ns``."""
        self._settle()
        self._frozen_at, self._offset, self._pinned = None, offset_ns, False
