"""Fault injection seen by real clients: aiohttp's ClientSession and requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
import requests

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.serving import ServerThread
from profilemock.mockserver.state import ServerSettings
from tests.conftest import DEMO_TOKEN, NOW, Client, ClientFactory, basic, profile_path

AUTH = basic(DEMO_TOKEN)
TRAITS = profile_path("user_id:u1234", "traits")
EVENTS = profile_path("user_id:u1234", "events")


def make_app(*faults: dict[str, Any], seed: int = 0) -> Any:
    clock = Clock(NOW)
    settings = ServerSettings(seed=seed, faults=faults, rate_limit=None)
    return create_app(load_fixtures([demo_fixture_path()], clock), clock, settings)


@pytest.fixture
def serve(aiohttp_client: ClientFactory) -> Callable[..., Any]:
    async def start(*faults: dict[str, Any], seed: int = 0) -> Client:
        return await aiohttp_client(make_app(*faults, seed=seed))

    return start


@pytest.fixture
def threaded() -> Iterator[Callable[..., ServerThread]]:
    servers: list[ServerThread] = []

    def start(*faults: dict[str, Any]) -> ServerThread:
        server = ServerThread(make_app(*faults)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


async def healthy(client: Client) -> None:
    """The server answers normally after a fault."""
    response = await client.get(profile_path("user_id:u1234", "metadata"), headers=AUTH)
    assert response.status == 200


# -- actions, seen by aiohttp --------------------------------------------------------------


async def test_status_fault_answers_with_the_apis_own_body(serve: Callable[..., Any]) -> None:
    client = await serve({"id": "limited", "route": "traits", "status": 429})
    response = await client.get(TRAITS, headers=AUTH)
    assert response.status == 429
    assert await response.json() == {
        "error": {
            "code": "rate_limit_error",
            "message": "Too many requests hit the API too quickly.",
        }
    }
    assert response.headers["Profilemock-Fault"] == "limited"
    assert "Request-Id" in response.headers
    await healthy(client)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "internal_error"),
        (502, "internal_error"),
        (503, "internal_error"),
        (404, "not_found"),
        (401, "authentication_error"),
        (400, "invalid_request_error"),
    ],
)
async def test_default_error_bodies(serve: Callable[..., Any], status: int, code: str) -> None:
    client = await serve({"status": status})
    response = await client.get(TRAITS, headers=AUTH)
    assert response.status == status
    assert (await response.json())["error"]["code"] == code


async def test_custom_body_and_headers(serve: Callable[..., Any]) -> None:
    client = await serve(
        {
            "route": "traits",
            "status": 503,
            "body": {"error": {"code": "maintenance", "message": "back soon"}},
            "headers": {"Retry-After": "7"},
        },
        {"route": "events", "status": 502, "body": "<html>bad gateway</html>"},
    )
    response = await client.get(TRAITS, headers=AUTH)
    assert await response.json() == {"error": {"code": "maintenance", "message": "back soon"}}
    assert response.headers["Retry-After"] == "7"
    html = await client.get(EVENTS, headers=AUTH)
    assert html.status == 502
    assert await html.text() == "<html>bad gateway</html>"


@pytest.mark.parametrize("status", [204, 205, 304])
async def test_a_status_that_carries_no_body_is_answered_without_one(
    serve: Callable[..., Any], status: int
) -> None:
    # A 205 was sent with the API's error body; aiohttp drops one for 204 and 304 only.
    client = await serve({"route": "traits", "status": status})
    response = await client.get(TRAITS, headers=AUTH)
    assert response.status == status
    assert await response.read() == b""
    assert "Content-Type" not in response.headers


@pytest.mark.parametrize("status", [300, 301, 302, 303, 307, 308])
async def test_a_redirect_is_answered_with_where_it_leads_and_no_error_body(
    serve: Callable[..., Any], status: int
) -> None:
    # It came with {"error": {"code": "invalid_request_error", "message": "Found"}}: an error
    # envelope from a server that answered no error, which a client not following redirects
    # read as the API's. A load balancer's or a framework's redirect carries only where it leads.
    rule = {"route": "traits", "status": status, "headers": {"Location": EVENTS}, "times": 2}
    client = await serve(rule)
    response = await client.get(TRAITS, headers=AUTH, allow_redirects=False)
    assert (response.status, await response.read()) == (status, b"")
    assert response.headers["Location"] == EVENTS
    assert "Content-Type" not in response.headers
    if status != 300:  # followed, it leads to the API's own answer there
        followed = await client.get(TRAITS, headers=AUTH)
        assert (followed.status, followed.url.path) == (200, EVENTS)
    page = {**rule, "body": "<a href='/x'>Found</a>", "headers": {"Location": "/x"}}
    answer = await (await serve(page)).get(TRAITS, headers=AUTH, allow_redirects=False)
    assert await answer.text() == "<a href='/x'>Found</a>"  # a body of its own is sent


@pytest.mark.parametrize(
    ("rule", "status"),
    [
        ({"status": 503}, 503),
        ({"status": 502, "body": "<html>bad gateway</html>"}, 502),
        ({"status": 500, "body": {"error": "x"}}, 500),
        ({"fault": "malformed"}, 200),
        ({"latency": "1ms"}, 200),
    ],
    ids=["default-body", "text-body", "json-body", "malformed", "latency"],
)
@pytest.mark.parametrize("name", ["Content-Type", "content-type"])
async def test_a_rules_own_content_type_labels_its_answer(
    serve: Callable[..., Any], rule: dict[str, Any], status: int, name: str
) -> None:
    # An answer with a status or a broken body and a Content-Type of the rule's own (a
    # gateway's HTML page) was a 500: aiohttp refuses a Content-Type header beside its own.
    client = await serve({"route": "traits", **rule, "headers": {name: "text/html"}})
    response = await client.get(TRAITS, headers=AUTH)
    assert response.status == status
    assert response.headers["Content-Type"] == "text/html"
    assert response.headers["Profilemock-Fault"] == "fault-1"
    assert client.app[STATE].errors == []


async def test_faults_apply_before_auth(serve: Callable[..., Any]) -> None:
    client = await serve({"status": 503})
    response = await client.get(TRAITS)
    assert response.status == 503


async def test_reset_is_a_connection_error(serve: Callable[..., Any]) -> None:
    client = await serve({"route": "traits", "fault": "reset", "times": 1})
    with pytest.raises(aiohttp.ClientOSError):
        await client.get(TRAITS, headers=AUTH)
    await healthy(client)
    entry = client.app[STATE].journal.select(route="traits")[0]
    assert (entry.status, entry.fault) == (None, "fault-1")


async def test_empty_response_is_a_server_disconnect(serve: Callable[..., Any]) -> None:
    client = await serve({"route": "traits", "fault": "empty", "times": 1})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.get(TRAITS, headers=AUTH)
    await healthy(client)


async def test_truncated_body_is_a_payload_error(serve: Callable[..., Any]) -> None:
    client = await serve({"route": "traits", "fault": "truncate", "times": 1})
    response = await client.get(TRAITS, headers=AUTH)
    assert response.status == 200
    assert response.headers["Profilemock-Fault"] == "fault-1"
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
    await healthy(client)


@pytest.mark.parametrize("fault", ["truncate", "malformed"])
async def test_a_broken_body_carries_its_request_id_as_every_answer_does(
    serve: Callable[..., Any], fault: str
) -> None:
    # The truncated answer, streamed by the fault itself, had no Request-Id.
    client = await serve({"route": "traits", "fault": fault, "times": 1})
    response = await client.get(TRAITS, headers=AUTH)
    request_id = response.headers["Request-Id"]
    assert len(request_id) == 36
    response.close()
    await healthy(client)
    (entry, _) = client.app[STATE].journal
    assert entry.request_id == request_id


async def test_malformed_body_does_not_parse(serve: Callable[..., Any]) -> None:
    client = await serve({"route": "traits", "fault": "malformed", "times": 1})
    response = await client.get(TRAITS, headers=AUTH)
    assert response.status == 200
    with pytest.raises(ValueError):  # noqa: PT011 - json.JSONDecodeError is a ValueError
        await response.json()
    await healthy(client)


async def test_latency_delays_the_normal_answer(serve: Callable[..., Any]) -> None:
    client = await serve({"route": "traits", "latency": "80ms"})
    started = time.perf_counter()
    response = await client.get(TRAITS, headers=AUTH)
    elapsed = time.perf_counter() - started
    assert response.status == 200
    assert (await response.json())["traits"]
    assert 0.08 <= elapsed < 5
    entry = client.app[STATE].journal.select(route="traits")[0]
    assert entry.duration_ms >= 80
    assert entry.fault == "fault-1"


@pytest.mark.parametrize(
    ("latency", "low", "high"),
    [({"min": "1ms", "max": "20ms"}, 0.001, 0.020), ("5ms", 0.005, 0.005)],
)
async def test_latency_distributions_stay_in_bounds(
    serve: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    latency: Any,
    low: float,
    high: float,
) -> None:
    client = await serve({"route": "metadata", "latency": latency})
    state = client.app[STATE]
    waited: list[float] = []
    hang: Callable[[float], Awaitable[bool]] = state.hang

    async def recorded(seconds: float) -> bool:
        waited.append(seconds)
        return await hang(seconds)

    # What each request waits, read from the draw: no clock bounds it on a busy machine.
    monkeypatch.setattr(state, "hang", recorded)
    for _ in range(20):
        assert (
            await client.get(profile_path("user_id:u1234", "metadata"), headers=AUTH)
        ).status == 200
    assert len(waited) == 20
    assert all(low <= seconds <= high for seconds in waited), waited
    assert all(entry.duration_ms >= low * 1000 for entry in state.journal)


async def test_hang_is_bounded_and_a_client_timeout_fires(serve: Callable[..., Any]) -> None:
    client = await serve({"route": "traits", "fault": "hang", "hang": "5s", "times": 1})
    with pytest.raises(asyncio.TimeoutError):  # not yet the builtin one on Python 3.10
        await client.get(TRAITS, headers=AUTH, timeout=aiohttp.ClientTimeout(total=0.2))
    client.app[STATE].reset()  # releases the hanging request
    await healthy(client)


@pytest.mark.parametrize("fault", ["malformed", "truncate"])
async def test_a_body_fault_on_a_request_the_api_refused_says_why_it_never_fired(
    serve: Callable[..., Any], fault: str
) -> None:
    client = await serve({"route": "traits", "fault": fault})
    missing = await client.get(profile_path("user_id:nobody", "traits"), headers=AUTH)
    assert missing.status == 404
    (rule,) = client.app[STATE].faults
    assert (rule.matched, rule.fired, rule.refused_first) == (1, 0, 1)
    assert rule.unused() == (
        "matched 1 request and fired on none; the API refused 1 of them first (an error"
        f" answer), which leaves a `{fault}` fault no body to break"
    )


async def test_short_hang_ends_with_a_disconnect(serve: Callable[..., Any]) -> None:
    client = await serve({"route": "traits", "fault": "hang", "hang": "50ms", "times": 1})
    started = time.perf_counter()
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.get(TRAITS, headers=AUTH)
    assert time.perf_counter() - started >= 0.05
    await healthy(client)


# -- actions, seen by requests ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("reset", requests.exceptions.ConnectionError),
        ("empty", requests.exceptions.ConnectionError),
        ("truncate", requests.exceptions.ChunkedEncodingError),
    ],
)
def test_connection_faults_seen_by_requests(
    threaded: Callable[..., ServerThread], fault: str, error: type[Exception]
) -> None:
    server = threaded({"route": "traits", "fault": fault, "times": 1})
    with requests.Session() as session:
        with pytest.raises(error):
            session.get(server.url + TRAITS, auth=(DEMO_TOKEN, ""), timeout=10)
        assert (
            session.get(server.url + TRAITS, auth=(DEMO_TOKEN, ""), timeout=10).status_code == 200
        )


def test_malformed_and_status_seen_by_requests(threaded: Callable[..., ServerThread]) -> None:
    server = threaded(
        {"route": "traits", "fault": "malformed", "times": 1},
        {"route": "events", "status": 500, "times": 1},
    )
    response = requests.get(server.url + TRAITS, auth=(DEMO_TOKEN, ""), timeout=10)
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()
    failed = requests.get(server.url + EVENTS, auth=(DEMO_TOKEN, ""), timeout=10)
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "internal_error"


def test_latency_seen_by_requests(threaded: Callable[..., ServerThread]) -> None:
    server = threaded({"route": "traits", "latency": "60ms"})
    response = requests.get(server.url + TRAITS, auth=(DEMO_TOKEN, ""), timeout=10)
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.06


# -- matching and schedules -----------------------------------------------------------------


async def fired(client: Client, count: int, path: str = TRAITS) -> list[bool]:
    result = []
    for _ in range(count):
        response = await client.get(path, headers=AUTH)
        result.append("Profilemock-Fault" in response.headers)
    return result


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"times": 2}, [True, True, False, False, False, False]),
        ({"after": 2}, [False, False, True, True, True, True]),
        ({"after": 2, "times": 1}, [False, False, True, False, False, False]),
        ({"every": 3}, [False, False, True, False, False, True]),
        ({"every": 2, "times": 2, "after": 1}, [False, False, True, False, True, False]),
        ({}, [True] * 6),
    ],
    ids=[
        "first-2",
        "after-2",
        "after-2-then-1",
        "every-3rd",
        "every-2nd-after-1-twice",
        "until-removed",
    ],
)
async def test_schedules_fire_exactly(
    serve: Callable[..., Any], schedule: dict[str, int], expected: list[bool]
) -> None:
    client = await serve({"route": "traits", "status": 503, **schedule})
    assert await fired(client, 6) == expected


async def test_probability_is_reproducible_with_the_seed(serve: Callable[..., Any]) -> None:
    rule = {"route": "traits", "status": 503, "probability": 0.5}
    first = await fired(await serve(rule, seed=42), 40)
    again = await fired(await serve(rule, seed=42), 40)
    other = await fired(await serve(rule, seed=43), 40)
    assert first == again
    assert first != other
    assert 5 < sum(first) < 35


@pytest.mark.parametrize(
    ("match", "hits", "misses"),
    [
        ({"route": "events"}, [EVENTS], [TRAITS]),
        ({"identifier": "user_id:u*"}, [TRAITS], [profile_path("anonymous_id:a1234", "traits")]),
        (
            {"space": "lg*"},
            [TRAITS],
            ["/v1/spaces/other/collections/users/profiles/user_id:u1234/traits"],
        ),
        (
            {"collection": "accounts"},
            [profile_path("group_id:12345", "traits", collection="accounts")],
            [TRAITS],
        ),
        ({"route": "profiles"}, ["/v1/spaces/lg8283283/collections/users/profiles"], [TRAITS]),
        ({"method": "HEAD"}, [], [TRAITS]),
    ],
)
async def test_matching(
    serve: Callable[..., Any], match: dict[str, str], hits: list[str], misses: list[str]
) -> None:
    client = await serve({**match, "status": 418})
    for path in hits:
        assert (await client.get(path, headers=AUTH)).status == 418, path
    for path in misses:
        assert (await client.get(path, headers=AUTH)).status != 418, path


async def test_first_rule_that_fires_wins(serve: Callable[..., Any]) -> None:
    client = await serve(
        {"id": "a", "route": "traits", "status": 500, "times": 1}, {"id": "b", "status": 503}
    )
    statuses = [(await client.get(TRAITS, headers=AUTH)).status for _ in range(3)]
    assert statuses == [500, 503, 503]


async def test_same_seed_and_requests_give_the_same_faults(serve: Callable[..., Any]) -> None:
    rules = (
        {"route": "traits", "probability": 0.3, "status": 503},
        {"route": "events", "probability": 0.5, "fault": "malformed"},
        {"probability": 0.2, "latency": {"p50": "1ms", "p95": "3ms"}},
    )
    sequence = [TRAITS, EVENTS, profile_path("user_id:u1234", "metadata")] * 12

    async def run(seed: int) -> list[tuple[str | None, int | None]]:
        client = await serve(*rules, seed=seed)
        for path in sequence:
            response = await client.get(path, headers=AUTH)
            await response.read()
        return [(e.fault, e.status) for e in client.app[STATE].journal]

    assert await run(7) == await run(7)
    assert await run(7) != await run(8)
