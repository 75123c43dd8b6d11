"""Match the raw request path against the API's routes, decoding segments as the API does.

We read ``raw_path`` ourselves rather than aiohttp's decoded path: the identifier segment
is form-decoded (a raw ``+`` reads as a space, ``%2B`` as ``+``, as on the real API), and
an encoded ``/`` inside an identifier must not split the path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus

from profilemock.api import COLLECTIONS, ID_TYPE_CHARS, RESOURCES, SPACE_ID_CHARS
from profilemock.mockserver.errors import ApiError

ALLOWED_METHODS = ("GET", "HEAD")
ROUTES_HINT = (
    f"routes are GET /v1/spaces/{{space_id}}/collections/{{{'|'.join(COLLECTIONS)}}}/profiles"
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
    checked: bool = False
    """Its path parameters are known to be valid: nothing is left for ``validate_path``."""


# Most paths are well formed: valid names, a known collection, nothing to decode (no % or
# +). One pattern recognises them; anything else takes the general, explaining route.
_WELL_FORMED = re.compile(
    rf"/v1/spaces/({SPACE_ID_CHARS}+)/collections/({'|'.join(COLLECTIONS)})/profiles"
    rf"(?:/({ID_TYPE_CHARS}+:[^/%+]+|[^/%+:]+)/({'|'.join(RESOURCES)}))?"
)


def match(method: str, raw_path: str) -> Route:
    """The route for ``raw_path`` (query included or not), or the API's 404/405 in its
    envelope."""
    route = match_path(raw_path)
    if route is None:
        raise ApiError(404, "not_found", "The requested route was not found.", hint=ROUTES_HINT)
    if method not in ALLOWED_METHODS:
        raise ApiError(
            405,
            "method_not_allowed",
            f"The method {method} is not allowed on this route; use GET.",
            headers={"Allow": ", ".join(ALLOWED_METHODS)},
        )
    return route


def match_path(raw_path: str) -> Route | None:
    """The route for ``raw_path`` (query included or not), whatever the method."""
    path = raw_path.partition("?")[0]
    return well_formed(path) or general(path)


def well_formed(path: str) -> Route | None:
    """The route of a well-formed path (see ``_WELL_FORMED``), checked; else None."""
    found = _WELL_FORMED.fullmatch(path)
    if found is None:
        return None
    space_id, collection, identifier, resource = found.groups()
    if identifier is None:
        return Route("profiles", space_id, collection, path, checked=True)
    return Route(resource, space_id, collection, path, identifier, identifier, checked=True)


def general(path: str) -> Route | None:
    """The route of any path, its segments decoded; its parameters are not checked."""
    parts = path.split("/")
    # ["", "v1", "spaces", S, "collections", C, "profiles", (I, R)]
    if not (
        len(parts) in (7, 9)
        and parts[0] == ""
        and parts[1] == "v1"
        and parts[2] == "spaces"
        and parts[4] == "collections"
        and parts[6] == "profiles"
    ):
        return None
    space_id, collection = unquote(parts[3]), unquote(parts[5])
    if len(parts) == 7:
        return Route("profiles", space_id, collection, path)
    if parts[8] in RESOURCES and parts[7]:
        return Route(parts[8], space_id, collection, path, unquote_plus(parts[7]), parts[7])
    return None
