"""Event loops: uvloop when installed (a default dependency), asyncio's own otherwise."""

from __future__ import annotations

import asyncio
import importlib.metadata
import socket
import sys
import threading
import time

import pytest
import requests
from aiohttp import web

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import Handler, create_app
from profilemock.mockserver.limits import Limits
from profilemock.mockserver.serving import ServerThread, new_event_loop, run
from profilemock.mockserver.state import ServerSettings
from tests.conftest import DEMO_TOKEN, NOW, profile_path


def test_uvloop_is_used_when_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    loop = new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_uvloop_is_a_default_dependency_wherever_it_installs() -> None:
    requirements = importlib.metadata.requires("profilemock") or []
    (uvloop,) = [r for r in requirements if r.startswith("uvloop")]
    assert "extra" not in uvloop
    assert "sys_platform != 'win32'" in uvloop.replace('"', "'")


@pytest.mark.parametrize("uvloop_installed", [True, False], ids=["uvloop", "asyncio-fallback"])
def test_server_thread_serves_on_either_loop(
    monkeypatch: pytest.MonkeyPatch, uvloop_installed: bool
) -> None:
    if not uvloop_installed:
        monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    else:
        pytest.importorskip("uvloop")
    clock = Clock(NOW)
    with ServerThread(create_app(load_fixtures([demo_fixture_path()], clock), clock)) as server:
        kind = type(server._loop).__module__
        assert kind.startswith("uvloop") == uvloop_installed
        response = requests.get(
            server.url + profile_path("user_id:u1234", "traits"), auth=(DEMO_TOKEN, ""), timeout=10
        )
        assert response.status_code == 200


def test_run_closes_its_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)

    async def answer() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    loop = run(answer())
    assert loop.is_closed()


@pytest.mark.parametrize("uvloop_installed", [True, False], ids=["uvloop", "asyncio-fallback"])
def test_a_request_that_does_not_end_holds_a_stop_a_second_or_two_not_two_minutes(
    monkeypatch: pytest.MonkeyPatch, uvloop_installed: bool
) -> None:
    # As one whose client stopped reading a large answer does: aiohttp waited 60 s for it,
    # then 60 s more once it had told it to end, and Ctrl-C with it.
    if not uvloop_installed:
        monkeypatch.setitem(sys.modules, "uvloop", None)
    else:
        pytest.importorskip("uvloop")
    entered = threading.Event()

    async def stuck(request: web.Request) -> web.Response:
        entered.set()
        await asyncio.get_running_loop().create_future()  # never done
        raise AssertionError("unreachable")

    clock = Clock(NOW)
    app = create_app(load_fixtures([demo_fixture_path()], clock), clock)
    app.router.add_get("/stuck", stuck)
    server = ServerThread(app).start()
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(b"GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
        assert entered.wait(10)
        started = time.monotonic()
        server.stop(timeout=30)
        assert time.monotonic() - started < 10
        assert client.recv(100) == b""  # closed, without an answer


def _demo_app() -> web.Application:
    clock = Clock(NOW)
    return create_app(load_fixtures([demo_fixture_path()], clock), clock)


def test_the_apis_requests_go_past_aiohttps_router_the_others_through_it() -> None:
    # The router and the admin sub-application's middleware wrappers cost an API request a
    # tenth of its time; the runner hands /v1/ paths to the API's handler itself.
    app = _demo_app()
    routed: list[str] = []
    resolve = app.router.resolve

    async def noting(request: web.Request) -> web.UrlMappingMatchInfo:
        routed.append(request.raw_path)
        return await resolve(request)

    app.router.resolve = noting  # type: ignore[method-assign]
    with ServerThread(app) as server:
        traits = server.url + profile_path("user_id:u1234", "traits")
        assert requests.get(traits, auth=(DEMO_TOKEN, ""), timeout=10).status_code == 200
        assert requests.get(server.url + "/__admin/health", timeout=10).status_code == 200
        # Not an API path as sent (a 404 either way), so the router has it.
        elsewhere = requests.get(server.url + "/v2/spaces", timeout=10)
        assert elsewhere.json()["error"]["code"] == "not_found"
        assert [e.path for e in server.state.journal] == [
            profile_path("user_id:u1234", "traits"),
            "/v2/spaces",
        ]
    assert routed == ["/__admin/health", "/v2/spaces"]


def test_an_app_given_middlewares_of_its_own_has_them_see_the_apis_requests() -> None:
    app = _demo_app()
    seen: list[str] = []

    @web.middleware
    async def note(request: web.Request, handler: Handler) -> web.StreamResponse:
        seen.append(request.path)
        response: web.StreamResponse = await handler(request)
        response.headers["X-Seen"] = "yes"
        return response

    app.middlewares.append(note)
    with ServerThread(app) as server:
        traits = profile_path("user_id:u1234", "traits")
        response = requests.get(server.url + traits, auth=(DEMO_TOKEN, ""), timeout=10)
        assert (response.status_code, response.headers["X-Seen"]) == (200, "yes")
    assert seen == [traits]


def test_an_app_given_a_middleware_that_reads_the_body_has_sent_the_100_continue_first() -> None:
    # aiohttp meets `Expect: 100-continue` before an app's middlewares; met only inside the
    # pipeline, a middleware of the app's own reading the body waited for one the client
    # held back until its 100 Continue, and the body timeout ended the request.
    app = _demo_app()
    bodies: list[bytes] = []

    @web.middleware
    async def read_first(request: web.Request, handler: Handler) -> web.StreamResponse:
        bodies.append(await request.read())
        response: web.StreamResponse = await handler(request)
        return response

    app.middlewares.append(read_first)
    with ServerThread(app, limits=Limits(body_timeout=2)) as server:
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as client:
            client.sendall(
                b"PATCH /__admin/realism HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                b"Content-Length: 2\r\nConnection: close\r\n\r\n"
            )
            assert client.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
            client.sendall(b"{}")
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer  # no second 100 Continue
    assert bodies == [b"{}"]


def test_an_app_given_routes_of_its_own_under_v1_has_them_answer() -> None:
    # aiohttp's router takes a route under /v1/ before the app's catch-all: one a test adds
    # (an endpoint the fake does not have) answers, served by ServerThread as by aiohttp.
    app = _demo_app()

    async def audiences(request: web.Request) -> web.Response:
        return web.json_response({"space": request.match_info["space"]})

    app.router.add_get("/v1/spaces/{space}/audiences", audiences)
    with ServerThread(app) as server:
        answer = requests.get(server.url + "/v1/spaces/lg8283283/audiences", timeout=10)
        assert (answer.status_code, answer.json()) == (200, {"space": "lg8283283"})
        traits = server.url + profile_path("user_id:u1234", "traits")
        assert requests.get(traits, auth=(DEMO_TOKEN, ""), timeout=10).status_code == 200


ASKED = [
    ("GET", profile_path("user_id:u1234", "traits") + "?limit=2", {}),
    ("GET", profile_path("user_id:u1234", "events") + "?limit=1&sort=asc", {}),
    ("HEAD", profile_path("user_id:u1234", "metadata"), {}),
    ("GET", profile_path("user_id:u1234", "traits") + "?limit=0", {}),
    ("GET", profile_path("user_id:nobody", "traits"), {}),
    ("GET", profile_path("email:a%40b.c", "external_ids"), {}),
    ("GET", "/v1/spaces/lg8283283/collections/users/profiles", {}),
    ("POST", profile_path("user_id:u1234", "traits"), {}),
    ("GET", "/v1/nowhere", {}),
    (
        "OPTIONS",
        profile_path("user_id:u1234", "traits"),
        {
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    ),
    ("GET", profile_path("user_id:u1234", "traits"), {"Origin": "http://localhost:5173"}),
    ("GET", profile_path("user_id:u1234", "traits"), {"Authorization": "Basic Zm9vOg=="}),
    ("GET", profile_path("user_id:u1234", "traits"), {"Expect": "200-ok"}),
]


def _answers(app: web.Application) -> list[tuple[int, dict[str, str], bytes]]:
    answers = []
    with ServerThread(app) as server, requests.Session() as session:
        for method, path, headers in ASKED:
            auth = {"Authorization": "Basic ZGVtby10b2tlbjo=", **headers}
            got = session.request(method, server.url + path, headers=auth, timeout=10)
            kept = {k: v for k, v in got.headers.items() if k not in ("Request-Id", "Date")}
            answers.append((got.status_code, kept, got.content.replace(server.url.encode(), b"")))
    return answers


def test_the_apis_requests_are_answered_alike_past_the_router_and_through_it() -> None:
    def app(routed: bool) -> web.Application:
        clock = Clock(NOW)
        settings = ServerSettings(cors=True)
        made = create_app(load_fixtures([demo_fixture_path()], clock), clock, settings)
        if routed:  # a middleware of its own: the app routes every request itself
            made.middlewares.append(web.middleware(lambda request, handler: handler(request)))
        return made

    past, through = _answers(app(routed=False)), _answers(app(routed=True))
    assert past == through
    assert [status for status, _, _ in past] == [
        200, 200, 200, 400, 404, 404, 200, 405, 404, 204, 200, 401, 417
    ]  # fmt: skip
