"""Authentication: HTTP Basic, the access token as username, password ignored.

Every failure is the same 401 the real API sends; what went wrong is said only in the
``Profilemock-Hint`` header. Tokens are compared in constant time and never echoed.
"""

from __future__ import annotations

import base64
import binascii

from profilemock.fixtures.store import LiveSpace, LiveStore
from profilemock.mockserver.errors import unauthenticated

BASIC_HOWTO = (
    "send HTTP Basic auth with the access token as username and an empty password (curl -u TOKEN:)"
)


def authenticate(store: LiveStore, space_id: str, authorization: str | None) -> LiveSpace:
    """The space the request may read, or a 401 with a hint saying why not."""
    if not authorization:
        raise unauthenticated(f"no Authorization header; {BASIC_HOWTO}")
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise unauthenticated(
            f"the Authorization scheme is {scheme}, but the Profile API takes Basic only;"
            f" {BASIC_HOWTO}"
        )
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise unauthenticated(
            f"the Basic credentials are not valid base64; {BASIC_HOWTO}"
        ) from None
    token = decoded.partition(":")[0]
    if not token:
        raise unauthenticated(f"the Basic username is empty; {BASIC_HOWTO}")
    space = store.spaces.get(space_id)
    if space is not None and space.accepts(token):
        return space
    owner = store.space_of_token(token)
    if owner is not None:
        raise unauthenticated(
            f"this token belongs to space `{owner}`, not `{space_id}`; tokens are per space"
        )
    raise unauthenticated(f"no space `{space_id}` accepts this token")
