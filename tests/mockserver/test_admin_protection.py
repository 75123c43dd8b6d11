"""No web page can drive the admin API: cross-origin requests, non-JSON bodies and DNS
names a page could rebind are refused; CORS opens it to loopback and named origins only."""

from __future__ import annotations

from typing import Any

import pytest

from profilemock.cli import exposure_warning, parser
from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.origins import is_loopback_origin, split_origin
from profilemock.mockserver.state import ServerSettings
from tests.conftest import DEMO_TOKEN, NOW, Client, ClientFactory, basic, profile_path

EVIL = "https://evil.example"
FRONTEND = "http://localhost:5173"
RULE = '{"route": "traits", "status": 503}'


async def client_with(aiohttp_client: ClientFactory, **settings: Any) -> Client:
    clock = Clock(NOW)
    store = load_fixtures([demo_fixture_path()], clock)
    return await aiohttp_client(create_app(store, clock, ServerSettings(**settings)))


def faults(client: Client) -> int:
    return len(client.app[STATE].faults)


def own_origin(client: Client) -> str:
    return str(client.make_url("")).rstrip("/")


async def test_cross_site_text_plain_post_cannot_add_a_fault(
    aiohttp_client: ClientFactory,
) -> None:
    client = await client_with(aiohttp_client)
    # What a hostile page's fetch(..., {mode: "no-cors"}) or form post sends.
    response = await client.post(
        "/__admin/faults",
        data=RULE,
        headers={"Origin": EVIL, "Content-Type": "text/plain"},
    )
    assert response.status == 403
    body = await response.json()
    assert body["error"]["code"] == "forbidden"
    assert "evil.example" in body["error"]["message"]
    assert "Request-Id" in response.headers
    assert "Access-Control-Allow-Origin" not in response.headers
    assert faults(client) == 0


async def test_cross_site_reset_is_refused_and_changes_nothing(
    aiohttp_client: ClientFactory,
) -> None:
    client = await client_with(aiohttp_client)
    await client.get(profile_path("user_id:u1234", "traits"), headers=basic(DEMO_TOKEN))
    response = await client.post("/__admin/reset", headers={"Origin": EVIL})
    assert response.status == 403
    assert len(client.app[STATE].journal) == 1


async def test_same_origin_page_may_call_the_admin_api(aiohttp_client: ClientFactory) -> None:
    client = await client_with(aiohttp_client)
    response = await client.post(
        "/__admin/faults",
        data=RULE,
        headers={"Origin": own_origin(client), "Content-Type": "application/json"},
    )
    assert response.status == 201
    assert faults(client) == 1


async def test_admin_bodies_must_be_declared_json(aiohttp_client: ClientFactory) -> None:
    client = await client_with(aiohttp_client)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {} if content_type is None else {"Content-Type": content_type}
        response = await client.post("/__admin/faults", data=RULE.encode(), headers=headers)
        assert response.status == 415, content_type
        assert "application/json" in (await response.json())["error"]["message"]
    assert faults(client) == 0
    ok = await client.post(
        "/__admin/faults",
        data=RULE,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status == 201


async def test_an_allowed_page_may_read_why_its_non_json_body_was_refused(
    aiohttp_client: ClientFactory,
) -> None:
    # fetch(url, {method: "POST", body: JSON.stringify(rule)}) sends text/plain, with no
    # preflight: without CORS headers the page saw only "Failed to fetch".
    client = await client_with(aiohttp_client, cors=True)
    response = await client.post(
        "/__admin/faults", data=RULE, headers={"Origin": FRONTEND, "Content-Type": "text/plain"}
    )
    assert response.status == 415
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert "application/json" in (await response.json())["error"]["message"]
    refused = await client.post(
        "/__admin/faults", data=RULE, headers={"Origin": EVIL, "Content-Type": "text/plain"}
    )
    assert refused.status == 403
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert faults(client) == 0


async def test_bodyless_admin_posts_need_no_content_type(aiohttp_client: ClientFactory) -> None:
    client = await client_with(aiohttp_client)
    assert (await client.post("/__admin/reset")).status == 200


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:4010", "127.0.0.1.nip.io:4010", "localhost.evil.example"],
)
async def test_a_dns_name_pointed_at_the_fake_is_refused(
    aiohttp_client: ClientFactory, host: str
) -> None:
    client = await client_with(aiohttp_client)
    response = await client.post("/__admin/reset", headers={"Host": host})
    assert response.status == 403
    assert "--allow-host" in (await response.json())["error"]["message"]
    # The Profile API itself is not the admin API's concern: it answers any Host.
    api = await client.get(
        profile_path("user_id:u1234", "traits"), headers={**basic(DEMO_TOKEN), "Host": host}
    )
    assert api.status == 200


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:4010", "localhost:4010", "LOCALHOST", "[::1]:4010", "app.localhost", "10.0.0.7"],
)
async def test_ip_addresses_and_localhost_are_accepted_hosts(
    aiohttp_client: ClientFactory, host: str
) -> None:
    client = await client_with(aiohttp_client)
    assert (await client.get("/__admin/health", headers={"Host": host})).status == 200


async def test_allowed_hosts_name_more_hosts_or_any(aiohttp_client: ClientFactory) -> None:
    named = await client_with(aiohttp_client, allowed_hosts=("profilemock",))
    assert (await named.get("/__admin/health", headers={"Host": "profilemock:4010"})).status == 200
    assert (await named.get("/__admin/health", headers={"Host": "other:4010"})).status == 403
    anything = await client_with(aiohttp_client, allowed_hosts=("*",))
    assert (await anything.get("/__admin/health", headers={"Host": "other"})).status == 200


async def test_without_cors_every_cross_origin_admin_request_is_refused(
    aiohttp_client: ClientFactory,
) -> None:
    client = await client_with(aiohttp_client)
    for origin in (FRONTEND, "http://127.0.0.1:3000", EVIL, "null"):
        response = await client.get("/__admin/health", headers={"Origin": origin})
        assert response.status == 403, origin
        assert "--cors" in (await response.json())["error"]["message"]


async def test_cors_lets_loopback_origins_drive_the_admin_api(
    aiohttp_client: ClientFactory,
) -> None:
    client = await client_with(aiohttp_client, cors=True)
    preflight = await client.options(
        "/__admin/faults",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == FRONTEND
    methods = preflight.headers["Access-Control-Allow-Methods"].split(", ")
    assert set(methods) == {"GET", "POST", "PUT", "PATCH", "DELETE"}
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed
    assert "profilemock-admin-token" in allowed
    added = await client.post(
        "/__admin/faults",
        data=RULE,
        headers={"Origin": FRONTEND, "Content-Type": "application/json"},
    )
    assert added.status == 201
    assert added.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert added.headers["Vary"] == "Origin"


async def test_cors_does_not_open_the_admin_api_to_other_origins(
    aiohttp_client: ClientFactory,
) -> None:
    client = await client_with(aiohttp_client, cors=True)
    preflight = await client.options(
        "/__admin/reset",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers
    for origin in (EVIL, "http://localhost.evil.example", "null", "http://127.0.0.1:3000/x"):
        response = await client.post("/__admin/reset", headers={"Origin": origin})
        assert response.status == 403, origin
    # The Profile API itself stays open to every origin under --cors.
    api = await client.get(
        profile_path("user_id:u1234", "traits"), headers={**basic(DEMO_TOKEN), "Origin": EVIL}
    )
    assert api.headers["Access-Control-Allow-Origin"] == EVIL


async def test_an_origin_with_a_port_of_thousands_of_digits_is_refused_not_a_500(
    aiohttp_client: ClientFactory,
) -> None:
    client = await client_with(aiohttp_client, cors=True)
    response = await client.get(
        "/__admin/health", headers={"Origin": f"http://127.0.0.1:{'1' * 5000}"}
    )
    assert response.status == 403


async def test_cors_origins_name_more_admin_origins(aiohttp_client: ClientFactory) -> None:
    client = await client_with(aiohttp_client, cors=True, cors_origins=("https://app.example",))
    ok = await client.post("/__admin/reset", headers={"Origin": "https://app.example"})
    assert ok.status == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example"
    refused = await client.post("/__admin/reset", headers={"Origin": "https://app.example:8443"})
    assert refused.status == 403
    # Named with its default port (or leading zeros): a browser's Origin never writes it.
    named = ("https://app.example:443", "http://dev.example:08080")
    client = await client_with(aiohttp_client, cors=True, cors_origins=named)
    for origin in ("https://app.example", "http://dev.example:8080"):
        assert (await client.post("/__admin/reset", headers={"Origin": origin})).status == 200


async def test_admin_token_still_required_from_allowed_origins(
    aiohttp_client: ClientFactory,
) -> None:
    client = await client_with(aiohttp_client, cors=True, admin_token="s3cret")
    response = await client.get("/__admin/health", headers={"Origin": FRONTEND})
    assert response.status == 401


def test_serving_beyond_loopback_without_admin_token_warns() -> None:
    settings = ServerSettings()
    for host in ("0.0.0.0", "::", "192.168.1.20", "myhost"):
        warning = exposure_warning(host, settings)
        assert "--admin-token" in (warning or ""), host
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert exposure_warning(host, settings) is None, host
    assert exposure_warning("0.0.0.0", ServerSettings(admin_token="t")) is None
    assert exposure_warning("0.0.0.0", ServerSettings(admin=False)) is None


@pytest.mark.parametrize(
    ("host", "origin", "loopback"),
    [
        ("app.localhost", "http://app.localhost:5173", True),
        ("LocalHost.", "http://LocalHost.:5173", True),
        ("::ffff:127.0.0.1", "http://[::ffff:127.0.0.1]:5173", True),
        ("[::1]", "http://[::1]:5173", True),
        ("localhost.evil.example", "http://localhost.evil.example:5173", False),
    ],
)
def test_serve_and_the_admin_api_agree_on_what_is_loopback(
    host: str, origin: str, loopback: bool
) -> None:
    # One rule (api.is_loopback_name): `serve --host app.localhost` was warned of as open to
    # the network while the admin API took http://app.localhost:5173 as loopback (RFC 6761:
    # it is); an IPv4-mapped loopback address was loopback on Python 3.13 only.
    assert (exposure_warning(host, ServerSettings()) is None) == loopback
    assert is_loopback_origin(origin) == loopback


def test_cors_origin_option_takes_origins_only(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["serve", "--cors-origin", "HTTPS://App.example:8443/"])
    assert args.cors_origin == ["https://app.example:8443"]
    for bad in ("app.example", "ftp://x", "https://x/path", "http://x:port"):
        with pytest.raises(SystemExit):
            parser().parse_args(["serve", "--cors-origin", bad])
        assert "is not an origin" in capsys.readouterr().err


def test_cors_origin_without_a_scheme_is_offered_one(capsys: pytest.CaptureFixture[str]) -> None:
    # `localhost:5173`, as Vite prints where it runs, was refused without a way out.
    for given, meant in (
        ("localhost:5173", "http://localhost:5173"),
        ("app.example/", "http://app.example"),
    ):
        with pytest.raises(SystemExit):
            parser().parse_args(["serve", "--cors-origin", given])
        assert (
            f"is not an origin such as https://app.example:8443 (scheme, host, port); did you mean {meant}?"
            in capsys.readouterr().err
        )
    for bad in ("ftp://x", "localhost:5173/app", "x:port"):
        with pytest.raises(SystemExit):
            parser().parse_args(["serve", "--cors-origin", bad])
        assert "did you mean" not in capsys.readouterr().err


@pytest.mark.parametrize("given", ["*", "https://*.example.com", "http://localhost:*"])
def test_a_cors_origin_wildcard_is_refused_saying_what_cors_lets_in(
    given: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # `*` was offered `http://*`; `https://*.example.com` was taken, and matched no page.
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--cors-origin", given])
    assert capsys.readouterr().err.endswith(
        f"`{given}` is not an origin such as https://app.example:8443 (scheme, host, port):"
        " --cors lets every origin call the API; --cors-origin names each page the admin API"
        " also takes, one a flag (loopback origins it takes with --cors)\n"
    )


@pytest.mark.parametrize(
    ("url", "split"),
    [
        ("HTTPS://App.Example./v1/x?y", (("https", "app.example", 443), "/v1/x?y")),
        ("http://127.0.0.1:8080", (("http", "127.0.0.1", 8080), "")),
        ("http://[::1]/", (("http", "[::1]", 80), "/")),
        ("http://[::1]:3000#f", (("http", "[::1]", 3000), "#f")),
        ("/v1/relative", None),
        ("ftp://x", None),
        ("https://user@app.example", None),
        ("https://:443", None),
        ("http://x:port", None),
        ("http://x:65536", None),
        # int() of 4,300 digits and more raises: an Origin so written answered 500.
        (f"http://x:{'1' * 5000}", None),
        (f"http://x:{'0' * 5000}80", (("http", "x", 80), "")),
    ],
)
def test_split_origin_is_the_one_reader_of_a_urls_origin(
    url: str, split: tuple[tuple[str, str, int], str] | None
) -> None:
    assert split_origin(url) == split


def test_cors_origin_refuses_credentials_and_a_query_it_would_have_dropped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Read with split_origin like the proxy's cursor.url: an origin has no user and no query.
    for bad in ("https://user@app.example", "https://app.example?x=1", "http://x:65536"):
        with pytest.raises(SystemExit):
            parser().parse_args(["serve", "--cors-origin", bad])
        assert f"`{bad}` is not an origin" in capsys.readouterr().err
    assert not is_loopback_origin("http://user@localhost:3000")
    assert is_loopback_origin("http://[::1]:3000")


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1.evil.example",
        "http://127.0.0.1.evil.example:3000",
        "http://127.evil.example",
    ],
)
def test_a_dns_name_that_starts_like_a_loopback_address_is_no_loopback_origin(
    origin: str,
) -> None:
    # Anyone can name a host 127.0.0.1.evil.example: its pages must not drive the admin API.
    assert not is_loopback_origin(origin)


def test_loopback_addresses_are_loopback_origins() -> None:
    for origin in (
        "http://127.0.0.1:3000",
        "http://127.1.2.3",
        "https://localhost",
        "http://[::1]",
    ):
        assert is_loopback_origin(origin)
