"""Following ``cursor.url`` to the end yields every item exactly once, in order.

Property-based: hypothesis generates profiles (traits, external ids, events, links, many
profiles) and limits; the walk over real HTTP is compared with an oracle computed here.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from profilemock.api import ENDPOINTS
from profilemock.clock import Clock
from profilemock.fixtures.loader import load_data
from profilemock.mockserver.app import create_app
from tests.conftest import NOW, basic

AUTH = basic("tok")
SPACE = "sp"
HOUR = 3_600_000_000_000
text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=6)
trait_keys = text | st.text(alphabet="abcd", min_size=1, max_size=2)
id_values = st.text(alphabet="abcXYZ019-_.@+ /%", min_size=1, max_size=8)


def walk(data: dict[str, Any], first_path: str) -> list[dict[str, Any]]:
    """Every page of a list, following cursor.url from ``first_path``."""

    async def run() -> list[dict[str, Any]]:
        clock = Clock(NOW)
        server = TestServer(create_app(load_data(data, clock), clock), host="127.0.0.1", port=0)
        await server.start_server()
        pages = []
        try:
            async with aiohttp.ClientSession(headers=AUTH) as session:
                url: str = str(server.make_url(first_path))
                while url:
                    async with session.get(url) as response:
                        assert response.status == 200, await response.text()
                        body = await response.json()
                    pages.append(body)
                    assert len(pages) < 500, "cursor never ends"
                    cursor = body["cursor"]
                    assert cursor["has_more"] == bool(cursor["url"]) == bool(cursor["next"])
                    # aiohttp would re-quote the URL; the server wrote it ready to send.
                    url = str(URL(cursor["url"], encoded=True)) if cursor["url"] else ""
        finally:
            await server.close()
        return pages

    return asyncio.run(run())


def space(
    users: list[dict[str, Any]], accounts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"spaces": {SPACE: {"tokens": ["tok"], "users": users, "accounts": accounts or []}}}


def profile_url(identifier: str, resource: str, query: str, collection: str = "users") -> str:
    from urllib.parse import quote

    return f"/v1/spaces/{SPACE}/collections/{collection}/profiles/{quote(identifier, safe=':')}/{resource}?{query}"


@settings(max_examples=40, deadline=None)
@given(
    traits=st.dictionaries(trait_keys, st.integers(), max_size=40),
    limit=st.integers(1, ENDPOINTS["traits"].limit_max),
    verbose=st.booleans(),
    include=st.none() | st.lists(st.text(alphabet="abcd", min_size=1, max_size=2), max_size=8),
)
def test_traits_walk(
    traits: dict[str, int], limit: int, verbose: bool, include: list[str] | None
) -> None:
    query = f"limit={limit}&verbose={str(verbose).lower()}"
    if include is not None:
        query += "&" + urlencode([("include", ",".join(include))])
    pages = walk(
        space([{"ids": {"user_id": "u"}, "traits": traits}]),
        profile_url("user_id:u", "traits", query),
    )
    seen = [(k, v["value"] if verbose else v) for page in pages for k, v in page["traits"].items()]
    expected = sorted((k, v) for k, v in traits.items() if include is None or k in include)
    assert seen == expected
    assert all(len(page["traits"]) <= limit for page in pages)
    assert all(page["cursor"]["limit"] == limit for page in pages)
    assert len(pages) == max(1, -(-len(expected) // limit))


@settings(max_examples=40, deadline=None)
@given(
    ids=st.lists(
        st.tuples(st.sampled_from(["user_id", "anonymous_id", "email", "ios.idfa"]), id_values),
        # Emails are stored in lowercase: two that differ only in case are one id.
        unique_by=lambda x: (x[0], x[1].lower() if x[0] == "email" else x[1]),
        max_size=70,
    ),
    limit=st.integers(1, ENDPOINTS["external_ids"].limit_max),
)
def test_external_ids_walk(ids: list[tuple[str, str]], limit: int) -> None:
    grouped: dict[str, list[str]] = {}
    for id_type, value in ids:
        grouped.setdefault(id_type, []).append(value)
    grouped.setdefault("user_id", []).append("walker")
    pages = walk(
        space([{"ids": grouped}]),
        profile_url("user_id:walker", "external_ids", f"limit={limit}"),
    )
    seen = [(x["type"], x["id"]) for page in pages for x in page["data"]]
    expected = sorted(
        (t, v.lower() if t == "email" else v) for t, values in grouped.items() for v in values
    )
    assert seen == expected
    page_size = min(limit, ENDPOINTS["external_ids"].page_max)
    assert all(len(page["data"]) <= page_size for page in pages)


@settings(max_examples=40, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(-20 * 24, 2), st.sampled_from(["A", "B", "C"])), max_size=60
    ),
    limit=st.integers(1, ENDPOINTS["events"].limit_max),
    sort=st.sampled_from(["asc", "desc"]),
    exclude=st.sampled_from(["", "B"]),
)
def test_events_walk(events: list[tuple[int, str]], limit: int, sort: str, exclude: str) -> None:
    written = [
        {"event": name, "timestamp": f"{hours:+d}h", "message_id": f"m{i:03d}"}
        for i, (hours, name) in enumerate(events)
    ]
    query = f"limit={limit}&sort={sort}" + (f"&exclude={exclude}" if exclude else "")
    pages = walk(
        space([{"ids": {"user_id": "u"}, "events": written}]),
        profile_url("user_id:u", "events", query),
    )
    seen = [e["message_id"] for page in pages for e in (page["data"] or [])]
    window = [
        (NOW + hours * HOUR, f"m{i:03d}")
        for i, (hours, name) in enumerate(events)
        if -14 * 24 <= hours <= 0 and name != exclude
    ]
    expected = [mid for _, mid in sorted(window, reverse=sort == "desc")]
    assert seen == expected
    for page in pages:
        if page["cursor"]["next"]:
            stamp, _, message_id = base64.b64decode(page["cursor"]["next"]).decode().partition("::")
            assert stamp.isdigit()
            assert message_id.startswith("m")
    if not expected:
        assert pages[0]["data"] is None


@settings(max_examples=30, deadline=None)
@given(count=st.integers(0, 50), limit=st.integers(1, ENDPOINTS["links"].limit_max))
def test_links_walk(count: int, limit: int) -> None:
    users = [{"ids": {"user_id": f"u{i:02d}"}, "links": ["group_id:g"]} for i in range(count)]
    pages = walk(
        space(users, [{"ids": {"group_id": "g"}}]),
        profile_url("group_id:g", "links", f"limit={limit}", collection="accounts"),
    )
    seen = [item["external_ids"][0]["id"] for page in pages for item in page["data"]]
    assert seen == [f"u{i:02d}" for i in range(count)]
    assert all(len(page["data"]) <= min(limit, 20) for page in pages)


@settings(max_examples=30, deadline=None)
@given(
    updated=st.lists(st.integers(-1000, 0), max_size=40),
    limit=st.integers(1, ENDPOINTS["profiles"].limit_max),
)
def test_list_profiles_walk(updated: list[int], limit: int) -> None:
    users = [
        {"ids": {"user_id": f"u{i:02d}"}, "created_at": "-1001h", "updated_at": f"{h:+d}h"}
        for i, h in enumerate(updated)
    ]
    pages = walk(space(users), f"/v1/spaces/{SPACE}/collections/users/profiles?limit={limit}")
    seen = [p["external_ids"][0]["id"] for page in pages for p in page["data"]]
    assert sorted(seen) == sorted(f"u{i:02d}" for i in range(len(updated)))
    order = [updated[int(uid[1:])] for uid in seen]
    assert order == sorted(order, reverse=True)
