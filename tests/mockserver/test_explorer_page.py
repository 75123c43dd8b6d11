"""The explorer page as served (its behaviour in a browser: tests/browser)."""

from __future__ import annotations

import re

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import create_app
from profilemock.mockserver.state import ServerSettings
from tests.conftest import NOW, Client, ClientFactory, basic


async def test_the_page_is_served_whole_with_a_policy_that_forbids_other_origins(
    demo_client: Client,
) -> None:
    response = await demo_client.get("/__admin/explorer")
    assert response.status == 200
    assert response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    page = await response.text()
    # No build step and nothing fetched from the network: no external script, style,
    # font or image; every call goes to this server's own /__admin/ and /v1/ paths.
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)
    assert not re.search(r"fetch\([`'\"]https?:", page)
    assert "<script src" not in page


async def test_with_an_admin_token_the_page_opens_but_the_data_needs_the_token(
    aiohttp_client: ClientFactory,
) -> None:
    clock = Clock(NOW)
    app = create_app(
        load_fixtures([demo_fixture_path()], clock), clock, ServerSettings(admin_token="tok")
    )
    client = await aiohttp_client(app)
    assert (await client.get("/__admin/explorer")).status == 200
    assert (await client.get("/__admin/spaces")).status == 401
    answer = await client.get("/__admin/spaces", headers={"Profilemock-Admin-Token": "tok"})
    assert answer.status == 200


async def test_spaces_list_their_tokens_for_the_explorer(demo_client: Client) -> None:
    spaces = (await (await demo_client.get("/__admin/spaces")).json())["spaces"]
    assert spaces[0]["tokens"] == ["demo-token"]


async def test_the_journal_keeps_the_hint_of_each_answer(demo_client: Client) -> None:
    path = "/v1/spaces/lg8283283/collections/users/profiles/user_id:U1234/traits"
    assert (await demo_client.get(path, headers=basic("demo-token"))).status == 404
    entries = (await (await demo_client.get("/__admin/requests")).json())["requests"]
    assert "case-sensitive" in entries[-1]["hint"]
