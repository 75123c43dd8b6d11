"""Auth: HTTP Basic with the token as username; every failure is the real 401, hinted."""

from __future__ import annotations

import pytest

from profilemock.api import basic_authorization
from tests.conftest import Client, ServeYaml, basic

FIXTURE = """
spaces:
  space_a:
    tokens: [token-a, second-token-a]
    users: [{ids: {user_id: u1}, traits: {plan: pro}}]
  space_b:
    tokens: [token-b]
    users: [{ids: {user_id: u1}, traits: {plan: free}}]
"""
PATH = "/v1/spaces/space_a/collections/users/profiles/user_id:u1/traits"
UNAUTHENTICATED = {
    "error": {
        "code": "authentication_error",
        "message": "Failure to properly authenticate yourself in the request.",
    }
}


@pytest.fixture
async def client(serve_yaml: ServeYaml) -> Client:
    return await serve_yaml(FIXTURE)


@pytest.mark.parametrize("token", ["token-a", "second-token-a"])
async def test_any_token_of_the_space_is_accepted(client: Client, token: str) -> None:
    response = await client.get(PATH, headers=basic(token))
    assert response.status == 200
    assert (await response.json())["traits"] == {"plan": "pro"}


async def test_the_one_writer_of_basic_credentials_is_read_back_by_the_server(
    serve_yaml: ServeYaml,
) -> None:
    # What record, strategies and profile_api.headers send (a token beyond ASCII included).
    client = await serve_yaml(FIXTURE.replace("token-b", "tøken-b"))
    assert basic_authorization("tøken-b") == "Basic dMO4a2VuLWI6"
    path = PATH.replace("space_a", "space_b")
    response = await client.get(path, headers={"Authorization": basic_authorization("tøken-b")})
    assert (await response.json())["traits"] == {"plan": "free"}


async def test_password_is_ignored(client: Client) -> None:
    response = await client.get(PATH, headers=basic("token-a", "anything"))
    assert response.status == 200


@pytest.mark.parametrize("scheme", ["basic", "BASIC"])
async def test_the_scheme_is_read_in_any_case(client: Client, scheme: str) -> None:
    # RFC 7235 and Go's Request.BasicAuth both read the scheme so.
    response = await client.get(PATH, headers={"Authorization": f"{scheme} dG9rZW4tYTo="})
    assert response.status == 200


@pytest.mark.parametrize(
    ("headers", "hint_part"),
    [
        pytest.param({}, "no Authorization header", id="missing"),
        pytest.param({"Authorization": "Bearer token-a"}, "takes Basic only", id="bearer"),
        pytest.param({"Authorization": "Basic !!!notbase64"}, "not valid base64", id="malformed"),
        pytest.param(
            {"Authorization": "Basic"}, "Basic scheme has no credentials", id="no-credentials"
        ),
        pytest.param(
            {"Authorization": "Basic //46"},
            "valid base64 of bytes that are not UTF-8 text",
            id="not-utf-8",
        ),
        pytest.param({"Authorization": "Bearer"}, "scheme is Bearer", id="bearer-alone"),
        pytest.param(basic(""), "username is empty", id="empty-username"),
        # base64(token) alone: RFC 7617 Basic is user ":" password, and the reference writes
        # btoa('<access_token>' + ':'); a client that forgot the colon passed on the fake.
        pytest.param(
            {"Authorization": "Basic dG9rZW4tYQ=="}, "have no `:` after the token", id="no-colon"
        ),
        # Go's Request.BasicAuth reads `Basic` and one space: a second one passed on the fake.
        pytest.param(
            {"Authorization": "Basic  dG9rZW4tYTo="}, "more than one space", id="two-spaces"
        ),
        pytest.param(basic("nope"), "no space `space_a` accepts", id="unknown-token"),
        pytest.param(basic("token-b"), "belongs to space `space_b`", id="other-space-token"),
    ],
)
async def test_bad_credentials_get_the_real_401_with_a_hint(
    client: Client, headers: dict[str, str], hint_part: str
) -> None:
    response = await client.get(PATH, headers=headers)
    assert response.status == 401
    assert await response.json() == UNAUTHENTICATED
    assert response.headers["WWW-Authenticate"] == "Basic"
    assert hint_part in response.headers["Profilemock-Hint"]


async def test_unknown_space_is_401_not_404(client: Client) -> None:
    path = "/v1/spaces/no_such_space/collections/users/profiles/user_id:u1/traits"
    response = await client.get(path, headers=basic("token-a"))
    assert response.status == 401
    assert await response.json() == UNAUTHENTICATED


async def test_hint_never_echoes_the_token(client: Client) -> None:
    response = await client.get(PATH, headers=basic("secret-guess"))
    assert "secret-guess" not in response.headers["Profilemock-Hint"]
    assert "secret-guess" not in await response.text()


async def test_auth_comes_before_path_validation_and_lookup(client: Client) -> None:
    bad_collection = "/v1/spaces/space_a/collections/us!ers/profiles/user_id:nobody/traits"
    response = await client.get(bad_collection)
    assert response.status == 401
