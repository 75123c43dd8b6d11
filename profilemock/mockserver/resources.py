"""What each route answers: read the store, page, assemble the body. Nothing else.

Items are serialised when the fixtures load; a body is assembled from their bytes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

from profilemock.api import ENDPOINTS, EVENTS_WINDOW_DAYS, OTHER, Collection
from profilemock.jsonbytes import encode, page_body
from profilemock.mockserver import cursors
from profilemock.mockserver.params import Query
from profilemock.store import wire
from profilemock.store.model import Profile
from profilemock.store.overlay import LiveSpace
from profilemock.timeutil import DAY_NS

Body = bytes
T = TypeVar("T")


@dataclass(slots=True)
class Request:
    """One validated request, as resource functions see it."""

    space: LiveSpace
    collection: Collection
    query: Query
    base_url: Callable[[], str]
    """The absolute URL of this list, without the query (cursor URLs build on it); made
    only when a cursor needs it."""
    now: int
    profile: Profile | None = None
    null_lists: bool = False
    """Answer an empty external_ids or links list with ``"data": null`` (realism switch)."""


def _page(items: Iterable[T], size: int) -> tuple[list[T], T | None]:
    """The first ``size`` items and the one after them (None when the list ends)."""
    iterator = iter(items)
    return list(islice(iterator, size)), next(iterator, None)


def _cursor(req: Request, next_token: str | None, endpoint: str) -> bytes:
    limit = req.query.limit if ENDPOINTS[endpoint].cursor_has_limit else None
    return cursors.cursor(req.base_url, req.query.repeat, next_token, limit)


def _profile(req: Request) -> Profile:
    assert req.profile is not None, "profile routes are resolved before their resource"
    return req.profile


def traits(req: Request) -> Body:
    index = _profile(req).traits_of(req.query.klass)
    keys, after, size = index.keys, req.query.next, req.query.page_size
    serialised = index.verbose_json if req.query.verbose else index.plain_json
    if req.query.include is None:
        start = 0 if after is None else bisect_left(keys, after)
        page: Sequence[bytes] = serialised[start : start + size]
        following = keys[start + size] if start + size < len(keys) else None
    else:
        # Look the named keys up instead of scanning: cost follows the request, not the profile.
        chosen = [
            i
            for name in sorted(set(req.query.include))
            if after is None or name >= after
            for i in [bisect_left(keys, name)]
            if i < len(keys) and keys[i] == name
        ]
        page = [serialised[i] for i in chosen[:size]]
        following = keys[chosen[size]] if len(chosen) > size else None
    return page_body("traits", page, _cursor(req, following, "traits"), keyed=True)


def external_ids(req: Request) -> Body:
    profile = _profile(req)
    start = 0
    if req.query.next is not None:
        position = profile.map_positions.get(req.query.next)
        if position is None:
            raise cursors.bad_cursor(req.query.next)
        start = position
    wanted = None if req.query.include is None else set(req.query.include)
    candidates = (x for x in profile.external_ids[start:] if wanted is None or x.type in wanted)
    page, following = _page(candidates, req.query.page_size)
    next_token = following.map_id if following else None
    items = None if req.null_lists and not page else [x.json for x in page]
    return page_body("data", items, _cursor(req, next_token, "external_ids"))


def events(req: Request) -> Body:
    profile, query = _profile(req), req.query
    keys = profile.event_keys
    low = bisect_left(keys, (req.now - EVENTS_WINDOW_DAYS * DAY_NS, ""))
    if query.start is not None:
        # Exclusive, as the reference says: events "that start after `start`".
        low = max(low, bisect_right(keys, (query.start, "\U0010ffff")))
    high = bisect_right(keys, (req.now, "\U0010ffff"))
    if query.end is not None:
        high = min(high, bisect_left(keys, (query.end, "")))
    if query.next is not None:
        position = cursors.decode_event(query.next)
        if query.descending:
            high = min(high, bisect_right(keys, position))
        else:
            low = max(low, bisect_left(keys, position))
    span = range(high - 1, low - 1, -1) if query.descending else range(low, high)
    size = query.page_size
    if query.include is None and not query.exclude:
        chosen: Sequence[int] = span[: size + 1]
    else:
        include = None if query.include is None else set(query.include)
        exclude = set(query.exclude)
        names = profile.event_names
        wanted = (
            i for i in span if (include is None or names[i] in include) and names[i] not in exclude
        )
        chosen = list(islice(wanted, size + 1))
    following = keys[chosen[size]] if len(chosen) > size else None
    page = _items(profile.event_json, chosen[:size])
    token = None if following is None else cursors.encode_event(*following)
    return page_body("data", page or None, _cursor(req, token, "events"))


def _items(items: tuple[T, ...], positions: Sequence[int]) -> Sequence[T]:
    """``items`` at ``positions``; a plain slice when the positions are a range."""
    if not isinstance(positions, range):
        return [items[i] for i in positions]
    if positions.step == 1:
        return items[positions.start : positions.stop]
    # A descending range: the slice from its lowest position up, reversed.
    return items[positions.stop + 1 : positions.start + 1][::-1]


def metadata(req: Request) -> Body:
    profile = _profile(req)
    return encode({"segment_id": profile.segment_id, "metadata": wire.metadata(profile.metadata)})


def _offset_page(req: Request, items: Sequence[T], scope: str) -> tuple[list[T], str | None]:
    start = 0 if req.query.next is None else cursors.decode_offset(req.query.next, scope)
    end = start + req.query.page_size
    following = cursors.encode_offset(end, scope) if end < len(items) else None
    return list(items[start:end]), following


def links(req: Request) -> Body:
    profile = _profile(req)
    other = OTHER[req.collection]
    linked = [
        p
        for p in (
            req.space.get(other, s) for s in req.space.links_of(req.collection, profile.segment_id)
        )
        if p is not None
    ]
    scope = f"links|{req.space.id}|{req.collection}|{profile.segment_id}"
    page, following = _offset_page(req, linked, scope)
    items = [wire.link_entry(other, p) for p in page]
    return page_body(
        "data", None if req.null_lists and not items else items, _cursor(req, following, "links")
    )


def profiles(req: Request) -> Body:
    """The legacy list route: profiles by most recent activity."""
    ordered = req.space.by_activity(req.collection)
    page, following = _offset_page(req, ordered, f"profiles|{req.space.id}|{req.collection}")
    return page_body(
        "data", (wire.profile_item(p) for p in page), _cursor(req, following, "profiles")
    )


RESOURCE_HANDLERS: dict[str, Callable[[Request], Body]] = {
    "traits": traits,
    "external_ids": external_ids,
    "events": events,
    "metadata": metadata,
    "links": links,
}
