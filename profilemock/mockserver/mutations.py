"""Runtime changes to a space — upsert or delete a profile, append events — written in the
fixture format and checked by the same loader, then applied to the space's overlay.

Everything is checked before anything changes: a bad request changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from profilemock.api import OTHER, Collection
from profilemock.fixtures.profile import (
    TakenMessageId,
    TooManyEvents,
    Where,
    add_events,
    build_profile,
)
from profilemock.mockserver.lookup import bare_value_hint, resolve
from profilemock.problems import FixtureError, Problem, json_pointer
from profilemock.store.model import Profile
from profilemock.store.overlay import LiveSpace
from profilemock.words import named


class ChangeError(ValueError):
    """A change that cannot be made; ``status`` is 400 (bad input), 404, 409 (conflict) or
    422 (more than one call may ask)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _build(
    space: LiveSpace,
    collection: Collection,
    data: Mapping[str, Any],
    now: int,
    warnings: list[Problem] | None = None,
) -> Profile:
    """One profile in ``space``'s settings, built as the loader builds it; 400 on problems,
    what the loader would warn of added to ``warnings``."""
    try:
        where = Where(space.id, collection, space.settings)
        return build_profile(data, where, now, warnings=warnings)
    except FixtureError as exc:
        raise ChangeError(400, f"the profile is not valid: {_details(exc.problems)}") from None


def told(problems: Iterable[Problem]) -> list[str]:
    """Problems (or warnings) of a profile given alone, each at its place in it
    (``/events/0/name: …``)."""
    return [f"{named(json_pointer(p.path) or '/', ticks='')}: {p.message}" for p in problems]


def _details(problems: Iterable[Problem]) -> str:
    return "; ".join(told(problems))


def upsert_profile(
    space: LiveSpace,
    collection: Collection,
    data: Mapping[str, Any],
    now: int,
    warnings: list[Problem] | None = None,
    *,
    unless_warned: bool = False,
    built: Profile | None = None,
) -> tuple[Profile, bool]:
    """Add a profile, or replace the one with its segment id or any of its ids.

    Returns the profile and whether it is new. ``links`` in ``data`` replace the profile's
    links; without ``links`` a replaced profile keeps its own. What a fixture file's check
    would warn of (an email served lowercased, ``updated_at`` before ``created_at``) is
    added to ``warnings``: the profile is served as it loads. ``unless_warned``: change
    nothing if it warns (refusals still raise), for a caller to tell the warnings first;
    ``built``: the profile that call returned, stored without being built again.
    """
    if not isinstance(data, Mapping):
        raise ChangeError(400, "the profile must be a JSON object in the fixture format")
    fields = {k: v for k, v in data.items() if k != "links"}
    told_before = len(warnings or ())
    profile = built if built is not None else _build(space, collection, fields, now, warnings)
    if "segment_id" in data:
        existing = space.get(collection, profile.segment_id)
    else:
        owners = {
            owner.segment_id: owner
            for x in profile.external_ids
            if (owner := space.find(collection, x.type, x.id)) is not None
        }
        if len(owners) > 1:
            raise ChangeError(
                409,
                f"these ids belong to {len(owners)} different profiles"
                f" ({', '.join(sorted(owners))}); upsert one of them by its `segment_id`",
            )
        existing = next(iter(owners.values()), None)
        if existing is not None and existing.segment_id != profile.segment_id:
            profile = _build(space, collection, {**fields, "segment_id": existing.segment_id}, now)
    for x in profile.external_ids:
        owner = space.find(collection, x.type, x.id)
        if owner is not None and owner.segment_id != profile.segment_id:
            raise ChangeError(
                409, f"external id `{x.type}:{x.id}` already belongs to profile {owner.segment_id}"
            )
    linked = None
    if "links" in data:
        linked = _resolve_links(space, collection, data["links"])
    if unless_warned and len(warnings or ()) > told_before:
        return profile, existing is None
    space.put(profile, replaces=existing.segment_id if existing else None)
    if linked is not None:
        space.set_links(collection, profile.segment_id, linked)
    return profile, existing is None


def _resolve_links(space: LiveSpace, collection: Collection, links: Any) -> list[str]:
    other = OTHER[collection]
    if not isinstance(links, list) or not all(isinstance(x, str) for x in links):
        raise ChangeError(400, "`links` must be a list of identifiers such as group_id:12345")
    resolved = []
    for identifier in links:
        target = resolve(space, other, identifier)
        if target is None:
            raise ChangeError(
                400, f"`links` names `{identifier}`, but no profile in `{other}` has that id"
            )
        resolved.append(target.segment_id)
    return resolved


def _no_profile(space: LiveSpace, collection: Collection, identifier: str) -> ChangeError:
    message = f"no profile `{identifier}` in `{collection}` of space `{space.id}`"
    if ":" not in identifier:
        message += f"; {bare_value_hint(identifier)}"
    return ChangeError(404, message)


def delete_profile(space: LiveSpace, collection: Collection, identifier: str) -> Profile:
    profile = resolve(space, collection, identifier)
    if profile is None:
        raise _no_profile(space, collection, identifier)
    space.delete(collection, profile.segment_id)
    return profile


def append_events(
    space: LiveSpace,
    collection: Collection,
    identifier: str,
    events: Any,
    now: int,
    warnings: list[Problem] | None = None,
    *,
    unless_warned: bool = False,
) -> list[str]:
    """Add events (fixture format) to a profile; returns their message ids, in order.

    What a fixture file's check would warn of in them is added to ``warnings``;
    ``unless_warned``: change nothing if they warn (as ``upsert_profile``)."""
    profile = resolve(space, collection, identifier)
    if profile is None:
        raise _no_profile(space, collection, identifier)
    if not isinstance(events, list) or not events:
        raise ChangeError(400, "`events` must be a non-empty list of events in the fixture format")
    told_before = len(warnings or ())
    try:
        changed, added = add_events(
            profile, events, Where(space.id, collection, space.settings), now, warnings
        )
    except FixtureError as exc:
        raise ChangeError(400, f"the events are not valid: {_details(exc.problems)}") from None
    except TakenMessageId as exc:
        raise ChangeError(409, str(exc)) from None
    except TooManyEvents as exc:
        raise ChangeError(422, str(exc)) from None
    if unless_warned and len(warnings or ()) > told_before:
        return added
    space.put(changed, replaces=profile.segment_id)
    return added
