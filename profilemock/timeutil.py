"""Timestamps as integer nanoseconds since the Unix epoch, parsed and printed the API's way.

The Profile API prints RFC 3339 times with up to nine fractional digits and trailing
zeros trimmed (Go's ``RFC3339Nano``: ``2017-10-23T00:22:42.78Z``); events cursors carry
nanoseconds. Python's ``datetime`` stops at microseconds, so times here are plain ints.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from functools import lru_cache

NS_PER_SECOND = 1_000_000_000
DAY_NS = 86_400 * NS_PER_SECOND

_ISO = re.compile(
    r"""^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})
        (?:[Tt ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?
           (?P<tz>[Zz]|[+-]\d{2}:?\d{2})?)?$""",
    re.VERBOSE | re.ASCII,  # \d of ASCII digits only, in every pattern here: int() reads ٢ as 2
)
_LONG_YEAR = re.compile(r"\d{5,}-\d{2}-\d{2}(?!\d)", re.ASCII)
_LONG_FRACTION = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}[.,](\d{10,})", re.ASCII)
_UNIT_NS = {
    "ms": 1_000_000,
    "s": NS_PER_SECOND,
    "m": 60 * NS_PER_SECOND,
    "h": 3_600 * NS_PER_SECOND,
    "d": DAY_NS,
    "w": 7 * DAY_NS,
}
"""The units of a duration (``ms`` first, as a pattern tries them)."""
_MINUTE_NS, _HOUR_NS, _WEEK_NS = _UNIT_NS["m"], _UNIT_NS["h"], _UNIT_NS["w"]
_UNITS = "|".join(_UNIT_NS)
DURATION = rf"(?:[0-9]+(?:\.[0-9]+)?(?:{_UNITS}))+"
"""The one grammar of a duration (``150ms``, ``1d12h``, ``1.5s``), as a pattern to embed:
fault specs do (``hang=5s``), the fixture schema's ``$defs/duration`` is held to it."""
_RELATIVE_PART = re.compile(rf"([0-9]+(?:\.[0-9]+)?)({_UNITS})")
_WHOLE_RELATIVE = re.compile(
    r"^([+-])(?=\d)(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$",
    re.ASCII,
)
"""A compound duration of whole units, largest first (``-18d20h55m14s``): most written."""
_RELATIVE = re.compile(rf"^[+-]{DURATION}$")

ISO_HINT = "an ISO 8601 date or datetime such as 2024-05-01 or 2024-05-01T12:30:00Z"
TIMESTAMP_HINT = f"{ISO_HINT}, or a time relative to now such as -2d, -90m, -1d12h or now"


class TimestampError(ValueError):
    """A timestamp that cannot be read; the message says what is allowed."""


_OUTSIDE = "outside the years 1000 to 9999, which RFC 3339 timestamps can express"
EARLIEST_NS = -30_610_224_000 * NS_PER_SECOND
"""1000-01-01T00:00:00Z: RFC 3339 years have four digits."""
LATEST_NS = 253_402_300_800 * NS_PER_SECOND - 1
"""9999-12-31T23:59:59.999999999Z."""


def check_instant(ns: int, text: str | None = None) -> int:
    """``ns`` if it is an instant the API can print (years 1000 to 9999); else an error."""
    if EARLIEST_NS <= ns <= LATEST_NS:
        return ns
    given = f"`{text}` is" if text is not None else "the result is"
    raise TimestampError(f"{given} {_OUTSIDE}")


_EPOCH_DAY = datetime(1970, 1, 1).toordinal()


def parse_iso(text: str) -> int:
    """Parse an ISO 8601 date or datetime (UTC unless it carries an offset) to nanoseconds."""
    match = _ISO.match(text.strip())
    if match is None:
        _refuse_out_of_bounds(text.strip())
        raise TimestampError(f"`{text}` is not {ISO_HINT}")
    parts = match.groupdict()
    try:
        fields = (
            int(parts["y"]),
            int(parts["mo"]),
            int(parts["d"]),
            int(parts["h"] or 0),
            int(parts["mi"] or 0),
            int(parts["s"] or 0),
        )
        # calendar.timegm does not reject 2024-02-30 by itself; datetime does (seconds 60
        # and 61 pass, as strptime's %S lets them: a leap second is the next minute's 0).
        if fields[5] > 61:
            raise ValueError
        day = datetime(*fields[:5], min(fields[5], 59)).toordinal() - _EPOCH_DAY
    except ValueError:
        raise TimestampError(f"`{text}` is not a valid calendar date and time") from None
    seconds = day * 86_400 + fields[3] * 3_600 + fields[4] * 60 + fields[5]
    frac = (parts["frac"] or "").ljust(9, "0")
    ns = seconds * NS_PER_SECOND + int(frac or 0)
    tz = parts["tz"]
    if tz and tz not in "Zz":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise TimestampError(
                f"`{text}` has the UTC offset `{tz}`; offsets run from -23:59 to +23:59"
            )
        ns -= sign * (hours * 60 + minutes) * 60 * NS_PER_SECOND
    return check_instant(ns, text)


def parse_relative(text: str) -> int:
    """Parse a signed duration such as ``-2d``, ``-90m`` or ``-1d12h`` to nanoseconds."""
    whole = _WHOLE_RELATIVE.match(text)
    if whole:  # the common case, without the float arithmetic
        sign, w, d, h, m, s, ms = whole.groups()
        try:
            total = (
                (int(w) * _WEEK_NS if w else 0)
                + (int(d) * DAY_NS if d else 0)
                + (int(h) * _HOUR_NS if h else 0)
                + (int(m) * _MINUTE_NS if m else 0)
                + (int(s) * NS_PER_SECOND if s else 0)
                + (int(ms) * 1_000_000 if ms else 0)
            )
        except ValueError:  # int() of 4,300 digits and more refuses (Python's own limit)
            raise TimestampError(f"`{text}` is longer than any clock can count") from None
        return -total if sign == "-" else total
    if not _RELATIVE.match(text):
        raise TimestampError(f"`{text}` is not a relative time such as -2d, -90m or -1d12h")
    try:
        total = sum(
            round(float(amount) * _UNIT_NS[unit]) for amount, unit in _RELATIVE_PART.findall(text)
        )
    except OverflowError:  # a number of hundreds of digits with a fraction: float() is inf
        raise TimestampError(f"`{text}` is longer than any clock can count") from None
    return -total if text[0] == "-" else total


def parse_duration(text: str) -> int:
    """Parse an unsigned duration such as ``6h`` or ``1d12h`` to nanoseconds."""
    return parse_relative("+" + text)


def format_duration(ns: int) -> str:
    """``ns`` (0 or more) written as ``parse_duration`` reads it back, largest units first:
    ``3d4h5m6s``, ``1.5s``, ``150ms``, ``0s`` (days, never weeks)."""
    if ns < NS_PER_SECOND:
        return _decimal(ns, 1_000_000, "ms") if ns else "0s"
    days, rest = divmod(ns, DAY_NS)
    hours, rest = divmod(rest, _HOUR_NS)
    minutes, rest = divmod(rest, _MINUTE_NS)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return "".join(parts) + (_decimal(rest, NS_PER_SECOND, "s") if rest else "")


def _decimal(ns: int, per: int, unit: str) -> str:
    """``ns`` in ``unit`` (``per`` nanoseconds), its fraction exact, trailing zeros trimmed."""
    whole, fraction = divmod(ns, per)
    digits = f"{fraction:0{len(str(per)) - 1}d}".rstrip("0")
    return f"{whole}.{digits}{unit}" if digits else f"{whole}{unit}"


def parse_timestamp(text: str, now_ns: int) -> int:
    """Parse an absolute or clock-relative timestamp (``-2d``, ``now``) to nanoseconds."""
    return read_timestamp(text, now_ns)[0]


def read_timestamp(text: str, now_ns: int) -> tuple[int, bool]:
    """``text`` (absolute, or relative to the clock at ``now_ns``: ``-2d``, ``now``) in
    nanoseconds, and whether it was relative."""
    text = text.strip()
    head = text[:1]
    if head == "-" or head == "+":
        ns = now_ns + parse_relative(text)
        if EARLIEST_NS <= ns <= LATEST_NS:
            return ns, True
        return check_instant(ns, text), True  # raises
    if text == "now":
        return now_ns, True
    if not _ISO.match(text):
        _refuse_out_of_bounds(text)
        raise TimestampError(f"`{text}` is not {TIMESTAMP_HINT}")
    return parse_iso(text), False


def _refuse_out_of_bounds(text: str) -> None:
    """An error naming the years allowed for a date whose year has five digits or more
    (``10000-01-01``), or the digits a fraction may have for one of more than nine, which
    the date pattern does not take for a date at all."""
    if _LONG_YEAR.match(text):
        raise TimestampError(f"`{text}` is {_OUTSIDE}")
    fraction = _LONG_FRACTION.match(text)
    if fraction:
        raise TimestampError(
            f"`{text}` has a fraction of a second of {len(fraction.group(1))} digits; times go"
            " to the nanosecond, 9 digits at most"
        )


@lru_cache(maxsize=65536)
def format_ns(ns: int) -> str:
    """Print nanoseconds the way the API does: RFC 3339, UTC, trailing zeros trimmed."""
    seconds, frac = divmod(ns, NS_PER_SECOND)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if frac:
        return f"{base}.{str(frac).rjust(9, '0').rstrip('0')}Z"
    return base + "Z"
