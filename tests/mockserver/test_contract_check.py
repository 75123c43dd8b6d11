"""The suite-wide hook: every answer is validated strictly, and a drift fails loudly."""

from __future__ import annotations

import os

import pytest

from profilemock.mockserver import resources
from profilemock.mockserver.app import STATE, create_app
from profilemock.store.space import Store
from tests.conftest import DEMO_TOKEN, Client, ClientFactory, basic, profile_path


def test_the_suite_checks_the_contract() -> None:
    assert os.environ["PROFILEMOCK_STRICT_CONTRACT"] == "1"


@pytest.mark.parametrize("check", [True, False])
async def test_a_body_outside_the_contract_becomes_a_recorded_500(
    aiohttp_client: ClientFactory, demo_store: Store, monkeypatch: pytest.MonkeyPatch, check: bool
) -> None:
    def drifted(req: resources.Request) -> dict[str, object]:
        return {"metadata": {"created_at": "yesterday"}, "surprise": 1}

    monkeypatch.setitem(resources.RESOURCE_HANDLERS, "metadata", drifted)
    client: Client = await aiohttp_client(create_app(demo_store, check_contract=check))
    response = await client.get(
        profile_path("user_id:u1234", "metadata"), headers=basic(DEMO_TOKEN)
    )
    errors = client.app[STATE].errors
    if not check:
        assert response.status == 200
        assert errors == []
        return
    assert response.status == 500
    body = await response.json()
    assert body["error"]["code"] == "internal_error"
    assert "Request-Id" in response.headers
    (error,) = errors
    message = str(error)
    assert "/metadata: missing required field `updated_at` [required]" in message
    assert '/metadata/created_at: "yesterday" is not a valid date-time [format]' in message
    assert "/surprise: unknown field `surprise`" in message


async def test_an_identifier_with_an_escaped_slash_is_checked_too(
    aiohttp_client: ClientFactory, demo_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check read the decoded path, where `user_id:a%2Fb` is one segment too many: no
    # route, and the answer went unchecked.
    monkeypatch.setitem(resources.RESOURCE_HANDLERS, "metadata", lambda req: {"surprise": 1})
    client: Client = await aiohttp_client(create_app(demo_store, check_contract=True))
    added = await client.put(
        "/__admin/spaces/lg8283283/collections/users/profiles", json={"ids": {"user_id": "a/b"}}
    )
    assert added.status == 201
    response = await client.get(
        profile_path("user_id:a%2Fb", "metadata"), headers=basic(DEMO_TOKEN)
    )
    assert response.status == 500
    (error,) = client.app[STATE].errors
    assert "answering GET /v1/spaces/lg8283283/collections/users/profiles/user_id:a%2Fb/" in str(
        error
    )


@pytest.mark.parametrize(
    "rule",
    [
        {"route": "metadata", "latency": "1ms"},
        {"route": "metadata", "latency": "1ms", "headers": {"X-Cache": "miss"}},
    ],
)
async def test_a_fault_that_only_delays_or_adds_headers_leaves_the_answer_checked(
    aiohttp_client: ClientFactory,
    demo_store: Store,
    monkeypatch: pytest.MonkeyPatch,
    rule: dict[str, object],
) -> None:
    def drifted(req: resources.Request) -> dict[str, object]:
        return {"surprise": 1}

    monkeypatch.setitem(resources.RESOURCE_HANDLERS, "metadata", drifted)
    client: Client = await aiohttp_client(create_app(demo_store, check_contract=True))
    client.app[STATE].faults.add(rule)
    response = await client.get(
        profile_path("user_id:u1234", "metadata"), headers=basic(DEMO_TOKEN)
    )
    # The answer is the API's own, delayed or with a header more: a drift is still a 500.
    assert response.status == 500
    (error,) = client.app[STATE].errors
    assert "/surprise: unknown field `surprise`" in str(error)


async def test_an_answer_a_fault_made_or_broke_is_not_checked(
    aiohttp_client: ClientFactory, demo_store: Store
) -> None:
    client: Client = await aiohttp_client(create_app(demo_store, check_contract=True))
    client.app[STATE].faults.add({"route": "metadata", "status": 200, "body": {"any": "thing"}})
    client.app[STATE].faults.add({"route": "traits", "fault": "malformed"})
    metadata = await client.get(
        profile_path("user_id:u1234", "metadata"), headers=basic(DEMO_TOKEN)
    )
    traits = await client.get(profile_path("user_id:u1234", "traits"), headers=basic(DEMO_TOKEN))
    assert (metadata.status, await metadata.json()) == (200, {"any": "thing"})
    assert traits.status == 200
    assert client.app[STATE].errors == []
