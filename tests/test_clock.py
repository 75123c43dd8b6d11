"""The one controllable clock, driven by hand: a fake time source, never sleeping."""

from __future__ import annotations

import time

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from profilemock.clock import Clock, Setting
from profilemock.timeutil import EARLIEST_NS, LATEST_NS, TimestampError, format_ns

_INSTANTS = st.none() | st.integers(EARLIEST_NS, LATEST_NS)


class Source:
    """A time source the test moves."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_a_running_clock_follows_its_source_plus_its_offset() -> None:
    source = Source(1_000)
    clock = Clock(source=source)
    assert (clock.now_ns(), clock.frozen) == (1_000, False)
    source.now = 1_500
    clock.advance(100)
    assert clock.now_ns() == 1_600


def test_a_frozen_clock_stands_still_until_advanced() -> None:
    source = Source(1_000)
    clock = Clock(source=source)
    clock.freeze()
    source.now = 9_000
    assert (clock.now_ns(), clock.frozen) == (1_000, True)
    clock.advance(50)
    assert clock.now_ns() == 1_050
    clock.freeze(7)
    assert clock.now_ns() == 7


def test_unfreezing_runs_on_from_where_it_stood() -> None:
    source = Source(1_000)
    clock = Clock(5_000, source=source)
    clock.unfreeze()
    assert clock.now_ns() == 5_000
    source.now = 1_010
    assert clock.now_ns() == 5_010


def test_restore_puts_back_a_snapshot_and_set_offset_runs_unfrozen() -> None:
    source = Source(1_000)
    clock = Clock(2_000, source=source)
    saved = clock.snapshot()
    clock.set_offset(-400)
    assert (clock.now_ns(), clock.frozen) == (600, False)
    clock.restore(saved)
    assert (clock.now_ns(), clock.frozen) == (2_000, True)


def test_a_clock_running_at_the_end_of_year_9999_stops_there() -> None:
    """Frozen a second before the last printable instant, then set running: two seconds
    later it reads that instant, not year 10000."""
    source = Source(1_000)
    clock = Clock(LATEST_NS - 1_000_000_000, source=source)
    clock.unfreeze()
    source.now += 2_000_000_000
    assert clock.now_ns() == LATEST_NS
    assert format_ns(clock.now_ns()) == "9999-12-31T23:59:59.999999999Z"


def test_time_still_passes_for_a_clock_stopped_at_the_end_of_year_9999() -> None:
    """Its date stops there, as a pinned one's does; its time does not: read from the date,
    a rate limit's bucket never refilled again and a delayed change never showed."""
    source = Source(1_000)
    clock = Clock.pinned_at(LATEST_NS - 1_000_000_000, source=source)
    clock.unfreeze()
    before = clock.ticks_ns()
    source.now += 5_000_000_000
    assert clock.now_ns() == LATEST_NS
    assert clock.ticks_ns() - before == 5_000_000_000


def test_a_pinned_clock_keeps_its_date_while_its_time_passes() -> None:
    source = Source(1_000)
    clock = Clock.pinned_at(5_000, source=source)
    start = clock.ticks_ns()
    assert (clock.now_ns(), clock.frozen, clock.pinned) == (5_000, True, True)
    source.now = 1_300
    assert (clock.now_ns(), clock.ticks_ns() - start) == (5_000, 300)
    clock.advance(50)  # moves both
    assert (clock.now_ns(), clock.ticks_ns() - start) == (5_050, 350)


def test_time_never_goes_back_when_the_date_moves() -> None:
    """Time passed goes on from where it was whatever is done to the date: a bucket emptied
    (or a change delayed) before a freeze, a pin or a date set back would otherwise wait
    for the clock to pass that time again — a year, for a date set a year back."""
    source = Source(1_000)
    clock = Clock.pinned_at(5_000, source=source)
    start = clock.ticks_ns()
    source.now = 1_400
    clock.freeze()
    assert (clock.now_ns(), clock.ticks_ns() - start, clock.pinned) == (5_000, 400, False)
    source.now = 9_000  # frozen: no time passes
    assert clock.ticks_ns() - start == 400
    clock.advance(100)
    assert clock.ticks_ns() - start == 500
    clock.freeze(1_000)  # the date set back
    assert clock.ticks_ns() - start == 500
    clock.pin(7_000)
    source.now = 9_200
    assert clock.ticks_ns() - start == 700
    clock.unfreeze()  # runs on from the pinned date
    assert (clock.now_ns(), clock.ticks_ns() - start) == (7_000, 700)
    source.now = 9_300
    assert (clock.now_ns(), clock.ticks_ns() - start) == (7_100, 800)
    clock.set_offset(-9_000)
    assert (clock.now_ns(), clock.ticks_ns() - start) == (300, 800)


def test_a_snapshot_keeps_the_pin() -> None:
    source = Source(1_000)
    clock = Clock.pinned_at(5_000, source=source)
    start = clock.ticks_ns()
    saved = clock.snapshot()
    clock.freeze(6_000)
    clock.restore(saved)
    source.now = 1_100
    assert (clock.now_ns(), clock.ticks_ns() - start, clock.pinned) == (5_000, 100, True)


def test_a_running_clocks_time_passes_with_its_date() -> None:
    source = Source(1_000)
    clock = Clock(source=source)
    start = clock.ticks_ns()
    clock.advance(10)
    source.now = 1_005
    assert (clock.now_ns(), clock.ticks_ns() - start) == (1_015, 15)


def test_advancing_back_a_clock_run_past_year_9999_moves_it_from_the_date_it_reads() -> None:
    source = Source(1_000)
    clock = Clock(LATEST_NS, source=source)
    clock.unfreeze()
    source.now += 5_000
    clock.advance(-50)
    assert clock.now_ns() == LATEST_NS - 50


def test_the_time_passed_does_not_go_back_with_the_system_time() -> None:
    """NTP may set the system's time back: a bucket read from it stalled as long, and a
    delayed change stayed hidden as long. The time passed reads a monotonic clock."""
    wall, monotonic = Source(10**18), Source(5)
    clock = Clock(source=wall, ticker=monotonic)
    before = clock.ticks_ns()
    wall.now -= 3_600 * 10**9
    monotonic.now += 10
    assert clock.ticks_ns() - before == 10
    assert clock.now_ns() == 10**18 - 3_600 * 10**9


def test_the_system_clock_measures_time_passed_on_the_monotonic_clock() -> None:
    assert Clock()._ticker is time.monotonic_ns
    assert Clock(source=Source(0))._ticker is not time.monotonic_ns


class ClockMachine(RuleBasedStateMachine):
    """Every way to set the clock, in any order, against a source that only moves forward:
    the time passed never goes back, stands while frozen, follows the source while running
    or pinned, and ``advance`` moves date and time alike; the date stays printable."""

    def __init__(self) -> None:
        super().__init__()
        self.source = Source(0)
        self.clock = Clock(source=self.source)
        self.saved: list[Setting] = [self.clock.snapshot()]

    @rule(by=st.integers(0, 10**18) | st.integers(0, 10**21))
    def time_passes(self, by: int) -> None:
        frozen = self.clock.frozen and not self.clock.pinned
        before = self.clock.ticks_ns()
        self.source.now += by
        assert self.clock.ticks_ns() - before == (0 if frozen else by)

    @rule(at=_INSTANTS, pin=st.booleans())
    def stand(self, at: int | None, pin: bool) -> None:
        (self.clock.pin if pin else self.clock.freeze)(at)

    @rule()
    def unfreeze(self) -> None:
        self.clock.unfreeze()

    @rule(by=st.integers(-(10**19), 10**19))
    def advance(self, by: int) -> None:
        now, ticks = self.clock.now_ns(), self.clock.ticks_ns()
        try:
            self.clock.advance(by)
        except TimestampError:
            assert not EARLIEST_NS <= now + by <= LATEST_NS
            assert (self.clock.now_ns(), self.clock.ticks_ns()) == (now, ticks)
            return
        assert self.clock.now_ns() == now + by
        assert self.clock.ticks_ns() == ticks + max(by, 0)

    @rule(at=st.integers(EARLIEST_NS, LATEST_NS))
    def set_offset(self, at: int) -> None:
        self.clock.set_offset(at - self.source.now)

    @rule()
    def snapshot(self) -> None:
        self.saved.append(self.clock.snapshot())

    @rule(data=st.data())
    def restore(self, data: st.DataObject) -> None:
        self.clock.restore(data.draw(st.sampled_from(self.saved)))

    @invariant()
    def the_date_stays_printable(self) -> None:
        assert EARLIEST_NS <= self.clock.now_ns() <= LATEST_NS

    @invariant()
    def time_never_goes_back(self) -> None:
        ticks = self.clock.ticks_ns()
        assert ticks >= getattr(self, "ticks", ticks)
        self.ticks = ticks


TestClockMachine = ClockMachine.TestCase
