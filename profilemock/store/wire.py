"""The JSON shape of every item the API answers with, each written once.

The loader serialises items with these when fixtures load (and runtime changes when they
are made); a request then only joins the bytes. Changing what an ``/events`` item holds,
or the order of its keys, is an edit here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from profilemock.api import Collection
from profilemock.jsonbytes import encode, json_list, json_object, member, pair
from profilemock.store.model import JSON, Metadata, Profile
from profilemock.timeutil import format_ns


def external_id(
    *,
    collection: Collection,
    type: str,
    id: str,
    source_id: str,
    created_at: int,
    first_message_id: str | None,
) -> tuple[bytes, bytes]:
    """An item of ``/external_ids``, and the same id inside a ``/links`` entry or a
    ``/profiles`` item (other key order; the reference shows no ``first_message_id``)."""
    created = format_ns(created_at)
    listed = {
        "source_id": source_id,
        "collection": collection,
        "id": id,
        "type": type,
        "created_at": created,
        "encoding": "none",
        "first_message_id": first_message_id,
    }
    linked = {
        "id": id,
        "type": type,
        "source_id": source_id,
        "collection": collection,
        "created_at": created,
        "encoding": "none",
    }
    return encode(listed), encode(linked)


plain_trait = pair
"""``plain_trait(key, value)``: ``"key":value``, a member of ``/traits``' ``traits`` object."""


def verbose_trait(key: str, value: JSON, source_id: str, updated_at: int) -> bytes:
    """``"key":{value, source_id, updated_at}``: the member with ``verbose=true``."""
    return member(
        key, encode({"value": value, "source_id": source_id, "updated_at": format_ns(updated_at)})
    )


def message_ids(collection: Collection, ids: Iterable[tuple[str, str]]) -> list[JSON]:
    """An event's ``external_ids``: the (type, value) ids its message carried."""
    return [
        {"collection": collection, "type": id_type, "id": value, "encoding": "none"}
        for id_type, value in ids
    ]


def event_name(data: dict[str, Any]) -> str:
    """What ``include=``/``exclude=`` match an event by: a track's ``event``, a page's or
    screen's ``name``; identify, group and alias calls have none ("")."""
    return str(data.get("event") or data.get("name") or "")


# What each call carries beyond the fields every message has, as Segment's spec names
# them (in the API's snake_case): a track its event and properties, a page or screen its
# name and properties, an identify its traits, a group its group_id and traits. The
# fixture schema refuses an event's field of another call (it would never be served):
# `test_an_event_takes_the_fields_its_call_serves_and_no_other` holds the two together.
CALL_FIELDS: dict[str, tuple[str, ...]] = {
    "track": ("properties", "event"),
    "page": ("properties", "name"),
    "screen": ("properties", "name"),
    "identify": ("traits",),
    "group": ("group_id", "traits"),
    "alias": ("previous_id",),
}


_CARRIED = ("properties", "traits")
"""A call's fields that are objects, ``{}`` when the fixture gives none."""
_IDS = ("group_id", "previous_id")


def event(
    *,
    ids: list[JSON],
    collection: Collection,
    segment_id: str,
    timestamp: int,
    message_id: str,
    source_id: str,
    data: dict[str, Any],
) -> bytes:
    """An item of ``/events``, shaped as the reference's example (a track call) and, for
    the other calls, with their own fields in its place; ``data`` is the event as a
    fixture writes it, ``ids`` what ``message_ids`` gives for it."""
    call = data.get("type", "track")
    item: dict[str, JSON] = {
        "external_ids": ids,
        "context": data.get("context") or {},
        "type": call,
        "message_id": message_id,
        "source_id": source_id,
        "timestamp": format_ns(timestamp),
    }
    for name in CALL_FIELDS[call]:
        value = data.get(name)
        if name in _CARRIED:
            item[name] = value or {}
        elif value is not None:  # an id, a number in the fixture, is served as a string
            item[name] = str(value) if name in _IDS else value
    item["related"] = {collection: segment_id}
    return encode(item)


def metadata(m: Metadata) -> dict[str, JSON]:
    """The ``metadata`` object of ``/metadata`` and of each ``/profiles`` item."""
    return {
        "created_at": format_ns(m.created_at),
        "updated_at": format_ns(m.updated_at),
        "expires_at": None if m.expires_at is None else format_ns(m.expires_at),
        "first_message_id": m.first_message_id,
        "first_source_id": m.first_source_id,
        "last_message_id": m.last_message_id,
        "last_source_id": m.last_source_id,
    }


def link_entry(to_collection: Collection, profile: Profile) -> bytes:
    """An item of ``/links``: the linked profile's collection and external ids."""
    return json_object(
        [
            member("to_collection", encode(to_collection)),
            member("external_ids", json_list(x.link_json for x in profile.external_ids)),
        ]
    )


def profile_item(profile: Profile) -> bytes:
    """An item of the legacy ``/profiles`` list."""
    return json_object(
        [
            member("segment_id", encode(profile.segment_id)),
            member("external_ids", json_list(x.link_json for x in profile.external_ids)),
            member("metadata", encode(metadata(profile.metadata))),
        ]
    )
