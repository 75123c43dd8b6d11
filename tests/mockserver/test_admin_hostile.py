"""Hostile admin inputs: every one a 400 in the envelope, none a 500."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.serving import ServerThread
from tests.conftest import NOW, Client

JSON = {"Content-Type": "application/json"}
SPACE = "/__admin/spaces/lg8283283"
DEMO_AUTH = {"Authorization": "Basic ZGVtby10b2tlbjo="}  # demo-token:
TRAITS = "/v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/traits"
BODY_ROUTES = [
    ("POST", "/__admin/faults"),
    ("PATCH", SPACE),
    ("PUT", f"{SPACE}/collections/users/profiles"),
    ("POST", f"{SPACE}/collections/users/profiles/user_id:u1234/events"),
    ("POST", "/__admin/clock/freeze"),
    ("POST", "/__admin/clock/advance"),
    ("PATCH", "/__admin/realism"),
]


async def refused(client: Client, method: str, path: str, body: bytes | None) -> str:
    response = await client.request(method, path, data=body, headers=JSON)
    payload: dict[str, Any] = await response.json()
    assert response.status == 400, payload
    assert set(payload) == {"error"}
    assert client.app[STATE].errors == []
    message: str = payload["error"]["message"]
    return message


@pytest.mark.parametrize("spec", ["{}", "123", "null", '["x"]', "true"])
async def test_a_spec_that_is_not_a_string_is_400(demo_client: Client, spec: str) -> None:
    message = await refused(demo_client, "POST", "/__admin/faults", b'{"spec": %s}' % spec.encode())
    assert message.startswith("body field `/spec`: ")
    assert "is not a string; expected a --fault spec such as traits:429:times=2" in message


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_a_body_that_is_not_utf8_is_400(demo_client: Client, method: str, path: str) -> None:
    message = await refused(demo_client, method, path, b'{"by": "\xff\xfe"}')
    assert "not UTF-8 (byte 9)" in message


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_a_body_whose_content_encoding_does_not_decode_is_400(
    demo_client: Client, method: str, path: str
) -> None:
    # aiohttp's RequestPayloadError reached the pipeline as a 500.
    response = await demo_client.request(
        method, path, data=b"not gzip", headers={**JSON, "Content-Encoding": "gzip"}
    )
    payload = await response.json()
    assert response.status == 400, payload
    assert payload["error"]["message"].startswith("the request body cannot be read: ")
    assert "gzip" in payload["error"]["message"]
    assert demo_client.app[STATE].errors == []


async def test_a_body_over_the_size_limit_says_the_limit(demo_client: Client) -> None:
    body = b'{"spec": "' + b"a" * (1024**2) + b'"}'
    response = await demo_client.post("/__admin/faults", data=io.BytesIO(body), headers=JSON)
    assert response.status == 413
    assert (await response.json())["error"] == {
        "code": "invalid_request_error",
        "message": "the request body is larger than the 1,048,576 bytes an admin request may send",
    }


@pytest.mark.parametrize(
    "rate_limit",
    [
        "1e999",
        "-1e999",
        "NaN",
        "Infinity",
        '{"per_second": 1e999}',
        '{"per_second": 10, "burst": 1e999}',
        '{"per_second": 10, "burst": 2.5}',
        '{"per_second": 10, "burst": true}',
        '{"per_second": true}',
        "1e300",
        '{"per_second": 10, "burst": 100000000000000000000}',
    ],
)
async def test_absurd_rate_limits_are_400(demo_client: Client, rate_limit: str) -> None:
    body = b'{"rate_limit": %s}' % rate_limit.encode()
    await refused(demo_client, "PATCH", SPACE, body)
    spaces = await (await demo_client.get("/__admin/spaces")).json()
    assert spaces["spaces"][0]["rate_limit"] == {"per_second": 100.0, "burst": 100}


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "1\u00b2", "+5", " 5", "-1", "0"])
async def test_non_ascii_digits_in_journal_queries_are_400(demo_client: Client, value: str) -> None:
    for name in ("limit", "status"):
        if name == "status" and value in ("-1", "0"):
            continue
        response = await demo_client.get("/__admin/requests", params={name: value})
        assert response.status == 400, (name, value)
        assert f"`{name}`" in (await response.json())["error"]["message"]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"a":' + "[" * 5_000 + "]" * 5_000 + "}", "nested deeper than 100 levels at line 1 column 105"),
        ('{"route": "traits", "status": 503, "body": "\\ud800"}', "`\\ud800` is a lone surrogate"),
        ('{"spec": "traits:429", "id": "x\\udc00"}', "`\\udc00` is a lone surrogate"),
        ('{"\\ud800": 1}', "`\\ud800` is a lone surrogate"),
        ('{"a": NaN}', "`NaN` is not a finite number at line 1 column 7"),
    ],
)  # fmt: skip
async def test_a_body_json_cannot_carry_safely_is_400_and_nothing_is_kept(
    demo_client: Client, method: str, path: str, body: str, problem: str
) -> None:
    # A lone surrogate was kept (a fault's body, a rule id) and every answer quoting it was
    # a 500; a body nested some 1,000 levels deep was a RecursionError, a 500.
    message = await refused(demo_client, method, path, body.encode())
    assert message.startswith("the request body cannot be used: "), message
    assert problem in message
    assert (await demo_client.get("/__admin/faults")).status == 200
    assert (await demo_client.get(TRAITS, headers=DEMO_AUTH)).status == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "problem"),
    [
        ("PUT", f"{SPACE}/collections/users/profiles",
         '{"ids": {"user_id": "u-dup"}, "traits": {"plan": "free", "plan": "pro"}}',
         "the key `plan` is given 2 times in one object (at /traits/plan); each key may appear once"),
        ("PUT", f"{SPACE}/collections/users/profiles",
         '{"ids": {"user_id": "u-dup"},\n "ids": {"user_id": "u-other"}}',
         "the key `ids` is given 2 times in one object (at /ids)"),
        ("POST", "/__admin/faults", '{"route": "traits", "status": 503, "status": 429}',
         "the key `status` is given 2 times in one object (at /status)"),
        ("PATCH", "/__admin/realism", '{"short_pages": true, "short_pages": false}',
         "the key `short_pages` is given 2 times"),
    ],
)  # fmt: skip
async def test_a_key_given_twice_is_400_naming_it_and_nothing_is_kept(
    demo_client: Client, method: str, path: str, body: str, problem: str
) -> None:
    # The last value won without a word (the first `ids` named another profile, the first
    # `status` another answer), where a fixture file refuses a key given twice.
    message = await refused(demo_client, method, path, body.encode())
    assert message.startswith("the request body cannot be used: "), message
    assert problem in message
    state = demo_client.app[STATE]
    assert state.store.spaces["lg8283283"].find("users", "user_id", "u-dup") is None
    assert (await (await demo_client.get("/__admin/faults")).json())["faults"] == []
    assert not state.realism.short_pages


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(st.characters(codec=None, exclude_categories=()), max_size=8),  # surrogates too
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = st.sampled_from(
    ["spec", "route", "status", "latency", "headers", "rate_limit", "by", "at", "ids", "events"]
)
BODIES = st.one_of(
    JSON_VALUES,
    st.dictionaries(FIELDS, JSON_VALUES, max_size=3),
)


@pytest.fixture(scope="module")
def admin_server() -> Iterator[ServerThread]:
    clock = Clock(NOW)
    app = create_app(load_fixtures([demo_fixture_path()], clock), clock)
    with ServerThread(app) as server:
        yield server


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(BODY_ROUTES), body=BODIES)
def test_any_json_body_on_any_admin_route_is_answered_without_a_500(
    admin_server: ServerThread, route: tuple[str, str], body: Any
) -> None:
    method, path = route
    response = requests.request(
        method, admin_server.url + path, data=json.dumps(body), headers=JSON, timeout=10
    )
    assert response.status_code < 500, (method, path, body, response.text)
    assert response.headers["Content-Type"] == "application/json"
    # Whatever was taken in, the admin API and the API still answer (nothing kept that
    # cannot be sent).
    for after in ("/__admin/faults", "/__admin/requests?limit=5", TRAITS):
        answer = requests.get(admin_server.url + after, auth=("demo-token", ""), timeout=10)
        assert answer.status_code < 500, (after, body, answer.text)
    assert admin_server.call(lambda state: list(state.errors)) == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/__admin/requests"), ("GET", "/__admin/faults"), ("POST", "/__admin/reset")],
)
async def test_a_query_a_route_does_not_take_is_400_and_nothing_changes(
    demo_client: Client, method: str, path: str
) -> None:
    # `DELETE /__admin/requests?route=traits` emptied the whole journal, `GET
    # /__admin/faults?route=traits` listed every rule: the filter was ignored in silence.
    await demo_client.get("/v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/traits")
    response = await demo_client.request(method, f"{path}?route=traits")
    assert response.status == 400
    assert (await response.json())["error"]["message"] == (
        f"{method} {path} takes no query parameters; got `route`"
    )
    assert (await (await demo_client.get("/__admin/requests")).json())["total"] == 1


async def test_the_explorer_page_opens_with_any_query(demo_client: Client) -> None:
    assert (await demo_client.get("/__admin/explorer?v=2")).status == 200
