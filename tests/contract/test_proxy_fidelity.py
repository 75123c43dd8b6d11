"""The proxy as a reverse proxy: a HEAD's length, redirects that stay in it, request bodies."""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from profilemock.contract.proxy import ProxySettings, create_proxy_app, links_here
from profilemock.mockserver.connections import OPEN
from profilemock.mockserver.limits import Limits
from profilemock.mockserver.serving import ServerThread
from tests.conftest import loop_held, until_connections
from tests.contract.conftest import ANSWER_HEADERS, DRIFTS, Flood, Upstream, drift_url
from tests.contract.test_proxy import TOKEN, Start, get, journal

TRAITS = "/v1/spaces/lg8283283/collections/users/profiles/user_id:9800664881/traits"
DEMO = ("demo-token", "")


def head(url: str) -> requests.Response:
    return requests.head(url, auth=DEMO, timeout=10)


# HEAD: the upstream's Content-Length, whenever the GET's body would pass on unchanged.


def test_a_head_answer_carries_the_upstreams_content_length(
    demo_fake: ServerThread, start_proxy: Start
) -> None:
    proxy = start_proxy(demo_fake.url, keep_upstream_urls=True)
    upstreams = head(f"{demo_fake.url}{TRAITS}").headers["Content-Length"]
    answer = head(f"{proxy.url}{TRAITS}")
    assert answer.status_code == 200
    assert answer.headers["Content-Length"] == upstreams
    got = requests.get(f"{proxy.url}{TRAITS}", auth=DEMO, timeout=10)
    assert int(upstreams) == len(got.content) > 0  # the size of what a GET gets


def test_a_head_error_answer_carries_the_upstreams_content_length(
    demo_fake: ServerThread, start_proxy: Start
) -> None:
    missing = TRAITS.replace("9800664881", "nobody")
    proxy = start_proxy(demo_fake.url)
    upstreams = head(f"{demo_fake.url}{missing}").headers["Content-Length"]
    answer = head(f"{proxy.url}{missing}")
    assert answer.status_code == 404
    assert answer.headers["Content-Length"] == upstreams != "0"


def test_a_head_answer_whose_get_may_move_its_cursor_url_gives_no_length_rather_than_a_wrong_one(
    demo_fake: ServerThread, start_proxy: Start
) -> None:
    # cursor.url is pointed at the proxy by default, so the GET's length can differ from
    # the upstream's: RFC 9110 8.6 forbids a HEAD length the GET does not have.
    proxy = start_proxy(demo_fake.url)
    answer = head(f"{proxy.url}{TRAITS}?limit=1")
    assert answer.status_code == 200
    assert "Content-Length" not in answer.headers
    assert "Transfer-Encoding" not in answer.headers
    assert answer.content == b""


def test_a_head_answer_of_a_content_coded_body_gives_no_length(
    flood: tuple[Flood, str], start_proxy: Start
) -> None:
    # The proxy passes bodies on decoded, so the gzip's length is not the GET's.
    _, url = flood
    proxy = start_proxy(url, keep_upstream_urls=True)
    answer = requests.head(f"{proxy.url}{drift_url('gzip')}", timeout=10)
    assert answer.status_code == 200
    assert "Content-Length" not in answer.headers
    assert "Content-Encoding" not in answer.headers


# Location and Content-Location under the upstream point at the proxy, as cursor.url does.

REDIRECT = drift_url("redirect")


@pytest.fixture
def redirecting(monkeypatch: pytest.MonkeyPatch) -> None:
    """``user_id:redirect`` answers 302 to ``user_id:good``'s traits by the upstream's URL."""
    monkeypatch.setitem(DRIFTS, "redirect", (302, "application/json", "{}"))
    monkeypatch.setitem(ANSWER_HEADERS, "redirect", [("Location", "{origin}" + drift_url("good"))])


@pytest.mark.usefixtures("redirecting")
def test_a_client_following_a_redirect_to_the_upstream_stays_in_the_proxy(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    drifting, url = upstream
    proxy = start_proxy(url)
    answer = get(f"{proxy.url}{REDIRECT}?x=1")
    assert answer.status_code == 200
    assert [r.headers["Location"] for r in answer.history] == [f"{proxy.url}{drift_url('good')}"]
    assert answer.url == f"{proxy.url}{drift_url('good')}"
    assert [e["path"] for e in journal(proxy)] == [REDIRECT, drift_url("good")]
    assert [seen["raw_path"] for seen in drifting.seen] == [f"{REDIRECT}?x=1", drift_url("good")]


@pytest.mark.parametrize(
    ("written", "moved"),
    [
        pytest.param("{origin}/v1/a/b?c=%2B#f", "/v1/a/b?c=%2B#f", id="the-upstreams-url"),
        pytest.param("HTTP://{host}/v1/a", "/v1/a", id="its-origin-in-capitals"),
        pytest.param("/v1/a", None, id="relative"),
        pytest.param("//{host}/v1/a", None, id="scheme-relative"),
        pytest.param("https://elsewhere.example/v1/a", None, id="another-host"),
        pytest.param("https://{host}/v1/a", None, id="another-scheme"),
        pytest.param("http://user@{host}/v1/a", None, id="with-credentials"),
        pytest.param("{origin}/health", None, id="outside-the-api"),
    ],
)
@pytest.mark.parametrize("name", ["Location", "Content-Location"])
def test_only_a_location_under_the_upstream_is_pointed_at_the_proxy(
    upstream: tuple[Upstream, str],
    start_proxy: Start,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    written: str,
    moved: str | None,
) -> None:
    _, url = upstream
    monkeypatch.setitem(DRIFTS, "link", (201, "application/json", "{}"))
    monkeypatch.setitem(ANSWER_HEADERS, "link", [(name, written.replace("{host}", url[7:]))])
    proxy = start_proxy(url)
    answer = get(f"{proxy.url}{drift_url('link')}", allow_redirects=False)
    sent = written.replace("{origin}", url).replace("{host}", url[7:])
    assert answer.headers[name] == (sent if moved is None else f"{proxy.url}{moved}")


@pytest.mark.usefixtures("redirecting")
def test_a_location_honours_the_forwarded_headers_and_the_upstreams_base_path(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    _, url = upstream
    proxy = start_proxy(url)
    answer = get(
        f"{proxy.url}{REDIRECT}",
        allow_redirects=False,
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example"},
    )
    assert answer.headers["Location"] == f"https://app.example{drift_url('good')}"
    based = start_proxy(f"{url}/base")  # the upstream's Location is not under /base
    assert get(f"{based.url}{REDIRECT}", allow_redirects=False).headers["Location"] == (
        f"{url}{drift_url('good')}"
    )


@pytest.mark.usefixtures("redirecting")
def test_keep_upstream_urls_passes_a_location_on_as_written(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    _, url = upstream
    proxy = start_proxy(url, keep_upstream_urls=True)
    answer = get(f"{proxy.url}{REDIRECT}", allow_redirects=False)
    assert answer.headers["Location"] == f"{url}{drift_url('good')}"


@pytest.mark.usefixtures("redirecting")
def test_a_head_answer_gets_its_location_moved_too(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    _, url = upstream
    proxy = start_proxy(url)
    answer = requests.head(f"{proxy.url}{REDIRECT}", timeout=10)
    assert answer.headers["Location"] == f"{proxy.url}{drift_url('good')}"


def test_links_here_moves_each_of_several_values_keeping_their_order() -> None:
    from multidict import CIMultiDict

    headers = CIMultiDict(
        [
            ("Location", "http://up.example/v1/a"),
            ("X-Other", "http://up.example/v1/kept"),
            ("Location", "/v1/relative"),
            ("Content-Location", "http://up.example:80/v1/c"),
        ]
    )
    links_here(headers, "http://up.example", lambda: "http://me:1")
    assert headers.getall("Location") == ["http://me:1/v1/a", "/v1/relative"]
    assert headers["Content-Location"] == "http://me:1/v1/c"
    assert headers["X-Other"] == "http://up.example/v1/kept"


# Request bodies: up to --max-body, as answers; a larger one a 413 in the envelope.

LIMIT = 1000
TOO_LARGE = (
    "the request body was not sent on: the body is 1,001 bytes (its Content-Length), over the"
    " --max-body limit of 1,000 bytes; raise it with --max-body SIZE, such as --max-body 1MB"
)
STOPPED = (
    "the request body was not sent on: the body is over the --max-body limit of 1,000 bytes"
    " (reading stopped there); raise it with --max-body SIZE, such as --max-body 1MB"
)


def post(url: str, data: object, **kwargs: object) -> requests.Response:
    return requests.post(url, data=data, auth=(TOKEN, ""), timeout=10, **kwargs)  # type: ignore[arg-type]


def chunks(body: bytes) -> Iterator[bytes]:
    """``body`` sent chunked, with no Content-Length."""
    for start in range(0, len(body), 300):
        yield body[start : start + 300]


@pytest.mark.parametrize("chunked", [False, True], ids=["with-a-length", "chunked"])
def test_a_request_body_of_exactly_max_body_bytes_is_sent_on(
    upstream: tuple[Upstream, str], start_proxy: Start, chunked: bool
) -> None:
    drifting, url = upstream
    proxy = start_proxy(url, max_body=LIMIT)
    body = b"x" * LIMIT
    answer = post(f"{proxy.url}{drift_url('good')}", chunks(body) if chunked else body)
    assert answer.status_code == 200
    assert drifting.seen[-1]["body"] == body
    assert drifting.seen[-1]["headers"]["Content-Length"] == str(LIMIT)


@pytest.mark.parametrize(
    ("chunked", "told"), [(False, TOO_LARGE), (True, STOPPED)], ids=["with-a-length", "chunked"]
)
def test_a_request_body_one_byte_over_max_body_is_a_413_in_the_envelope_never_sent_on(
    upstream: tuple[Upstream, str], start_proxy: Start, chunked: bool, told: str
) -> None:
    drifting, url = upstream
    proxy = start_proxy(url, max_body=LIMIT)
    body = b"x" * (LIMIT + 1)
    answer = post(f"{proxy.url}{drift_url('good')}", chunks(body) if chunked else body)
    assert answer.status_code == 413
    assert answer.json() == {"error": {"code": "body_too_large", "message": told}}
    assert answer.headers["Request-Id"]
    assert "Profilemock-Violations" not in answer.headers
    assert drifting.seen == []
    [entry] = journal(proxy)
    assert (entry["method"], entry["status"], entry["violations"]) == ("POST", 413, [])
    assert get(f"{proxy.url}{drift_url('good')}").status_code == 200  # it goes on serving


def test_a_request_body_larger_than_aiohttps_default_passes_under_the_default_limit(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    drifting, url = upstream
    proxy = start_proxy(url)
    body = b"y" * (2 * 1024 * 1024)  # over aiohttp's own 1 MiB
    assert post(f"{proxy.url}{drift_url('good')}", body).status_code == 200
    assert drifting.seen[-1]["body"] == body
    assert drifting.seen[-1]["headers"]["Content-Length"] == str(len(body))


def test_a_request_body_over_the_limit_names_the_setting_that_raises_it(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    _, url = upstream
    proxy = start_proxy(url, max_body=LIMIT, max_body_flag="--profile-api-max-body")
    answer = post(f"{proxy.url}{drift_url('good')}", b"x" * 2000)
    assert (
        "over the --profile-api-max-body limit of 1,000 bytes" in answer.json()["error"]["message"]
    )


def exchange(
    server: ServerThread, head: str, body: bytes = b"", *, continued: bool = False
) -> tuple[bytes, float]:
    """Send a request (``head``: its request line and headers but ``Host``; then ``body``,
    once ``100 Continue`` came if ``continued``) and read until the server closes the
    connection: what it sent, and the seconds from the request to the close."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"{head}Host: {host}\r\n\r\n".encode() + (b"" if continued else body))
        started = time.monotonic()
        answer = b""
        if continued:
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
            sock.sendall(body)
        while chunk := sock.recv(65536):
            answer += chunk
        return answer, time.monotonic() - started


def test_a_body_over_the_limit_gets_no_100_continue_but_its_413_at_once(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    drifting, url = upstream
    proxy = start_proxy(url, max_body=LIMIT)
    answer, seconds = exchange(
        proxy,
        f"PUT {drift_url('good')} HTTP/1.1\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"\r\nConnection: close\r\n" in answer
    assert b'"code":"body_too_large"' in answer
    assert seconds < 5  # closed at once: aiohttp alone waits 10 s for the body
    assert drifting.seen == []
    [entry] = journal(proxy)
    assert entry["status"] == 413


def test_a_body_within_the_limit_gets_its_100_continue(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    drifting, url = upstream
    proxy = start_proxy(url, max_body=LIMIT)
    answer, _ = exchange(
        proxy,
        f"PUT {drift_url('good')} HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
        "Connection: close\r\n",
        b"hello",
        continued=True,
    )
    assert b"\r\n\r\nHTTP/1.1 200 " in answer
    assert drifting.seen[-1]["body"] == b"hello"


def test_a_client_gone_before_its_100_continue_is_no_failure_of_the_proxy(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    """It asks to be told to send its body and goes away before the proxy answers: the
    ``100 Continue`` finds the connection closing. That was a 500, "profilemock failed"
    with a traceback on the proxy's log."""
    drifting, url = upstream
    proxy = start_proxy(url, max_body=LIMIT)
    opened = OPEN.open
    host, port = proxy.url.removeprefix("http://").split(":")
    # The request and the client's leaving arrive together.
    with loop_held(proxy), socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"PUT {drift_url('good')} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
    until_connections(opened)  # the connection is gone: the request is done with
    assert proxy.call(lambda state: list(state.errors)) == []
    assert drifting.seen == []


def test_a_content_coded_request_body_goes_on_decoded_without_its_coding(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    # aiohttp decodes the body it reads; sending it on as "gzip" would corrupt it.
    drifting, url = upstream
    proxy = start_proxy(url, max_body=LIMIT)
    body = b"z" * 900
    answer = post(
        f"{proxy.url}{drift_url('good')}",
        gzip.compress(body),
        headers={"Content-Encoding": "gzip"},
    )
    assert answer.status_code == 200
    assert drifting.seen[-1]["body"] == body
    assert "Content-Encoding" not in drifting.seen[-1]["headers"]


def test_a_content_coded_request_body_inflating_past_the_limit_is_a_413(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    drifting, url = upstream
    proxy = start_proxy(url, max_body=LIMIT)
    small = gzip.compress(b"z" * 100_000)
    assert len(small) < LIMIT
    answer = post(f"{proxy.url}{drift_url('good')}", small, headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 413
    assert answer.json()["error"]["message"] == STOPPED
    assert drifting.seen == []


def test_a_request_body_that_cannot_be_decoded_is_a_400_in_the_envelope(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    drifting, url = upstream
    proxy = start_proxy(url, max_body=LIMIT)
    answer = post(
        f"{proxy.url}{drift_url('good')}", b"not gzip at all", headers={"Content-Encoding": "gzip"}
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_request_error"
    assert error["message"].startswith("the request body cannot be read: ")
    assert drifting.seen == []


def test_a_request_body_that_trickles_in_is_a_408_in_the_envelope_never_sent_on(
    upstream: tuple[Upstream, str],
) -> None:
    drifting, url = upstream
    proxy = ServerThread(
        create_proxy_app(ProxySettings(url)), limits=Limits(body_timeout=0.3)
    ).start()
    try:
        answer, _ = exchange(
            proxy, f"POST {drift_url('good')} HTTP/1.1\r\nContent-Length: 100\r\n", b"abc"
        )  # answered, then closed
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert answer.endswith(
            b'{"error":{"code":"invalid_request_error","message":"the request body did not'
            b' arrive within 0.3 s of its headers"}}'
        )
        assert drifting.seen == []
        assert [entry["status"] for entry in journal(proxy)] == [408]
    finally:
        proxy.stop()


def test_an_unmet_expectation_is_a_417_that_closes_at_once(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    drifting, url = upstream
    proxy = start_proxy(url)
    answer, seconds = exchange(
        proxy, f"PUT {drift_url('good')} HTTP/1.1\r\nContent-Length: 50\r\nExpect: 200-ok\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 417 ")
    assert seconds < 5  # aiohttp alone waits 10 s for the body
    assert drifting.seen == []


@pytest.mark.parametrize(
    ("name", "value"), [("Authorization", b"Basic \xff\xfe"), ("X-Name", b"caf\xe9")]
)
def test_a_request_header_not_utf_8_is_a_400_naming_it_never_sent_on(
    upstream: tuple[Upstream, str], start_proxy: Start, name: str, value: bytes
) -> None:
    # It went on without those bytes: `Authorization: Basic `, `X-Name: caf`.
    drifting, url = upstream
    proxy = start_proxy(url)
    answer = requests.get(f"{proxy.url}{drift_url('good')}", headers={name: value}, timeout=10)
    assert answer.status_code == 400
    byte = next(b for b in value if b > 0x7F)
    assert answer.json()["error"] == {
        "code": "invalid_request_error",
        "message": f"the request was not sent on: it has a `{name}` header holding byte"
        f" 0x{byte:02x} (not UTF-8), which cannot be sent on as it came",
    }
    assert drifting.seen == []
