# A consumer's test suite, as the README shows it: the personalization service under test
# calls the Profile API; profile_api is the fake it calls.
import requests


def favorite_category(base_url: str, space_id: str, token: str, user_id: str) -> str | None:
    """The service under test: reads one trait, retries once on 429 or 5xx."""
    url = f"{base_url}/v1/spaces/{space_id}/collections/users/profiles/user_id:{user_id}/traits"
    for _ in range(2):
        response = requests.get(
            url, auth=(token, ""), params={"include": "favorite_category"}, timeout=5
        )
        if response.status_code == 429 or response.status_code >= 500:
            continue
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()["traits"].get("favorite_category")
    raise RuntimeError("the Profile API kept failing")


def test_recommends_the_favorite_category(profile_api):
    profile_api.add_user(external_ids={"user_id": "u1"}, traits={"favorite_category": "shoes"})
    assert (
        favorite_category(profile_api.url, profile_api.space_id, profile_api.token, "u1") == "shoes"
    )
    profile_api.assert_called("traits", identifier="user_id:u1", times=1)


def test_unknown_user_has_no_favorite(profile_api):
    assert (
        favorite_category(profile_api.url, profile_api.space_id, profile_api.token, "nobody")
        is None
    )


def test_retries_once_after_a_429(profile_api):
    profile_api.add_user(external_ids={"user_id": "u1"}, traits={"favorite_category": "books"})
    profile_api.fault("traits:429:times=1")
    assert (
        favorite_category(profile_api.url, profile_api.space_id, profile_api.token, "u1") == "books"
    )
    assert [r.status for r in profile_api.requests] == [429, 200]


def test_gives_up_after_two_server_errors(profile_api):
    profile_api.fault(route="traits", status=503)
    try:
        favorite_category(profile_api.url, profile_api.space_id, profile_api.token, "u1")
    except RuntimeError:
        pass
    else:
        raise AssertionError("expected the service to give up")
    profile_api.assert_called("traits", identifier="user_id:u1", times=2)
