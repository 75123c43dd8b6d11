"""The facts the real API fixes, each defined once: the bottom layer of the package.

The endpoint table (one entry per route, metadata included: limits, query parameters,
whether a cursor echoes ``limit``), the collections, the characters of a space id, an id
type and a token, the parameters that take comma lists, the sort orders, the 14-day events
window, the default rate limit, the boolean words the service accepts, every fixed error
body; and profilemock's own: the headers it writes, the token's environment variable, how
it sends a token (``basic_authorization``) and what is loopback. The server, the parameter
parser, the cursor code, the OpenAPI document, the strategies and the command line read
these; a test holds the fixture schema's patterns to them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, TypeGuard

Collection = Literal["users", "accounts"]
API_PREFIX = "/v1/"
"""Every API route's path starts so (as sent, so never the admin API's, decoded or not)."""
COLLECTIONS: tuple[Collection, ...] = ("users", "accounts")
OTHER: dict[Collection, Collection] = {"users": "accounts", "accounts": "users"}
"""The collection a profile's links point into."""


SPACE_ID_CHARS = "[A-Za-z0-9_-]"
"""The characters of a space id (and of a segment id, and a collection's name)."""
ID_TYPE_CHARS = "[A-Za-z0-9_.-]"
"""The characters of an id type (``ios.idfa``)."""
TOKEN_CHARS = r"[^:\s]"
"""The characters of an access token: it is the HTTP Basic username, so no ``:``, and one
word. The fixture schema's patterns are held to these three by a test."""


def collection_named(name: str) -> Collection | None:
    """The collection called ``name`` (None: there is none)."""
    for collection in COLLECTIONS:
        if name == collection:
            return collection
    return None


TOKEN_VARIABLE = "PROFILE_API_TOKEN"
"""The environment variable holding an access token: ``record`` and live tests read it, the
pytest plugin sets it for the code under test."""
REQUEST_ID_HEADER = "Request-Id"
"""The header naming every answer (the real API sends one; the fake's count up)."""
HINT_HEADER = "Profilemock-Hint"
"""The header saying why the fake answered an error so: the body stays the API's own."""
FAULT_HEADER = "Profilemock-Fault"
"""The header naming the fault rule that made an answer."""
OWN_HEADERS = (REQUEST_ID_HEADER, HINT_HEADER, FAULT_HEADER)
"""The headers profilemock writes itself (CORS exposes them to a page)."""


def basic_authorization(token: str) -> str:
    """The ``Authorization`` value that sends ``token`` as the API takes it: HTTP Basic, the
    token the username and the password empty (``curl -u TOKEN:``)."""
    import base64  # on first need, as ipaddress

    return "Basic " + base64.b64encode(f"{token}:".encode()).decode()


# Go's strconv.ParseBool spellings: what the real (Go) service accepts for booleans.
BOOLEAN_WORDS = {
    "1": True, "t": True, "T": True, "true": True, "TRUE": True, "True": True,
    "0": False, "f": False, "F": False, "false": False, "FALSE": False, "False": False,
}  # fmt: skip


def is_digits(text: str) -> bool:
    """Whether ``text`` is ASCII digits and nothing else: what every whole number a user
    writes (a port, a count, a ``limit``) is held to (``str.isdigit`` takes ``٤٠١٠`` and
    ``²`` too, which ``int`` reads as 4010 or refuses with a traceback)."""
    return text.isascii() and text.isdigit()


def is_ip_address(text: str) -> bool:
    """Whether ``text`` is an IPv4 or IPv6 address as written (no brackets, no port)."""
    import ipaddress  # on first need: `import profilemock` stays light

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_loopback_name(host: str) -> bool:
    """Whether ``host`` (a name, or an address, IPv6 in brackets or not) names this machine
    only: ``localhost``, a name under ``.localhost`` (RFC 6761 makes them loopback), or a
    loopback address, IPv4-mapped included (``::ffff:127.0.0.1``: Python 3.13 says so, the
    versions before said not). An address, not a name that starts like one:
    ``127.0.0.1.evil.example`` is a DNS name anyone can register."""
    import ipaddress

    name = host.lower().rstrip(".").removeprefix("[").removesuffix("]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


LAST_PORT = 65535
PORT_NUMBERS = f"a port number from 0 to {LAST_PORT}"


def whole_number(text: str, most: int) -> int | None:
    """The number ``text`` writes (ASCII digits, leading zeros however many) when it is at
    most ``most``, else None. Never ``int`` of the text as given: of 4,300 digits and more
    it raises (a `limit`, or the port of an `Origin`, sent so answered 500)."""
    significant = text.lstrip("0")
    if not is_digits(text) or len(significant) > len(str(most)):
        return None
    number = int(significant or "0")
    return number if number <= most else None


def port_number(text: str) -> int | None:
    """The port ``text`` names (ASCII digits, 0 to ``LAST_PORT``), else None."""
    return whole_number(text, LAST_PORT)


def port_argument(text: str) -> int:
    """A port given on a command line (``serve --port``, ``--profile-api-port``): argparse
    names the option when this refuses ``text``."""
    port = port_number(text)
    if port is None:
        import argparse

        raise argparse.ArgumentTypeError(f"`{text}` is not {PORT_NUMBERS}")
    return port


def is_decimal(text: str) -> bool:
    """Whether ``text`` is a plain decimal number (``30``, ``0.5``, ``.5``): what every number
    a user writes that may have a fraction (seconds, requests a second, a probability) is
    held to (``float`` also reads ``٣٠``, ``1_0``, ``nan`` and ``inf``)."""
    whole, _, fraction = text.partition(".")
    return bool(whole or fraction) and all(
        not part or is_digits(part) for part in (whole, fraction)
    )


HTTP_STATUSES = "an HTTP status from 100 to 599"
"""What ``is_http_status`` allows, in every message that refuses a status."""


def is_http_status(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an HTTP status, a whole number from 100 to 599 (``True``, which
    Python counts as 1, is none): what every status a user gives is held to (the words of
    every refusal: ``HTTP_STATUSES``)."""
    return isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What one route accepts and how it pages."""

    name: str
    default_limit: int
    page_max: int
    """The largest page served; larger accepted limits are clamped to it."""
    limit_max: int
    """The largest ``limit`` accepted without a 400."""
    params: tuple[str, ...]
    cursor_has_limit: bool = False
    """Whether ``cursor`` echoes ``limit`` (traits does, as real captures show)."""


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint(
            "traits", 10, 200, 200,
            ("class", "include", "limit", "verbose", "next"), cursor_has_limit=True,
        ),
        Endpoint("external_ids", 25, 25, 100, ("include", "limit", "verbose", "next")),
        Endpoint(
            "events", 10, 100, 100,
            ("start", "end", "include", "exclude", "limit", "sort", "next"),
        ),
        Endpoint("metadata", 1, 1, 1, ("verbose",)),
        Endpoint("links", 20, 20, 100, ("limit", "next")),
        Endpoint("profiles", 10, 100, 100, ("limit", "next")),
    )
}  # fmt: skip

RESOURCES = ("traits", "external_ids", "events", "metadata", "links")
NAME_LISTS = ("include", "exclude")
"""The query parameters that take names separated by commas, and may be repeated
(``include=first_name,email&include=city``): ``names_in`` reads them."""


def names_in(values: Iterable[str]) -> tuple[str, ...]:
    """The names ``values`` of a ``NAME_LISTS`` parameter give: split at commas, blanks
    dropped (``include=`` empty gives none, and so filters everything out; what the real
    API does with it is not documented)."""
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


TRAIT_CLASSES = ("audience", "computed_trait")
SORT_ORDERS = ("asc", "desc")
"""What the events route's ``sort`` takes (``desc``, newest first, by default)."""
LOWERCASED_ID_TYPES = frozenset({"email"})
"""External id types whose values Segment stores in lowercase, so a query must be lowercase
too. The Profile API doc (2025): "Make Profile API queries using a lowercase external_id.
Queries with an `external_id` in other casing won't return any profiles", written for an
email (segment-docs issue #7767). User ids keep their case: the reference's own examples
show `user_id` "c0HN02fNe1"."""


def lowercase_id_type(id_type: str) -> str:
    """The id type Segment stores for one written with capitals: ``userId`` -> ``user_id``
    (analytics.js's names in camelCase; Segment's types are lowercase, ``[a-z0-9_.]+``)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", id_type).lower()


EVENTS_WINDOW_DAYS = 14
"""Events older than this (relative to the server's clock) are never returned."""
DEFAULT_RATE = 100.0
"""Requests per second a space is allowed by default (and its burst)."""

# The fixed error bodies: (code, message) as the real API sends them.
NOT_FOUND = ("not_found", "Profile was not found.")
UNAUTHENTICATED = (
    "authentication_error",
    "Failure to properly authenticate yourself in the request.",
)
RATE_LIMITED = ("rate_limit_error", "Too many requests hit the API too quickly.")
SERVER_ERROR = ("internal_error", "Something went wrong on Segment's side.")
INVALID_REQUEST = (
    "invalid_request_error",
    "Invalid request errors arise when your request has invalid parameters.",
)
_BODIES = {400: INVALID_REQUEST, 401: UNAUTHENTICATED, 404: NOT_FOUND, 429: RATE_LIMITED}


def envelope(code: str, message: str) -> dict[str, Any]:
    """``{"error": {"code": …, "message": …}}``: the one shape of every error body."""
    return {"error": {"code": code, "message": message}}


def default_body(status: int) -> dict[str, Any]:
    """The API's own error body for ``status`` (any 5xx: ``internal_error``)."""
    if status in _BODIES:
        return envelope(*_BODIES[status])
    if status >= 500:
        return envelope(*SERVER_ERROR)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return envelope("invalid_request_error", phrase)
