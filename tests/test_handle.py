"""The profile_api handle, used by this suite through its own pytest plugin."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from profilemock.testing import ProfileAPI


def get(
    profile_api: ProfileAPI, identifier: str, resource: str, collection: str = "users"
) -> requests.Response:
    return requests.get(
        profile_api.profile_url(identifier, resource, collection), auth=profile_api.auth, timeout=10
    )


def test_where_it_is(profile_api: ProfileAPI) -> None:
    assert profile_api.url.startswith("http://127.0.0.1:")
    assert (profile_api.space_id, profile_api.token) == ("lg8283283", "demo-token")
    assert profile_api.headers == {"Authorization": "Basic ZGVtby10b2tlbjo="}
    assert profile_api.profile_url("phone_number:+5555550123", "traits").endswith(
        "/v1/spaces/lg8283283/collections/users/profiles/phone_number:%2B5555550123/traits"
    )
    assert get(profile_api, "phone_number:+5555550123", "traits").status_code == 200


def test_accounts_links_and_events(profile_api: ProfileAPI) -> None:
    user = profile_api.add_user({"user_id": "u-links"})
    account = profile_api.add_account({"group_id": "acme"}, traits={"name": "Acme"})
    assert account.startswith("acc_")
    profile_api.link("user_id:u-links", "group_id:acme")
    links = get(profile_api, "user_id:u-links", "links").json()["data"]
    assert links[0]["external_ids"][0]["id"] == "acme"
    back = get(profile_api, "group_id:acme", "links", "accounts").json()["data"]
    assert back[0]["external_ids"][0]["id"] == "u-links"
    ids = profile_api.add_events(user, [{"event": "Checkout", "timestamp": "-1m"}])
    events = get(profile_api, "user_id:u-links", "events").json()["data"]
    assert [e["message_id"] for e in events] == ids
    profile_api.remove_profile("group_id:acme", "accounts")
    assert get(profile_api, "user_id:u-links", "links").json()["data"] == []


def test_bad_changes_raise_value_error_with_the_reason(profile_api: ProfileAPI) -> None:
    with pytest.raises(ValueError, match="unknown key `trait`"):
        profile_api.add_user({"user_id": "x"}, trait={"a": 1})
    with pytest.raises(ValueError, match="no profile `user_id:ghost` to link"):
        profile_api.link("user_id:ghost", "group_id:12345")
    with pytest.raises(ValueError, match="`42` is not a status"):
        profile_api.fault("traits:42")
    with pytest.raises(ValueError, match="give `status`, `latency` or `fault`"):
        profile_api.fault(route="traits")
    with pytest.raises(ValueError, match="no profile"):
        profile_api.remove_profile("user_id:ghost")


def test_clock(profile_api: ProfileAPI) -> None:
    profile_api.clock.freeze(dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.timezone.utc))
    assert profile_api.clock.now() == dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    profile_api.clock.advance(dt.timedelta(hours=1))
    profile_api.clock.advance(30)
    profile_api.clock.advance("1d")
    assert profile_api.clock.now() == dt.datetime(2030, 5, 2, 13, 0, 30, tzinfo=dt.timezone.utc)
    profile_api.clock.resume()
    first = profile_api.clock.now()
    assert profile_api.clock.now() >= first


def test_rate_limit_with_the_driven_clock(profile_api: ProfileAPI) -> None:
    profile_api.clock.freeze()
    profile_api.rate_limit(2)
    assert [get(profile_api, "user_id:u1234", "metadata").status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    profile_api.clock.advance("1s")
    assert get(profile_api, "user_id:u1234", "metadata").status_code == 200


def test_assert_called_times_and_status(profile_api: ProfileAPI) -> None:
    get(profile_api, "user_id:u1234", "traits")
    get(profile_api, "user_id:nobody", "traits")
    assert len(profile_api.assert_called("traits")) == 2
    profile_api.assert_called("traits", identifier="user_id:nobody", status=404, times=1)
    with pytest.raises(AssertionError, match="expected 3 calls with route=traits"):
        profile_api.assert_called("traits", times=3)
    with pytest.raises(AssertionError, match=r"got 0"):
        profile_api.assert_called("events")
