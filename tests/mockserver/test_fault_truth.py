"""Faults tell the truth: a reset or shutdown ends what they hold, headers that cannot be
sent are refused when the rule is added, an injected 401 is a real 401, and a fault that
never reached the client is not counted as fired."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from profilemock.clock import Clock
from profilemock.faults import FRAMING_HEADERS, SERVER_HEADERS, FaultRuleError, FaultSet
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.serving import ServerThread
from profilemock.mockserver.state import ServerSettings
from tests.conftest import (
    DEMO_TOKEN,
    EAGER_HANDLERS,
    NOW,
    Client,
    ClientFactory,
    basic,
    loop_held,
    profile_path,
)

AUTH = basic(DEMO_TOKEN)
TRAITS = profile_path("user_id:u1234", "traits")


def make_app(*faults: dict[str, Any]) -> Any:
    clock = Clock(NOW)
    settings = ServerSettings(faults=faults, rate_limit=None)
    return create_app(load_fixtures([demo_fixture_path()], clock), clock, settings)


def held_request(server: ServerThread) -> socket.socket:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=20)
    sock.sendall(
        f"GET {TRAITS} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH['Authorization']}\r\n\r\n".encode()
    )
    return sock


def wait_until_held(server: ServerThread) -> None:
    """Until the rule has fired (the request is being held): asked on the server's loop."""
    for _ in range(2000):
        if server.call(lambda state: next(iter(state.faults)).fired) == 1:
            return
        threading.Event().wait(0.005)
    raise AssertionError("the request was never held")


def test_reset_ends_a_request_held_by_latency_and_it_is_not_journaled_after() -> None:
    server = ServerThread(make_app({"route": "traits", "latency": "120s"})).start()
    try:
        sock = held_request(server)
        wait_until_held(server)
        started = time.monotonic()
        server.call(lambda state: state.reset())
        assert sock.recv(100) == b""  # ended without an answer, promptly
        assert time.monotonic() - started < 5
        sock.close()
        # Whatever the journal keeps of the ended request, nothing arrives after the reset.
        assert server.call(lambda state: [e.status for e in state.journal if e.status]) == []
    finally:
        server.stop()


def test_shutdown_ends_a_request_held_by_latency_promptly() -> None:
    server = ServerThread(make_app({"route": "traits", "latency": "120s"})).start()
    sock = held_request(server)
    wait_until_held(server)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 10
    assert sock.recv(100) == b""
    sock.close()


@pytest.mark.parametrize(
    "latency", ["301s", "10m", {"min": "1s", "max": "1h"}, {"p50": "1s", "p95": "2h"}]
)
def test_latency_is_capped_like_hang(latency: Any) -> None:
    with pytest.raises(FaultRuleError, match="at most 300s"):
        FaultSet().add({"latency": latency})


@pytest.mark.parametrize(
    ("headers", "complaint"),
    [
        ({"X-Evil": "a\r\nSet-Cookie: x=1"}, "line break"),
        ({"X-Evil": "a\nb"}, "line break"),
        ({"X-Nul": "a\x00b"}, "control character"),
        ({"X-Snow": "\u2603"}, "Latin-1"),
        ({"Bad Name": "1"}, "is not a header name"),
        ({"X:Colon": "1"}, "is not a header name"),
        ({"": "1"}, "is not a header name"),
        ({"Content-Length": "10"}, "frames the message"),
        ({"transfer-encoding": "chunked"}, "frames the message"),
        ({"Connection": "close"}, "frames the message"),
    ],
)
def test_fault_headers_that_cannot_be_sent_are_refused_when_added(
    headers: dict[str, str], complaint: str
) -> None:
    with pytest.raises(FaultRuleError, match=complaint):
        FaultSet().add({"status": 503, "headers": headers})


@pytest.mark.parametrize("name", sorted(FRAMING_HEADERS))
def test_every_framing_header_is_refused_however_it_is_spelled(name: str) -> None:
    for spelled in (name, name.upper(), name.title()):
        with pytest.raises(FaultRuleError, match="frames the message"):
            FaultSet().add({"status": 503, "headers": {spelled: "1"}})
    FaultSet().add({"status": 503, "headers": {"X-" + name: "1"}})


@pytest.mark.parametrize("name", sorted(SERVER_HEADERS))
async def test_a_header_the_server_sets_on_every_answer_is_refused_in_a_rule(
    aiohttp_client: ClientFactory, name: str
) -> None:
    # A rule's Request-Id was dropped without a word (the server's went out); its
    # `profilemock-fault` went out beside the server's `Profilemock-Fault`.
    for spelled in (name, name.upper(), name.title()):
        with pytest.raises(FaultRuleError, match="profilemock sets it on every answer"):
            FaultSet().add({"status": 503, "headers": {spelled: "mine"}})
    client = await aiohttp_client(make_app())
    response = await client.post("/__admin/faults", json={"status": 429, "headers": {name: "x"}})
    assert response.status == 400
    assert "profilemock sets it on every answer" in (await response.json())["error"]["message"]
    assert len(client.app[STATE].faults) == 0
    # The server's own still go out on a rule's answer.
    client.app[STATE].add_fault({"route": "traits", "status": 503})
    answered = await client.get(TRAITS, headers=AUTH)
    assert answered.headers.getall("Request-Id") == [answered.headers["Request-Id"]]
    assert len(answered.headers.getall("Profilemock-Fault")) == 1


async def test_unsendable_headers_are_a_400_from_the_admin_api(
    aiohttp_client: ClientFactory,
) -> None:
    client = await aiohttp_client(make_app())
    response = await client.post(
        "/__admin/faults", json={"status": 503, "headers": {"X-Evil": "a\r\nb"}}
    )
    assert response.status == 400
    assert len(client.app[STATE].faults) == 0


async def test_sendable_headers_still_go_out(aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(
        make_app({"status": 503, "headers": {"Retry-After": "2", "X-Note": "caf\u00e9 ok"}})
    )
    response = await client.get(TRAITS, headers=AUTH)
    assert response.status == 503
    assert response.headers["Retry-After"] == "2"


async def test_an_injected_401_asks_for_basic_auth(aiohttp_client: ClientFactory) -> None:
    client: Client = await aiohttp_client(make_app({"route": "traits", "status": 401}))
    response = await client.get(TRAITS, headers=AUTH)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Basic"
    assert response.headers["Profilemock-Fault"] == "fault-1"


@pytest.mark.parametrize("fault", ["truncate", "malformed"])
async def test_a_body_fault_on_a_refused_request_is_not_fired(
    aiohttp_client: ClientFactory, fault: str
) -> None:
    client: Client = await aiohttp_client(make_app({"route": "traits", "fault": fault, "times": 1}))
    refused = await client.get(TRAITS)  # no credentials: the API's own 401
    assert refused.status == 401
    assert "Profilemock-Fault" not in refused.headers
    state = client.app[STATE]
    assert next(iter(state.faults)).fired == 0
    assert [e.fault for e in state.journal] == [None]
    # The rule still has its one firing for a request it can break.
    broken = await client.get(TRAITS, headers=AUTH)
    assert broken.headers["Profilemock-Fault"] == "fault-1"
    assert next(iter(state.faults)).fired == 1


def journaled_outcomes(server: ServerThread, count: int) -> list[tuple[int | None, str]]:
    """The journal's (status, outcome) once ``count`` requests have an outcome, read on the
    server's loop (bounded)."""
    for _ in range(4000):
        entries = server.call(lambda state: list(state.journal))
        if len(entries) == count and all(e.outcome != "pending" for e in entries):
            return [(e.status, e.outcome) for e in entries]
        threading.Event().wait(0.005)
    raise AssertionError(f"no outcome yet: {entries}")


@pytest.mark.parametrize(
    ("fault", "eager"),
    [("truncate", (None, "broken")), ("malformed", (200, "answered"))],
    ids=["truncate", "malformed"],
)
def test_a_client_that_gave_up_before_a_body_fault_answered_is_journaled_as_gone(
    fault: str, eager: tuple[int | None, str]
) -> None:
    """The client sends its request and goes away before the fake answers (its timeout ran
    out during a slow answer): the fake finds the connection closing when it writes the
    broken body. That is the client gone, not an error of the fake's."""
    server = ServerThread(make_app({"route": "traits", "fault": fault})).start()
    try:
        # The request and the client's leaving arrive together, as when the answer comes
        # after the client gave up.
        with loop_held(server):
            held_request(server).close()
        # From Python 3.12 the broken answer goes out before the leaving is read
        # (EAGER_HANDLERS): the rule's answer, journaled as to a client still there.
        gone = eager if EAGER_HANDLERS else (None, "client went away")
        assert journaled_outcomes(server, 1) == [gone]
        assert server.call(lambda state: list(state.errors)) == []
    finally:
        server.stop()
