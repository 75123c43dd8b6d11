"""Authentication: HTTP Basic, the access token as username, password ignored.

Every failure is the same 401 the real API sends; what went wrong is said only in the
``Profilemock-Hint`` header. Tokens are compared in constant time and never echoed.
"""

from __future__ import annotations

import base64
import binascii

from profilemock.mockserver.errors import unauthenticated
from profilemock.store.overlay import LiveSpace, LiveStore

BASIC_HOWTO = (
    "send HTTP Basic auth with the access token as username and an empty password (curl -u TOKEN:)"
)


KNOWN_SCHEMES = frozenset(
    ("bearer", "digest", "token", "negotiate", "ntlm", "hoba", "mutual", "aws4-hmac-sha256")
)
"""Schemes a hint may name: anything else might be a token sent without a scheme."""


def authenticate(store: LiveStore, space_id: str, authorization: str | None) -> LiveSpace:
    """The space the request may read, or a 401 with a hint saying why not.

    Outcomes are remembered per (space, header): tokens do not change while a server runs,
    and decoding and comparing them is on every request's path.
    """
    key = (space_id, authorization)
    outcome = store.auth_cache.get(key)
    if outcome is None:
        outcome = store.auth_cache.keep(key, _decide(store, space_id, authorization))
    allowed, hint = outcome
    if allowed is None:
        raise unauthenticated(hint)
    return store.spaces[allowed]


def _decide(store: LiveStore, space_id: str, authorization: str | None) -> tuple[str | None, str]:
    """(the space id when the credentials open it, else None; the hint when they do not)."""
    if not authorization:
        return None, f"no Authorization header; {BASIC_HOWTO}"
    scheme, separator, credentials = authorization.strip().partition(" ")
    if not separator and scheme.lower() != "basic" and scheme.lower() not in KNOWN_SCHEMES:
        # ``Authorization: TOKEN``: the one word may be the token itself; never echo it.
        return None, f"the Authorization header has no scheme; {BASIC_HOWTO}"
    if scheme.lower() != "basic":
        named = scheme if scheme.lower() in KNOWN_SCHEMES else "not one HTTP defines"
        return None, (
            f"the Authorization scheme is {named}, but the Profile API takes Basic only;"
            f" {BASIC_HOWTO}"
        )
    if not credentials.strip():
        return None, f"the Basic scheme has no credentials after it; {BASIC_HOWTO}"
    if credentials[0].isspace():
        # RFC 7235 allows more, but Go's Request.BasicAuth, which the real service most
        # likely reads the header with, takes one space after `Basic` and no more.
        return None, (
            f"more than one space follows `Basic`; the API reads one space, then the"
            f" credentials; {BASIC_HOWTO}"
        )
    try:
        # ValueError: base64 of a str with non-ASCII characters.
        raw = base64.b64decode(credentials, validate=True)
    except (binascii.Error, ValueError):
        return None, f"the Basic credentials are not valid base64; {BASIC_HOWTO}"
    try:
        decoded = raw.decode()
    except UnicodeDecodeError:
        return None, (
            f"the Basic credentials are valid base64 of bytes that are not UTF-8 text;"
            f" {BASIC_HOWTO}"
        )
    token, colon, _ = decoded.partition(":")
    if not colon:
        # RFC 7617: user-id ":" password; the reference writes btoa('<access_token>' + ':').
        return None, f"the Basic credentials have no `:` after the token; {BASIC_HOWTO}"
    if not token:
        return None, f"the Basic username is empty; {BASIC_HOWTO}"
    space = store.spaces.get(space_id)
    if space is not None and space.accepts(token):
        return space.id, ""
    owner = store.space_of_token(token)
    if owner is not None:
        return (
            None,
            f"this token belongs to space `{owner}`, not `{space_id}`; tokens are per space",
        )
    return None, f"no space `{space_id}` accepts this token"
