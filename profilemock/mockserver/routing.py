"""Match the raw request path against the API's routes, decoding segments as the API does.

We read ``raw_path`` ourselves rather than aiohttp's decoded path: the identifier segment
is form-decoded (a raw ``+`` reads as a space, ``%2B`` as ``+``, as on the real API), and
an encoded ``/`` inside an identifier must not split the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus

from profilemock.fixtures.model import Collection
from profilemock.mockserver.endpoints import RESOURCES
from profilemock.mockserver.errors import ApiError
from profilemock.mockserver.params import Query

ALLOWED_METHODS = ("GET", "HEAD")
ROUTES_HINT = (
    "routes are GET /v1/spaces/{space_id}/collections/{users|accounts}/profiles"
    "/{identifier}/{traits|external_ids|events|metadata|links}"
    " and GET /v1/spaces/{space_id}/collections/{collection}/profiles"
)


@dataclass(slots=True)
class Route:
    """A request that matched one of the API's routes."""

    resource: str
    """traits, external_ids, events, metadata, links, or profiles (the list route)."""
    space_id: str
    collection: str
    path: str
    """The raw path as sent, without the query."""
    identifier: str | None = None
    """Decoded identifier segment (None for the list route)."""
    raw_identifier: str | None = None
    """The identifier segment as sent, before decoding (for hints)."""


def match(method: str, raw_path: str) -> Route:
    """The route for ``raw_path`` (query included or not), or the API's 404/405 in its
    envelope."""
    path = raw_path.partition("?")[0]
    parts = path.split("/")
    # ["", "v1", "spaces", S, "collections", C, "profiles", (I, R)]
    route: Route | None = None
    if (
        len(parts) in (7, 9)
        and parts[0] == ""
        and parts[1] == "v1"
        and parts[2] == "spaces"
        and parts[4] == "collections"
        and parts[6] == "profiles"
    ):
        space_id, collection = unquote(parts[3]), unquote(parts[5])
        if len(parts) == 7:
            route = Route("profiles", space_id, collection, path)
        elif parts[8] in RESOURCES and parts[7]:
            identifier = unquote_plus(parts[7])
            route = Route(parts[8], space_id, collection, path, identifier, parts[7])
    if route is None:
        raise ApiError(404, "not_found", "The requested route was not found.", hint=ROUTES_HINT)
    check_method(method)
    return route


def check_method(method: str) -> None:
    """The API's 405 for a method it does not serve."""
    if method not in ALLOWED_METHODS:
        raise ApiError(
            405,
            "method_not_allowed",
            f"The method {method} is not allowed on this route; use GET.",
            headers={"Allow": ", ".join(ALLOWED_METHODS)},
        )


@dataclass(frozen=True, slots=True)
class Target:
    """What a request URL asks for, checked: the route, its collection and its query."""

    route: Route
    collection: Collection
    query: Query


class Targets:
    """URLs already checked, and their targets.

    A target depends on the URL alone, never on data or time, so a URL seen before skips
    matching, path checks and query parsing. Bounded: forgets everything when full.
    """

    def __init__(self, size: int = 4096) -> None:
        self._known: dict[str, Target] = {}
        self._size = size

    def get(self, raw_path: str) -> Target | None:
        return self._known.get(raw_path)

    def add(self, raw_path: str, target: Target) -> None:
        if len(self._known) >= self._size:
            self._known.clear()
        self._known[raw_path] = target
