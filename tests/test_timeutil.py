"""Timestamps the API's way, tested directly: parsing, offsets, relative times, printing."""

from __future__ import annotations

import pytest

from profilemock.timeutil import (
    DAY_NS,
    NS_PER_SECOND,
    TimestampError,
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
        ("2024-05-01T00:00:00.1234567891Z", "is not an ISO 8601 date or datetime"),
    ],
)
def test_invalid_dates_say_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(TimestampError, match=message):
        parse_iso(text)


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
