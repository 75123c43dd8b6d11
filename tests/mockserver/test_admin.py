"""The admin API: every endpoint, and a clear error for every bad input."""

from __future__ import annotations

from typing import Any

import pytest

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.state import ServerSettings
from tests.conftest import DEMO_TOKEN, NOW, Client, ClientFactory, basic, profile_path

AUTH = basic(DEMO_TOKEN)
ADMIN = "/__admin"
USERS = f"{ADMIN}/spaces/lg8283283/collections/users/profiles"


@pytest.fixture
async def client(aiohttp_client: ClientFactory) -> Client:
    clock = Clock(NOW)
    settings = ServerSettings(faults=[{"id": "configured", "route": "profiles", "status": 503}])
    return await aiohttp_client(
        create_app(load_fixtures([demo_fixture_path()], clock), clock, settings)
    )


async def call(
    client: Client,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: str | None = None,
    expect: int = 200,
) -> Any:
    kwargs: dict[str, Any] = {}
    if raw is not None:
        kwargs["data"] = raw
        kwargs["headers"] = {"Content-Type": "application/json"}
    elif body is not None:
        kwargs["json"] = body
    response = await client.request(method, path, **kwargs)
    payload = await response.json()
    assert response.status == expect, payload
    assert response.headers["Content-Type"] == "application/json"
    return payload


async def api(client: Client, identifier: str, resource: str, collection: str = "users") -> Any:
    response = await client.get(
        profile_path(identifier, resource, collection=collection), headers=AUTH
    )
    return response.status, await response.json()


async def linked_ids(client: Client, account: str) -> list[str]:
    """Every external id of every linked user, following the links cursor."""
    ids: list[str] = []
    url = profile_path(account, "links", collection="accounts")
    while url:
        response = await client.get(url, headers=AUTH)
        body = await response.json()
        ids += [x["id"] for item in body["data"] for x in item["external_ids"]]
        url = body["cursor"]["url"].split(str(client.make_url("")).rstrip("/"), 1)[-1]
    return ids


async def test_health(client: Client) -> None:
    body = await call(client, "GET", f"{ADMIN}/health")
    assert body["status"] == "ok"
    assert body["spaces"] == ["lg8283283"]
    assert body["faults"] == 1
    assert body["clock"] == {
        "now": "2026-06-15T12:00:00Z",
        "now_ns": NOW,
        "frozen": True,
        "pinned": False,
    }


async def test_faults_list_add_delete_clear(client: Client) -> None:
    assert [f["id"] for f in (await call(client, "GET", f"{ADMIN}/faults"))["faults"]] == [
        "configured"
    ]
    added = await call(
        client,
        "POST",
        f"{ADMIN}/faults",
        {"route": "traits", "status": 500, "times": 1},
        expect=201,
    )
    assert added["fault"] == {
        "id": "fault-2",
        "route": "traits",
        "status": 500,
        "times": 1,
        "optional": False,
        "matched": 0,
        "fired": 0,
    }
    spec = await call(
        client, "POST", f"{ADMIN}/faults", {"spec": "events:reset:times=1"}, expect=201
    )
    assert spec["fault"]["fault"] == "reset"
    assert (await api(client, "user_id:u1234", "traits"))[0] == 500
    listed = (await call(client, "GET", f"{ADMIN}/faults"))["faults"]
    assert listed[1]["fired"] == 1
    assert await call(client, "DELETE", f"{ADMIN}/faults/fault-2") == {"deleted": "fault-2"}
    await call(client, "DELETE", f"{ADMIN}/faults/fault-2", expect=404)
    assert await call(client, "DELETE", f"{ADMIN}/faults") == {"deleted": 2}
    listing = await client.get("/v1/spaces/lg8283283/collections/users/profiles", headers=AUTH)
    assert listing.status == 200


async def test_optional_is_a_field_of_a_rule_the_admin_api_takes_and_lists(
    client: Client,
) -> None:
    """A guard for a call the code may not make, armed as a rule or a spec, and listed."""
    await call(client, "POST", f"{ADMIN}/faults", {"route": "traits", "status": 500,
               "optional": True}, expect=201)  # fmt: skip
    spec = await call(
        client, "POST", f"{ADMIN}/faults", {"spec": "events:503:optional=true"}, expect=201
    )
    assert spec["fault"]["optional"] is True
    listed = (await call(client, "GET", f"{ADMIN}/faults"))["faults"]
    assert [(rule["id"], rule["optional"]) for rule in listed] == [
        ("configured", False),
        ("fault-2", True),
        ("fault-3", True),
    ]
    assert [rule.optional for rule in client.app[STATE].faults] == [False, True, True]
    for bad, message in (
        ({"status": 500, "optional": "yes"}, 'body field `/optional`: "yes" is not true or false'),
        ({"spec": "events:503:optional=yes"}, 'body field `/spec`: "events:503:optional=yes"'),
    ):
        error = await call(client, "POST", f"{ADMIN}/faults", bad, expect=400)
        assert message in error["error"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"route": "trait", "status": 500}, 400, 'body field `/route`: "trait" is not one of'),
        (
            {"status": 500, "probability": 1.5},
            400,
            "body field `/probability`: 1.5 is greater than the maximum of 1",
        ),
        (
            {"status": 500, "colour": "red"},
            400,
            "body field `/colour`: unknown field `colour`; allowed here: after, body,",
        ),
        ({"route": "traits"}, 400, "the body: give `status`, `latency` or `fault`"),
        ({"status": 500, "fault": "reset"}, 400, "`status` and `fault` cannot be combined"),
        (
            {"latency": "quick"},
            400,
            'body field `/latency`: "quick" is not allowed here; expected a duration',
        ),
        ({"status": 500, "headers": {"Host": "x"}}, 400, "body field `/headers/Host`: field"),
        # Each named as the schema's refusals name a field (was "fault rule: `latency` may
        # last at most 300s", "fault rule field `space`: …").
        ({"latency": "301s"}, 422, "body field `/latency`: may last at most 300s"),
        (
            {"latency": {"min": "2s", "max": "1s"}},
            422,
            "body field `/latency/min`: must not be above `latency.max`",
        ),
        ({"id": "configured", "status": 500}, 409, "a fault rule with id `configured` exists"),
        # A 3xx with no Location: an error body and nowhere to go.
        (
            {"route": "traits", "status": 302},
            400,
            "the body: a redirect (301, 302, 303, 307, 308) without a `Location` is not a"
            " redirect: give where it leads, as `headers: {Location: ...}`",
        ),
        # A rule no request could ever match was armed: only a test's end said so.
        (
            {"status": 503, "space": "nope*"},
            422,
            "body field `/space`: `nope*` matches no space of the fixtures; spaces are",
        ),
        (
            {"status": 503, "collection": "user"},
            422,
            "body field `/collection`: `user` matches no collection; collections are"
            " users, accounts; did you mean `users`?",
        ),
        # Was the grammar's whole description, whatever part of the spec was wrong (the
        # explorer's fault box shows it).
        (
            {"spec": "traits:42"},
            400,
            'body field `/spec`: "traits:42" is not a --fault spec: `42` is not a status',
        ),
        (
            # Was the grammar's whole description: the spec's reading took any three digits.
            {"spec": "traits:999"},
            400,
            'body field `/spec`: "traits:999" is not a --fault spec: `999` is not a status:'
            " statuses are 200 to 599, such as 503",
        ),
        (
            {"spec": "user_id:u1234"},
            400,
            'body field `/spec`: "user_id:u1234" is not a --fault spec: no route is called'
            " `user_id`; routes are *, traits,",
        ),
        (
            # Of a spec the pattern takes: said "--fault `traits:hang=5s`: …", of no
            # command line.
            {"spec": "traits:hang=5s"},
            422,
            'body field `/spec`: "traits:hang=5s" is not a --fault spec: `hang=5s` is how long'
            " a `hang` fault holds the request; give the fault too: traits:hang:hang=5s",
        ),
        # A spec's rule is named as the rule (its fields are no fields of the body).
        ({"spec": "traits:503:reset"}, 422, "fault rule: `status` and `fault` cannot be combined"),
        (
            {"spec": "traits:503:collection=user"},
            422,
            "fault rule field `collection`: `user` matches no collection",
        ),
        ({"spec": "traits:503:id=configured"}, 409, "with id `configured` exists already"),
        (
            {"spec": "traits:429", "status": 500},
            400,
            "the body: `spec` cannot be combined with other fields (the spec gives them all,",
        ),
        ({"spec": "traits:429", "optional": True}, 400, "`spec` cannot be combined"),
        ([1, 2], 400, "the body: [1, 2] is not an object"),
        # Python's `$` matched before the last newline: the rule was taken, and each answer
        # it fired on broke in aiohttp ("Forbidden control character"), no answer sent.
        (
            {"route": "traits", "status": 429, "headers": {"Retry-After": "2\n"}},
            400,
            "body field `/headers/Retry-After`: must be a string (a number as text",
        ),
    ],
)
async def test_bad_fault_rules_say_which_field_and_what_is_allowed(
    client: Client, body: Any, status: int, message: str
) -> None:
    """400: the body breaks the route's schema; 422: the schema allows it, the rule cannot
    be (what no schema can say); 409: the id is taken."""
    error = await call(client, "POST", f"{ADMIN}/faults", body, expect=status)
    assert error["error"]["code"] == ("conflict" if status == 409 else "invalid_request_error")
    assert message in error["error"]["message"]
    assert [rule.id for rule in client.app[STATE].faults] == ["configured"]


async def test_a_whole_number_written_3_0_is_an_integer(client: Client) -> None:
    """JSON Schema counts 3.0 as an integer, so the admin API does: it is 3."""
    rule = await call(
        client, "POST", f"{ADMIN}/faults", {"status": 503.0, "times": 2.0}, expect=201
    )
    assert (rule["fault"]["status"], rule["fault"]["times"]) == (503, 2)
    events = {
        "events": [{"event": "A", "timestamp": "-1d", "repeat": {"count": 3.0, "every": "1h"}}]
    }
    added = await call(client, "POST", f"{USERS}/user_id:u1234/events", events, expect=201)
    assert len(added["appended"]) == 3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "query parameter `limit`: 0 is less than the minimum of 1"),
        ("status=abc", 'query parameter `status`: "abc" is not an integer'),
        ("status=-1", "query parameter `status`: -1 is less than the minimum of 100"),
        # Each matched no request, quietly, as `space=` from a variable that is not set.
        ("status=0", "query parameter `status`: 0 is less than the minimum of 100"),
        ("status=600", "query parameter `status`: 600 is greater than the maximum of 599"),
        ("space=", "query parameter `space`: an empty string is not allowed here"),
        ("identifier=", "query parameter `identifier`: an empty string is not allowed here"),
        ("fault=", "query parameter `fault`: an empty string is not allowed here"),
        ("limit=1&limit=2", "query parameter `limit` is given 2 times; give it once"),
        ("colour=red", "unknown query parameter `colour`; parameters are auth, collection,"),
        # Each matched no request, quietly: a test filtering on it passed on nothing.
        (
            "method=get",
            'query parameter `method`: "get" is not allowed here; expected a method in capitals',
        ),
        (
            "auth=foo",
            "query parameter `auth`: no auth scheme is called `foo`; auth schemes are basic,",
        ),
    ],
)
async def test_query_parameters_are_held_to_their_schema(
    client: Client, query: str, message: str
) -> None:
    error = await call(client, "GET", f"{ADMIN}/requests?{query}", expect=400)
    assert error["error"]["message"].startswith(message)


async def test_a_query_number_of_more_digits_than_python_reads_is_a_400(client: Client) -> None:
    # int() refuses 4,300 digits and more: the journal's `limit` so long answered 500.
    error = await call(client, "GET", f"{ADMIN}/requests?limit={'1' * 5000}", expect=400)
    assert error["error"]["message"] == (
        "query parameter `limit`: a whole number of 5000 digits is longer than the 4300"
        " digits a number may have"
    )
    # Leading zeros are no digits of the number.
    await call(client, "GET", f"{ADMIN}/requests?limit={'0' * 5000}2")


async def test_not_json_is_a_clear_error(client: Client) -> None:
    error = await call(client, "POST", f"{ADMIN}/faults", raw="{oops", expect=400)
    assert (
        error["error"]["message"]
        == "the request body is not JSON: Expecting property name enclosed in double quotes at line 1 column 2"
    )
    error = await call(client, "POST", f"{ADMIN}/faults", raw="", expect=400)
    assert error["error"]["message"] == "the request needs a JSON body"


async def test_requests_journal_filters_and_clear(client: Client) -> None:
    await api(client, "user_id:u1234", "traits")
    await api(client, "user_id:nobody", "traits")
    await client.get(
        profile_path("user_id:u1234", "metadata"), headers={"Authorization": "Bearer demo-token"}
    )
    everything = await call(client, "GET", f"{ADMIN}/requests")
    assert everything["total"] == 3
    latest = await call(client, "GET", f"{ADMIN}/requests?limit=1")
    assert [e["route"] for e in latest["requests"]] == ["metadata"]
    assert latest["total"] == 3  # every match is counted; limit keeps the latest
    first = everything["requests"][0]
    assert first["route"] == "traits"
    assert first["identifier"] == "user_id:u1234"
    assert first["status"] == 200
    assert first["auth"] == "basic"
    assert first["time"] == "2026-06-15T12:00:00Z"
    assert "demo-token" not in str(everything)
    assert (await call(client, "GET", f"{ADMIN}/requests?status=404"))["requests"][0][
        "identifier"
    ] == "user_id:nobody"
    assert (await call(client, "GET", f"{ADMIN}/requests?auth=bearer"))["requests"][0][
        "status"
    ] == 401
    assert (await call(client, "GET", f"{ADMIN}/requests?route=traits&limit=1"))["requests"][0][
        "identifier"
    ] == "user_id:nobody"
    await call(client, "GET", f"{ADMIN}/requests?status=ok", expect=400)
    await call(client, "GET", f"{ADMIN}/requests?limit=0", expect=400)
    error = await call(client, "GET", f"{ADMIN}/requests?colour=red", expect=400)
    assert "unknown query parameter `colour`; parameters are auth," in error["error"]["message"]
    assert await call(client, "DELETE", f"{ADMIN}/requests") == {"deleted": 3}
    assert (await call(client, "GET", f"{ADMIN}/requests"))["total"] == 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param(
            "route=trait",
            "query parameter `route`: no route is called `trait`; routes are traits,"
            " external_ids, events, metadata, links, profiles; did you mean `traits`?",
            id="route",
        ),
        pytest.param(
            "collection=user&route=traits",
            "query parameter `collection`: no collection is called `user`; collections are"
            " users, accounts; did you mean `users`?",
            id="collection",
        ),
    ],
)
async def test_a_journal_filter_no_request_can_match_is_refused(
    client: Client, query: str, message: str
) -> None:
    # It answered an empty list, as if no such request had been made.
    await api(client, "user_id:u1234", "traits")
    error = await call(client, "GET", f"{ADMIN}/requests?{query}", expect=400)
    assert error["error"]["message"] == message


async def test_upsert_adds_a_profile_in_the_fixture_format(client: Client) -> None:
    created = await call(
        client,
        "PUT",
        USERS,
        {
            "ids": {"user_id": "new-1", "email": "n@example.com"},
            "traits": {"plan": "gold"},
            "events": [{"event": "Signed Up", "timestamp": "-1h"}],
            "links": ["group_id:12345"],
        },
        expect=201,
    )
    assert (created["created"], created["warnings"]) == (True, [])
    status, traits = await api(client, "email:n@example.com", "traits")
    assert (status, traits["traits"]) == (200, {"plan": "gold"})
    _, events = await api(client, "user_id:new-1", "events")
    assert [e["event"] for e in events["data"]] == ["Signed Up"]
    _, links = await api(client, "user_id:new-1", "links")
    assert links["data"][0]["external_ids"][0]["id"] == "12345"
    linked = await linked_ids(client, "group_id:12345")
    assert {"new-1", "n@example.com", "emp-20", "u1234"} <= set(linked)


async def test_upsert_says_what_a_fixture_file_would_warn_of(client: Client) -> None:
    # A file's check warns of these; a profile given through the admin API was served
    # otherwise than written without a word.
    created = await call(
        client,
        "PUT",
        USERS,
        {"ids": {"email": "Mixed@Example.com"}, "created_at": "-1d", "updated_at": "-2d"},
        expect=201,
    )
    assert created["warnings"] == [
        "/updated_at: `updated_at` (2026-06-13T12:00:00Z) is before `created_at`"
        " (2026-06-14T12:00:00Z)",
        "/ids/email: `email` ids are stored in lowercase, as Segment stores them: this one is"
        " served as `mixed@example.com`, and a query for `Mixed@Example.com` answers 404",
    ]


async def test_appended_events_say_what_a_fixture_file_would_warn_of(client: Client) -> None:
    # The profile's own ids were warned of when it was given; its events' were not.
    await call(client, "PUT", USERS, {"ids": {"user_id": "w1"}}, expect=201)
    appended = await call(
        client,
        "POST",
        f"{USERS}/user_id:w1/events",
        {"events": [{"event": "E", "timestamp": "-1h", "external_ids": {"email": ["Q@X.COM"]}}]},
        expect=201,
    )
    assert appended["warnings"] == [
        "/events/0/external_ids/email/0: `email` ids are stored in lowercase, as Segment"
        " stores them: this one is served as `q@x.com`, and a query for `Q@X.COM` answers 404"
    ]
    quiet = await call(
        client,
        "POST",
        f"{USERS}/user_id:w1/events",
        {"events": [{"event": "F", "timestamp": "-1h"}]},
        expect=201,
    )
    assert quiet["warnings"] == []


async def test_profiles_added_alone_never_share_a_message_id(client: Client) -> None:
    # A profile added through the admin API has no place in a fixture file to hash its
    # unnamed events' ids from: every such profile's first event was `pm-a4ca780d…`.
    for user in ("alone-1", "alone-2"):
        events = [{"event": "Signed Up", "timestamp": "-1h"}, {"event": "Seen", "timestamp": "-2h"}]
        await call(client, "PUT", USERS, {"ids": {"user_id": user}, "events": events}, expect=201)
    ids = []
    for user in ("alone-1", "alone-2"):
        _, events = await api(client, f"user_id:{user}", "events")
        ids += [e["message_id"] for e in events["data"]]
    assert len(set(ids)) == 4, ids
    # The same profile put again keeps its ids: they follow from its data alone.
    await call(
        client,
        "PUT",
        USERS,
        {"ids": {"user_id": "alone-1"}, "events": [{"event": "Signed Up", "timestamp": "-1h"}]},
    )
    _, events = await api(client, "user_id:alone-1", "events")
    assert events["data"][0]["message_id"] == ids[0]


async def test_upsert_replaces_the_profile_with_the_same_id_and_keeps_links(
    client: Client,
) -> None:
    _, before = await api(client, "user_id:9800664881", "metadata")
    replaced = await call(
        client, "PUT", USERS, {"ids": {"user_id": "9800664881"}, "traits": {"plan": "free"}}
    )
    assert replaced == {"segment_id": before["segment_id"], "created": False, "warnings": []}
    _, traits = await api(client, "user_id:9800664881", "traits")
    assert traits["traits"] == {"plan": "free"}
    assert (await api(client, "phone_number:%2B5555550123", "traits"))[0] == 404
    _, links = await api(client, "user_id:9800664881", "links")
    assert [i["external_ids"][0]["id"] for i in links["data"]] == ["ADGCJE3Y8H", "ghdctIwnA"]
    await call(client, "PUT", USERS, {"ids": {"user_id": "9800664881"}, "links": []})
    _, links = await api(client, "user_id:9800664881", "links")
    assert links["data"] == []
    _, account = await api(client, "group_id:ADGCJE3Y8H", "links", "accounts")
    assert account["data"] == []


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"ids": {"user_id": "x"}, "traitz": {}},
            400,
            "body field `/traitz`: unknown field `traitz`; allowed here: audiences,",
        ),
        (
            {"ids": {"user_id": "x"}, "created_at": "soon"},
            400,
            'body field `/created_at`: "soon" is not allowed here',
        ),
        (
            {"ids": {"user_id": "x"}, "created_at": "0999-01-01"},
            422,
            "outside the years 1000 to 9999",
        ),
        (
            {"ids": {"user_id": "x"}, "links": ["group_id:nope"]},
            422,
            "`links` names `group_id:nope`, but no profile in `accounts` has that id",
        ),
        (
            {"ids": {"user_id": "u1234", "email": "x@y"}, "segment_id": "use_other"},
            409,
            "external id `user_id:u1234` already belongs to profile",
        ),
        (
            {"ids": {"user_id": "u1234", "anonymous_id": "anon-01"}},
            409,
            "these ids belong to 2 different profiles",
        ),
        ([], 400, "the body: [] is not an object"),
    ],
)
async def test_bad_upserts_change_nothing(
    client: Client, body: Any, status: int, message: str
) -> None:
    error = await call(client, "PUT", USERS, body, expect=status)
    assert message in error["error"]["message"]
    assert (await api(client, "user_id:x", "traits"))[0] == 404
    assert client.app[STATE].store.spaces["lg8283283"].changed is False


async def test_delete_profile(client: Client) -> None:
    assert (await call(client, "DELETE", f"{USERS}/user_id:u1234"))["deleted"].startswith("use_")
    assert (await api(client, "anonymous_id:a1234", "traits"))[0] == 404
    await call(client, "DELETE", f"{USERS}/user_id:u1234", expect=404)
    linked = await linked_ids(client, "group_id:12345")
    assert "emp-01" in linked
    assert "u1234" not in linked


@pytest.mark.parametrize(("method", "suffix"), [("DELETE", ""), ("POST", "/events")])
async def test_a_bare_value_for_a_profile_says_to_give_its_type(
    client: Client, method: str, suffix: str
) -> None:
    # Was "no profile `u1234` in `users` of space `lg8283283`" only, as if it did not exist.
    body = {"events": [{"event": "X", "timestamp": "-1m"}]} if suffix else None
    error = await call(client, method, f"{USERS}/u1234{suffix}", body, expect=404)
    assert error["error"]["message"] == (
        "no profile `u1234` in `users` of space `lg8283283`; `u1234` has no `type:`; use"
        " `type:value` such as user_id:u1234 (a bare value only matches a segment id)"
    )


async def test_one_event_sent_without_its_list_says_how_events_are_sent(client: Client) -> None:
    # Was "the body: {…} is not a list", naming neither `{"events": [...]}` nor the format.
    event = {"event": "Product Viewed", "timestamp": "-5m"}
    error = await call(client, "POST", f"{USERS}/user_id:u1234/events", event, expect=400)
    assert error["error"]["message"].endswith(
        'is not valid here; expected `{"events": [...]}`, or the list alone, each event in the'
        ' fixture format (such as `{"event": "Product Viewed", "timestamp": "-5m"}`)'
    )


async def test_append_events(client: Client) -> None:
    body = await call(
        client,
        "POST",
        f"{USERS}/user_id:u1234/events",
        {
            "events": [
                {"event": "Cart Viewed", "timestamp": "-1m", "message_id": "m-cart"},
                {"event": "Ping", "timestamp": "-2m"},
            ]
        },
        expect=201,
    )
    assert "m-cart" in body["appended"]
    assert len(body["appended"]) == 2
    _, events = await api(client, "user_id:u1234", "events")
    assert [e["event"] for e in events["data"]][:2] == ["Cart Viewed", "Ping"]
    _, metadata = await api(client, "user_id:u1234", "metadata")
    assert metadata["metadata"]["last_message_id"] == "m-cart"
    # u1234's fixture fixes `updated_at: -1h`: an appended event leaves it, as loading the
    # fixture with that event would.
    assert metadata["metadata"]["updated_at"] == "2026-06-15T11:00:00Z"
    again = await call(
        client,
        "POST",
        f"{USERS}/user_id:u1234/events",
        [{"event": "Again", "timestamp": "-1m", "message_id": "m-cart"}],
        expect=409,
    )
    assert "m-cart" in again["error"]["message"]
    await call(client, "POST", f"{USERS}/user_id:u1234/events", {"events": []}, expect=400)
    await call(client, "POST", f"{USERS}/user_id:u1234/events", [{"timestamp": "-1m"}], expect=400)
    await call(
        client,
        "POST",
        f"{USERS}/user_id:nobody/events",
        [{"event": "x", "timestamp": "-1m"}],
        expect=404,
    )


async def test_unknown_space_and_collection(client: Client) -> None:
    error = await call(
        client,
        "PUT",
        f"{ADMIN}/spaces/nope/collections/users/profiles",
        {"ids": {"user_id": "x"}},
        expect=404,
    )
    assert error["error"]["message"] == "no space `nope`; spaces are lg8283283"
    error = await call(
        client,
        "PUT",
        f"{ADMIN}/spaces/lg8283283/collections/groups/profiles",
        {"ids": {"user_id": "x"}},
        expect=404,
    )
    assert error["error"]["message"] == (
        "no collection is called `groups`; collections are users, accounts"
    )


async def test_clock_get_freeze_advance_resume(client: Client) -> None:
    assert (await call(client, "GET", f"{ADMIN}/clock"))["now"] == "2026-06-15T12:00:00Z"
    assert (await call(client, "POST", f"{ADMIN}/clock/advance", {"by": "1d"}))[
        "now"
    ] == "2026-06-16T12:00:00Z"
    assert (await call(client, "POST", f"{ADMIN}/clock/freeze", {"at": "2026-01-01T00:00:00Z"}))[
        "now"
    ] == "2026-01-01T00:00:00Z"
    assert (await call(client, "POST", f"{ADMIN}/clock/freeze", {"at": "-1d"}))[
        "now"
    ] == "2025-12-31T00:00:00Z"
    resumed = await call(client, "POST", f"{ADMIN}/clock/resume")
    assert resumed["frozen"] is False
    assert (await call(client, "POST", f"{ADMIN}/clock/freeze"))["frozen"] is True
    error = await call(client, "POST", f"{ADMIN}/clock/advance", {"by": "a while"}, expect=400)
    assert error["error"]["message"] == (
        'body field `/by`: "a while" is not allowed here; expected a duration such as 30m, 6h'
        " or 1d12h."
    )
    await call(client, "POST", f"{ADMIN}/clock/freeze", {"at": "someday"}, expect=400)
    error = await call(client, "POST", f"{ADMIN}/clock/freeze", {"at": "2026-02-30"}, expect=422)
    # As the schema's refusals name a field (was "`at`: …").
    assert error["error"]["message"] == (
        "body field `/at`: `2026-02-30` is not a valid calendar date and time"
    )
    await call(client, "POST", f"{ADMIN}/clock/freeze", {"when": "now"}, expect=400)


async def test_advancing_the_clock_back_says_it_only_moves_forward_and_how_to_set_it_back(
    client: Client,
) -> None:
    # It said "expected a duration such as 30m, 6h or 1d12h.", of a duration.
    error = await call(client, "POST", f"{ADMIN}/clock/advance", {"by": "-1d"}, expect=400)
    assert error["error"]["message"] == (
        'body field `/by`: "-1d" would move the clock back; it only moves forward. To set it'
        ' back, freeze or pin it at an earlier time: POST /__admin/clock/freeze {"at": "-1d"}'
    )
    back = await call(client, "POST", f"{ADMIN}/clock/freeze", {"at": "-1d"})
    assert back["now"] == "2026-06-14T12:00:00Z"
    error = await call(client, "POST", f"{ADMIN}/clock/advance", {"by": "-soon"}, expect=400)
    assert error["error"]["message"].endswith("expected a duration such as 30m, 6h or 1d12h.")


async def test_a_frozen_clock_can_be_pinned_again(client: Client) -> None:
    """After a freeze, a frontend developer's fake got its date pinned (as --now pins it,
    the rate limit refilling) back only by a reset, which drops the data changed since."""
    frozen = await call(client, "POST", f"{ADMIN}/clock/freeze")
    assert (frozen["frozen"], frozen["pinned"]) == (True, False)
    pinned = await call(client, "POST", f"{ADMIN}/clock/pin")
    assert (pinned["now"], pinned["frozen"], pinned["pinned"]) == (frozen["now"], True, True)
    assert client.app[STATE].clock.pinned
    moved = await call(client, "POST", f"{ADMIN}/clock/pin", {"at": "2030-01-01T00:00:00Z"})
    assert (moved["now"], moved["pinned"]) == ("2030-01-01T00:00:00Z", True)
    await call(client, "POST", f"{ADMIN}/clock/pin", {"at": "2026-02-30"}, expect=422)
    await call(client, "POST", f"{ADMIN}/clock/pin", {"when": "now"}, expect=400)


async def test_advancing_the_clock_beyond_year_9999_is_a_422(client: Client) -> None:
    """The body is what the schema allows (a duration): the clock is what refuses it."""
    error = await call(client, "POST", f"{ADMIN}/clock/advance", {"by": "99999999999w"}, expect=422)
    assert error["error"]["message"].startswith("body field `/by`: ")
    assert "years 1000 to 9999" in error["error"]["message"]
    assert (await call(client, "GET", f"{ADMIN}/clock"))["now"] == "2026-06-15T12:00:00Z"
    await call(client, "POST", f"{ADMIN}/clock/freeze", {"at": "+99999999999w"}, expect=422)
    assert (await call(client, "GET", f"{ADMIN}/clock"))["now"] == "2026-06-15T12:00:00Z"


async def test_events_window_follows_the_clock(client: Client) -> None:
    _, before = await api(client, "user_id:5550000001", "events?limit=100")
    assert len(before["data"]) == 45
    await call(client, "POST", f"{ADMIN}/clock/advance", {"by": "7d"})
    _, after = await api(client, "user_id:5550000001", "events?limit=100")
    assert 0 < len(after["data"]) < 45


async def test_spaces_and_rate_limit(client: Client) -> None:
    listed = await call(client, "GET", f"{ADMIN}/spaces")
    assert listed["spaces"] == [
        {
            "id": "lg8283283",
            "tokens": ["demo-token"],
            "users": 24,
            "accounts": 3,
            "rate_limit": {"per_second": 100.0, "burst": 100},
        }
    ]
    changed = await call(
        client, "PATCH", f"{ADMIN}/spaces/lg8283283", {"rate_limit": {"per_second": 1, "burst": 2}}
    )
    assert changed["rate_limit"] == {"per_second": 1.0, "burst": 2}
    statuses = [(await api(client, "user_id:u1234", "metadata"))[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert (await call(client, "PATCH", f"{ADMIN}/spaces/lg8283283", {"rate_limit": None}))[
        "rate_limit"
    ] is None
    for bad in ({"rate_limit": 0}, {"rate_limit": "fast"}, {"rate_limit": True}, {"burst": 3}):
        await call(client, "PATCH", f"{ADMIN}/spaces/lg8283283", bad, expect=400)
    # Each said only that 0 is too small: `--rate-limit 0` turns the limit off, null does here.
    for limit, where in (({"per_second": 0}, "/rate_limit/per_second"), (0, "/rate_limit")):
        error = await call(
            client, "PATCH", f"{ADMIN}/spaces/lg8283283", {"rate_limit": limit}, expect=400
        )
        assert error["error"]["message"] == (
            f"body field `{where}`: must be a number of requests a second, more than 0 and less"
            ' than 1000000000; `"rate_limit": null` turns the limit off (as `--rate-limit 0`'
            " does)"
        )


async def test_reset_goes_back_to_the_start(client: Client) -> None:
    await call(client, "PUT", USERS, {"ids": {"user_id": "temp"}}, expect=201)
    await call(client, "POST", f"{ADMIN}/faults", {"route": "traits", "status": 500}, expect=201)
    await call(client, "POST", f"{ADMIN}/clock/advance", {"by": "1h"})
    await call(client, "PATCH", f"{ADMIN}/spaces/lg8283283", {"rate_limit": 1})
    await api(client, "user_id:u1234", "metadata")
    assert await call(client, "POST", f"{ADMIN}/reset") == {"status": "reset"}
    assert (await api(client, "user_id:temp", "metadata"))[0] == 404
    assert (await call(client, "GET", f"{ADMIN}/requests"))["total"] == 1
    assert [f["id"] for f in (await call(client, "GET", f"{ADMIN}/faults"))["faults"]] == [
        "configured"
    ]
    assert (await call(client, "GET", f"{ADMIN}/clock"))["now_ns"] == NOW
    assert [(await api(client, "user_id:u1234", "metadata"))[0] for _ in range(3)] == [
        200,
        200,
        200,
    ]


async def test_unknown_admin_route_and_method(client: Client) -> None:
    error = await call(client, "GET", f"{ADMIN}/nothing", expect=404)
    assert error["error"]["code"] == "not_found"
    assert error["error"]["message"].startswith(
        "no admin route `/__admin/nothing`; the admin API has /__admin/health, /__admin/reset,"
    )
    assert "/__admin/clock/advance" in error["error"]["message"]
    response = await client.request("PUT", f"{ADMIN}/reset")
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert (await response.json())["error"] == {
        "code": "method_not_allowed",  # as the API's own 405
        "message": "The method PUT is not allowed on /__admin/reset; use POST.",
    }


async def test_admin_token_guards_the_admin_api(aiohttp_client: ClientFactory) -> None:
    clock = Clock(NOW)
    app = create_app(
        load_fixtures([demo_fixture_path()], clock), clock, ServerSettings(admin_token="s3cret")
    )
    client = await aiohttp_client(app)
    denied = await call(client, "GET", f"{ADMIN}/health", expect=401)
    assert "admin token" in denied["error"]["message"]
    ok = await client.get(f"{ADMIN}/health", headers={"Profilemock-Admin-Token": "s3cret"})
    assert ok.status == 200
    ok = await client.get(f"{ADMIN}/health", headers={"Authorization": "Bearer s3cret"})
    assert ok.status == 200
    await call(client, "GET", f"{ADMIN}/health", expect=401)
    assert (await api(client, "user_id:u1234", "traits"))[0] == 200


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        pytest.param({}, "the admin API needs the admin token (header", id="missing"),
        pytest.param(
            {"Authorization": "Basic czNjcmV0Og=="},
            "the admin API needs the admin token (header",
            id="no-bearer",
        ),
        pytest.param(
            {"Profilemock-Admin-Token": "wr0ng-t0ken"},
            "the token in header Profilemock-Admin-Token is not this server's admin token",
            id="wrong-header",
        ),
        pytest.param(
            {"Authorization": "Bearer wr0ng-t0ken"},
            "the token in Authorization: Bearer is not this server's admin token",
            id="wrong-bearer",
        ),
    ],
)
async def test_admin_refusal_says_whether_the_token_is_missing_or_wrong(
    aiohttp_client: ClientFactory, headers: dict[str, str], says: str
) -> None:
    clock = Clock(NOW)
    app = create_app(
        load_fixtures([demo_fixture_path()], clock), clock, ServerSettings(admin_token="s3cret")
    )
    client = await aiohttp_client(app)
    response = await client.get(f"{ADMIN}/health", headers=headers)
    assert response.status == 401
    text = await response.text()
    assert says in text
    assert "wr0ng" not in text  # neither token is echoed
    assert "s3cret" not in text


async def test_no_admin_turns_it_off(aiohttp_client: ClientFactory) -> None:
    clock = Clock(NOW)
    app = create_app(
        load_fixtures([demo_fixture_path()], clock), clock, ServerSettings(admin=False)
    )
    client = await aiohttp_client(app)
    response = await client.get(f"{ADMIN}/health")
    assert response.status == 404
    assert (await response.json())["error"]["message"] == "The requested route was not found."


async def test_admin_calls_are_not_journaled(client: Client) -> None:
    await call(client, "GET", f"{ADMIN}/health")
    assert len(client.app[STATE].journal) == 0
