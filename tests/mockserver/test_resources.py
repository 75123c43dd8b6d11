"""What each route answers: traits, external_ids, events, metadata, links, list profiles."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from profilemock.clock import Clock
from profilemock.fixtures.loader import load_data
from profilemock.mockserver.app import create_app
from tests.conftest import Client, ClientFactory, ServeYaml, basic

FIXTURE = """
now: 2026-06-15T12:00:00Z
spaces:
  sp:
    tokens: [tok]
    default_source_id: src-default
    computed_source_id: src-personas
    users:
      - ids:
          user_id: u1
          anonymous_id: [{id: anon-b, created_at: -3d, source_id: web, first_message_id: m-first},
                         {id: anon-a, created_at: -2d}]
          email: u1@example.com
        created_at: 2026-01-01T00:00:00Z
        updated_at: -1h
        traits: {b: 2, a: 1, Zed: upper, "10": digits, first_name: Plain}
        sources:
          - {source_id: crm, updated_at: -2d, traits: {first_name: Older, city: Oslo}}
          - {source_id: app, updated_at: -30m, traits: {first_name: Newest}}
        computed_traits: {score: 99}
        audiences: {vip: true, churned: false}
        events:
          - {event: Signed Up, timestamp: -13d, message_id: m-signup, source_id: web}
          - {event: Page Viewed, timestamp: -1d, message_id: m-page}
          - {event: Order Completed, timestamp: -2h, message_id: m-order, properties: {total: 10}}
          - {event: Ancient, timestamp: -15d, message_id: m-ancient}
          - {event: Future, timestamp: +1h, message_id: m-future}
        links: ["group_id:g1", "group_id:g2"]
      - ids: {user_id: quiet}
        created_at: -40d
        updated_at: -20d
        metadata: {expires_at: 2027-01-01T00:00:00Z, first_source_id: legacy}
    accounts:
      - ids: {group_id: g1}
        updated_at: -5d
      - ids: {group_id: {id: g2, source_id: crm, created_at: -7d}}
        updated_at: -6d
"""
AUTH = basic("tok")


def path(identifier: str, resource: str, collection: str = "users") -> str:
    return f"/v1/spaces/sp/collections/{collection}/profiles/{identifier}/{resource}"


@pytest.fixture
async def client(serve_yaml: ServeYaml) -> Client:
    return await serve_yaml(FIXTURE)


async def get(client: Client, url: str) -> Any:
    response = await client.get(url, headers=AUTH)
    assert response.status == 200, await response.text()
    return await response.json()


# -- traits ---------------------------------------------------------------------------


async def test_traits_are_sorted_by_key_in_byte_order(client: Client) -> None:
    body = await get(client, path("user_id:u1", "traits") + "?limit=200")
    assert list(body["traits"]) == [
        "10", "Zed", "a", "b", "churned", "city", "first_name", "score", "vip",
    ]  # fmt: skip


async def test_most_recently_updated_source_wins(client: Client) -> None:
    body = await get(client, path("user_id:u1", "traits") + "?verbose=true&include=first_name,city")
    assert body["traits"]["first_name"] == {
        "value": "Newest",
        "source_id": "app",
        "updated_at": "2026-06-15T11:30:00Z",
    }
    assert body["traits"]["city"]["source_id"] == "crm"


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("class=audience", ["churned", "vip"]),
        ("class=computed_trait", ["score"]),
        ("include=a,b", ["a", "b"]),
        ("include=a&include=vip", ["a", "vip"]),
        ("include=a,,nonexistent", ["a"]),
        ("class=audience&include=vip,a", ["vip"]),
    ],
)
async def test_trait_filters(client: Client, query: str, keys: list[str]) -> None:
    body = await get(client, path("user_id:u1", "traits") + "?" + query)
    assert list(body["traits"]) == keys


async def test_traits_cursor_is_next_key_and_echoes_limit(client: Client) -> None:
    first = await get(client, path("user_id:u1", "traits") + "?limit=3")
    assert list(first["traits"]) == ["10", "Zed", "a"]
    assert first["cursor"]["next"] == "b"
    assert first["cursor"]["limit"] == 3
    assert first["cursor"]["url"].endswith(
        "/v1/spaces/sp/collections/users/profiles/user_id:u1/traits?limit=3&next=b"
    )
    assert first["cursor"]["url"].startswith("http://127.0.0.1:")
    last = await get(client, path("user_id:u1", "traits") + "?limit=3&next=score")
    assert list(last["traits"]) == ["score", "vip"]
    assert last["cursor"] == {"url": "", "has_more": False, "next": "", "limit": 3}


async def test_audience_values_are_booleans(client: Client) -> None:
    body = await get(client, path("user_id:u1", "traits") + "?class=audience")
    assert body["traits"] == {"churned": False, "vip": True}
    assert all(type(v) is bool for v in body["traits"].values())


# -- external ids ------------------------------------------------------------------------


async def test_external_ids_items_have_the_api_fields(client: Client) -> None:
    body = await get(client, path("user_id:u1", "external_ids"))
    first = body["data"][0]
    assert first == {
        "source_id": "web",
        "collection": "users",
        "id": "anon-b",
        "type": "anonymous_id",
        "created_at": "2026-06-12T12:00:00Z",
        "encoding": "none",
        "first_message_id": "m-first",
    }
    assert [(x["type"], x["id"]) for x in body["data"]] == [
        ("anonymous_id", "anon-b"),
        ("anonymous_id", "anon-a"),
        ("email", "u1@example.com"),
        ("user_id", "u1"),
    ]
    assert body["cursor"] == {"url": "", "has_more": False, "next": ""}


async def test_external_ids_include_filters_by_type(client: Client) -> None:
    body = await get(client, path("user_id:u1", "external_ids") + "?include=user_id,email")
    assert [x["type"] for x in body["data"]] == ["email", "user_id"]


async def test_external_ids_cursor_is_the_next_map_id(client: Client) -> None:
    first = await get(client, path("user_id:u1", "external_ids") + "?limit=2")
    assert len(first["data"]) == 2
    assert first["cursor"]["next"].startswith("map_")
    assert len(first["cursor"]["next"]) == 31
    rest = await get(
        client, path("user_id:u1", "external_ids") + f"?limit=2&next={first['cursor']['next']}"
    )
    assert [x["id"] for x in rest["data"]] == ["u1@example.com", "u1"]


# -- events ----------------------------------------------------------------------------


async def test_events_newest_first_within_fourteen_days(client: Client) -> None:
    body = await get(client, path("user_id:u1", "events"))
    assert [e["event"] for e in body["data"]] == ["Order Completed", "Page Viewed", "Signed Up"]


async def test_events_sort_asc(client: Client) -> None:
    body = await get(client, path("user_id:u1", "events") + "?sort=asc")
    assert [e["event"] for e in body["data"]] == ["Signed Up", "Page Viewed", "Order Completed"]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("include=Page Viewed,Signed Up", ["Page Viewed", "Signed Up"]),
        ("exclude=Page Viewed", ["Order Completed", "Signed Up"]),
        ("start=2026-06-14", ["Order Completed", "Page Viewed"]),
        ("end=2026-06-14T12:00:00Z", ["Signed Up"]),
        ("start=2026-06-14T00:00:00Z&end=2026-06-15T09:00:00Z", ["Page Viewed"]),
        ("start=2020-01-01", ["Order Completed", "Page Viewed", "Signed Up"]),
    ],
)
async def test_event_filters(client: Client, query: str, names: list[str]) -> None:
    body = await get(client, path("user_id:u1", "events") + "?" + query)
    assert [e["event"] for e in body["data"]] == names


async def test_start_is_exclusive_as_the_reference_says(client: Client) -> None:
    # Source: the API reference, events query parameters: `start` "Returns all the events
    # that start after `start`", `end` "... that end before `end`". Page Viewed is stamped
    # exactly 2026-06-14T12:00:00Z: neither bound includes it.
    at = "2026-06-14T12:00:00Z"
    after = await get(client, path("user_id:u1", "events") + f"?start={at}")
    before = await get(client, path("user_id:u1", "events") + f"?end={at}")
    assert [e["event"] for e in after["data"]] == ["Order Completed"]
    assert [e["event"] for e in before["data"]] == ["Signed Up"]
    just_before = await get(client, path("user_id:u1", "events") + "?start=2026-06-14T11:59:59Z")
    assert [e["event"] for e in just_before["data"]] == ["Order Completed", "Page Viewed"]


async def test_no_events_in_range_is_data_null(client: Client) -> None:
    body = await get(client, path("user_id:quiet", "events"))
    assert body == {"data": None, "cursor": {"url": "", "has_more": False, "next": ""}}


async def test_events_cursor_is_base64_of_nanoseconds_and_message_id(client: Client) -> None:
    body = await get(client, path("user_id:u1", "events") + "?limit=1")
    decoded = base64.b64decode(body["cursor"]["next"]).decode()
    assert decoded == "1781438400000000000::m-page"
    following = await get(
        client, path("user_id:u1", "events") + f"?limit=1&next={body['cursor']['next']}"
    )
    assert following["data"][0]["message_id"] == "m-page"


async def test_event_body_shape(client: Client) -> None:
    body = await get(client, path("user_id:u1", "events") + "?include=Order Completed")
    metadata = await get(client, path("user_id:u1", "metadata"))
    event = body["data"][0]
    assert event == {
        # The ids the message carried (the reference: the message's own user_id and
        # cross_domain_id): a track call brings the user_id and anonymous_id.
        "external_ids": [
            {"collection": "users", "type": "user_id", "id": "u1", "encoding": "none"},
            {"collection": "users", "type": "anonymous_id", "id": "anon-b", "encoding": "none"},
        ],
        "context": {},
        "type": "track",
        "message_id": "m-order",
        "source_id": "src-default",
        "timestamp": "2026-06-15T10:00:00Z",
        "properties": {"total": 10},
        "event": "Order Completed",
        "related": {"users": metadata["segment_id"]},
    }


# -- metadata --------------------------------------------------------------------------


async def test_metadata_is_derived_from_the_profile(client: Client) -> None:
    body = await get(client, path("user_id:u1", "metadata"))
    assert body["segment_id"].startswith("use_")
    assert body["metadata"] == {
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-06-15T11:00:00Z",
        "expires_at": None,
        "first_message_id": "m-ancient",
        "first_source_id": "src-default",
        "last_message_id": "m-future",
        "last_source_id": "src-default",
    }


async def test_metadata_overrides_win(client: Client) -> None:
    body = await get(client, path("user_id:quiet", "metadata") + "?verbose=true")
    assert body["metadata"]["expires_at"] == "2027-01-01T00:00:00Z"
    assert body["metadata"]["first_source_id"] == "legacy"
    # No events: the message that brought its oldest id (derived, as its external id shows).
    ids = await get(client, path("user_id:quiet", "external_ids"))
    assert body["metadata"]["first_message_id"] == ids["data"][0]["first_message_id"]
    assert body["metadata"]["first_message_id"].startswith("pm-")


# -- links -----------------------------------------------------------------------------


async def test_links_go_both_ways(client: Client) -> None:
    user = await get(client, path("user_id:u1", "links"))
    assert [item["external_ids"][0]["id"] for item in user["data"]] == ["g1", "g2"]
    assert user["data"][1] == {
        "to_collection": "accounts",
        "external_ids": [
            {
                "id": "g2",
                "type": "group_id",
                "source_id": "crm",
                "collection": "accounts",
                "created_at": "2026-06-08T12:00:00Z",
                "encoding": "none",
            }
        ],
    }
    account = await get(client, path("group_id:g2", "links", "accounts"))
    assert account["data"][0]["to_collection"] == "users"
    assert {x["id"] for x in account["data"][0]["external_ids"]} >= {"u1", "anon-a"}


async def test_links_cursor_of_another_list_is_rejected(client: Client) -> None:
    page = await get(client, path("user_id:u1", "links") + "?limit=1")
    token = page["cursor"]["next"]
    assert page["cursor"]["has_more"] is True
    response = await client.get(
        path("group_id:g1", "links", "accounts") + f"?next={token}", headers=AUTH
    )
    assert response.status == 400


# -- list profiles -------------------------------------------------------------------------


async def test_list_profiles_by_most_recent_activity(client: Client) -> None:
    body = await get(client, "/v1/spaces/sp/collections/users/profiles")
    assert [p["external_ids"][-1]["id"] for p in body["data"]] == ["u1", "quiet"]
    accounts = await get(client, "/v1/spaces/sp/collections/accounts/profiles?limit=1")
    assert accounts["data"][0]["external_ids"][0]["id"] == "g1"
    assert accounts["cursor"]["has_more"] is True


# -- page sizes --------------------------------------------------------------------------


@pytest.fixture
async def crowded(aiohttp_client: ClientFactory, clock: Clock) -> Client:
    """A space with more of everything than any page holds: a user with 250 traits, 31
    external ids, 120 events and 30 linked accounts, among 120 users."""
    crowd = {
        "ids": {"user_id": "crowd", "anonymous_id": [f"anon-{i:02d}" for i in range(30)]},
        "traits": {f"t{i:03d}": i for i in range(250)},
        "events": [
            {"event": "E", "timestamp": f"-{i + 1}m", "message_id": f"m{i:03d}"} for i in range(120)
        ],
        "links": [f"group_id:g{i:02d}" for i in range(30)],
    }
    others = [{"ids": {"user_id": f"u{i:03d}"}} for i in range(119)]
    accounts = [{"ids": {"group_id": f"g{i:02d}"}} for i in range(30)]
    data = {"spaces": {"sp": {"tokens": ["tok"], "users": [crowd, *others], "accounts": accounts}}}
    return await aiohttp_client(create_app(load_data(data, clock), clock))


@pytest.mark.parametrize(
    ("route", "default", "largest", "accepted"),
    [
        pytest.param(path("user_id:crowd", "traits"), 10, 200, 200, id="traits"),
        pytest.param(path("user_id:crowd", "external_ids"), 25, 25, 100, id="external_ids"),
        pytest.param(path("user_id:crowd", "events"), 10, 100, 100, id="events"),
        pytest.param(path("user_id:crowd", "links"), 20, 20, 100, id="links"),
        pytest.param("/v1/spaces/sp/collections/users/profiles", 10, 100, 100, id="profiles"),
    ],
)
async def test_page_sizes_are_the_contracts_table(
    crowded: Client, route: str, default: int, largest: int, accepted: int
) -> None:
    """The contract's table as numbers (not read back from ``api.ENDPOINTS``): the default
    page, the largest page served (larger accepted limits are clamped to it) and the
    largest ``limit`` accepted without a 400."""

    async def page(query: str) -> tuple[int, bool]:
        body = await get(crowded, route + query)
        items = body["traits"] if "traits" in body else body["data"]
        return len(items), body["cursor"]["has_more"]

    assert await page("") == (default, True)
    assert await page(f"?limit={accepted}") == (largest, True)
    response = await crowded.get(route + f"?limit={accepted + 1}", headers=AUTH)
    assert response.status == 400
    message = (await response.json())["error"]["message"]
    assert f"between 1 and {accepted}, got `{accepted + 1}`" in message


async def test_a_profile_list_cursor_of_the_other_collection_is_rejected(client: Client) -> None:
    users = await get(client, "/v1/spaces/sp/collections/users/profiles?limit=1")
    token = users["cursor"]["next"]
    assert users["cursor"]["has_more"] is True
    response = await client.get(
        f"/v1/spaces/sp/collections/accounts/profiles?next={token}", headers=AUTH
    )
    assert response.status == 400
    assert (await response.json())["error"]["message"].startswith(
        f"The parameter `next` is not a valid cursor for this list: `{token}`."
    )
