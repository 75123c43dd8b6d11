"""The bundled demo answers the API reference's own examples, as a newcomer with curl sees them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import DEMO_TOKEN, Client, basic, profile_path

AUTH = basic(DEMO_TOKEN)
REFERENCE_QUICKSTART = json.loads(
    (Path(__file__).parent / "data" / "segdocs_traits_quickstart_200.json").read_text()
)


async def get(client: Client, path: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = await client.get(path, headers=AUTH)
    return response.status, await response.json()


async def test_quickstart_user_answers_the_reference_traits_page(demo_client: Client) -> None:
    status, body = await get(demo_client, profile_path("user_id:1413639574", "traits") + "?limit=8")
    assert status == 200
    assert list(body["traits"].items()) == list(REFERENCE_QUICKSTART["traits"].items())
    assert body["cursor"]["next"] == "browser"
    assert body["cursor"]["has_more"] is True
    assert body["cursor"]["limit"] == 8


async def test_quickstart_user_default_page_is_ten_traits(demo_client: Client) -> None:
    status, body = await get(demo_client, profile_path("user_id:1413639574", "traits"))
    assert status == 200
    assert len(body["traits"]) == 10
    assert body["cursor"]["limit"] == 10


async def test_reference_user_ids_are_found(demo_client: Client) -> None:
    for identifier in ("user_id:9800664881", "anonymous_id:a1234", "user_id:u1234"):
        status, _ = await get(demo_client, profile_path(identifier, "metadata"))
        assert status == 200, identifier
    _, by_anonymous = await get(demo_client, profile_path("anonymous_id:a1234", "metadata"))
    _, by_user = await get(demo_client, profile_path("user_id:u1234", "metadata"))
    assert by_anonymous["segment_id"] == by_user["segment_id"]


async def test_phone_number_is_found_with_encoded_plus_only(demo_client: Client) -> None:
    ok, _ = await get(demo_client, profile_path("phone_number:%2B5555550123", "traits"))
    missing, body = await get(demo_client, profile_path("phone_number:+5555550123", "traits"))
    assert ok == 200
    assert missing == 404
    assert body == {"error": {"code": "not_found", "message": "Profile was not found."}}


async def test_later_source_wins_first_name_and_verbose_shows_it(demo_client: Client) -> None:
    _, plain = await get(demo_client, profile_path("user_id:u1234", "traits"))
    assert plain["traits"]["first_name"] == "Bob"
    assert plain["traits"]["emails_opened_last_30_days"] == 33
    _, verbose = await get(demo_client, profile_path("user_id:u1234", "traits") + "?verbose=true")
    first_name = verbose["traits"]["first_name"]
    assert first_name["value"] == "Bob"
    assert first_name["source_id"] == "CRx5M9uk2p"
    assert set(first_name) == {"value", "source_id", "updated_at"}


async def test_trait_classes_differ(demo_client: Client) -> None:
    path = profile_path("user_id:9800664881", "traits")
    _, audiences = await get(demo_client, path + "?class=audience")
    _, computed = await get(demo_client, path + "?class=computed_trait")
    assert audiences["traits"] == {"churn_risk": False, "high_value_user": True}
    assert computed["traits"] == {"favorite_blog_category": "engineering", "lifetime_orders": 12}


async def test_busy_user_has_pages_of_external_ids_and_events(demo_client: Client) -> None:
    _, ids = await get(demo_client, profile_path("user_id:5550000001", "external_ids"))
    assert len(ids["data"]) == 25
    assert ids["cursor"]["has_more"] is True
    assert ids["cursor"]["next"].startswith("map_")
    _, events = await get(demo_client, profile_path("user_id:5550000001", "events") + "?limit=100")
    assert len(events["data"]) == 45
    assert events["cursor"]["has_more"] is False


async def test_account_links_to_users_and_user_links_to_reference_accounts(
    demo_client: Client,
) -> None:
    _, user_links = await get(demo_client, profile_path("user_id:9800664881", "links"))
    linked = [item["external_ids"][0]["id"] for item in user_links["data"]]
    assert linked == ["ADGCJE3Y8H", "ghdctIwnA"]
    assert all(item["to_collection"] == "accounts" for item in user_links["data"])
    path = profile_path("group_id:12345", "links", collection="accounts")
    _, account_links = await get(demo_client, path)
    assert len(account_links["data"]) == 20
    assert account_links["cursor"]["has_more"] is True
    assert {item["to_collection"] for item in account_links["data"]} == {"users"}


async def test_page_viewed_event_has_the_reference_shape(demo_client: Client) -> None:
    reference = json.loads((Path(__file__).parent / "data" / "segdocs_events_200.json").read_text())
    expected = reference["data"][0]
    _, body = await get(
        demo_client, profile_path("user_id:9800664881", "events") + "?include=Page Viewed"
    )
    event = body["data"][0]
    assert set(event) == set(expected)
    assert event["context"] == expected["context"]
    assert event["properties"] == expected["properties"]
    assert event["message_id"] == expected["message_id"]
    _, metadata = await get(demo_client, profile_path("user_id:9800664881", "metadata"))
    assert event["related"] == {"users": metadata["segment_id"]}


async def test_account_profiles_answer_every_route(demo_client: Client) -> None:
    for resource in ("traits", "external_ids", "events", "metadata", "links"):
        path = profile_path("group_id:12345", resource, collection="accounts")
        status, _ = await get(demo_client, path)
        assert status == 200, resource
    _, traits = await get(
        demo_client,
        profile_path("group_id:12345", "traits", collection="accounts") + "?class=audience",
    )
    assert traits["traits"] == {"enterprise_accounts": True}
    _, metadata = await get(
        demo_client, profile_path("group_id:12345", "metadata", collection="accounts")
    )
    assert metadata["segment_id"].startswith("acc_")


async def test_eu_host_speaks_the_same_api(demo_client: Client) -> None:
    headers = {**AUTH, "Host": "profiles.euw1.segment.com"}
    response = await demo_client.get(profile_path("user_id:1413639574", "traits"), headers=headers)
    body = await response.json()
    assert response.status == 200
    assert body["cursor"]["url"].startswith(
        "http://profiles.euw1.segment.com/v1/spaces/lg8283283/collections/users/profiles/user_id:1413639574/traits?"
    )
