"""Rate limit: per-space token buckets on the server clock, 429 with the API's body."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import pytest

from profilemock.clock import Clock
from profilemock.fixtures.loader import load_fixtures
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.state import ServerSettings
from profilemock.store.space import Limit
from tests.conftest import NOW, Client, ClientFactory, WriteFixture, basic

FIXTURE = """
spaces:
  busy:
    tokens: [busy-token]
    users: [{ids: {user_id: u1}}]
  tiny:
    tokens: [tiny-token]
    rate_limit: {per_second: 2, burst: 3}
    users: [{ids: {user_id: u1}}]
  free:
    tokens: [free-token]
    rate_limit: null
    users: [{ids: {user_id: u1}}]
"""
RATE_LIMITED = {
    "error": {"code": "rate_limit_error", "message": "Too many requests hit the API too quickly."}
}


def path(space: str, identifier: str = "user_id:u1") -> str:
    return f"/v1/spaces/{space}/collections/users/profiles/{identifier}/metadata"


@pytest.fixture
async def served(
    aiohttp_client: ClientFactory, write_fixture: WriteFixture, clock: Clock
) -> Client:
    store = load_fixtures([write_fixture(FIXTURE)], clock)
    return await aiohttp_client(create_app(store, clock))


async def statuses(client: Client, space: str, count: int, token: str | None = None) -> list[int]:
    result = []
    for _ in range(count):
        response = await client.get(path(space), headers=basic(token or f"{space}-token"))
        result.append(response.status)
        if response.status == 429:
            assert await response.json() == RATE_LIMITED
            assert "Retry-After" not in response.headers
    return result


async def test_default_budget_is_100_then_429_until_the_clock_moves(served: Client) -> None:
    assert await statuses(served, "busy", 101) == [200] * 100 + [429]
    clock = served.app[STATE].clock
    clock.advance(10_000_000)  # 10 ms refills one token at 100/s
    assert await statuses(served, "busy", 2) == [200, 429]
    clock.advance(1_000_000_000)
    assert await statuses(served, "busy", 101) == [200] * 100 + [429]


async def test_a_pinned_clock_refills_the_bucket_as_time_passes(
    aiohttp_client: ClientFactory, write_fixture: WriteFixture
) -> None:
    """A date pinned by configuration (--now, a fixture's now:, the marker's now=) stands
    still while time passes: the bucket refills (frozen, it never did: a fake served with
    --now answered 429 for ever after 100 requests). A test that freezes the clock stops
    the bucket's time too, from where it was."""
    real = [10**18]
    clock = Clock.pinned_at(NOW, source=lambda: real[0])
    client = await aiohttp_client(create_app(load_fixtures([write_fixture(FIXTURE)], clock), clock))
    assert await statuses(client, "tiny", 4) == [200, 200, 200, 429]
    real[0] += 500_000_000  # half a second: one token at 2/s
    assert await statuses(client, "tiny", 2) == [200, 429]
    assert clock.now_ns() == NOW
    clock.freeze()
    real[0] += 10 * 10**9
    assert await statuses(client, "tiny", 1) == [429]
    clock.advance(500_000_000)
    assert await statuses(client, "tiny", 2) == [200, 429]


async def test_space_limit_and_burst_from_the_fixture(served: Client) -> None:
    assert await statuses(served, "tiny", 4) == [200, 200, 200, 429]
    served.app[STATE].clock.advance(500_000_000)  # 0.5 s at 2/s: one token
    assert await statuses(served, "tiny", 2) == [200, 429]


async def test_null_rate_limit_means_unlimited(served: Client) -> None:
    assert set(await statuses(served, "free", 150)) == {200}


async def test_spaces_have_their_own_buckets(served: Client) -> None:
    assert await statuses(served, "tiny", 4) == [200, 200, 200, 429]
    assert await statuses(served, "busy", 3) == [200, 200, 200]


async def test_unauthenticated_requests_use_no_budget_but_bad_queries_do(
    served: Client,
) -> None:
    for _ in range(5):
        assert (await served.get(path("tiny"), headers=basic("wrong"))).status == 401
    bad = await served.get(path("tiny") + "?verbose=maybe", headers=basic("tiny-token"))
    assert bad.status == 400
    missing = await served.get(path("tiny", "user_id:nobody"), headers=basic("tiny-token"))
    assert missing.status == 404
    assert await statuses(served, "tiny", 2) == [200, 429]


async def test_exactly_the_budget_is_admitted_under_50_concurrent_connections(
    served: Client,
) -> None:
    url = served.make_url(path("busy"))
    connector = aiohttp.TCPConnector(limit=50, force_close=False)
    async with aiohttp.ClientSession(connector=connector, headers=basic("busy-token")) as session:

        async def one() -> int:
            async with session.get(url) as response:
                await response.read()
                return response.status

        results = Counter(await asyncio.gather(*(one() for _ in range(250))))
    assert results == {200: 100, 429: 150}
    journal = served.app[STATE].journal
    assert Counter(e.status for e in journal.select(space="busy")) == {200: 100, 429: 150}


async def test_cli_style_override_replaces_every_space_limit(
    aiohttp_client: ClientFactory, write_fixture: WriteFixture, clock: Clock
) -> None:
    store = load_fixtures([write_fixture(FIXTURE)], clock)
    client = await aiohttp_client(
        create_app(store, clock, ServerSettings(rate_limit=Limit.per_second(1)))
    )
    assert await statuses(client, "free", 2) == [200, 429]
    unlimited = await aiohttp_client(create_app(store, clock, ServerSettings(rate_limit=None)))
    assert set(await statuses(unlimited, "tiny", 20)) == {200}


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="above 0"):
        Limit.per_second(0)
    with pytest.raises(ValueError, match="at least 1"):
        Limit.per_second(5, 0)
    assert Limit.per_second(0.5) == Limit(0.5, 1)


def test_reset_fills_the_buckets_and_restores_limits(
    write_fixture: WriteFixture, clock: Clock
) -> None:
    app = create_app(load_fixtures([write_fixture(FIXTURE)], clock), clock)
    state = app[STATE]
    assert [state.limiter.admit("tiny") for _ in range(4)] == [True, True, True, False]
    state.limiter.set_limit("tiny", None)
    assert state.limiter.admit("tiny")
    state.reset()
    assert state.limiter.limit_of("tiny") == Limit(2.0, 3)
    assert [state.limiter.admit("tiny") for _ in range(4)] == [True, True, True, False]
    assert clock.now_ns() == NOW
