"""CORS: off by default, as on the real API; --cors lets a browser app call the fake."""

from __future__ import annotations

from typing import Any

import pytest

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import STATE, create_app
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
    methods = [e.method for e in client.app[STATE].journal]
    assert methods == ["OPTIONS", "GET", "GET"]


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
