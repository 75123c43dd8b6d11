"""Realism switches: what the real API does only sometimes, turned on when a test wants it.

One model for every source — a fixture's ``realism:``, ``serve --realism``, the pytest
marker and handle, and ``/__admin/realism``. All are off by default, so the fake answers
as the docs show until a switch says otherwise:

- ``short_pages``: list pages hold fewer items than ``limit`` while ``has_more`` is true
  (a real capture returned 8 traits for ``limit=10`` with ``has_more: true``);
- ``gateway_errors``: ``html`` or ``empty`` — every 502, 503 and 504 that a fault rule
  answers (without a body of its own) comes as a load balancer sends it, not as JSON;
- ``null_lists``: an empty external_ids or links list answers ``"data": null``, as
  /events does;
- ``propagation_delay``: changes made through the admin API or the test handle become
  visible to the API this long after they were made, on the server's clock;
- ``unescaped_500``: an identifier with a character the docs say to escape, sent raw,
  answers 500 (the docs: the API "may respond with `500`").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from profilemock.problems import FieldError
from profilemock.timeutil import NS_PER_SECOND, TimestampError, format_duration, parse_duration
from profilemock.words import did_you_mean, named, show

GatewayBody = Literal["html", "empty"]
GATEWAY_BODIES: tuple[GatewayBody, ...] = ("html", "empty")
GATEWAY_STATUSES = (502, 503, 504)
MAX_DELAY_NS = 3600 * NS_PER_SECOND


class RealismError(FieldError):
    """A switch that cannot be used; the message names it and what is allowed."""


@dataclass(frozen=True, slots=True)
class Realism:
    """The switches in force."""

    short_pages: bool = False
    gateway_errors: GatewayBody | None = None
    null_lists: bool = False
    propagation_delay: int = 0
    """Nanoseconds (0: changes are visible at once)."""
    unescaped_500: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "short_pages": self.short_pages,
            "gateway_errors": self.gateway_errors,
            "null_lists": self.null_lists,
            "propagation_delay": format_duration(self.propagation_delay),
            "unescaped_500": self.unescaped_500,
        }

    def changed(self, switches: Mapping[str, Any]) -> Realism:
        """A copy with ``switches`` (dict form: ``{"short_pages": true, ...}``) applied."""
        if not isinstance(switches, Mapping):
            raise RealismError(
                f"realism: give an object of switches, got {type(switches).__name__}"
            )
        values: dict[str, Any] = {}
        for name, value in switches.items():
            if name not in SWITCHES:
                raise RealismError(f"realism: {_unknown(name)}")
            values[name] = _VALUES[name](value)
        return dataclasses.replace(self, **values)

    def rebased(self, old: Realism, new: Realism) -> Realism:
        """A copy in which each switch that stands as in ``old`` (the configured switches,
        never changed at run time since) stands as in ``new``; the others stay."""
        moved = {
            name: getattr(new, name)
            for name in SWITCHES
            if getattr(self, name) == getattr(old, name)
        }
        return dataclasses.replace(self, **moved)


def _flag(name: str) -> Any:
    def read(value: Any) -> bool:
        if not isinstance(value, bool):
            raise RealismError(f"realism: `{name}` is true or false, got {show(value)}")
        return value

    return read


def _gateway(value: Any) -> GatewayBody | None:
    """``html`` or ``empty``; true is ``html`` (on, as ``--realism gateway_errors`` alone
    is), false or null off."""
    if value is None or value is False:
        return None
    if value is True:
        return "html"
    if value not in GATEWAY_BODIES:
        raise RealismError(
            f"realism: `gateway_errors` is html, empty, true (html) or false (off),"
            f" got {show(value)}"
        )
    return value  # type: ignore[no-any-return]


def _delay(value: Any) -> int:
    if value is None or value is False or value == 0:
        return 0
    try:
        delay = parse_duration(str(value))
    except TimestampError:
        raise RealismError(
            f"realism: `propagation_delay` is a duration such as 2s or 500ms, got {show(value)}"
        ) from None
    if not 0 <= delay <= MAX_DELAY_NS:
        reason = "may be at most 1h"
        raise RealismError(f"realism: `propagation_delay` {reason}", ("propagation_delay",), reason)
    return delay


_VALUES = {
    "short_pages": _flag("short_pages"),
    "gateway_errors": _gateway,
    "null_lists": _flag("null_lists"),
    "propagation_delay": _delay,
    "unescaped_500": _flag("unescaped_500"),
}
SWITCHES = tuple(_VALUES)


def _unknown(name: object) -> str:
    """What is wrong with a switch name that is none: those there are, the closest named.
    A name may be no text (a key of the marker's ``realism={1: True}``)."""
    text = str(name)
    return f"unknown switch {named(text)}; switches are {', '.join(SWITCHES)}" + did_you_mean(
        text, SWITCHES
    )


def parse_spec(spec: str) -> dict[str, Any]:
    """The dict form of a ``--realism`` spec: ``short_pages``, ``gateway_errors=html``,
    ``propagation_delay=5s``, ``null_lists=false``."""
    name, sep, text = spec.partition("=")
    name = name.strip()
    if name not in SWITCHES:
        raise RealismError(f"--realism `{spec}`: {_unknown(name)}")
    if not sep:
        if name == "propagation_delay":
            raise RealismError("--realism `propagation_delay` needs a value such as =5s")
        return {name: "html" if name == "gateway_errors" else True}
    words = {"true": True, "on": True, "false": False, "off": False, "none": None}
    value: Any = words.get(text.lower(), text)
    try:
        _VALUES[name](value)
    except RealismError as exc:  # told with the flag that gave it
        raise RealismError(f"--realism `{spec}`: {str(exc).removeprefix('realism: ')}") from None
    return {name: value}


def short_page(size: int) -> int:
    """The size of a short page for ``limit`` ``size``: about four fifths (8 of 10, as
    captured), at least one item."""
    return max(1, size - max(1, size // 5)) if size > 1 else size
