"""Identifiers: `type:value` percent-decoded, raw `+` as space, bare segment ids, case."""

from __future__ import annotations

import pytest

from tests.conftest import Client, ServeYaml, basic

FIXTURE = """
spaces:
  sp:
    tokens: [tok]
    users:
      - ids:
          user_id: alice
          email: alice+news@example.com
          custom.crm-id: "A/B 7"
          ios.idfa: 6D92078A-8246-4BA4-AE5B-76104861E7DC
        segment_id: use_alice0000000000000000000000
      - ids: {user_id: Bob}
    accounts:
      - ids: {group_id: acme}
"""


def path(identifier: str, collection: str = "users") -> str:
    return f"/v1/spaces/sp/collections/{collection}/profiles/{identifier}/metadata"


@pytest.fixture
async def client(serve_yaml: ServeYaml) -> Client:
    return await serve_yaml(FIXTURE)


async def status_and_hint(
    client: Client, identifier: str, collection: str = "users"
) -> tuple[int, str | None]:
    response = await client.get(path(identifier, collection), headers=basic("tok"))
    return response.status, response.headers.get("Profilemock-Hint")


@pytest.mark.parametrize(
    "identifier",
    [
        pytest.param("user_id:alice", id="plain"),
        pytest.param("email:alice%2Bnews@example.com", id="encoded-plus"),
        pytest.param("email:alice%2Bnews%40example.com", id="encoded-at"),
        pytest.param("custom.crm-id:A%2FB%207", id="encoded-slash-and-space"),
        pytest.param("custom.crm-id:A%2FB+7", id="raw-plus-as-space"),
        pytest.param("ios.idfa:6D92078A-8246-4BA4-AE5B-76104861E7DC", id="dotted-type"),
        pytest.param("use_alice0000000000000000000000", id="bare-segment-id"),
    ],
)
async def test_identifier_forms_that_find_the_profile(client: Client, identifier: str) -> None:
    status, _ = await status_and_hint(client, identifier)
    assert status == 200


async def test_raw_plus_in_identifier_reads_as_space(client: Client) -> None:
    status, hint = await status_and_hint(client, "email:alice+news@example.com")
    assert status == 404
    assert hint is not None
    assert "%2B" in hint
    assert "`email:alice+news@example.com` exists" in hint


async def test_lookup_is_case_sensitive_with_a_hint(client: Client) -> None:
    assert (await status_and_hint(client, "user_id:Bob"))[0] == 200
    status, hint = await status_and_hint(client, "user_id:bob")
    assert status == 404
    assert hint == "no exact match; lookups are case-sensitive and `user_id:Bob` exists"
    status, _ = await status_and_hint(client, "USER_ID:Bob")
    assert status == 404


async def test_bare_value_without_type_is_404(client: Client) -> None:
    status, hint = await status_and_hint(client, "alice")
    assert status == 404
    assert hint is not None
    assert "user_id:alice" in hint


async def test_profile_of_the_other_collection_is_404_with_hint(client: Client) -> None:
    status, hint = await status_and_hint(client, "group_id:acme", "users")
    assert status == 404
    assert hint == "`group_id:acme` is a profile in `accounts`, not `users`"
    assert (await status_and_hint(client, "group_id:acme", "accounts"))[0] == 200


async def test_segment_id_only_matches_its_own_collection(client: Client) -> None:
    status, _ = await status_and_hint(client, "use_alice0000000000000000000000", "accounts")
    assert status == 404


@pytest.mark.parametrize("identifier", ["no%0D%0Atype", "caf%C3%A9%7F", "x%00"])
async def test_hints_quoting_the_identifier_are_safe_headers(
    client: Client, identifier: str
) -> None:
    status, hint = await status_and_hint(client, identifier)
    assert status == 404
    assert hint is not None
    assert hint.isascii()
    assert all(" " <= ch <= "~" for ch in hint)
