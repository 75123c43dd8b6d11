"""Timestamps the API's way, tested directly: parsing, offsets, relative times, printing."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profilemock.schemas.registry import load_schema
from profilemock.timeutil import (
    DAY_NS,
    DURATION,
    NS_PER_SECOND,
    TimestampError,
    format_duration,
    format_ns,
    parse_duration,
    parse_iso,
    parse_relative,
    parse_timestamp,
)

EPOCH_2024 = parse_iso("2024-05-01T00:00:00Z")


def test_a_date_alone_is_midnight_utc() -> None:
    assert parse_iso("2024-05-01") == EPOCH_2024 == 1_714_521_600 * NS_PER_SECOND


@pytest.mark.parametrize(
    "text", ["2024-05-01T02:30:00+02:30", "2024-05-01T02:30:00+0230", "2024-04-30T21:00:00-03:00"]
)
def test_offsets_are_turned_to_utc(text: str) -> None:
    assert parse_iso(text) == EPOCH_2024


def test_fractions_keep_nanoseconds_and_a_comma_reads_as_a_point() -> None:
    assert parse_iso("2024-05-01T00:00:00.123456789Z") == EPOCH_2024 + 123_456_789
    assert parse_iso("2024-05-01T00:00:00,5Z") == EPOCH_2024 + NS_PER_SECOND // 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-02-30", "not a valid calendar date and time"),
        ("2024-05-01T25:00:00Z", "not a valid calendar date and time"),
        ("yesterday", "is not an ISO 8601 date or datetime"),
        # It said only "is not an ISO 8601 date or datetime".
        (
            "2024-05-01T00:00:00.1234567891Z",
            "has a fraction of a second of 10 digits; times go to the nanosecond, 9 digits at most",
        ),
        ("2024-05-01 00:00:00,123456789012+02:00", "of 12 digits"),
        ("10000-01-01", "is outside the years 1000 to 9999"),
        ("123456-12-31T00:00:00Z", "is outside the years 1000 to 9999"),
    ],
)
def test_invalid_dates_say_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(TimestampError, match=message):
        parse_iso(text)
    with pytest.raises(TimestampError, match=message):
        parse_timestamp(text, EPOCH_2024)


@pytest.mark.parametrize(
    ("ns", "printed"),
    [
        (EPOCH_2024, "2024-05-01T00:00:00Z"),
        (EPOCH_2024 + 500_000_000, "2024-05-01T00:00:00.5Z"),
        (EPOCH_2024 + 120_000, "2024-05-01T00:00:00.00012Z"),
        (EPOCH_2024 + 1, "2024-05-01T00:00:00.000000001Z"),
    ],
)
def test_printing_trims_trailing_zeros_of_the_fraction(ns: int, printed: str) -> None:
    assert format_ns(ns) == printed
    assert parse_iso(printed) == ns


def test_relative_times_and_durations() -> None:
    assert parse_relative("-2d") == -2 * DAY_NS
    assert parse_relative("+1d12h") == DAY_NS + DAY_NS // 2
    assert parse_relative("-1.5h") == -90 * 60 * NS_PER_SECOND
    assert parse_duration("250ms") == NS_PER_SECOND // 4
    assert parse_duration("1w") == 7 * DAY_NS
    with pytest.raises(TimestampError, match="relative time such as -2d"):
        parse_relative("-2 days")


def test_timestamps_read_now_relative_and_absolute() -> None:
    assert parse_timestamp("now", EPOCH_2024) == EPOCH_2024
    assert parse_timestamp(" -1d ", EPOCH_2024) == EPOCH_2024 - DAY_NS
    assert parse_timestamp("2024-05-02", 0) == EPOCH_2024 + DAY_NS
    with pytest.raises(TimestampError, match="or a time relative to now"):
        parse_timestamp("05/01/2024", EPOCH_2024)


def test_a_duration_too_long_for_a_float_is_a_timestamp_error() -> None:
    with pytest.raises(TimestampError, match="longer than any clock can count"):
        parse_duration("9" * 400 + ".5s")


@pytest.mark.parametrize("text", ["-" + "9" * 5000 + "d", "-1d" + "9" * 4400 + "ms"])
def test_a_duration_of_more_digits_than_python_reads_is_a_timestamp_error(text: str) -> None:
    # int() of 4,300 digits and more raises a plain ValueError: `created_at: "-999…d"` in a
    # fixture was a traceback from `profilemock check`.
    with pytest.raises(TimestampError, match="longer than any clock can count"):
        parse_timestamp(text, EPOCH_2024)


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "0.000001ms"),
        (150 * 10**6, "150ms"),
        (1_500 * 10**6, "1.5s"),
        (3_600 * 10**9, "1h"),
        (3_595 * 10**9, "59m55s"),
        (((3 * 24 + 4) * 3_600 + 5 * 60 + 6) * 10**9, "3d4h5m6s"),
        (15 * DAY_NS + 7, "15d0.000000007s"),
    ],
)
def test_a_duration_is_written_as_it_is_read(ns: int, text: str) -> None:
    assert format_duration(ns) == text
    assert parse_duration(text) == ns


def test_the_fixture_schema_writes_a_duration_as_timeutil_reads_it() -> None:
    schema = load_schema("fixture.schema.json")["$defs"]["duration"]["pattern"]
    assert schema == "^" + DURATION.replace("(?:", "(") + "$"


@given(
    st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.sampled_from(["T", "t", " "]),
)
def test_any_calendar_instant_reads_as_the_seconds_since_the_epoch(
    when: dt.datetime, separator: str
) -> None:
    text = when.strftime(f"%Y-%m-%d{separator}%H:%M:%S") + f".{when.microsecond:06d}Z"
    seconds = calendar.timegm(when.timetuple())
    assert parse_iso(text) == seconds * NS_PER_SECOND + when.microsecond * 1000


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2024-12-31T23:59:60Z", 1_735_689_600), ("2024-02-29T23:59:61Z", 1_709_251_201)],
)
def test_a_leap_second_reads_as_the_next_minute_as_strptime_allows(text: str, seconds: int) -> None:
    assert parse_iso(text) == seconds * NS_PER_SECOND


@given(
    st.sampled_from("+-"),
    st.lists(st.integers(0, 10_000), min_size=5, max_size=5).filter(any),
    st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_a_compound_relative_time_reads_as_the_sum_of_its_parts(
    sign: str, amounts: list[int], written: list[bool]
) -> None:
    units = [
        ("w", 7 * DAY_NS),
        ("d", DAY_NS),
        ("h", 3_600 * NS_PER_SECOND),
        ("m", 60 * NS_PER_SECOND),
        ("s", NS_PER_SECOND),
    ]
    parts = [(n, u) for n, u, w in zip(amounts, units, written, strict=True) if w or n]
    text = sign + "".join(f"{n}{unit}" for n, (unit, _) in parts)
    total = sum(n * ns for n, (_, ns) in parts)
    assert parse_relative(text) == (-total if sign == "-" else total)
    # the same parts smallest first (read by the general path) read the same
    assert parse_relative(
        sign + "".join(f"{n}{u}" for n, (u, _) in reversed(parts))
    ) == parse_relative(text)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("-1000000000001ms", -1_000_000_000_001_000_000),  # 31 years: a float is 64 ns off
        ("+123456789012345ms", 123_456_789_012_345_000_000),
        ("-1d1000000000001ms", -(DAY_NS + 1_000_000_000_001_000_000)),
        ("-1m5ms", -(60 * NS_PER_SECOND + 5_000_000)),
        ("-5ms", -5_000_000),
    ],
)
def test_whole_milliseconds_read_exactly_however_many(text: str, ns: int) -> None:
    assert parse_relative(text) == ns


@pytest.mark.parametrize(
    "text", ["٢٠٢٤-05-01", "2024-05-01T00:00:00+\u0660٢:00", "-٢d", "-1d\u0661h", "+٢\u0660m"]
)
def test_digits_of_other_scripts_are_no_timestamp(text: str) -> None:
    # `\d` took them, and int() read them: `-٢d` was two days ago, as the API never reads it.
    with pytest.raises(TimestampError):
        parse_timestamp(text, EPOCH_2024)
