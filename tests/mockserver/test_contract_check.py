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
