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
from profilemock.mockserver.app import create_app
from profilemock.mockserver.serving import ServerThread, new_event_loop, run
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
