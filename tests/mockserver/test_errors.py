"""Errors: the envelope, Request-Id and JSON on every answer, and the order of checks."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from profilemock.api import NOT_FOUND, RATE_LIMITED, UNAUTHENTICATED
from profilemock.mockserver.app import STATE
from profilemock.mockserver.lookup import in_the_other, in_the_other_collection
from tests.conftest import DEMO_SPACE, DEMO_TOKEN, Client, ServeYaml, basic, profile_path

AUTH = basic(DEMO_TOKEN)


def error(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


async def test_every_answer_is_json_with_a_request_id(demo_client: Client) -> None:
    ids = set()
    for path, headers in [
        (profile_path("user_id:u1234", "traits"), AUTH),
        (profile_path("user_id:nobody", "traits"), AUTH),
        (profile_path("user_id:u1234", "traits"), {}),
        ("/nowhere", {}),
    ]:
        response = await demo_client.get(path, headers=headers)
        assert response.headers["Content-Type"] == "application/json"
        request_id = response.headers["Request-Id"]
        assert re.fullmatch(r"[0-9a-f-]{36}", request_id)
        parsed = uuid.UUID(request_id)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        ids.add(response.headers["Request-Id"])
        await response.json()
    assert len(ids) == 4


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param(
            f"/v1/spaces/{DEMO_SPACE}/collections/users!/profiles/user_id:u1234/traits",
            "The parameter `collection` has invalid character(s) `!`",
            id="collection",
        ),
        pytest.param(
            f"/v1/spaces/{DEMO_SPACE}/collections/us$e!rs$/profiles/user_id:u1234/traits",
            "The parameter `collection` has invalid character(s) `$!`",
            id="collection-several-characters",
        ),
        pytest.param(
            profile_path("user%24id:u1234", "traits"),
            "The parameter `id_type` has invalid character(s) `$`",
            id="id-type",
        ),
        pytest.param(
            profile_path("user_id:", "traits"),
            "The parameter `id_value` cannot be empty",
            id="empty-value",
        ),
        pytest.param(
            profile_path(":u1234", "traits"),
            "The parameter `id_type` cannot be empty",
            id="empty-type",
        ),
    ],
)
async def test_bad_path_parameters_are_validation_errors(
    demo_client: Client, path: str, message: str
) -> None:
    response = await demo_client.get(path, headers=AUTH)
    assert response.status == 400
    assert await response.json() == error("validation_error", message)


async def test_reference_error_body_for_bad_collection(demo_client: Client) -> None:
    path = f"/v1/spaces/{DEMO_SPACE}/collections/users!/profiles/user_id:u1234/traits"
    response = await demo_client.get(path, headers=AUTH)
    assert await response.json() == error(
        "validation_error", "The parameter `collection` has invalid character(s) `!`"
    )


async def test_unknown_profile_is_the_reference_404(demo_client: Client) -> None:
    for resource in ("traits", "external_ids", "events", "metadata", "links"):
        response = await demo_client.get(profile_path("user_id:nobody", resource), headers=AUTH)
        assert response.status == 404
        assert await response.json() == error("not_found", "Profile was not found.")


async def test_well_formed_unknown_collection_is_404(demo_client: Client) -> None:
    response = await demo_client.get(
        profile_path("user_id:u1234", "traits", collection="groups"), headers=AUTH
    )
    assert response.status == 404
    assert await response.json() == error("not_found", "Profile was not found.")
    assert response.headers["Profilemock-Hint"] == (
        "no collection is called `groups`; collections are users, accounts"
    )


@pytest.mark.parametrize(
    ("identifier", "hint"),
    [
        ("userId:u1234", "Segment's id types are lowercase: ask for `user_id:u1234` (it exists)"),
        ("anonymousId:nobody", "Segment's id types are lowercase; did you mean `anonymous_id`?"),
        (  # both mistakes at once: the account's group_id asked for in users
            "groupId:12345",
            "Segment's id types are lowercase: `group_id:12345` is a profile in `accounts`,"
            " not `users`",
        ),
    ],
)
async def test_an_id_type_in_camel_case_is_told_segments_types_are_lowercase(
    demo_client: Client, identifier: str, hint: str
) -> None:
    # analytics.js's names (`userId`): a 404 with no word of why, as a near miss in case had.
    response = await demo_client.get(profile_path(identifier, "traits"), headers=AUTH)
    assert response.status == 404
    assert await response.json() == error("not_found", "Profile was not found.")
    assert response.headers["Profilemock-Hint"] == hint


def test_a_camel_case_hint_of_the_other_collection_is_no_wrong_collection_alone() -> None:
    # record's "record it with --collection accounts" and assert_called's "a call to the
    # wrong collection" would mend one of the two mistakes of `groupId:12345` in users.
    assert in_the_other_collection(in_the_other("group_id:12345", "users")) == "accounts"
    both = "Segment's id types are lowercase: " + in_the_other("group_id:12345", "users")
    assert in_the_other_collection(both) is None


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v1/spaces",
        f"/v1/spaces/{DEMO_SPACE}/collections/users/profiles/user_id:u1234/properties",
        f"/v1/spaces/{DEMO_SPACE}/collections/users/profiles/user_id:u1234/traits/extra",
        f"/v1/spaces/{DEMO_SPACE}/collections/users/profiles/user_id:u1234/traits/",
    ],
)
async def test_unknown_route_is_404_in_the_envelope(demo_client: Client, path: str) -> None:
    response = await demo_client.get(path, headers=AUTH)
    assert response.status == 404
    body = await response.json()
    assert body["error"]["code"] == "not_found"
    assert "routes are" in response.headers["Profilemock-Hint"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_wrong_method_is_405_with_allow(demo_client: Client, method: str) -> None:
    response = await demo_client.request(
        method, profile_path("user_id:u1234", "traits"), headers=AUTH
    )
    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD"
    body = await response.json()
    assert body["error"]["code"] == "method_not_allowed"


async def test_head_answers_like_get_without_a_body(demo_client: Client) -> None:
    response = await demo_client.head(profile_path("user_id:u1234", "traits"), headers=AUTH)
    assert response.status == 200
    assert await response.read() == b""


async def test_path_errors_come_before_query_errors(demo_client: Client) -> None:
    path = f"/v1/spaces/{DEMO_SPACE}/collections/users!/profiles/user_id:u1234/traits?limit=0"
    response = await demo_client.get(path, headers=AUTH)
    assert (await response.json())["error"]["code"] == "validation_error"


async def test_query_errors_come_before_lookup(demo_client: Client) -> None:
    response = await demo_client.get(
        profile_path("user_id:nobody", "traits") + "?limit=0", headers=AUTH
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("resource", "query", "message_part"),
    [
        ("traits", "limit=0", "`limit` must be an integer between 1 and 200, got `0`"),
        ("traits", "limit=201", "between 1 and 200"),
        ("traits", "limit=ten", "got `ten`"),
        ("traits", "limit=1_0", "got `1_0`"),
        ("traits", "limit=5&limit=6", "`limit` was given 2 times"),
        ("traits", "class=trait", "`class` must be `audience` or `computed_trait`, got `trait`"),
        (
            "traits",
            "verbose=yes",
            "`verbose` must be `true` or `false` (also read as a boolean, as the real API reads"
            " them: `1`, `t`, `T`, `TRUE`, `True`, `0`, `f`, `F`, `FALSE`, `False`), got `yes`",
        ),
        ("external_ids", "limit=101", "between 1 and 100"),
        ("external_ids", "verbose=maybe", "`verbose` must be"),
        ("events", "sort=newest", "`sort` must be `asc` or `desc`"),
        ("events", "start=yesterday", "`start` must be an ISO 8601"),
        ("events", "end=2024-13-01", "`end` must be an ISO 8601"),
        ("events", "start=2024-02-02&end=2024-02-01", "`start` (2024-02-02T00:00:00Z) is after"),
        ("events", "limit=101", "between 1 and 100"),
        ("events", "next=not-base64!", "`next` is not a valid cursor"),
        ("events", "next=aGVsbG8=", "`next` is not a valid cursor"),
        ("external_ids", "next=map_doesnotexist", "`next` is not a valid cursor"),
        ("links", "next=garbage", "`next` is not a valid cursor"),
        ("links", "limit=0", "between 1 and 100"),
        ("metadata", "verbose=2", "`verbose` must be"),
    ],
)
async def test_bad_query_parameters_are_invalid_request_errors(
    demo_client: Client, resource: str, query: str, message_part: str
) -> None:
    response = await demo_client.get(
        profile_path("user_id:u1234", resource) + "?" + query, headers=AUTH
    )
    assert response.status == 400
    body = await response.json()
    assert body["error"]["code"] == "invalid_request_error"
    assert message_part in body["error"]["message"]


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("start=2024-02-30", "; it is not a valid calendar date and time."),
        ("end=0999-12-31", "; it is outside the years 1000 to 9999"),
        ("start=2024-05-01T12:00:00%2B24:00", "; it has the UTC offset `+24:00`; offsets run"),
        ("start=2024-05-01T12:00:00+02:00", "; a `+` in a query string reads as a space: send it"),
        ("start=yesterday", "got `yesterday`."),
    ],
)
async def test_a_start_or_end_that_is_no_instant_says_why(
    demo_client: Client, query: str, why: str
) -> None:
    # Each answered only "must be an ISO 8601 date or datetime", which they all look like.
    response = await demo_client.get(
        f"{profile_path('user_id:u1234', 'events')}?{query}", headers=AUTH
    )
    assert response.status == 400
    message = (await response.json())["error"]["message"]
    assert message.startswith("The parameter `")
    assert why in message


async def test_list_route_rejects_a_bad_limit(demo_client: Client) -> None:
    response = await demo_client.get(
        f"/v1/spaces/{DEMO_SPACE}/collections/users/profiles?limit=500", headers=AUTH
    )
    assert response.status == 400
    assert "between 1 and 100" in (await response.json())["error"]["message"]


async def test_unknown_query_parameters_are_ignored(demo_client: Client) -> None:
    response = await demo_client.get(
        profile_path("user_id:u1234", "traits") + "?%3Acollection=users&utm_source=x", headers=AUTH
    )
    assert response.status == 200


async def test_server_failure_is_500_in_the_envelope_and_recorded(
    demo_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from profilemock.mockserver import resources
    from profilemock.mockserver.app import STATE

    def explode(req: object) -> dict[str, object]:
        raise RuntimeError("boom")

    monkeypatch.setitem(resources.RESOURCE_HANDLERS, "metadata", explode)
    response = await demo_client.get(profile_path("user_id:u1234", "metadata"), headers=AUTH)
    assert response.status == 500
    assert await response.json() == error(
        "internal_error", "profilemock failed: RuntimeError: boom"
    )
    assert "Request-Id" in response.headers
    errors = demo_client.app[STATE].errors
    assert [str(e) for e in errors] == ["boom"]


ORDER_FIXTURE = """
spaces:
  sp:
    tokens: [tok]
    rate_limit: {per_second: 1, burst: 1}
    users: [{ids: {user_id: u1}}]
  other:
    tokens: [other-tok]
    users: [{ids: {user_id: u1}}]
"""
SECOND = 1_000_000_000


async def test_combined_bad_inputs_get_the_first_failing_checks_error(
    serve_yaml: ServeYaml,
) -> None:
    """route -> auth (401) -> rate limit (429) -> path (400 validation_error) -> query (400
    invalid_request_error) -> lookup (404): a request wrong in every later way too gets the
    first failing check's answer, its body exactly the API's."""
    client = await serve_yaml(ORDER_FIXTURE)
    clock = client.app[STATE].clock
    everything_wrong = "/v1/spaces/nope/collections/us!ers/profiles/user_id:nobody/traits"

    async def answer(
        path: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, Any]:
        response = await client.request(method, path, headers=headers or {})
        assert response.headers["Content-Type"] == "application/json"
        assert "Request-Id" in response.headers
        return response.status, await response.json()

    # The route: a wrong method, then an unknown route, before any credentials are asked for.
    assert await answer(everything_wrong + "?next=%40%40", method="POST") == (
        405,
        error("method_not_allowed", "The method POST is not allowed on this route; use GET."),
    )
    assert await answer("/v1/spaces/nope/collections/us!ers/profiles/x/bogus?limit=0") == (
        404,
        error("not_found", "The requested route was not found."),
    )
    # Auth: none, a Bearer, a token of another space; an unknown space with a bad
    # collection and a bad cursor is still only a 401 (no space is revealed).
    unauthenticated = (401, error(*UNAUTHENTICATED))
    bad_everything = (
        "/v1/spaces/sp/collections/us!ers/profiles/user_id:nobody/traits?limit=0&next=%40"
    )
    assert await answer(everything_wrong + "?limit=0&next=%40") == unauthenticated
    assert await answer(bad_everything, {"Authorization": "Bearer tok"}) == unauthenticated
    assert await answer(bad_everything, basic("other-tok")) == unauthenticated
    assert await answer(everything_wrong, basic("tok")) == unauthenticated
    # A space id with characters no space id has is no space either: a 401, not the 400
    # the characters would earn once the space were known (auth comes first).
    bad_space = bad_everything.replace("/spaces/sp/", "/spaces/s!p/")
    assert await answer(bad_space, basic("tok")) == unauthenticated
    # The bucket holds one request (the 401s took none): a bad path and query is a
    # validation_error, and takes it; the same request again is rate limited first.
    validation = error(
        "validation_error", "The parameter `collection` has invalid character(s) `!`"
    )
    assert await answer(bad_everything, basic("tok")) == (400, validation)
    assert await answer(bad_everything, basic("tok")) == (429, error(*RATE_LIMITED))
    # Query before lookup: a bad query to an unknown collection and profile is a 400.
    clock.advance(SECOND)
    unknown = "/v1/spaces/sp/collections/groups/profiles/user_id:nobody/traits"
    assert await answer(unknown + "?limit=0&next=x", basic("tok")) == (
        400,
        error(
            "invalid_request_error",
            "The parameter `limit` must be an integer between 1 and 200, got `0`.",
        ),
    )
    clock.advance(SECOND)
    assert await answer(unknown + "?limit=5", basic("tok")) == (404, error(*NOT_FOUND))
    clock.advance(SECOND)
    assert await answer(unknown.replace("groups", "users"), basic("tok")) == (
        404,
        error(*NOT_FOUND),
    )
