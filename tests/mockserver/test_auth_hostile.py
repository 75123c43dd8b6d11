"""Hostile Authorization headers: always the real 401, never a 500, never the token echoed."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profilemock.fixtures.loader import DEMO_TOKEN
from profilemock.mockserver.auth import _decide
from profilemock.store.overlay import LiveStore
from profilemock.store.space import Store
from tests.conftest import Client, profile_path

PATH = profile_path("user_id:u1234", "traits")


@pytest.mark.parametrize(
    "value",
    [
        "Basic \u00e9\u00e9\u00e9",
        "Basic ZGVtby10b2tlbjo=\u00ff",
        "Basic \u2603",
        "basic \U0001f600",
    ],
)
async def test_non_ascii_basic_credentials_are_401(demo_client: Client, value: str) -> None:
    # Sent as Latin-1 / UTF-8 bytes on the wire; aiohttp decodes them to non-ASCII text.
    response = await demo_client.get(
        PATH, headers={"Authorization": value.encode().decode("latin-1")}
    )
    assert response.status == 401
    assert "not valid base64" in response.headers["Profilemock-Hint"]


@pytest.mark.parametrize(
    ("value", "hint_part"),
    [
        (DEMO_TOKEN, "has no scheme"),
        ("s3cret-token-123", "has no scheme"),
        ("s3cret-token-123 more", "not one HTTP defines"),
        ("Bearer s3cret-token-123", "scheme is Bearer"),
    ],
)
async def test_a_token_without_scheme_is_never_echoed(
    demo_client: Client, value: str, hint_part: str
) -> None:
    response = await demo_client.get(PATH, headers={"Authorization": value})
    assert response.status == 401
    hint = response.headers["Profilemock-Hint"]
    assert hint_part in hint
    for word in value.split():
        if word != "Bearer":
            assert word not in hint
            assert word not in await response.text()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_any_authorization_text_is_decided_without_raising(value: str) -> None:
    allowed, hint = _decide(LiveStore(Store(spaces={})), "lg8283283", value)
    assert allowed is None
    assert hint


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["", "Basic ", "Bearer ", "Token ", "Custom ", "tok-scheme "]),
    st.from_regex(r"tok[0-9a-z]{6,20}", fullmatch=True),
)
def test_no_hint_quotes_a_token(scheme: str, token: str) -> None:
    _, hint = _decide(LiveStore(Store(spaces={})), "lg8283283", scheme + token)
    assert token not in hint
    assert "tok-scheme" not in hint
