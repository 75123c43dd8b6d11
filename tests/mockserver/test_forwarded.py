"""``cursor.url`` behind a dev proxy: Forwarded (RFC 7239), X-Forwarded-Proto, -Host and
-Prefix."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profilemock.mockserver.app import _forwarded_element
from tests.conftest import DEMO_TOKEN, Client, basic, profile_path

EVENTS = profile_path("user_id:5550000001", "events") + "?limit=2"


async def next_url(client: Client, headers: dict[str, str]) -> str:
    response = await client.get(EVENTS, headers={**basic(DEMO_TOKEN), **headers})
    assert response.status == 200
    url: str = (await response.json())["cursor"]["url"]
    return url


async def test_cursor_url_names_the_proxy_and_its_prefix(demo_client: Client) -> None:
    url = await next_url(
        demo_client,
        {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "app.local:5173",
            "X-Forwarded-Prefix": "/profile-api/",
        },
    )
    assert url.startswith(
        "https://app.local:5173/profile-api/v1/spaces/lg8283283/collections/users/profiles/"
        "user_id:5550000001/events?limit=2&next="
    )


async def test_following_the_proxied_url_through_the_prefix_reaches_the_next_page(
    demo_client: Client,
) -> None:
    url = await next_url(demo_client, {"X-Forwarded-Prefix": "/api"})
    host = f"http://{demo_client.host}:{demo_client.port}"
    assert url.startswith(f"{host}/api/v1/")
    # What the dev proxy does: strip the prefix and pass the rest on.
    response = await demo_client.get(url.removeprefix(f"{host}/api"), headers=basic(DEMO_TOKEN))
    assert response.status == 200
    assert (await response.json())["data"]


async def test_the_first_of_several_forwarded_values_is_the_client_side(
    demo_client: Client,
) -> None:
    url = await next_url(
        demo_client,
        {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "app.example, 10.0.0.2:8080"},
    )
    assert url.startswith("https://app.example/v1/")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Forwarded-Proto": "javascript"}, id="scheme"),
        pytest.param({"X-Forwarded-Host": "evil/path"}, id="host"),
        # Each passed a check of its characters alone: a cursor.url no client could follow.
        pytest.param({"X-Forwarded-Host": "[::1"}, id="host-unclosed-bracket"),
        pytest.param({"X-Forwarded-Host": "app.example:99999"}, id="host-port-too-large"),
        pytest.param({"X-Forwarded-Host": "::1"}, id="host-ipv6-without-brackets"),
        pytest.param({"X-Forwarded-Host": ":8080"}, id="host-port-alone"),
        pytest.param({"X-Forwarded-Host": "a..b"}, id="host-empty-label"),
        pytest.param({"X-Forwarded-Host": "app.example:0"}, id="host-port-zero"),
        pytest.param({"X-Forwarded-Prefix": "no-slash"}, id="prefix-without-slash"),
        pytest.param({"X-Forwarded-Prefix": "/a b"}, id="prefix-with-space"),
        pytest.param({"X-Forwarded-Prefix": "/a%zz"}, id="prefix-with-a-broken-escape"),
        pytest.param({"X-Forwarded-Prefix": "/a%2"}, id="prefix-with-half-an-escape"),
    ],
)
async def test_values_that_are_no_scheme_host_or_path_are_ignored(
    demo_client: Client, headers: dict[str, str]
) -> None:
    url = await next_url(demo_client, headers)
    assert url.startswith(f"http://{demo_client.host}:{demo_client.port}/v1/spaces/")


async def test_an_escape_in_the_prefix_is_kept(demo_client: Client) -> None:
    url = await next_url(demo_client, {"X-Forwarded-Prefix": "/profile%20api"})
    assert url.startswith(f"http://{demo_client.host}:{demo_client.port}/profile%20api/v1/")


async def raw_next_url(client: Client, target: str, headers: str = "") -> str:
    """``cursor.url`` of an HTTP/1.0 request written as is (aiohttp's client always sends
    a Host, and an origin-form target)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    auth = basic(DEMO_TOKEN)["Authorization"]
    writer.write(f"GET {target} HTTP/1.0\r\nAuthorization: {auth}\r\n{headers}\r\n".encode())
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200"), head
    url: str = json.loads(body)["cursor"]["url"]
    return url


async def test_a_request_without_host_gets_the_servers_address_with_its_port(
    demo_client: Client,
) -> None:
    # HTTP/1.0 needs no Host: aiohttp's request.host is then the address without the port,
    # and the cursor sent the client to port 80.
    url = await raw_next_url(demo_client, EVENTS)
    assert url.startswith(f"http://{demo_client.host}:{demo_client.port}/v1/spaces/")


@pytest.mark.parametrize("host", ["", "Host: other.example\r\n"])
async def test_an_absolute_form_target_names_the_host_with_its_port(
    demo_client: Client, host: str
) -> None:
    # Its authority is the request's host (RFC 9112 §3.2.2); aiohttp's request.host kept
    # the name and dropped the port.
    url = await raw_next_url(demo_client, f"http://app.example:8081{EVENTS}", host)
    assert url.startswith("http://app.example:8081/v1/spaces/")


async def test_without_forwarded_headers_the_url_is_the_servers_own(
    demo_client: Client,
) -> None:
    url = await next_url(demo_client, {})
    assert url.startswith(f"http://{demo_client.host}:{demo_client.port}/v1/spaces/")


@pytest.mark.parametrize(
    ("headers", "origin"),
    [
        pytest.param(
            {"X-Forwarded-Host": "[::1]:5173"}, "http://[::1]:5173", id="ipv6-in-brackets"
        ),
        pytest.param(
            {"Forwarded": 'for=192.0.2.60;proto=https;host="app.example:8443"'},
            "https://app.example:8443",
            id="proto-and-quoted-host",
        ),
        pytest.param(
            {"Forwarded": "proto=https;host=app.example, proto=http;host=10.0.0.2:8080"},
            "https://app.example",
            id="the-first-element-is-the-client-side",
        ),
        pytest.param(
            {"Forwarded": "host=app.example", "X-Forwarded-Host": "other.example"},
            "http://app.example",
            id="before-x-forwarded-host",
        ),
        pytest.param(
            {"Forwarded": "host=evil/path;proto=javascript", "X-Forwarded-Host": "ok.example",
             "X-Forwarded-Proto": "https"},
            "https://ok.example",
            id="a-bad-value-gives-way-to-the-x-header",
        ),
    ],
)  # fmt: skip
async def test_rfc_7239_forwarded_names_the_proxy_too(
    demo_client: Client, headers: dict[str, str], origin: str
) -> None:
    url = await next_url(demo_client, {**headers, "X-Forwarded-Prefix": "/api"})
    assert url.startswith(f"{origin}/api/v1/spaces/lg8283283/")


@pytest.mark.parametrize(
    "value",
    [
        "garbage", "host", ";;", 'host="unterminated', "proto=ftp", "host=a b", "host=\xff",
        "proto=https;host=a.example;proto=http", "host=a.example;Host=b.example",
    ],
)  # fmt: skip
async def test_a_forwarded_header_that_names_no_scheme_or_host_is_ignored(
    demo_client: Client, value: str
) -> None:
    url = await next_url(demo_client, {"Forwarded": value})
    assert url.startswith(f"http://{demo_client.host}:{demo_client.port}/v1/spaces/")


@given(st.text(st.characters(codec="latin-1"), max_size=40))
def test_any_forwarded_value_is_read_or_ignored_never_an_error(value: str) -> None:
    element = _forwarded_element(value)
    assert all(name == name.lower() for name in element)
    assert _forwarded_element(f"proto=https;host=a.example, {value}") == {
        "proto": "https",
        "host": "a.example",
    }  # only the first element counts
