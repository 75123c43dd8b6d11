"""The calls real clients of the Profile API make, as they make them, answer as they expect.

Sources (read from the published packages, 2026-11):
- ``@segment/edge-sdk`` 0.2.0 (npm), dist/index.js: ``fetch`` of
  ``…/profiles/user_id:${userId}/traits?limit=200&class=audience`` and ``…?limit=200`` with
  ``Authorization: Basic btoa(`${token}:`)``, the user id unencoded; it reads ``.traits``
  of a 200 and ignores anything else.
- ``segment-mcp`` 0.1.3 (PyPI), client/profile_api.py: an httpx client with a Basic header,
  ``GET /v1/spaces/{space}/collections/{users|accounts}/profiles/{type}:{value}/{route}``
  for every route, the value lowercased and quoted with ``!$&'()*+,;=:@-._~`` left as is,
  ``params={"limit": n}`` on traits; 404 means "no profile", 429 and 401 are errors, and a
  body must be a JSON object.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.serving import ServerThread
from tests.conftest import DEMO_SPACE, DEMO_TOKEN, NOW


@pytest.fixture(scope="module")
def fake() -> Iterator[ServerThread]:
    clock = Clock(NOW)
    app = create_app(load_fixtures([demo_fixture_path()], clock), clock)
    with ServerThread(app) as server:
        yield server
    assert app[STATE].errors == []


def edge_sdk_traits(base: str, user_id: str, *, audiences: bool) -> dict[str, object] | None:
    """What @segment/edge-sdk does: one fetch, `.traits` of a 200, else nothing."""
    query = "limit=200&class=audience" if audiences else "limit=200"
    url = (
        f"{base}/v1/spaces/{DEMO_SPACE}/collections/users/profiles/user_id:{user_id}/traits?{query}"
    )
    token = base64.b64encode(f"{DEMO_TOKEN}:".encode()).decode()
    response = httpx.get(url, headers={"Authorization": "Basic " + token}, timeout=5)
    if response.status_code != 200:
        return None
    traits = response.json()["traits"]
    assert isinstance(traits, dict)
    return traits


def test_edge_sdk_reads_audiences_and_traits(fake: ServerThread) -> None:
    audiences = edge_sdk_traits(fake.url, "9800664881", audiences=True)
    assert audiences is not None
    assert audiences
    assert all(isinstance(value, bool) for value in audiences.values())
    traits = edge_sdk_traits(fake.url, "u1234", audiences=False)
    assert traits is not None
    assert traits["first_name"] == "Bob"
    assert edge_sdk_traits(fake.url, "nobody", audiences=False) is None


SAFE = "!$&'()*+,;=:@-._~"


def mcp_get(
    client: httpx.Client, collection: str, id_type: str, value: str, route: str
) -> httpx.Response:
    """What segment-mcp's ProfileAPIClient._get sends."""
    encoded = quote(value.lower(), safe=SAFE)
    params = {"limit": 10} if route == "traits" else None
    path = f"/v1/spaces/{DEMO_SPACE}/collections/{collection}/profiles/{id_type}:{encoded}/{route}"
    return client.get(path, params=params)


@pytest.mark.parametrize("route", ["traits", "external_ids", "events", "metadata", "links"])
def test_segment_mcp_reads_every_route(fake: ServerThread, route: str) -> None:
    credentials = base64.b64encode(f"{DEMO_TOKEN}:".encode()).decode()
    with httpx.Client(
        base_url=fake.url, headers={"Authorization": f"Basic {credentials}"}, timeout=5
    ) as client:
        # An email, sent with its `@` unescaped, as segment-mcp quotes it.
        response = mcp_get(client, "users", "email", "Avid.Reader@example.com", route)
        assert response.status_code == 200, response.text
        assert isinstance(response.json(), dict)
        missing = mcp_get(client, "users", "user_id", "nobody", route)
        assert missing.status_code == 404
        account = mcp_get(client, "accounts", "group_id", "12345", route)
        assert account.status_code == 200, account.text
