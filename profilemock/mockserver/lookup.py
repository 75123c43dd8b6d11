"""Path validation and profile lookup, with hints for the usual client-side mistakes."""

from __future__ import annotations

import re
import string
from urllib.parse import quote

from profilemock.api import (
    COLLECTIONS,
    ID_TYPE_CHARS,
    LOWERCASED_ID_TYPES,
    OTHER,
    SERVER_ERROR,
    SPACE_ID_CHARS,
    Collection,
    collection_named,
    lowercase_id_type,
)
from profilemock.clock import Clock
from profilemock.mockserver.errors import ApiError, invalid_characters, not_found
from profilemock.mockserver.routing import Route
from profilemock.store.model import Profile
from profilemock.store.overlay import LiveSpace
from profilemock.timeutil import LATEST_NS, NS_PER_SECOND, format_duration, format_ns
from profilemock.words import not_one_of

NAMES = re.compile(f"{SPACE_ID_CHARS}*")
ID_TYPES = re.compile(f"{ID_TYPE_CHARS}*")


def validate_path(route: Route) -> None:
    """400 ``validation_error`` for characters the API does not allow in path parameters."""
    if route.checked:
        return
    for name, value in (("space_id", route.space_id), ("collection", route.collection)):
        error = invalid_characters(name, value, NAMES)
        if error:
            raise error
    if route.identifier is None or ":" not in route.identifier:
        return
    id_type, _, value = route.identifier.partition(":")
    if not id_type:
        raise ApiError(400, "validation_error", "The parameter `id_type` cannot be empty")
    error = invalid_characters("id_type", id_type, ID_TYPES)
    if error:
        raise error
    if not value:
        raise ApiError(400, "validation_error", "The parameter `id_value` cannot be empty")


ESCAPE_FREE = frozenset(string.ascii_letters + string.digits + "-._~%")
"""What a value may hold unescaped: letters, digits, RFC 3986's unreserved marks (no
encoder escapes those) and escapes themselves."""
_TYPE_PREFIX = re.compile(r"[^:%]*(?::|%3[aA])")


def check_escaped(route: Route) -> None:
    """The 500 the docs warn of for an id value with a raw non-alphanumeric character (the
    ``unescaped_500`` realism switch)."""
    prefix = _TYPE_PREFIX.match(route.raw_identifier or "")
    if prefix is None:
        return
    raw_value = (route.raw_identifier or "")[prefix.end() :]
    unescaped = "".join(dict.fromkeys(ch for ch in raw_value if ch not in ESCAPE_FREE))
    if unescaped:
        raise ApiError(
            500,
            *SERVER_ERROR,
            hint=f"`{unescaped}` in the identifier is not percent-encoded, and the docs warn"
            " that the API may answer 500 for that; encode it"
            f" (`{unescaped[0]}` is {quote(unescaped[0], safe='')})",
        )


def collection_of(route: Route) -> Collection:
    """The route's collection, or 404 for a well-formed name that is not one."""
    collection = collection_named(route.collection)
    if collection is None:
        raise not_found(not_one_of("collection", route.collection, COLLECTIONS))
    return collection


def resolve(space: LiveSpace, collection: Collection, identifier: str) -> Profile | None:
    """The profile ``type:value`` (or a bare segment id) names, if any."""
    id_type, sep, value = identifier.partition(":")
    return space.find(collection, id_type, value) if sep else space.get(collection, identifier)


def find_profile(space: LiveSpace, collection: Collection, route: Route, clock: Clock) -> Profile:
    """The profile the identifier names, or the API's 404 with a hint when we can see why
    (``clock``: the server's, which a change still propagating shows on)."""
    identifier = route.identifier or ""
    profile = resolve(space, collection, identifier)
    if profile is not None:
        return profile
    not_yet = _not_yet_hint(space, collection, identifier, clock)
    if not_yet is not None:
        raise not_found(not_yet)
    id_type, sep, value = identifier.partition(":")
    if not sep:
        raise not_found(bare_value_hint(identifier))
    raise not_found(_miss_hint(space, collection, route, id_type, value))


def bare_value_hint(identifier: str) -> str:
    """Why ``identifier``, with no ``type:``, named no profile (the API's hint, the admin
    API's message)."""
    return (
        f"`{identifier}` has no `type:`; use `type:value` such as user_id:{identifier}"
        " (a bare value only matches a segment id)"
    )


_TENTH = NS_PER_SECOND // 10


def _tenths(ns: int) -> int:
    """``ns`` in tenths of a second, rounded up: a wait on real time is told no finer."""
    return -(-ns // _TENTH)


def _not_yet_hint(
    space: LiveSpace, collection: Collection, identifier: str, clock: Clock
) -> str | None:
    """Of a profile the API does not see yet (the ``propagation_delay`` realism switch): it
    exists, and when the change that made it shows, on the server's clock."""
    coming = list(space.coming())
    if not coming or resolve(coming[-1][1], collection, identifier) is None:
        return None  # not there once every change shows (added, then deleted): none coming
    for at, later in coming:
        if resolve(later, collection, identifier) is None:
            continue
        wait_ns = max(at - clock.ticks_ns(), 0)
        wait = format_duration(_tenths(wait_ns) * _TENTH)
        if clock.pinned:
            when = f"in {wait} (the clock's date is pinned; its time runs)"
        elif clock.frozen:
            when = f"once the server's clock, which is frozen, is advanced {wait}"
        else:
            # A clock set running near the end of year 9999 stops there (``Clock.now_ns``).
            shows = min(_tenths(clock.now_ns() + wait_ns) * _TENTH, LATEST_NS)
            when = f"in {wait}, at {format_ns(shows)} on the server's clock"
        return (
            f"`{identifier}` exists in `{collection}`, but the change that made it reaches the"
            f" API only after the propagation delay (the `propagation_delay` realism switch):"
            f" it shows {when}"
        )
    return None


def _miss_hint(
    space: LiveSpace, collection: Collection, route: Route, id_type: str, value: str
) -> str | None:
    raw = route.raw_identifier or ""
    if "+" in raw:
        plus_value = value.replace(" ", "+")
        found = space.find(collection, id_type, plus_value) is not None
        return "a raw `+` in the path reads as a space; send it as %2B" + (
            f" (`{id_type}:{plus_value}` exists)" if found else ""
        )
    if id_type in LOWERCASED_ID_TYPES and value != value.lower():
        exists = space.find(collection, id_type, value.lower()) is not None
        return (
            f"`{id_type}` ids are stored in lowercase (as Segment stores them), so a query in"
            f" other casing never matches; ask for `{id_type}:{value.lower()}`"
            + (" (it exists)" if exists else "")
        )
    near = space.near_misses(collection, id_type, value)
    if near:
        return f"no exact match; lookups are case-sensitive and `{near[0]}` exists"
    meant = lowercase_id_type(id_type)
    if meant != id_type and space.find(collection, meant, value) is not None:
        # `userId:…`, analytics.js's name: the real API finds nothing either.
        return f"Segment's id types are lowercase: ask for `{meant}:{value}` (it exists)"
    other = OTHER[collection]
    if space.find(other, id_type, value) is not None:
        return in_the_other(f"{id_type}:{value}", collection)
    if meant != id_type:
        told = "Segment's id types are lowercase"
        if space.find(other, meant, value) is not None:  # `groupId:…` asked for in users
            return f"{told}: {in_the_other(f'{meant}:{value}', collection)}"
        return f"{told}; did you mean `{meant}`?"
    return None


_NOT_IN = ", not "
_ANY = "|".join(COLLECTIONS)
# The whole hint: one that also names another mistake (an id type in camelCase) is no
# call to the wrong collection alone, which `--collection` or `collection=` would mend.
_IN_THE_OTHER = re.compile(rf"^`.*` is a profile in `({_ANY})`{_NOT_IN}`(?:{_ANY})`$", re.DOTALL)


def in_the_other(identifier: str, collection: Collection) -> str:
    """The hint of a 404 for the profile ``identifier`` asked for in ``collection`` and
    found in the other one (``in_the_other_collection`` reads it back)."""
    return f"`{identifier}` is a profile in `{OTHER[collection]}`{_NOT_IN}`{collection}`"


def in_the_other_collection(hint: str | None) -> str | None:
    """Of a 404's hint: the collection its profile is in, when it was asked for in the
    other one (the classic wrong-collection bug), else None."""
    found = _IN_THE_OTHER.search(hint or "")
    return found.group(1) if found else None
