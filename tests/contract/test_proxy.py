"""The validating proxy: forwards exactly, reports each drift exactly, never leaks a token."""

from __future__ import annotations

import base64
import json
import logging
import zlib
from collections.abc import Callable
from ipaddress import IPv6Address
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from profilemock.cli import parser
from profilemock.contract.proxy import check_answer, cursor_url_here
from profilemock.contract.upstream import UpstreamError, upstream_url
from profilemock.mockserver.serving import ServerThread
from tests.contract.conftest import (
    ANSWER_HEADERS,
    DRIFTS,
    FLOOD,
    GOOD_TRAITS,
    Flood,
    Upstream,
    drift_url,
)
from tests.test_cli import Served

Start = Callable[..., ServerThread]
TOKEN = "sekret-token-4711"


def get(url: str, token: str = TOKEN, **kwargs: object) -> requests.Response:
    return requests.get(url, auth=(token, ""), timeout=10, **kwargs)  # type: ignore[arg-type]


def journal(proxy: ServerThread) -> list[dict[str, object]]:
    body = requests.get(f"{proxy.url}/__admin/requests", timeout=10).json()
    entries: list[dict[str, object]] = body["requests"]
    return entries


def test_forwards_method_raw_path_query_and_authorization_unchanged(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    drifting, url = upstream
    proxy = start_proxy(url)
    path = "/v1/spaces/sp/collections/users/profiles/phone_number:%2B4915%20x/traits"
    response = get(f"{proxy.url}{path}?include=a%2Cb&include=c&verbose=true")
    assert response.status_code == 200
    seen = drifting.seen[-1]
    assert seen["method"] == "GET"
    assert seen["raw_path"] == f"{path}?include=a%2Cb&include=c&verbose=true"
    expected = base64.b64encode(f"{TOKEN}:".encode()).decode()
    assert seen["headers"]["Authorization"] == f"Basic {expected}"
    requests.head(f"{proxy.url}{path}", timeout=10)
    assert drifting.seen[-1]["method"] == "HEAD"


def test_returns_status_body_and_headers_unchanged_except_hop_by_hop(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    _, url = upstream
    proxy = start_proxy(url)
    response = get(f"{proxy.url}{drift_url('good')}")
    assert response.json() == {
        "traits": {"plan": "pro"},
        "cursor": {"url": "", "has_more": False, "next": "", "limit": 10},
    }
    assert response.headers["Request-Id"] == "upstream-0001"
    assert response.headers["X-Upstream"] == "kept"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "Keep-Alive" not in response.headers
    assert "Profilemock-Violations" not in response.headers
    error = get(f"{proxy.url}{drift_url('bad-error')}")
    assert error.status_code == 404
    assert error.json() == {"message": "no such profile"}


@pytest.mark.parametrize(
    ("case", "resource", "strict", "expected"),
    [
        pytest.param("good", "traits", True, [], id="a-good-answer-has-none"),
        pytest.param(
            "extra-field", "traits", True,
            [("/debug", "additionalProperties", "unknown field `debug`; allowed here: cursor, traits")],
            id="extra-field-in-strict-mode",
        ),
        pytest.param("extra-field", "traits", False, [], id="extra-field-is-fine-when-lenient"),
        pytest.param(
            "missing-field", "traits", False,
            [("/", "required", "missing required field `traits`")],
            id="missing-field",
        ),
        pytest.param(
            "wrong-type", "traits", False,
            [("/cursor/has_more", "type", "\"no\" is not true or false")],
            id="wrong-type",
        ),
        pytest.param(
            "null-list", "external_ids", True,
            [("/data", "type", "null is not a list")],
            id="null-where-the-docs-show-a-list-in-strict-mode",
        ),
        # /events answers null for an empty list: lenient mode accepts it on every list.
        pytest.param("null-list", "external_ids", False, [], id="null-list-is-fine-when-lenient"),
        pytest.param(
            "non-json", "traits", False,
            [("/", "json", "the body is not JSON (Content-Type `text/html`): Expecting value at line 1 column 1; it starts '<html><body>Service Unavailable</body></html>'")],
            id="non-json-body",
        ),
        # A load balancer's page: no answer of the API's to hold to its contract, unless
        # strict (it was a violation, and under --fail-on-violation a 502 hid the 503).
        pytest.param("gateway-page", "traits", False, [], id="a-gateway-page-when-lenient"),
        pytest.param(
            "gateway-page", "traits", True,
            [("/", "json", "the body is not JSON (Content-Type `text/html`): Expecting value at line 1 column 1; it starts '<html><body>503 Service Unavailable</body></html>'")],
            id="a-gateway-page-in-strict-mode",
        ),
        pytest.param(
            "json-as-text", "traits", False,
            [("/", "content-type", "Content-Type is `text/plain`, not `application/json`")],
            id="json-labelled-as-text",
        ),
        pytest.param(
            "bad-error", "traits", False,
            [("/", "required", "missing required field `error`")],
            id="error-outside-the-envelope",
        ),
        # A RecursionError before (a 500 from the proxy); a lone surrogate was journaled
        # and /__admin/requests answered 500 from then on; NaN passed as JSON.
        pytest.param(
            "too-deep", "traits", False,
            [("/", "json", "the body cannot be used: nested deeper than 100 levels at line 1 column 110")],
            id="nested-too-deep",
        ),
        pytest.param(
            "lone-surrogate", "traits", False,
            [("/", "json", "the body cannot be used: `\\ud800` is a lone surrogate (half of a UTF-16 pair), which no UTF-8 body can carry at line 1 column 20")],
            id="lone-surrogate",
        ),
        pytest.param(
            "nan", "traits", False,
            [("/", "json", "the body cannot be used: `NaN` is not a finite number at line 1 column 19")],
            id="nan",
        ),
    ],
)  # fmt: skip
def test_each_drift_is_reported_exactly(
    upstream: tuple[Upstream, str],
    start_proxy: Start,
    caplog: pytest.LogCaptureFixture,
    case: str,
    resource: str,
    strict: bool,
    expected: list[tuple[str, str, str]],
) -> None:
    _, url = upstream
    proxy = start_proxy(url, strict=strict)
    with caplog.at_level(logging.WARNING, logger="profilemock.proxy"):
        response = get(f"{proxy.url}{drift_url(case, resource)}")
    assert response.status_code in (200, 404, 503)  # passed through, not replaced
    count = response.headers.get("Profilemock-Violations")
    assert count == (str(len(expected)) if expected else None)
    [entry] = journal(proxy)
    found = [(v["pointer"] or "/", v["rule"], v["message"]) for v in entry["violations"]]  # type: ignore[attr-defined]
    assert found == expected
    assert entry["route"] == resource
    logged = [r.getMessage() for r in caplog.records if r.name == "profilemock.proxy"]
    assert logged == [
        f"contract violation: GET {drift_url(case, resource)} -> {response.status_code}"
        f" {pointer}: {message} [{rule}]"
        for pointer, rule, message in expected
    ]


def test_a_violations_line_names_the_request_with_its_query(
    upstream: tuple[Upstream, str], start_proxy: Start, caplog: pytest.LogCaptureFixture
) -> None:
    # It read "GET …/traits -> 200 /traits/plan: "pro" is not an object": that the request
    # asked verbose=true (the cause), or which page (`next=`), was untold.
    _, url = upstream
    proxy = start_proxy(url)
    path = drift_url("good") + "?verbose=true&limit=10"
    with caplog.at_level(logging.WARNING, logger="profilemock.proxy"):
        assert get(f"{proxy.url}{path}").headers["Profilemock-Violations"] == "1"
    logged = [r.getMessage() for r in caplog.records if r.name == "profilemock.proxy"]
    assert logged == [
        f'contract violation: GET {path} -> 200 /traits/plan: "pro" is not an object [type]'
    ]


def test_fail_on_violation_answers_502_naming_the_first_violation(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    _, url = upstream
    proxy = start_proxy(url, strict=True, fail_on_violation=True)
    response = get(f"{proxy.url}{drift_url('wrong-type')}")
    assert response.status_code == 502
    assert response.json() == {
        "error": {
            "code": "contract_violation",
            "message": "the upstream's 200 answer breaks the contract at /cursor/has_more:"
            ' "no" is not true or false [type]',
        }
    }
    assert response.headers["Profilemock-Violations"] == "1"
    assert response.headers["Request-Id"] == "upstream-0001"
    assert get(f"{proxy.url}{drift_url('good')}").status_code == 200


def test_an_unreachable_upstream_is_a_502_in_the_envelope(
    dead_upstream: str, start_proxy: Start
) -> None:
    proxy = start_proxy(dead_upstream)
    response = get(f"{proxy.url}{drift_url('good')}")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "bad_gateway"
    assert error["message"].startswith(f"the upstream {dead_upstream} could not be reached: ")
    assert response.headers["Request-Id"]
    assert journal(proxy)[0]["status"] == 502


@pytest.mark.parametrize(
    ("case", "told"),
    [
        *[
            # long-body and 204-with-body said "something that is not HTTP (no status
            # line)": each answered one, then more than it holds.
            (
                case,
                "answered something that is not HTTP where a status line should be: not"
                " HTTP at all, or more than its answer holds (a body longer than its"
                " Content-Length, or one sent with a 204, a 304 or an answer to HEAD)",
            )
            for case in ("not-http", "long-body", "204-with-body")
        ],
        ("long-header", "answered a status line or header over 8190 bytes"),
        # It said "something that is not well-formed HTTP".
        ("many-headers", "answered more than 128 header fields"),
        ("short-body", "answered a body that ended before its length, or is not well framed"),
        ("closed", "closed the connection without an answer"),
        # It said "a body that ended before its length, or is not well framed": whole, and
        # framed by its length.
        ("bad-gzip", "answered a body that does not decode as its Content-Encoding says (gzip)"),
        *[
            (case, f"answered something that is not well-formed HTTP: {which}")
            for case, which in (
                ("two-lengths", "two `Content-Length` headers, where one is allowed"),
                (
                    "length-and-chunked",
                    "both Content-Length and Transfer-Encoding, which no sender may send"
                    " together (RFC 9112 6.2)",
                ),
                (
                    "bad-chunk-size",
                    "a chunked body whose framing is broken (Invalid character in chunk size)",
                ),
                (
                    "nul-header",
                    "a header value holding a character no header may hold (such as NUL)",
                ),
                (
                    "header-without-colon",
                    "a header line that is not `Name: value` (no colon, or a name with a space)",
                ),
                # Told as the parser words it.
                ("bare-cr-header", "Missing expected LF after header value"),
            )
        ],
    ],
)
def test_an_upstream_answer_that_cannot_be_read_is_told_in_words(
    raw: str, start_proxy: Start, case: str, told: str
) -> None:
    """Each said "could not be reached" (it was reached) with aiohttp's message, which
    quotes the upstream's raw bytes and a status 400 it never sent."""
    proxy = start_proxy(raw)
    response = get(f"{proxy.url}{drift_url(case)}")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error == {"code": "bad_gateway", "message": f"the upstream {raw} {told}"}


@pytest.mark.parametrize("status", [42, 600])
def test_an_upstream_status_that_is_no_http_status_is_a_502(
    raw: str, start_proxy: Start, status: int
) -> None:
    # It was relayed as `HTTP/1.1 42`, which clients refuse as malformed.
    proxy = start_proxy(raw)
    response = get(f"{proxy.url}{drift_url(f'status-{status}')}")
    assert response.status_code == 502
    assert response.json()["error"] == {
        "code": "bad_gateway",
        "message": f"the upstream {raw} answered status {status}, which is not an HTTP status"
        " from 100 to 599; not passed on",
    }
    [entry] = journal(proxy)
    assert entry["violations"] == [
        {
            "pointer": "",
            "rule": "status",
            "message": f"{status} is not an HTTP status from 100 to 599",
        }
    ]


@pytest.mark.parametrize(
    ("case", "told"),
    [
        ("control-header", "200 with a `X-Trace` header holding control character 0x01"),
        ("latin-1-location", "302 with a `Location` header holding byte 0xe9 (not UTF-8)"),
    ],
)
def test_an_upstream_header_no_answer_can_carry_is_a_502_naming_it(
    raw: str, start_proxy: Start, case: str, told: str
) -> None:
    # The first broke the answer as it was written: the client got no answer at all (and
    # the journal said 200); the second went on as `Location: /v1/caf`.
    proxy = start_proxy(raw)
    response = get(f"{proxy.url}{drift_url(case)}", allow_redirects=False)
    assert response.status_code == 502
    assert response.json()["error"] == {
        "code": "bad_gateway",
        "message": f"the upstream {raw} answered {told}, which cannot be passed on as sent;"
        " not passed on",
    }
    assert [entry["status"] for entry in journal(proxy)] == [502]


def test_a_reason_phrase_no_answer_can_carry_goes_on_as_the_statuss_own(
    raw: str, start_proxy: Start
) -> None:
    # It broke the answer as it was written: the client got no answer at all.
    proxy = start_proxy(raw)
    response = get(f"{proxy.url}{drift_url('control-reason')}")
    assert (response.status_code, response.reason) == (404, "Not Found")
    assert response.json()["error"]["code"] == "not_found"


def test_a_body_in_a_coding_the_proxy_does_not_undo_goes_on_with_its_coding(
    raw: str, start_proxy: Start
) -> None:
    """It went on without its ``Content-Encoding``: the client took the coded bytes for a
    plain body. (One in gzip is decoded and goes on without it.)"""
    proxy = start_proxy(raw)
    response = requests.get(
        f"{proxy.url}{drift_url('odd-coding')}", auth=("t", ""), timeout=10, stream=True
    )
    assert response.status_code == 200, response.raw.read()
    assert response.headers["Content-Encoding"] == "x-odd"
    assert response.raw.read() == b"\x00\x01coded!"
    assert response.headers["Content-Length"] == "8"


@pytest.mark.parametrize(
    "body", [b"x^2 is no JSON", b"x\x01 is no JSON", "x\u0680 is no JSON".encode()]
)
def test_text_that_starts_as_zlib_does_is_not_told_still_content_coded(body: bytes) -> None:
    # 78 5e, 78 01 and 78 da are zlib's marks, and "x^", "x" + U+0001 and "x" + U+0680
    # start so too: such a page was told "still content-coded: … zlib (deflate)'s magic".
    [violation] = check_answer(drift_url("good"), 200, "application/json", body)
    assert "content-coded" not in violation.message
    coded = zlib.compress(b'{"traits": {}}' * 10)
    assert "zlib (deflate)'s magic bytes 78 9c" in str(
        check_answer(drift_url("good"), 200, "application/json", coded)
    )


@pytest.mark.parametrize("coding", ["identity", "Identity, identity"])
def test_a_body_coded_as_identity_is_not_told_still_content_coded(coding: str) -> None:
    # `identity` is no coding: a page that is not JSON was told "still content-coded".
    [violation] = check_answer(
        drift_url("good"), 200, "application/json", b"<html></html>", coding=coding
    )
    assert violation.message == (
        "the body is not JSON (Content-Type `application/json`): Expecting value at line 1"
        " column 1; it starts '<html></html>'"
    )


@pytest.mark.parametrize(
    ("case", "told"),
    [
        (
            "gzip-gzip",
            "still content-coded: its Content-Encoding `gzip, gzip` was not undone, and it"
            " starts with gzip's magic bytes 1f 8b (the proxy undoes one gzip, deflate, br or"
            " zstd coding, and passes others on as they came)",
        ),
        (
            "gzip-twice",
            "still content-coded: it starts with gzip's magic bytes 1f 8b (a coding applied"
            " twice, or one its Content-Encoding does not name)",
        ),
        (
            "odd-coding",
            "still content-coded: its Content-Encoding `x-odd` was not undone (the proxy"
            " undoes one gzip, deflate, br or zstd coding, and passes others on as they came)",
        ),
    ],
)
def test_a_body_still_content_coded_is_told_so_not_as_not_utf_8(
    raw: str, start_proxy: Start, case: str, told: str
) -> None:
    # Each was "the body is not JSON (…): not UTF-8 (byte 2); it starts '\x1f…'".
    proxy = start_proxy(raw)
    response = requests.get(
        f"{proxy.url}{drift_url(case)}", auth=("t", ""), timeout=10, stream=True
    )
    assert response.headers["Profilemock-Violations"] == "1"
    [entry] = journal(proxy)
    assert entry["violations"] == [
        {
            "pointer": "",
            "rule": "json",
            "message": f"the body is not JSON (Content-Type `application/json`): {told}",
        }
    ]


def test_an_answer_holding_a_key_twice_is_a_violation_naming_where(
    raw: str, start_proxy: Start
) -> None:
    proxy = start_proxy(raw)
    response = get(f"{proxy.url}{drift_url('repeated-key')}")
    assert response.headers["Profilemock-Violations"] == "1"
    assert response.content == (
        b'{"traits":5,"cursor":{"url":"","has_more":false},"traits":{"a":2}}'
    )  # as it came
    [entry] = journal(proxy)
    assert entry["violations"] == [
        {
            "pointer": "/traits",
            "rule": "duplicate-key",
            "message": "the key `traits` is given 2 times in one object; clients disagree on"
            " which value counts (most keep the last, which is the one checked; some the first)",
        }
    ]


def test_a_key_given_twice_is_logged_on_one_line(
    raw: str, start_proxy: Start, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = start_proxy(raw)
    with caplog.at_level(logging.WARNING, logger="profilemock.proxy"):
        get(f"{proxy.url}{drift_url('repeated-odd-key')}")
    [entry] = journal(proxy)
    assert entry["violations"][0]["pointer"] == "/traits/a\nWARNING b"  # type: ignore[index]
    [logged] = [r.getMessage() for r in caplog.records if r.name == "profilemock.proxy"]
    assert logged.startswith(
        f'contract violation: GET {drift_url("repeated-odd-key")} -> 200 "/traits/a\\nWARNING b":'
        ' the key "a\\nWARNING b" is given 2 times'
    )


def test_a_502_names_a_key_holding_a_line_break_on_one_line(raw: str, start_proxy: Start) -> None:
    proxy = start_proxy(raw, fail_on_violation=True)
    response = get(f"{proxy.url}{drift_url('repeated-odd-key')}")
    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert message.startswith(
        'the upstream\'s 200 answer breaks the contract at "/traits/a\\nWARNING b":'
    )
    assert "\n" not in message


def test_an_upstream_slower_than_the_timeout_is_a_504(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    _, url = upstream
    proxy = start_proxy(url, timeout=0.3)
    response = get(f"{proxy.url}{drift_url('slow')}")
    assert response.status_code == 504
    assert response.json() == {
        "error": {
            "code": "gateway_timeout",
            "message": f"the upstream {url} did not answer within 0.3 s",
        }
    }
    assert response.headers["Request-Id"]


def test_an_upstream_whose_body_stalls_is_a_504_that_says_it_answered(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    # It said "did not answer within 1 s": it did, 200, and its body stopped. (The timeout
    # is the time the status and headers have too: 0.3 s was short of them on a loaded
    # machine, now and then.)
    _, url = upstream
    proxy = start_proxy(url, timeout=1)
    response = get(f"{proxy.url}{drift_url('slow-body')}")
    assert response.status_code == 504
    assert response.json()["error"]["message"] == (
        f"the upstream {url} answered 200 but did not send all of its body within 1 s"
    )


def test_paths_outside_the_api_are_not_forwarded(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    drifting, url = upstream
    proxy = start_proxy(url)
    response = get(f"{proxy.url}/metrics")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert drifting.seen == []


def test_the_token_is_never_logged_or_journaled(
    upstream: tuple[Upstream, str],
    dead_upstream: str,
    start_proxy: Start,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, url = upstream
    encoded = base64.b64encode(f"{TOKEN}:".encode()).decode()
    with caplog.at_level(logging.DEBUG):
        for proxy in (
            start_proxy(url, strict=True, fail_on_violation=True),
            start_proxy(dead_upstream),
        ):
            for case in ("good", "wrong-type", "non-json", "bad-error"):
                get(f"{proxy.url}{drift_url(case)}")
            requests.get(
                f"{proxy.url}{drift_url('good')}",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            )
            text = requests.get(f"{proxy.url}/__admin/requests", timeout=10).text
            assert TOKEN not in text
            assert encoded not in text
    assert caplog.records
    assert TOKEN not in caplog.text
    assert encoded not in caplog.text


def test_the_fake_keeps_the_contract_behind_a_strict_proxy(
    demo_fake: ServerThread, start_proxy: Start
) -> None:
    proxy = start_proxy(demo_fake.url, strict=True)
    base = f"{proxy.url}/v1/spaces/lg8283283/collections"
    for path in (
        "/users/profiles/user_id:u1234/traits?verbose=true",
        "/users/profiles/user_id:9800664881/traits?class=audience",
        "/users/profiles/phone_number:%2B5555550123/external_ids",
        "/users/profiles/user_id:5550000001/events?limit=3",
        "/users/profiles/user_id:9800664881/metadata",
        "/accounts/profiles/group_id:12345/links",
        "/users/profiles",
        "/users/profiles/user_id:nobody/traits",
    ):
        response = get(f"{base}{path}", token="demo-token")
        assert "Profilemock-Violations" not in response.headers, response.text
    assert all(entry["violations"] == [] for entry in journal(proxy))
    assert len(journal(proxy)) == 8


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("https://tok:@profiles.segment.com", "must not hold credentials"),
        ("ftp://example.com", r"is not an http\(s\) URL"),
        ("https://profiles.segment.com/?x=1", "without a query"),
        # A UnicodeError: argparse's "invalid _upstream value: 'http://xn--zz'".
        ("http://xn--zz", "its host is no valid internationalized domain name"),
        # Each was taken, and every request then "could not be reached".
        pytest.param(
            "http://x%00y",
            "`x%00y` is no host name \\(letters, digits, `-`, `_` and dots between names",
            id="escaped-nul-in-host",
        ),
        pytest.param("http://a%41.com", "`a%41.com` is no host name", id="escape-in-host"),
        pytest.param("http://h;x", "`h;x` is no host name", id="semicolon-in-host"),
        pytest.param("http://h..com", "`h..com` is no host name", id="empty-label"),
        pytest.param("http://x\x00y", "`http://x\\\\x00y` holds control character 0x00", id="nul"),
        # yarl dropped the tab: `http://xy` was used.
        pytest.param("http://x\ty", "holds control character 0x09", id="tab"),
        pytest.param("http://a b", "holds a space, which no URL does", id="space"),
        pytest.param("http://h:0", "its port is no number from 1 to 65535", id="port-0"),
        pytest.param("http://h:99999", "its port is no number from 1 to 65535", id="port-too-big"),
        # Each was taken: yarl reads a port as int() does, a sign, an underscore and any
        # script's digits included (port 80, 10, 80).
        pytest.param("http://h:+80", "`http://h:\\+80`: its port is no number", id="port-sign"),
        pytest.param("http://h:1_0", "`http://h:1_0`: its port is no number", id="port-underscore"),
        pytest.param(
            "http://h:٨٠", "`http://h:٨٠`: its port is no number", id="port-arabic-digits"
        ),
        pytest.param("http://[::1]:+80", "its port is no number", id="ipv6-port-sign"),
        # Each was taken as a host name, which no resolver takes as meant.
        pytest.param(
            "http://1.2.3.4.5",
            "`1.2.3.4.5` ends in a number, so it can only be an IPv4 address, and it is none:"
            " an IPv4 address is four numbers from 0 to 255, such as 127.0.0.1$",
            id="five-numbers",
        ),
        pytest.param("http://256.1.1.1", "`256.1.1.1` ends in a number", id="number-over-255"),
        pytest.param("http://example.123", "`example.123` ends in a number", id="numeric-tld"),
        # ...and these as names too, though the C library's resolver reads them as addresses.
        pytest.param(
            "http://0x7f000001",
            "`0x7f000001` is the IPv4 address 127.0.0.1 to some readers of URLs and no address"
            " to others: write it as 127.0.0.1$",
            id="hex-address",
        ),
        pytest.param("http://127.1", "write it as 127.0.0.1$", id="short-address"),
        pytest.param("http://0177.0.0.1", "write it as 127.0.0.1$", id="octal-address"),
        pytest.param("http://1.2.3.4.", "write it as 1.2.3.4$", id="address-trailing-dot"),
        # Each request went to /v1/v1/spaces/…: a 404, and live mode's test that a profile
        # is unknown passed against every profile.
        pytest.param(
            "http://127.0.0.1:8080/v1",
            "^`http://127.0.0.1:8080/v1`: the API's paths begin with /v1 \\(/v1/spaces/…\\),"
            " which this URL's path would double: give it without, http://127.0.0.1:8080$",
            id="version-in-url",
        ),
        pytest.param(
            "https://gw.example/segment/V1/",
            "give it without, https://gw.example/segment$",
            id="version-under-a-prefix",
        ),
        pytest.param(
            # Its path read as /v1/; the URL given was offered as it is, less its last 3
            # characters: http://h/v1, which is refused so.
            "http://h/v1%2F",
            "give it without, http://h$",
            id="version-then-an-escaped-slash",
        ),
    ],
)
def test_an_unusable_upstream_url_is_refused(given: str, problem: str) -> None:
    with pytest.raises(UpstreamError, match=problem):
        upstream_url(given)


@pytest.mark.parametrize(
    ("given", "taken"),
    [
        ("https://profiles.segment.com/", "https://profiles.segment.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:8080/api/", "http://[::1]:8080/api"),
        ("http://[::1]", "http://[::1]"),
        ("http://[fe80::1%25eth0]:8080", "http://[fe80::1%25eth0]:8080"),
        ("http://internal_gw.local", "http://internal_gw.local"),
        ("http://bücher.example", "http://xn--bcher-kva.example"),
        ("http://8.8.8.8:08080", "http://8.8.8.8:8080"),
        ("http://1e2.example.", "http://1e2.example."),
        # As the Python writes the address (3.13 keeps the IPv4 part: ::ffff:1.2.3.4).
        ("http://[::ffff:1.2.3.4]:8080", f"http://[{IPv6Address('::ffff:1.2.3.4')}]:8080"),
        ("http://v1:8080", "http://v1:8080"),
        ("http://h/v10", "http://h/v10"),
        ("http://h/v1x/", "http://h/v1x"),
    ],
)
def test_an_upstream_url_with_a_host_name_or_address_is_taken(given: str, taken: str) -> None:
    assert upstream_url(given) == taken


@pytest.mark.parametrize(
    ("arguments", "token"),
    [
        (["proxy", "--upstream"], "each request's Authorization header"),
        (
            ["record", "--space", "s", "--id", "user_id:u", "--upstream"],
            "PROFILE_API_TOKEN or --token-file FILE",
        ),
        (["openapi", "--server-url"], "each request's Authorization header"),
    ],
    ids=["proxy", "record", "openapi"],
)
def test_a_url_with_credentials_is_told_where_the_token_goes_for_the_command_run(
    arguments: list[str], token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each said "(or PROFILE_API_TOKEN for `record`)", and openapi's added ", or a path
    # such as /api" after it.
    with pytest.raises(SystemExit):
        parser().parse_args([*arguments, "http://u:secret@h"])
    told = capsys.readouterr().err.strip().splitlines()[-1]
    assert told.endswith(
        f" error: argument {arguments[-1]}: the URL must not hold credentials (a user or"
        f" password before the host); the token goes in {token}"
    )
    assert "secret" not in told


@pytest.mark.parametrize("command", ["proxy", "record"])
def test_an_upstream_url_with_no_host_is_refused_on_the_command_line(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The parser alone: were the URL taken, the command would run (and serve for ever).
    with pytest.raises(SystemExit) as exited:
        parser().parse_args([command, "--upstream", "http://x%00y"])
    assert exited.value.code == 2
    assert "`x%00y` is no host name" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"traits":{"plan":"pro"},}', "a comma before `}`: JSON allows none after the last item at line 1 column 26"),
        (b'{"traits":{}}\n{"traits":{}}', "more after the end of the JSON value (the text holds one value) at line 2 column 1"),
        (b'{"traits":{"city":"Montr\xe9al"}}', "not UTF-8 (byte 25)"),
        (b"", "nothing to read: the text is empty at line 1 column 1"),
    ],
    ids=["trailing-comma", "two-bodies", "latin-1", "empty"],
)  # fmt: skip
def test_a_body_that_is_not_json_is_told_where_and_why(body: bytes, why: str) -> None:
    # It said only "the body is not JSON" and how the body starts, which for a page of 100
    # events with one stray comma told nothing of where.
    [problem] = check_answer(drift_url("x"), 200, "application/json", body)
    shown = body[:60].decode("utf-8", "replace")
    assert (problem.rule, problem.message) == (
        "json",
        f"the body is not JSON (Content-Type `application/json`): {why}; it starts {shown!r}",
    )


def test_an_answer_without_a_content_type_is_told_so() -> None:
    # It said "Content-Type is ``" and "(Content-Type `none`)", as if that were the type.
    path = drift_url("x")
    [violation] = check_answer(path, 200, "", json.dumps(GOOD_TRAITS).encode())
    assert violation.message == "the answer has no Content-Type; it should be `application/json`"
    [violation] = check_answer(path, 200, "", b"<html>")
    assert violation.message.startswith("the body is not JSON (no Content-Type): ")


def test_check_answer_skips_routes_it_cannot_know_and_empty_answers() -> None:
    assert check_answer("/health", 200, "text/plain", b"ok") == []
    assert check_answer(drift_url("x"), 204, "", b"") == []
    [problem] = check_answer("/elsewhere", 500, "text/plain", b"oops")
    assert problem.rule == "json"


@pytest.mark.parametrize("status", [42, 600])
def test_an_answer_whose_status_is_no_http_status_is_a_violation(status: int) -> None:
    # 600's schema was chosen by `status >= 400`; 42 (aiohttp reads `HTTP/1.1 042`) was
    # skipped as an interim answer. The checks refuse such a status, as validate does.
    [problem] = check_answer(drift_url("x"), status, "application/json", b"{}")
    assert str(problem) == f"/: {status} is not an HTTP status from 100 to 599 [status]"
    [problem] = check_answer(drift_url("x"), status, "", b"", method="HEAD")
    assert problem.rule == "status"


def test_check_answer_skips_what_validate_skips() -> None:
    """One list of answers without a body of the API (``nothing_to_check``)."""
    for status in (103, 204, 301, 304):
        assert check_answer(drift_url("x"), status, "", b"") == []
    assert check_answer(drift_url("x"), 200, "", b"", method="HEAD") == []


def test_proxy_command_prints_its_url_logs_violations_and_stops_on_ctrl_c(
    upstream: tuple[Upstream, str],
) -> None:
    _, url = upstream
    served = Served("--upstream", url, "--port", "0", "--strict", command="proxy")
    try:
        proxy_url = served.read_until(r"proxy at (http://127\.0\.0\.1:\d+) forwards /v1/ to (\S+)")
        assert proxy_url.group(2) == url
        served.read_until(
            r"cursor\.url and Location pointing upstream point back here \(--keep-upstream-urls"
        )
        paged = get(f"{proxy_url.group(1)}{drift_url('paged')}").json()
        assert paged["cursor"]["url"].startswith(f"{proxy_url.group(1)}/v1/")
        response = get(f"{proxy_url.group(1)}{drift_url('extra-field')}")
        assert response.headers["Profilemock-Violations"] == "1"
        assert served.stop() == 0
        assert served.process.stderr is not None
        err = served.process.stderr.read()
        assert (
            f"contract violation: GET {drift_url('extra-field')} -> 200 /debug: unknown field `debug`;"
            " allowed here: cursor, traits [additionalProperties]" in err
        )
        assert f"GET {drift_url('extra-field')} HTTP/1.1 200" in err
        assert TOKEN not in err
    finally:
        served.close()


def walk(first: str, token: str) -> tuple[list[str], list[object]]:
    """Every page of a list from ``first`` on, following ``cursor.url`` as a client does:
    the URLs asked and the items (``data``, or the ``traits`` pairs) in order."""
    urls: list[str] = []
    items: list[object] = []
    url = first
    while url:
        assert len(urls) < 200, "the cursor never ends"
        urls.append(url)
        body = get(url, token=token).json()
        items += body["data"] if "data" in body else list(body["traits"].items())
        url = body["cursor"]["url"] if body["cursor"]["has_more"] else ""
    return urls, items


@pytest.mark.parametrize(
    "path",
    [
        "users/profiles/user_id:9800664881/traits?limit=2&verbose=true",
        "users/profiles/phone_number:%2B5555550123/external_ids?limit=1",
        "users/profiles/user_id:5550000001/events?limit=1",
        "accounts/profiles/group_id:12345/links?limit=3",
        "users/profiles?limit=4",
    ],
)
def test_a_client_following_cursor_url_pages_through_the_proxy_to_the_last_item(
    demo_fake: ServerThread, start_proxy: Start, path: str
) -> None:
    proxy = start_proxy(demo_fake.url, strict=True)
    base = "/v1/spaces/lg8283283/collections/"
    direct_urls, direct_items = walk(f"{demo_fake.url}{base}{path}", "demo-token")
    urls, items = walk(f"{proxy.url}{base}{path}", "demo-token")
    assert len(direct_urls) > 1  # the walk pages
    assert items == direct_items  # every item, once, in order
    assert [u.removeprefix(proxy.url) for u in urls] == [
        u.removeprefix(demo_fake.url) for u in direct_urls
    ]  # path and query as the fake wrote them
    assert all(u.startswith(f"{proxy.url}/v1/") for u in urls)
    entries = journal(proxy)
    asked = [urlsplit(u) for u in urls]
    assert [(e["path"], [tuple(pair) for pair in e["query"]]) for e in entries] == [  # type: ignore[attr-defined]
        (u.path, parse_qsl(u.query)) for u in asked
    ]  # every page went through the proxy
    assert all(e["violations"] == [] and e["status"] == 200 for e in entries)


def test_a_page_after_the_first_is_checked_too(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    _, url = upstream
    proxy = start_proxy(url)
    first = get(f"{proxy.url}{drift_url('paged')}")
    assert "Profilemock-Violations" not in first.headers
    following = first.json()["cursor"]["url"]
    assert following == f"{proxy.url}{drift_url('paged')}?limit=1&next=seats"
    second = get(following)
    assert second.headers["Profilemock-Violations"] == "1"
    [_, entry] = journal(proxy)
    assert [v["pointer"] for v in entry["violations"]] == ["/cursor/has_more"]  # type: ignore[attr-defined]


def test_cursor_url_keeps_every_other_byte_of_the_body_and_of_its_path_and_query(
    upstream: tuple[Upstream, str], start_proxy: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Escaped slashes (in the origin too) and a \u escape in the URL, odd spacing and key
    # order, a `url` elsewhere, a number written 1.50: all kept; only the origin moves.
    _, url = upstream
    rest = (
        "\\/v1\\/spaces\\/sp\\/collections\\/users\\/profiles\\/user_id:cursor\\/traits"
        "?include=a%2Cb&x=\\u00e9&next=b%2Bc"
    )
    text = (
        '{ "traits" : {"url": "{origin}/v1/x"},\n  "cursor" :{"limit":1, "url"  :  '
        f'"http:\\/\\/{{host}}{rest}", "has_more":true,"next":"b+c"}}, "z": 1.50 }}'
    )
    monkeypatch.setitem(DRIFTS, "cursor", (200, "application/json", text))
    proxy = start_proxy(url)
    answer = get(f"{proxy.url}{drift_url('cursor')}")
    assert answer.text == text.replace("http:\\/\\/{host}", proxy.url).replace("{origin}", url)
    assert answer.json()["cursor"]["url"] == (
        f"{proxy.url}/v1/spaces/sp/collections/users/profiles/user_id:cursor/traits"
        "?include=a%2Cb&x=\u00e9&next=b%2Bc"
    )


CURSOR_PATH = drift_url("cursor") + "?next=b"


@pytest.mark.parametrize(
    ("written", "moved"),
    [
        pytest.param("{origin}" + CURSOR_PATH, True, id="the-upstreams-origin"),
        pytest.param("HTTP://{host}" + CURSOR_PATH, True, id="its-origin-in-capitals"),
        pytest.param("https://elsewhere.example" + CURSOR_PATH, False, id="another-host"),
        pytest.param("https://{host}" + CURSOR_PATH, False, id="another-scheme"),
        pytest.param("http://127.0.0.1:1" + CURSOR_PATH, False, id="another-port"),
        pytest.param("http://user@{host}" + CURSOR_PATH, False, id="with-credentials"),
        pytest.param(CURSOR_PATH, False, id="a-relative-url"),
        pytest.param("{origin}/health?next=b", False, id="outside-the-api"),
        pytest.param("", False, id="no-next-page"),
    ],
)
def test_only_a_cursor_url_under_the_upstream_is_pointed_at_the_proxy(
    upstream: tuple[Upstream, str],
    start_proxy: Start,
    monkeypatch: pytest.MonkeyPatch,
    written: str,
    moved: bool,
) -> None:
    _, url = upstream
    body = '{"traits":{},"cursor":{"url":"' + written + '","has_more":true,"next":"b"}}'
    monkeypatch.setitem(DRIFTS, "cursor", (200, "application/json", body))
    proxy = start_proxy(url)
    answer = get(f"{proxy.url}{drift_url('cursor')}")
    sent = written.replace("{origin}", url).replace("{host}", url.removeprefix("http://"))
    assert answer.json()["cursor"]["url"] == (f"{proxy.url}{CURSOR_PATH}" if moved else sent)


def test_cursor_url_under_an_upstream_base_path_loses_that_path(
    upstream: tuple[Upstream, str], start_proxy: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    drifting, url = upstream
    proxy = start_proxy(f"{url}/base")
    for written, expected in (
        ("{origin}/base" + CURSOR_PATH, f"{proxy.url}{CURSOR_PATH}"),
        ("{origin}" + CURSOR_PATH, f"{url}{CURSOR_PATH}"),  # not under the base: kept
    ):
        body = '{"traits":{},"cursor":{"url":"' + written + '","has_more":true,"next":"b"}}'
        monkeypatch.setitem(DRIFTS, "cursor", (200, "application/json", body))
        answer = get(f"{proxy.url}{drift_url('cursor')}")
        assert drifting.seen[-1]["raw_path"] == f"/base{drift_url('cursor')}"
        assert answer.json()["cursor"]["url"] == expected


@pytest.mark.parametrize(
    "forwarded",
    [
        {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "app.example:8443"},
        {"Forwarded": 'for=192.0.2.60;proto=https;host="app.example:8443", proto=http'},
    ],
)
def test_cursor_url_honours_the_forwarded_headers_as_the_fake_does(
    upstream: tuple[Upstream, str], start_proxy: Start, forwarded: dict[str, str]
) -> None:
    _, url = upstream
    proxy = start_proxy(url)
    answer = get(
        f"{proxy.url}{drift_url('paged')}",
        headers={**forwarded, "X-Forwarded-Prefix": "/profile-api/"},
    )
    assert answer.json()["cursor"]["url"] == (
        f"https://app.example:8443/profile-api{drift_url('paged')}?limit=1&next=seats"
    )


@pytest.mark.parametrize(
    ("forwarded", "origin"),
    [
        ({"X-Forwarded-Prefix": "/api"}, "http://{proxy}/api"),
        ({"X-Forwarded-Proto": "https"}, "https://{proxy}"),
        ({"Forwarded": "proto=https"}, "https://{proxy}"),
        ({"X-Forwarded-Host": "app.example:8443"}, "http://app.example:8443"),
    ],
)
def test_cursor_url_stays_in_the_proxy_when_the_upstream_honours_forwarded_headers_too(
    demo_fake: ServerThread, start_proxy: Start, forwarded: dict[str, str], origin: str
) -> None:
    # The client's forwarded headers describe its hop to the proxy: the fake behind the
    # proxy must not see them, or it writes cursor.url outside its own base URL.
    proxy = start_proxy(demo_fake.url)
    path = "/v1/spaces/lg8283283/collections/users/profiles/anonymous_id:anon-01/events"
    answer = get(f"{proxy.url}{path}?limit=2", token="demo-token", headers=forwarded)
    following = answer.json()["cursor"]["url"]
    assert following.startswith(origin.format(proxy=proxy.url.removeprefix("http://")) + path)


def test_the_clients_forwarded_headers_are_not_sent_upstream(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    drifting, url = upstream
    proxy = start_proxy(url)
    sent = {
        "Forwarded": "for=192.0.2.60;proto=https",
        "X-Forwarded-For": "192.0.2.60",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "app.example",
        "X-Forwarded-Port": "8443",
        "X-Forwarded-Prefix": "/api",
        "X-Other": "kept",
    }
    get(f"{proxy.url}{drift_url('good')}", headers=sent)
    seen = {name.lower() for name in drifting.seen[-1]["headers"]}
    assert "x-other" in seen
    assert not seen & {name.lower() for name in sent if name != "X-Other"}


def test_keep_upstream_urls_passes_the_upstreams_cursor_url_on_as_written(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    _, url = upstream
    proxy = start_proxy(url, keep_upstream_urls=True)
    answer = get(f"{proxy.url}{drift_url('paged')}")
    assert answer.json()["cursor"]["url"] == f"{url}{drift_url('paged')}?limit=1&next=seats"


@pytest.mark.parametrize("flag", ["--keep-upstream-urls", "--keep-cursor-urls"])
def test_proxy_command_keep_upstream_urls_passes_them_on_as_sent_under_either_name(
    upstream: tuple[Upstream, str], monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    _, url = upstream
    monkeypatch.setitem(ANSWER_HEADERS, "paged", [("Location", "{origin}/v1/elsewhere")])
    served = Served("--upstream", url, "--port", "0", flag, command="proxy")
    try:
        proxy_url = served.read_until(r"proxy at (http://127\.0\.0\.1:\d+) forwards")
        served.read_until(r"cursor\.url and Location passed on as the upstream wrote them")
        paged = get(f"{proxy_url.group(1)}{drift_url('paged')}")
        assert paged.json()["cursor"]["url"] == f"{url}{drift_url('paged')}?limit=1&next=seats"
        assert paged.headers["Location"] == f"{url}/v1/elsewhere"
        assert served.stop() == 0
    finally:
        served.close()


LIMIT = 100_000
STOPPED = (
    f"the body is over the --max-body limit of {LIMIT:,} bytes (reading stopped there);"
    " raise it with --max-body SIZE, such as --max-body 1MB"
)


@pytest.mark.parametrize(
    ("case", "told"),
    [
        pytest.param("chunked", STOPPED, id="streamed-without-a-length"),
        pytest.param(
            "declared",
            f"the body is {FLOOD:,} bytes (its Content-Length), over the --max-body limit of"
            f" {LIMIT:,} bytes; raise it with --max-body SIZE, such as --max-body 32MB",
            id="its-content-length-over-the-limit",
        ),
        pytest.param("gzip", STOPPED, id="a-small-gzip-inflating-past-the-limit"),
    ],
)
def test_an_upstream_body_over_max_body_is_a_502_and_a_violation_unread_past_the_limit(
    flood: tuple[Flood, str],
    start_proxy: Start,
    caplog: pytest.LogCaptureFixture,
    case: str,
    told: str,
) -> None:
    flooding, url = flood
    proxy = start_proxy(url, max_body=LIMIT)
    path = drift_url(case)
    with caplog.at_level(logging.WARNING, logger="profilemock.proxy"):
        response = get(f"{proxy.url}{path}")
    assert response.status_code == 502
    assert response.json() == {
        "error": {
            "code": "body_too_large",
            "message": f"the upstream's 200 answer was not passed on: {told}",
        }
    }
    assert response.headers["Profilemock-Violations"] == "1"
    assert response.headers["Request-Id"] == "flood-1"
    [entry] = journal(proxy)
    assert (entry["status"], entry["violations"]) == (
        502,
        [{"pointer": "", "rule": "max-body", "message": told}],
    )
    assert [r.getMessage() for r in caplog.records if r.name == "profilemock.proxy"] == [
        f"contract violation: GET {path} -> 200 /: {told} [max-body]"
    ]
    if case != "gzip":  # the upstream could write little more than socket buffers hold
        assert flooding.sent.get(timeout=20) < FLOOD // 2
    assert get(f"{proxy.url}{path}").status_code == 502  # the proxy goes on serving


def test_a_body_of_exactly_max_body_bytes_passes_and_one_byte_less_refuses_it(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    _, url = upstream
    size = len(json.dumps(GOOD_TRAITS))
    assert get(f"{start_proxy(url, max_body=size).url}{drift_url('good')}").status_code == 200
    refused = get(f"{start_proxy(url, max_body=size - 1).url}{drift_url('good')}")
    assert refused.status_code == 502
    assert f"the body is {size:,} bytes (its Content-Length)" in refused.json()["error"]["message"]


def test_a_head_answer_passes_whatever_length_it_declares_over_max_body(
    demo_fake: ServerThread, start_proxy: Start
) -> None:
    # A HEAD answer's Content-Length is the size of the body a GET would get: none is sent.
    path = "/v1/spaces/lg8283283/collections/users/profiles/user_id:9800664881/traits"
    auth = ("demo-token", "")
    declared = requests.head(f"{demo_fake.url}{path}", auth=auth, timeout=10).headers
    proxy = start_proxy(demo_fake.url, max_body=int(declared["Content-Length"]) - 1)
    head = requests.head(f"{proxy.url}{path}", auth=auth, timeout=10)
    assert head.status_code == 200
    assert "Profilemock-Violations" not in head.headers
    assert get(f"{proxy.url}{path}", token="demo-token").status_code == 502  # the GET's body
    [head_entry, _] = journal(proxy)
    assert (head_entry["status"], head_entry["violations"]) == (200, [])


@pytest.mark.parametrize("status", [204, 304])
def test_an_answer_with_no_body_by_definition_passes_whatever_length_it_declares(
    bodiless: str, start_proxy: Start, status: int
) -> None:
    proxy = start_proxy(bodiless, max_body=1000)
    answer = get(f"{proxy.url}{drift_url('none')}?status={status}")
    assert (answer.status_code, answer.content) == (status, b"")
    assert "Profilemock-Violations" not in answer.headers
    [entry] = journal(proxy)
    assert (entry["status"], entry["violations"]) == (status, [])


def test_cursor_url_here_leaves_a_body_it_cannot_place_the_url_in() -> None:
    data = {"cursor": {"url": "http://up.example/v1/x?next=b"}}
    assert cursor_url_here(b'{"other": 1}', data, "http://up.example", lambda: "http://me") is None
    moved = cursor_url_here(
        json.dumps(data).encode(), data, "http://up.example", lambda: "http://me"
    )
    assert moved == b'{"cursor": {"url": "http://me/v1/x?next=b"}}'


def test_the_admin_api_refuses_a_fault_rule_saying_the_proxy_injects_none(
    upstream: tuple[Upstream, str], start_proxy: Start
) -> None:
    """It read "`*` matches no space of the fixtures; spaces are " (a list of none): the
    proxy serves no fixtures. Before that, the rule was armed and never fired."""
    proxy = start_proxy(upstream[1])
    for rule in ({"route": "traits", "status": 503}, {"spec": "traits:503"}):
        response = requests.post(f"{proxy.url}/__admin/faults", json=rule, timeout=10)
        assert response.status_code == 422
        assert response.json()["error"]["message"] == (
            "fault rule: the proxy injects no faults; it forwards every request as it is"
            " (fault rules are the fake's: profilemock serve)"
        )
    assert requests.get(f"{proxy.url}/__admin/faults", timeout=10).json() == {"faults": []}
