"""The "real API" of the contract tests: the fake itself, and an upstream that drifts.

Nothing here reaches the internet; every server listens on 127.0.0.1, port 0.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import queue
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from profilemock.clock import Clock
from profilemock.contract.proxy import ProxySettings, create_proxy_app
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import create_app
from profilemock.mockserver.serving import ServerThread

CURSOR = {"url": "", "has_more": False, "next": ""}
GOOD_TRAITS = {"traits": {"plan": "pro"}, "cursor": {**CURSOR, "limit": 10}}
DRIFT_PATH = "/v1/spaces/sp/collections/users/profiles/user_id:{case}/{resource}"


def drift_url(case: str, resource: str = "traits") -> str:
    return DRIFT_PATH.format(case=case, resource=resource)


# What the drifting upstream answers for user_id:<case>: status, content type, body.
DRIFTS: dict[str, tuple[int, str, Any]] = {
    "good": (200, "application/json", GOOD_TRAITS),
    "extra-field": (200, "application/json", {**GOOD_TRAITS, "debug": {"shard": 7}}),
    "missing-field": (200, "application/json", {"cursor": {**CURSOR, "limit": 10}}),
    "wrong-type": (
        200,
        "application/json",
        {"traits": {"plan": "pro"}, "cursor": {**CURSOR, "has_more": "no", "limit": 10}},
    ),
    "null-list": (200, "application/json", {"data": None, "cursor": CURSOR}),
    "non-json": (200, "text/html", "<html><body>Service Unavailable</body></html>"),
    "json-as-text": (200, "text/plain", GOOD_TRAITS),
    "gateway-page": (
        503,
        "text/html",
        "<html><body>503 Service Unavailable</body></html>",
    ),
    "bad-error": (404, "application/json", {"message": "no such profile"}),
    "too-deep": (200, "application/json", '{"traits":' + "[" * 5000 + "]" * 5000 + "}"),
    "lone-surrogate": (200, "application/json", '{"traits":{"plan":"\\ud800"}}'),
    "nan": (200, "application/json", '{"traits":{"plan":NaN}}'),
    "not-utf8": (200, "application/json", b'{"traits":{"plan":"\xff"}}'),
    # Two pages: the first keeps the contract and points at the second (by the upstream's
    # own origin, as the real API does), which does not.
    "paged": (
        200,
        "application/json",
        '{"traits":{"plan":"pro"},"cursor":{"url":"{origin}'
        + drift_url("paged")
        + '?limit=1&next=seats","has_more":true,"next":"seats","limit":1}}',
    ),
    "paged?next=seats": (
        200,
        "application/json",
        {"traits": {"seats": 3}, "cursor": {**CURSOR, "has_more": "no", "limit": 1}},
    ),
}
"""A ``{origin}`` in a text body is the upstream's own origin (``http://127.0.0.1:PORT``),
``{host}`` its host and port;
a ``case?next=VALUE`` entry answers that case's request with that ``next``."""

ANSWER_HEADERS: dict[str, list[tuple[str, str]]] = {}
"""Headers the drifting upstream adds to its answer for a case (``{origin}`` in a value as
in ``DRIFTS``); tests set them with ``monkeypatch.setitem``."""


@dataclass
class Upstream:
    """A drifting Profile API: answers by the identifier's value (see ``DRIFTS``); ``slow``
    never answers until the server stops, ``slow-body`` never ends its body; every request
    it saw is kept."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    released: asyncio.Event | None = None

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.StreamResponse:
            self.seen.append(
                {
                    "method": request.method,
                    "raw_path": request.raw_path,
                    "headers": dict(request.headers),
                    "body": await request.content.read(),  # any size: not request.read()
                }
            )
            case = request.raw_path.split("user_id:")[-1].split("/")[0]
            if case == "slow":
                self.released = self.released or asyncio.Event()
                await self.released.wait()
            if case == "slow-body":  # its status and headers at once, its body never whole
                self.released = self.released or asyncio.Event()
                started = web.StreamResponse(headers={"Content-Length": "20"})
                started.content_type = "application/json"
                await started.prepare(request)
                await started.write(b'{"traits"')
                await self.released.wait()
                return started
            following = request.query.get("next")
            status, content_type, body = DRIFTS.get(
                f"{case}?next={following}", DRIFTS.get(case, DRIFTS["good"])
            )
            if isinstance(body, str):
                body = body.replace("{origin}", f"http://{request.host}")
                body = body.replace("{host}", request.host)
            raw = body if isinstance(body, bytes) else None
            text = None if raw is not None else body if isinstance(body, str) else json.dumps(body)
            answer = web.Response(
                body=raw,
                text=text,
                status=status,
                content_type=content_type,
                headers={
                    "Request-Id": "upstream-0001",
                    "X-Upstream": "kept",
                    "Keep-Alive": "timeout=5",
                },
            )
            for name, value in ANSWER_HEADERS.get(case, []):
                answer.headers.add(name, value.replace("{origin}", f"http://{request.host}"))
            return answer

        async def release(app: web.Application) -> None:
            if self.released is not None:
                self.released.set()

        app = web.Application()
        app.on_shutdown.append(release)
        app.router.add_route("*", r"/{path:[\s\S]*}", handle)
        return app


FLOOD = 32_000_000
"""Bytes of a flooding answer's body, were it read to the end."""
FLOOD_HEAD, FLOOD_TAIL = b'{"traits":{"x":"', b'"}}'


@dataclass
class Flood:
    """An upstream whose every answer is far larger than the limits the tests set, by the
    identifier's value: ``chunked`` streams ``FLOOD`` bytes without a Content-Length,
    ``declared`` says its Content-Length first, ``gzip`` is a 2 kB gzip that inflates to
    2 MB. How many bytes of ``chunked`` or ``declared`` got written before the reader
    hung up is put in ``sent``, once the upstream stops writing."""

    sent: queue.Queue[int] = field(default_factory=queue.Queue)

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.StreamResponse:
            case = request.raw_path.split("user_id:")[-1].split("/")[0]
            headers = {"Content-Type": "application/json", "Request-Id": "flood-1"}
            if case == "gzip":
                text = FLOOD_HEAD + b"0" * 2_000_000 + FLOOD_TAIL
                headers["Content-Encoding"] = "gzip"
                return web.Response(body=gzip.compress(text), headers=headers)
            answer = web.StreamResponse(headers=headers)
            if case == "declared":
                answer.content_length = FLOOD
            written = 0
            try:
                await answer.prepare(request)
                await answer.write(FLOOD_HEAD)
                written = len(FLOOD_HEAD)
                chunk = b"0" * 65536
                while written < FLOOD - len(FLOOD_TAIL) - len(chunk):
                    await answer.write(chunk)
                    written += len(chunk)
                await answer.write(b"0" * (FLOOD - len(FLOOD_TAIL) - written) + FLOOD_TAIL)
                written = FLOOD
            except (ConnectionError, OSError):
                pass  # the reader hung up
            finally:
                self.sent.put(written)
            return answer

        app = web.Application()
        app.router.add_route("*", r"/{path:[\s\S]*}", handle)
        return app


@pytest.fixture
def flood() -> Iterator[tuple[Flood, str]]:
    flooding = Flood()
    server = ServerThread(flooding.app()).start()
    yield flooding, server.url
    server.stop()


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, str]]:
    drifting = Upstream()
    server = ServerThread(drifting.app()).start()
    yield drifting, server.url
    server.stop()  # its shutdown releases a request held by ``slow``


@pytest.fixture
def start_proxy() -> Iterator[Callable[..., ServerThread]]:
    """Start validating proxies (in threads); stopped at the end of the test."""
    started: list[ServerThread] = []

    def start(upstream_url: str, **settings: Any) -> ServerThread:
        server = ServerThread(create_proxy_app(ProxySettings(upstream_url, **settings))).start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def demo_fake() -> Iterator[ServerThread]:
    """The fake serving the demo data: an upstream that keeps the contract."""
    clock = Clock()
    server = ServerThread(create_app(load_fixtures([demo_fixture_path()], clock), clock)).start()
    yield server
    server.stop()


@pytest.fixture
def dead_upstream() -> Iterator[str]:
    """A port that is bound but never listens: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def socket_upstream(answer: Callable[[bytes], bytes]) -> Iterator[str]:
    """An upstream written on the socket as it is (what aiohttp's server would not send):
    ``answer(request_line)`` is written, then the connection closed; its URL."""

    class Answer(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            request_line = self.rfile.readline()
            while self.rfile.readline() not in (b"", b"\r\n", b"\n"):
                pass  # the headers
            self.wfile.write(answer(request_line))

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Answer) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def bodiless() -> Iterator[str]:
    """An upstream whose every answer declares ``Content-Length: FLOOD`` but has no body by
    definition: the status is the request's ``?status=`` (304, 204). Written on the socket
    as it is, since aiohttp's server drops that header from such answers."""

    def answer(request_line: bytes) -> bytes:
        status = request_line.split(b"status=")[-1].split()[0].decode()
        return (
            f"HTTP/1.1 {status} X\r\nContent-Length: {FLOOD}\r\nRequest-Id: none-1\r\n"
            "Connection: close\r\n\r\n".encode()
        )

    with socket_upstream(answer) as url:
        yield url


GZIP_TWICE = gzip.compress(gzip.compress(b'{"traits":{}}'))
RAW_ANSWERS = {
    "not-http": b"\x00\x01garbage\r\n\r\n",
    # A whole answer, then bytes that are none: where the next status line should be.
    "long-body": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b'Content-Length: 10\r\n\r\n{"traits":{}}',
    "many-headers": b"HTTP/1.1 200 OK\r\n"
    + b"".join(b"Set-Cookie: c%d=v\r\n" % i for i in range(129))
    + b"Content-Length: 2\r\n\r\n{}",
    "204-with-body": b"HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\n{}",
    "long-header": b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n",
    "short-body": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b'Content-Length: 100\r\n\r\n{"traits"',
    "closed": b"",
    "bad-gzip": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Encoding: gzip\r\nContent-Length: 12\r\n\r\nnot gzipped!",
    "status-42": b"HTTP/1.1 042 Odd\r\nContent-Type: application/json\r\n"
    b"Content-Length: 2\r\n\r\n{}",
    "status-600": b"HTTP/1.1 600 Odd\r\nContent-Type: application/json\r\n"
    b"Content-Length: 2\r\n\r\n{}",
    # Bytes no header the proxy writes can hold: a control character, a byte not UTF-8.
    "control-header": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"X-Trace: a\x01b\r\nContent-Length: 2\r\n\r\n{}",
    "latin-1-location": b"HTTP/1.1 302 Found\r\nLocation: /v1/caf\xe9\r\nContent-Length: 0\r\n\r\n",
    "control-reason": b"HTTP/1.1 404 Not\x7fFound\r\nContent-Type: application/json\r\n"
    b'Content-Length: 65\r\n\r\n{"error":{"code":"not_found","message":"Profile was not found."}}',
    # Each said "not well-formed HTTP", naming none of these.
    "two-lengths": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "length-and-chunked": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "bad-chunk-size": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "nul-header": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"X-Trace: a\x00b\r\nContent-Length: 2\r\n\r\n{}",
    "header-without-colon": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"X-Trace\r\nContent-Length: 2\r\n\r\n{}",
    "bare-cr-header": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"X-Trace: a\rb\r\nContent-Length: 2\r\n\r\n{}",
    # Both read "not UTF-8 (byte 2)".
    "gzip-gzip": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Encoding: gzip, gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(GZIP_TWICE), GZIP_TWICE),
    "gzip-twice": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(GZIP_TWICE), GZIP_TWICE),
    # Passed as valid: the last `traits` is in the contract; a client keeping the first
    # reads 5.
    "repeated-key": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: 66\r\n\r\n"
    b'{"traits":5,"cursor":{"url":"","has_more":false},"traits":{"a":2}}',
    # Its pointer, written as it was, split the proxy's log line in two.
    "repeated-odd-key": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: 83\r\n\r\n"
    b'{"traits":{"a\\nWARNING b":1,"a\\nWARNING b":2},"cursor":{"url":"","has_more":false}}',
    # A coding the client session does not undo: the bytes come as they were sent.
    "odd-coding": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Encoding: x-odd\r\nContent-Length: 8\r\n\r\n\x00\x01coded!",
}
"""What the ``raw`` upstream writes on the socket, by the case in the request's path
(``user_id:CASE``), before it closes the connection."""


@pytest.fixture
def raw() -> Iterator[str]:
    """An upstream that answers the bytes of ``RAW_ANSWERS`` (no HTTP a client reads)."""

    def answer(request_line: bytes) -> bytes:
        return RAW_ANSWERS[request_line.split(b"user_id:")[-1].split(b"/")[0].decode()]

    with socket_upstream(answer) as url:
        yield url
