"""Below the API: requests HTTP cannot read get the envelope and a Request-Id (never the
raw request back, never a traceback), absolute-form targets are served, and slow clients
time out without starving the others."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver import expect
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.connections import DIRECT, OPEN, GuardedConnection, Handler, _refuse
from profilemock.mockserver.limits import Limits
from profilemock.mockserver.serving import ServerThread
from profilemock.mockserver.state import ServerSettings
from tests.conftest import EAGER_HANDLERS, NOW, loop_held, until_connections

SECRET = "s3cret-admin-token"
AUTH = "Basic ZGVtby10b2tlbjo="  # demo-token:
METADATA = "/v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/metadata"


def start(limits: Limits | None = None) -> ServerThread:
    clock = Clock(NOW)
    app = create_app(load_fixtures([demo_fixture_path()], clock), clock)
    return ServerThread(app, limits=limits).start()


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    served = start()
    yield served
    served.stop()


def address(server: ServerThread) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def exchange(
    server: ServerThread, raw: bytes, timeout: float = 10.0, *, closes: bool = False
) -> bytes:
    """Send ``raw`` and read until the server closes (or ``timeout``; ``closes``: the
    server must close the connection before it)."""
    with socket.create_connection(address(server), timeout=timeout) as sock:
        sock.sendall(raw)
        with_close = b""
        try:
            while chunk := sock.recv(65536):
                with_close += chunk
        except ConnectionResetError:
            pass
        except TimeoutError:
            if closes:
                raise
        return with_close


def parsed(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.fixture(params=["C", "pure Python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which of aiohttp's request parsers reads the connections opened in the test: its
    compiled one (llhttp) or the pure-Python one it falls back to where that is missing
    (PyPy, a platform without its wheel, ``AIOHTTP_NO_EXTENSIONS``). The fake answers alike."""
    from aiohttp import http_parser, web_protocol

    name = "HttpRequestParserC" if request.param == "C" else "HttpRequestParserPy"
    chosen = getattr(http_parser, name, None)
    if chosen is None:
        pytest.skip("aiohttp's compiled parser is not installed")
    monkeypatch.setattr(web_protocol, "HttpRequestParser", chosen)
    return str(request.param)


MALFORMED = {
    "line too long": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "header too long": b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n",
    "too many headers": b"GET / HTTP/1.1\r\nHost: x\r\n"
    + b"".join(b"X-%d: 1\r\n" % i for i in range(200))
    + b"\r\n",
    "bad method": b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad version": b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    "CL and TE": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bare LF": b"GET / HTTP/1.1\nHost: x\n\n",
    "missing Host": b"GET / HTTP/1.1\r\n\r\n",
    "TLS bytes": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 32,
    "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "bad header name": b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
    "OPTIONS *": b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    # aiohttp routed a CONNECT with a path nowhere: its own plain-text 404.
    "CONNECT a path": b"CONNECT /v1/spaces/lg8283283 HTTP/1.1\r\nHost: x\r\n\r\n",
    "CONNECT host:port": b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: x\r\n\r\n",
    # The pure-Python parser answered these, which the compiled one refuses: a lower-case
    # method as its upper-case one (`get` had the metadata), a byte beyond ASCII in the
    # target decoded into the path.
    "lower-case method": b"get " + METADATA.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "non-ASCII target": b"GET /v1/caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
    # The pure-Python parser waited for the CRLF of a line a CR alone ended: no answer.
    "CR-ended lines": b"GET / HTTP/1.1\rHost: x\r\r",
    "a CR-ended header": b"GET / HTTP/1.1\r\nHost: x\rX-Note: 1\r\r",
    "a CR after the head": b"GET / HTTP/1.1\r\nHost: x\r\n\rX",
    # The compiled parser reads these, and the answer was the metadata under a status line
    # of that version (`HTTP/0.9 200 OK`); the pure-Python one refused the first.
    "no version": b"GET " + METADATA.encode() + b"\r\nHost: x\r\n\r\n",
    "HTTP/2.0 in a text request line": b"GET "
    + METADATA.encode()
    + b" HTTP/2.0\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_unreadable_requests_get_the_envelope_without_echo(
    server: ServerThread, parser: str, raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    # The token rides along on every malformed request: it must come back nowhere.
    raw = raw.replace(
        b"Host: x\r\n",
        f"Host: x\r\nAuthorization: Bearer {SECRET}\r\nProfilemock-Admin-Token: {SECRET}\r\n".encode(),
        1,
    )
    with caplog.at_level(logging.DEBUG):
        answer = exchange(server, raw, 5.0, closes=True)  # answered, then closed (no linger)
    status, headers, body = parsed(answer)
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert len(headers["Request-Id"]) == 36
    assert set(json.loads(body)["error"]) == {"code", "message"}
    assert SECRET.encode() not in answer
    logged = [r.getMessage() for r in caplog.records]
    assert all(SECRET not in line and "\n" not in line for line in logged)
    assert not any(r.exc_info for r in caplog.records)
    assert sum("refused a request" in line for line in logged) <= 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (b"Host: x\r\nHost: y\r\n", "the request has two Host headers"),
        (b"", "an HTTP/1.1 request needs a Host header"),
        # Told by the words of the raw header aiohttp's message quotes, not by its own.
        (b"Host: \x1b\r\n", "a header is malformed"),
        (b"Host: x\r\nX-Note: Content-Length \x01\r\n", "a header is malformed"),
        (b"Host: x\r\nContent-Length: -5\r\n", "Content-Length is not a number of bytes"),
        (b"Host: x\r\nContent-Length: abc\r\n", "Content-Length is not a number of bytes"),
        (
            b"Host: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n",
            "the request has two Content-Length headers",
        ),
        (
            b"Host: x\r\nTransfer-Encoding: gzip\r\n",
            "Transfer-Encoding is not chunked, the one the server reads",
        ),
        (
            b"Host: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "Content-Length and Transfer-Encoding conflict",
        ),
        (
            b"Host: x\rX-Note: 1\r\n",
            "a line of the request ends in a CR or an LF alone: HTTP lines end in CRLF (\\r\\n)",
        ),
    ],
)
def test_an_unreadable_request_is_told_what_is_wrong_with_it(
    server: ServerThread, parser: str, headers: bytes, reason: str
) -> None:
    """Each was told by a keyword of aiohttp's message: two Host headers "needs a Host
    header", a Content-Length of -5 "Content-Length and Transfer-Encoding conflict"."""
    status, _, body = parsed(exchange(server, b"POST /v1 HTTP/1.1\r\n" + headers + b"\r\n"))
    assert status == 400
    assert reason in json.loads(body)["error"]["message"]


def test_a_target_no_url_holds_as_is_is_told_so(server: ServerThread, parser: str) -> None:
    # It was "the request is not valid HTTP/1.1", which sent the client to its HTTP library.
    raw = b"GET " + METADATA.replace("u1234", "\u00e9").encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    status, _, body = parsed(exchange(server, raw))
    assert status == 400
    assert json.loads(body)["error"]["message"] == (
        "the request target holds a character no URL holds as is (a byte beyond ASCII, a"
        " control character): percent-encode it"
    )


@pytest.mark.parametrize("version", ["HTTP/1.0", "HTTP/1.1"])
def test_a_request_read_a_byte_at_a_time_is_read_alike_by_either_parser(version: str) -> None:
    """The pure-Python parser is held to refuse what cannot start a method as soon as it
    comes: none of a method's first bytes, nor a blank line before the request (which HTTP
    lets a client send), is taken for that."""
    from unittest import mock

    from aiohttp import http_parser

    from profilemock.mockserver.connections import _PyParser

    raw = f"\r\nGET {METADATA} {version}\r\nHost: x\r\n\r\n".encode()
    kinds = [
        http_parser.HttpRequestParserPy,
        _PyParser,
        getattr(http_parser, "HttpRequestParserC", _PyParser),
    ]
    loop = asyncio.new_event_loop()
    try:
        for kind in kinds:
            reader = kind(mock.Mock(), loop, 2**16, max_line_size=8190, max_field_size=8190)
            messages = [m for byte in raw for m in reader.feed_data(bytes([byte]))[0]]
            assert [
                (m.method, m.path, f"HTTP/{m.version[0]}.{m.version[1]}") for m, _ in messages
            ] == [("GET", METADATA, version)]
    finally:
        loop.close()


def test_a_truncated_answer_to_head_sends_its_headers_and_no_body() -> None:
    """An answer to HEAD has no body (RFC 9110 §9.3.2): a truncate fault sent half of the
    GET's body after its headers, which a client reads as the start of its next answer."""
    served = start()
    try:
        served.call(lambda state: state.faults.add({"route": "metadata", "fault": "truncate"}))
        raw = f"HEAD {METADATA} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n\r\n"
        answer = exchange(served, raw.encode())
    finally:
        served.stop()
    status, headers, body = parsed(answer)
    assert (status, headers["Profilemock-Fault"]) == (200, "fault-1")
    assert int(headers["Content-Length"]) > 0
    assert body == b""


def test_absolute_form_target_is_served(server: ServerThread) -> None:
    raw = (
        f"GET http://127.0.0.1{METADATA}?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {AUTH}\r\nConnection: close\r\n\r\n"
    ).encode()
    status, _, body = parsed(exchange(server, raw))
    assert status == 200
    assert "created_at" in json.loads(body)["metadata"]
    entry = server.call(lambda state: list(state.journal)[-1])
    assert entry.path == METADATA
    assert entry.route == "metadata"


@pytest.mark.parametrize(
    ("raw", "auth"),
    [
        (b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n", "basic"),
        (b"OPTIONS * HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", "bearer"),
    ],
)
def test_a_request_no_route_can_take_is_journaled_with_its_auth_scheme(
    server: ServerThread, raw: bytes, auth: str
) -> None:
    # It was journaled as sent with no Authorization (`none`), whatever it carried.
    assert parsed(exchange(server, raw % AUTH.encode()))[0] == 400
    entry = server.call(lambda state: list(state.journal)[-1])
    assert (entry.status, entry.auth) == (400, auth)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from([b"GET", b"HEAD", b"POST", b"OPTIONS", b"DELETE", b"G3T", b""]),
    target=st.binary(max_size=40),
    version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"", b"http/1.1"]),
    headers=st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=24)), max_size=5),
)
def test_raw_requests_never_get_a_500_or_plain_text(
    server: ServerThread,
    method: bytes,
    target: bytes,
    version: bytes,
    headers: list[tuple[bytes, bytes]],
) -> None:
    raw = method + b" /v1/spaces/lg8283283/" + target + b" " + version + b"\r\nHost: x\r\n"
    raw += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    raw += b"Connection: close\r\n\r\n"
    answer = exchange(server, raw)
    if not answer:
        return  # the server may close on what cannot be answered at all
    status, response_headers, _ = parsed(answer)
    assert status < 500, answer
    if method != b"HEAD" and status != 204:
        assert response_headers.get("Content-Type") == "application/json", answer
    assert server.call(lambda state: list(state.errors)) == []


HEADER_NAMES = [
    b"Host",
    b"Origin",
    b"Content-Type",
    b"Authorization",
    b"Profilemock-Admin-Token",
    b"X-Forwarded-Host",
    b"Access-Control-Request-Headers",
]


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(HEADER_NAMES),
    value=st.binary(min_size=1, max_size=12).filter(lambda v: b"\r" not in v and b"\n" not in v),
    request=st.sampled_from(
        [(b"POST", b"/__admin/faults"), (b"GET", b"/__admin/health"), (b"GET", METADATA.encode())]
    ),
)
def test_header_bytes_that_are_not_utf8_never_get_a_500(
    server: ServerThread, name: bytes, value: bytes, request: tuple[bytes, bytes]
) -> None:
    # aiohttp reads such bytes as lone surrogates; an admin refusal quoting a Host, an Origin
    # or a Content-Type that held one could not be encoded, and answered 500.
    method, target = request
    headers = {b"Host": b"127.0.0.1", b"Content-Type": b"application/json", name: value}
    raw = method + b" " + target + b" HTTP/1.1\r\n"
    raw += b"".join(k + b": " + v + b"\r\n" for k, v in headers.items())
    raw += f"Authorization: {AUTH}\r\n".encode() if name != b"Authorization" else b""
    raw += b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
    answer = exchange(server, raw)
    status, response_headers, body = parsed(answer)
    assert status < 500, answer
    assert response_headers["Content-Type"] == "application/json", answer
    assert isinstance(json.loads(body), dict)
    assert server.call(lambda state: list(state.errors)) == []
    server.call(lambda state: state.faults.clear())


@pytest.mark.parametrize("host", [b"caf\xe9", b"a b", b""])
def test_a_host_no_url_can_carry_gives_a_cursor_url_of_the_servers_own_address(
    server: ServerThread, host: bytes
) -> None:
    # The next page's URL is built from the Host; a byte aiohttp reads as a lone surrogate
    # could not be encoded, and answered 500.
    raw = (
        b"GET /v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/traits?limit=2"
        b" HTTP/1.1\r\nHost: "
        + host
        + f"\r\nAuthorization: {AUTH}\r\n".encode()
        + b"Connection: close\r\n\r\n"
    )
    status, _, body = parsed(exchange(server, raw))
    assert status == 200, body
    assert json.loads(body)["cursor"]["url"].startswith(server.url + "/v1/spaces/lg8283283/")
    assert server.call(lambda state: list(state.errors)) == []


def test_an_origin_that_is_not_utf8_is_quoted_byte_by_byte(server: ServerThread) -> None:
    raw = (
        b"GET /__admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://caf\xe9\r\n"
        b"Connection: close\r\n\r\n"
    )
    status, _, body = parsed(exchange(server, raw))
    assert status == 403
    assert "pages at `http://caf\\xe9`" in json.loads(body)["error"]["message"]


def test_a_failure_outside_every_handler_is_a_500_kept_for_the_test(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Such a failure (an answer that could not be written, say) was told as a client error:
    # code `invalid_request_error`, logged as a refused request, not kept in `errors`.
    served = start()
    try:
        original = served.call(lambda state: state.next_request_id)
        calls = itertools.count()

        def flaky() -> str:
            if next(calls) == 0:
                raise RuntimeError("boom")
            return original()

        served.call(lambda state: setattr(state, "next_request_id", flaky))
        raw = b"GET /__admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        with caplog.at_level(logging.ERROR):
            status, headers, body = parsed(exchange(served, raw))
        assert status == 500
        assert json.loads(body) == {
            "error": {"code": "internal_error", "message": "profilemock failed"}
        }
        assert len(headers["Request-Id"]) == 36
        assert [str(e) for e in served.call(lambda state: list(state.errors))] == ["boom"]
        assert any(r.exc_info and "profilemock failed" in r.getMessage() for r in caplog.records)
    finally:
        served.stop()


@pytest.mark.parametrize("target", [METADATA, "/__admin/health", "/__admin/nope", "/__admin"])
@pytest.mark.parametrize("expect", [b"something-else", b"caf\xe9"])
def test_an_expectation_other_than_100_continue_is_417_in_the_envelope(
    server: ServerThread, target: str, expect: bytes
) -> None:
    # aiohttp answered it in plain text without a Request-Id, and a 500 when the header's
    # bytes were not UTF-8.
    raw = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {AUTH}\r\n".encode()
        + b"Expect: "
        + expect
        + b"\r\nConnection: close\r\n\r\n"
    )
    status, headers, body = parsed(exchange(server, raw))
    assert status == 417
    assert headers["Content-Type"] == "application/json"
    assert len(headers["Request-Id"]) == 36
    assert "send `Expect: 100-continue` or no Expect" in json.loads(body)["error"]["message"]
    assert server.call(lambda state: list(state.errors)) == []


def test_a_request_refused_at_expect_is_journaled(server: ServerThread) -> None:
    # It was refused before the pipeline, so the journal never saw it.
    raw = (
        f"GET {METADATA} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {AUTH}\r\n"
        "Expect: something-else\r\nConnection: close\r\n\r\n"
    ).encode()
    status, headers, _ = parsed(exchange(server, raw))
    assert status == 417
    entry = server.call(lambda state: list(state.journal))[-1]
    assert (entry.route, entry.status, entry.request_id) == ("metadata", 417, headers["Request-Id"])


@pytest.mark.parametrize(
    "head",
    [
        b"POST /__admin/faults HTTP/1.1\r\nContent-Type: application/json\r\n",
        f"POST {METADATA} HTTP/1.1\r\nAuthorization: {AUTH}\r\n".encode(),
    ],
    ids=["admin", "api"],
)
def test_expect_on_a_body_route_is_refused_before_the_body_is_read_and_closes_at_once(
    server: ServerThread, head: bytes
) -> None:
    raw = head + b"Host: 127.0.0.1\r\nExpect: 200-ok\r\nContent-Length: 30\r\n\r\n"
    # the body is never sent: the client waits for the answer to its expectation
    with socket.create_connection(address(server), timeout=30) as sock:
        sock.sendall(raw)
        started = time.monotonic()
        answer = read_until_closed(sock)
        assert time.monotonic() - started < 5  # aiohttp alone waits 10 s for the body
    status, headers, body = parsed(answer)
    assert status == 417
    assert headers["Connection"] == "close"
    assert "`200-ok`" in json.loads(body)["error"]["message"]
    assert server.call(lambda state: len(state.faults)) == 0


@pytest.mark.parametrize(
    "head",
    [
        b"PATCH /__admin/realism HTTP/1.1\r\nContent-Type: application/json\r\n",
        f"GET {METADATA} HTTP/1.1\r\nAuthorization: {AUTH}\r\n".encode(),
    ],
    ids=["admin", "api"],
)
def test_expect_100_continue_is_met(server: ServerThread, head: bytes) -> None:
    raw = head + (
        b"Host: 127.0.0.1\r\nExpect: 100-continue\r\n"
        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    answer = exchange(server, raw)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), answer


def test_an_admin_body_announced_too_large_is_refused_before_it_is_sent(
    server: ServerThread,
) -> None:
    # It was asked to continue, then refused once sent whole (curl asks to continue for a
    # body over 1 MiB, the admin API's limit: each such upload went for nothing).
    raw = (
        b"PUT /__admin/spaces/lg8283283/collections/users/profiles HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
        b"Content-Length: 99999999\r\n\r\n"
    )
    answer = exchange(server, raw, closes=True)
    # (The reason phrase is Python's: "Content Too Large" from 3.13, RFC 9110's.)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b"100 Continue" not in answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["message"] == (
        "the request body is larger than the 1,048,576 bytes an admin request may send"
    )


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"", 401),  # no admin token: told that, not to send less
        (b"Profilemock-Admin-Token: adm\r\n", 413),
        (b"Profilemock-Admin-Token: adm\r\nOrigin: https://evil.example\r\n", 403),
    ],
    ids=["no token", "token", "foreign page"],
)
def test_a_body_refused_unsent_tells_who_may_not_call_first(headers: bytes, status: int) -> None:
    # The 413 came before the token's 401 and the origin's 403: a client cut its body down
    # only to be refused for its token.
    clock = Clock(NOW)
    app = create_app(
        load_fixtures([demo_fixture_path()], clock), clock, ServerSettings(admin_token="adm")
    )
    served = ServerThread(app).start()
    try:
        raw = (
            b"POST /__admin/reset HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
            b"Content-Length: 99999999\r\n" + headers + b"\r\n"
        )
        answer = exchange(served, raw, closes=True)
    finally:
        served.stop()
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
    assert b"100 Continue" not in answer


@pytest.mark.parametrize("target", [METADATA, "/__admin/health"], ids=["api", "admin"])
def test_a_client_gone_before_its_100_continue_is_gone_not_a_failure_of_the_fake(
    target: str,
) -> None:
    """The client asks to be told to send its body and goes away before the fake answers
    (its timeout ran out): the ``100 Continue`` finds the connection closing. That was a
    500, "profilemock failed" with a traceback, kept for the test as the fake's failure
    (and the API's request journaled as not answered)."""
    served = start()
    try:
        opened = OPEN.open
        # The request and the client's leaving arrive together.
        with loop_held(served), socket.create_connection(address(served), timeout=10) as sock:
            sock.sendall(
                f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {AUTH}\r\n"
                "Expect: 100-continue\r\n\r\n".encode()
            )
        until_connections(opened)  # the connection is gone: the request is done with
        # Its leaving may also end the request before the pipeline saw it: no entry then.
        # From Python 3.12 the API's answer goes out before the leaving is read
        # (EAGER_HANDLERS): journaled as answered.
        gone = (200, "answered") if EAGER_HANDLERS else (None, "client went away")
        journaled = served.call(lambda state: [(e.status, e.outcome) for e in state.journal])
        assert set(journaled) <= {gone}
        assert served.call(lambda state: list(state.errors)) == []
    finally:
        served.stop()


def test_waiting_for_connections_to_close_fails_when_they_do_not() -> None:
    # It returned after ten seconds as if they had: a test's assertions after it (an empty
    # journal, no errors yet) then passed of a request still being answered.
    with pytest.raises(AssertionError, match=r"connections still open after 0\.01 s"):
        until_connections(OPEN.open - 1, within=0.01)


class _Gone:
    """The writer of a connection whose client went away: aiohttp's counts what it is
    given, then finds the transport closing."""

    output_size = 0

    async def write(self, chunk: bytes) -> None:
        self.output_size += len(chunk)
        raise ConnectionResetError("Cannot write to closing transport")

    async def drain(self) -> None:
        pass


async def test_an_api_request_whose_client_left_before_its_100_continue_is_journaled_gone() -> None:
    clock = Clock(NOW)
    app = create_app(load_fixtures([demo_fixture_path()], clock), clock)
    serve_api = app[DIRECT][1]
    request = make_mocked_request(
        "GET", METADATA, headers={"Authorization": AUTH, "Expect": "100-continue"}, writer=_Gone()
    )
    with pytest.raises(asyncio.CancelledError):  # ended, as a client leaving mid-answer ends it
        await serve_api(request)
    assert [(e.status, e.outcome) for e in app[STATE].journal] == [(None, "client went away")]


async def test_a_100_continue_that_found_the_client_gone_counts_no_byte_sent() -> None:
    # The request log's line for such a request said 25 bytes went out (50 for the admin
    # API's, met at aiohttp's step, then tried again in the pipeline).
    request = make_mocked_request(
        "PATCH", "/__admin/realism", headers={"Expect": "100-continue"}, writer=_Gone()
    )
    await expect.in_pipeline(request)
    with pytest.raises(ConnectionResetError):
        await expect.refusal(request, "100-continue")
    assert request.writer.output_size == 0


def test_a_slow_client_is_cut_off_after_the_header_timeout() -> None:
    served = start(Limits(header_timeout=0.3, keepalive_timeout=0.3))
    try:
        with socket.create_connection(address(served), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            started = time.monotonic()
            assert sock.recv(100) == b""  # closed by the server, not by our timeout
            assert time.monotonic() - started < 5
        with socket.create_connection(address(served), timeout=10) as sock:
            raw = f"GET {METADATA} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n\r\n"
            sock.sendall(raw.encode())
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
            sock.sendall(b"GET / HTTP/1.1\r\nHost")  # half a second request, then nothing
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            assert b"HTTP/1.1" not in data  # closed, the half request unanswered
    finally:
        served.stop()


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_an_admin_body_that_trickles_in_is_a_408_after_the_body_timeout() -> None:
    served = start(Limits(body_timeout=0.3))
    try:
        with socket.create_connection(address(served), timeout=10) as sock:
            sock.sendall(
                b"POST /__admin/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"status": 5'
            )
            started = time.monotonic()
            answer = read_until_closed(sock)  # the server answers, then closes
            assert time.monotonic() - started < 5  # its timeout, not the socket's
        status, headers, body = parsed(answer)
        assert status == 408
        assert "Request-Id" in headers
        assert json.loads(body)["error"] == {
            "code": "invalid_request_error",
            "message": "the request body did not arrive within 0.3 s of its headers",
        }
        assert served.call(lambda state: (len(state.faults), list(state.errors))) == (0, [])
    finally:
        served.stop()


def test_an_api_request_whose_body_trickles_in_is_closed_after_the_body_timeout() -> None:
    served = start(Limits(body_timeout=0.3))
    try:
        with socket.create_connection(address(served), timeout=10) as sock:
            sock.sendall(
                f"GET {METADATA} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n"
                "Content-Length: 100\r\n\r\nabc".encode()
            )
            started = time.monotonic()
            answer = read_until_closed(sock)  # answered; the rest of the body never comes
            assert time.monotonic() - started < 5  # aiohttp alone lingers 10 s
        assert parsed(answer)[0] == 200
        assert served.call(lambda state: list(state.errors)) == []
    finally:
        served.stop()


@pytest.mark.parametrize("target", ["admin", "api"])
def test_a_body_that_times_out_in_a_middleware_of_the_apps_own_is_the_same_408(
    target: str,
) -> None:
    """A middleware that reads the body (a test's, logging bodies) met the timeout outside
    the pipeline that answers it: a 500 "profilemock failed", and a failure of the fake's
    kept to fail the test."""

    @web.middleware
    async def reading(request: web.Request, handler: Handler) -> web.StreamResponse:
        await request.read()
        return await handler(request)

    clock = Clock(NOW)
    app = create_app(load_fixtures([demo_fixture_path()], clock), clock)
    app.middlewares.append(reading)
    line = f"GET {METADATA}" if target == "api" else "POST /__admin/faults"
    with ServerThread(app, limits=Limits(body_timeout=0.01)) as served:
        with socket.create_connection(address(served), timeout=10) as sock:
            sock.sendall(
                f"{line} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {AUTH}\r\n"
                'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"status": 5'.encode()
            )
            status, headers, body = parsed(read_until_closed(sock))
        errors, journal = served.call(lambda state: (list(state.errors), list(state.journal)))
    assert status == 408
    assert "Request-Id" in headers
    assert json.loads(body)["error"] == {
        "code": "invalid_request_error",
        "message": "the request body did not arrive within 0.01 s of its headers",
    }
    assert errors == []
    if target == "api":  # no route saw it: journaled as the refusal it is
        assert [(e.status, e.request_id) for e in journal] == [(408, headers["Request-Id"])]
    else:  # the admin API is not journaled: a test's assert_no_errors failed on its call
        assert journal == []


def test_a_body_that_arrives_in_time_is_read() -> None:
    served = start(Limits(body_timeout=0.3))
    try:
        with socket.create_connection(address(served), timeout=10) as sock:
            body = b'{"route": "traits", "status": 503}'
            sock.sendall(
                b"POST /__admin/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            assert parsed(read_until_closed(sock))[0] == 201
    finally:
        served.stop()


@pytest.mark.parametrize("loop_name", ["uvloop", "asyncio"])
def test_a_connection_over_the_cap_is_answered_503_on_every_loop(loop_name: str) -> None:
    """With nothing idle to close, a connection over the cap gets a 503 in the envelope.
    On uvloop, the loop `serve` and the pytest plugin run, it was closed without a word:
    uvloop's transports are no asyncio.WriteTransport."""
    if loop_name == "uvloop":
        loop = pytest.importorskip("uvloop").new_event_loop()
    else:
        loop = asyncio.new_event_loop()

    class OverTheCap(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            _refuse(transport, "rid-503")

    async def connect_and_read() -> bytes:
        server = await loop.create_server(OverTheCap, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answer = await reader.read()
        writer.close()
        server.close()
        await server.wait_closed()
        return answer

    try:
        answer = loop.run_until_complete(connect_and_read())
    finally:
        loop.close()
    status, headers, body = parsed(answer)
    assert (status, headers["Connection"], headers["Request-Id"]) == (503, "close", "rid-503")
    assert json.loads(body)["error"] == {
        "code": "internal_error",
        "message": "profilemock has as many connections open as it may hold",
    }


def test_a_connection_refused_at_the_cap_is_journaled_with_its_503() -> None:
    """Its client got a 503 with a Request-Id the journal did not know: a test's
    assert_no_errors passed over it."""
    served = start(Limits(max_connections=1))
    add_hang = b'{"spec": "metadata:hang"}'
    exchange(
        served,
        b"POST /__admin/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
        b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(add_hang), add_hang),
    )
    until_connections(0)
    try:
        with socket.create_connection(address(served), timeout=10) as held:
            held.sendall(
                f"GET {METADATA} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n\r\n".encode()
            )
            while not served.call(lambda state: any(e.outcome == "pending" for e in state.journal)):
                pass  # held by the fault: the one connection there is room for, busy
            status, headers, _ = parsed(exchange(served, b""))
            entries = served.call(lambda state: list(state.journal))
    finally:
        served.stop()
    assert status == 503
    assert [(e.method, e.path, e.status, e.request_id, e.outcome) for e in entries[-1:]] == [
        ("UNKNOWN", "/", 503, headers["Request-Id"], "answered")
    ]
    assert entries[-1].hint == (
        "the connection was refused: 1 connection is open, the most it may hold (--max-connections)"
    )


def test_slowloris_cannot_starve_legitimate_clients() -> None:
    cap = 20
    served = start(Limits(header_timeout=60, keepalive_timeout=60, max_connections=cap))
    slow: list[socket.socket] = []
    try:
        for _ in range(3 * cap):  # three times the cap of never-finished requests
            sock = socket.create_connection(address(served), timeout=10)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(sock)
        for _ in range(10):
            raw = f"GET {METADATA} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\nConnection: close\r\n\r\n"
            status, _, _ = parsed(exchange(served, raw.encode()))
            assert status == 200
        assert OPEN.open <= cap
    finally:
        for sock in slow:
            sock.close()
        served.stop()


def test_slow_bodies_cannot_starve_legitimate_clients() -> None:
    """At the cap, a connection whose body is still trickling in makes room as an idle one
    does: its request gets a 408 and the connection closes."""
    cap = 20
    served = start(Limits(body_timeout=60, max_connections=cap))
    slow: list[socket.socket] = []
    try:
        for _ in range(3 * cap):
            sock = socket.create_connection(address(served), timeout=10)
            sock.sendall(
                b"POST /__admin/faults HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sta'
            )
            slow.append(sock)
        for _ in range(10):
            raw = f"GET {METADATA} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\nConnection: close\r\n\r\n"
            assert parsed(exchange(served, raw.encode()))[0] == 200
        assert OPEN.open <= cap
        evicted = read_until_closed(slow[0])
        assert parsed(evicted)[0] == 408
        assert b"needed the connection for another client" in evicted
        assert served.call(lambda state: list(state.errors)) == []
    finally:
        for sock in slow:
            sock.close()
        served.stop()


_BIG = json.dumps(
    {"ids": {"user_id": "big"}, "traits": {f"t{i:03d}": "x" * 4000 for i in range(200)}}
).encode()
PUT_BIG = (
    b"PUT /__admin/spaces/lg8283283/collections/users/profiles HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_BIG), _BIG)
)
"""A profile whose traits answer is about 800 kB."""
_TRAITS = METADATA.replace("user_id:u1234/metadata", "user_id:big/traits?limit=200")
ASK_BIG = f"GET {_TRAITS} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n\r\n".encode()
CLOSE = b"\r\nConnection: close\r\n\r\n"
"""Put in place of the end of a request's headers: the connection closes after it."""


def test_clients_that_stop_reading_cannot_starve_legitimate_clients() -> None:
    """At the cap, a connection whose client stopped reading its answers (the server's
    writing paused for as long as a body has to arrive) makes room as an idle one does; it
    held its place for good."""
    cap = 4
    served = start(Limits(max_connections=cap, body_timeout=0.5))
    assert parsed(exchange(served, PUT_BIG.replace(b"\r\n\r\n", CLOSE, 1)))[0] == 201
    stalled: list[socket.socket] = []
    try:
        for _ in range(cap):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(address(served))
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):  # the server stops reading too
                sock.send(ASK_BIG * 30)  # about 24 MB of answers, never read
            stalled.append(sock)
        raw = f"GET {METADATA} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\nConnection: close\r\n\r\n"
        deadline = time.monotonic() + 20
        # 503 while a stalled connection still has answers to write; 200 once one waits
        # for its client to read.
        while (status := parsed(exchange(served, raw.encode()))[0]) == 503:
            assert time.monotonic() < deadline, "no connection was closed to make room"
        assert status == 200
        assert OPEN.open <= cap
    finally:
        for sock in stalled:
            sock.close()
        served.stop()


def test_a_connection_refused_at_the_cap_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Its 503 reached the client and no log line said so: a load test saw 503s the
    server's log never showed."""
    cap = OPEN.open + 2
    served = start(Limits(max_connections=cap))
    served.call(lambda state: state.faults.add({"route": "metadata", "fault": "hang"}))
    held: list[socket.socket] = []
    try:
        for _ in range(2):  # busy, not slow: nothing to close to make room
            sock = socket.create_connection(address(served), timeout=10)
            sock.sendall(
                f"GET {METADATA} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n\r\n".encode()
            )
            held.append(sock)
        deadline = time.monotonic() + 20
        while served.call(lambda state: sum(e.outcome == "pending" for e in state.journal)) < 2:
            assert time.monotonic() < deadline, "the held requests never arrived"
        with caplog.at_level(logging.WARNING, logger="profilemock.access"):
            assert parsed(exchange(served, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))[0] == 503
        assert [r.getMessage() for r in caplog.records] == [
            "profilemock refused a connection from 127.0.0.1 with a 503:"
            f" {cap} connections are open, the most it may hold (--max-connections)"
        ]
    finally:
        for sock in held:
            sock.close()
        served.stop()


def test_a_client_reading_a_large_answer_is_not_closed_to_make_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A large answer pauses the server's writing until the client has read part of it,
    however promptly it reads: at the cap, that connection is no idle one to close (the
    answer it was reading was cut off), until it has taken nothing for the time a body
    has to arrive. The newcomer gets the 503 meanwhile."""
    paused = threading.Event()
    pause_writing = GuardedConnection.pause_writing

    def pause(connection: GuardedConnection) -> None:
        pause_writing(connection)
        paused.set()

    monkeypatch.setattr(GuardedConnection, "pause_writing", pause)
    served = start(Limits(max_connections=OPEN.open + 1))  # the count is the process's
    reader = socket.socket()
    try:
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.connect(address(served))
        reader.sendall(PUT_BIG + ASK_BIG * 9 + ASK_BIG.replace(b"\r\n\r\n", CLOSE))
        assert paused.wait(20), "the answers never filled the client's buffers"
        raw = f"GET {METADATA} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n\r\n"
        # 503, unless another server's connection closed meanwhile and made room
        assert parsed(exchange(served, raw.encode()))[0] in (200, 503)
        reader.settimeout(20)
        answers = b""
        while chunk := reader.recv(1 << 16):
            answers += chunk
        assert answers.count(b"HTTP/1.1 200 OK") == 10, "the answers were cut off"
    finally:
        reader.close()
        served.stop()
