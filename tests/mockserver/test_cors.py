"""CORS: off by default, as on the real API; --cors lets a browser app call the fake."""

from __future__ import annotations

from typing import Any

import pytest

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.journal import Journal
from profilemock.mockserver.state import ServerSettings
from tests.conftest import DEMO_TOKEN, NOW, Client, ClientFactory, basic, profile_path

ORIGIN = "http://localhost:5173"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "authorization",
}


async def client_with(aiohttp_client: ClientFactory, **settings: Any) -> Client:
    clock = Clock(NOW)
    store = load_fixtures([demo_fixture_path()], clock)
    return await aiohttp_client(create_app(store, clock, ServerSettings(**settings)))


async def test_cors_is_off_by_default(aiohttp_client: ClientFactory) -> None:
    client = await client_with(aiohttp_client)
    preflight = await client.options(profile_path("user_id:u1234", "traits"), headers=PREFLIGHT)
    assert preflight.status == 405
    response = await client.get(
        profile_path("user_id:u1234", "traits"), headers={**basic(DEMO_TOKEN), "Origin": ORIGIN}
    )
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_a_preflight_refused_with_cors_off_says_what_it_was(
    aiohttp_client: ClientFactory,
) -> None:
    # A page's call failed with "blocked by CORS policy", the fake's log and journal showing
    # a bare `OPTIONS … 405`: nothing on the fake's side said why.
    client = await client_with(aiohttp_client)
    traits = profile_path("user_id:u1234", "traits")
    preflight = await client.options(traits, headers=PREFLIGHT)
    assert preflight.status == 405  # the API's own answer: it has no CORS
    assert preflight.headers["Allow"] == "GET, HEAD"
    hint = preflight.headers["Profilemock-Hint"]
    assert hint.startswith("a browser's CORS preflight")
    assert "serve with --cors (or --cors-origin ORIGIN)" in hint
    listed = await (await client.get("/__admin/requests")).json()
    assert [(e["method"], e["status"], e["hint"]) for e in listed["requests"]] == [
        ("OPTIONS", 405, hint)
    ]
    # An OPTIONS that is no preflight (no Origin) gets the 405 and its Allow alone.
    plain = await client.options(traits, headers={"Access-Control-Request-Method": "GET"})
    assert plain.status == 405
    assert "Profilemock-Hint" not in plain.headers


async def test_preflight_and_answers_allow_the_origin(aiohttp_client: ClientFactory) -> None:
    client = await client_with(aiohttp_client, cors=True)
    preflight = await client.options(profile_path("user_id:u1234", "traits"), headers=PREFLIGHT)
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert preflight.headers["Access-Control-Allow-Headers"] == "authorization"
    for identifier, status in (("user_id:u1234", 200), ("user_id:nobody", 404)):
        response = await client.get(
            profile_path(identifier, "traits"), headers={**basic(DEMO_TOKEN), "Origin": ORIGIN}
        )
        assert response.status == status
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "Request-Id" in response.headers["Access-Control-Expose-Headers"]
    journal = client.app[STATE].journal
    assert [e.method for e in journal] == ["GET", "GET"]
    every = journal.entries(preflights=True)
    assert [(e.method, e.status, e.preflight) for e in every] == [
        ("OPTIONS", 204, True),
        ("GET", 200, False),
        ("GET", 404, False),
    ]


async def test_preflights_are_no_calls_of_the_app_but_can_be_listed(
    aiohttp_client: ClientFactory,
) -> None:
    # A preflight was journaled as `204 OPTIONS traits`: `assert_called("traits", times=1)`
    # counted two calls, and the explorer listed it among the app's requests.
    client = await client_with(aiohttp_client, cors=True)
    traits = profile_path("user_id:u1234", "traits")
    assert (await client.options(traits, headers=PREFLIGHT)).status == 204
    got = await client.get(traits, headers={**basic(DEMO_TOKEN), "Origin": ORIGIN})
    assert got.status == 200
    listed = await (await client.get("/__admin/requests")).json()
    assert [(e["method"], e["preflight"]) for e in listed["requests"]] == [("GET", False)]
    assert listed["total"] == 1
    every = await (await client.get("/__admin/requests?preflights=true&route=traits")).json()
    assert [(e["method"], e["preflight"]) for e in every["requests"]] == [
        ("OPTIONS", True),
        ("GET", False),
    ]
    refused = await client.get("/__admin/requests?preflights=yes")
    assert refused.status == 400
    assert (await refused.json())["error"]["message"] == (
        "query parameter `preflights` is true or false, not `yes`"
    )
    health = await (await client.get("/__admin/health")).json()
    assert health["requests"] == 1
    assert (await (await client.delete("/__admin/requests")).json())["deleted"] == 1
    assert client.app[STATE].journal.entries(preflights=True) == []


def test_a_preflight_pushed_out_of_the_journal_is_no_request_dropped() -> None:
    journal = Journal(size=2)
    preflight = journal.arrived(NOW, "OPTIONS", "/v1/spaces/s/collections/users/profiles", "none")
    journal.preflight(preflight)
    journal.finished(preflight, 204, None, 0.1, "answered", None, None)
    for _ in range(2):
        ticket = journal.arrived(NOW, "GET", "/v1/spaces/s/collections/users/profiles", "basic")
        journal.finished(ticket, 200, None, 0.1, "answered", True, None)
    # Only the preflight went: what is read of the app's requests misses none of them.
    assert journal.dropped == 0
    assert [e.method for e in journal.entries(preflights=True)] == ["GET", "GET"]
    assert len(journal) == 2
    ticket = journal.arrived(NOW, "GET", "/v1/spaces/s/collections/users/profiles", "basic")
    journal.finished(ticket, 200, None, 0.1, "answered", True, None)
    assert journal.dropped == 1


async def test_headers_a_fault_adds_are_exposed_to_the_page(aiohttp_client: ClientFactory) -> None:
    """A backoff written for the browser reads `Retry-After`: the page must be let see it."""
    client = await client_with(aiohttp_client, cors=True)
    rule = {"route": "traits", "status": 429, "headers": {"Retry-After": "2", "X-Quota": "0"}}
    armed = await client.post("/__admin/faults", json=rule)
    assert armed.status == 201
    response = await client.get(
        profile_path("user_id:u1234", "traits"), headers={**basic(DEMO_TOKEN), "Origin": ORIGIN}
    )
    assert response.status == 429
    exposed = [n.strip() for n in response.headers["Access-Control-Expose-Headers"].split(",")]
    assert exposed[:3] == ["Request-Id", "Profilemock-Hint", "Profilemock-Fault"]
    assert {"Retry-After", "X-Quota"} <= set(exposed)
    assert "Content-Type" not in exposed
    assert len(exposed) == len(set(exposed))


@pytest.mark.parametrize("headers", [{}, {"Origin": ORIGIN}])
async def test_plain_options_is_still_405(
    aiohttp_client: ClientFactory, headers: dict[str, str]
) -> None:
    client = await client_with(aiohttp_client, cors=True)
    response = await client.options(profile_path("user_id:u1234", "traits"), headers=headers)
    assert response.status == 405


def test_the_test_handle_counts_no_preflight() -> None:
    # `assert_called("traits", times=1)` failed: the browser's preflight was a second call.
    import requests

    from profilemock.mockserver.serving import ServerThread
    from profilemock.testing import ProfileAPI

    clock = Clock(NOW)
    store = load_fixtures([demo_fixture_path()], clock)
    with ServerThread(create_app(store, clock, ServerSettings(cors=True))) as server:
        handle = ProfileAPI(server)
        url = handle.profile_url("user_id:u1234", "traits")
        assert requests.options(url, headers=PREFLIGHT, timeout=10).status_code == 204
        assert requests.get(url, auth=handle.auth, timeout=10).status_code == 200
        handle.assert_called("traits", identifier="user_id:u1234", times=1)
        handle.assert_no_errors()
        assert [e.method for e in handle.requests] == ["GET"]
