"""Routing: the well-formed fast path agrees with the general, explaining one."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profilemock.api import RESOURCES
from profilemock.mockserver import lookup, routing
from profilemock.mockserver.errors import ApiError

# Mostly near-valid segments, so that both paths are taken often.
anything = st.text(alphabet="aZ09_-.:%+ @é\n2BF/", max_size=8)
spaces = st.from_regex(r"[a-z0-9_-]{1,6}", fullmatch=True) | anything
collections = st.sampled_from(["users", "accounts", "groups"]) | anything
identifiers = (
    st.from_regex(r"[a-z._-]{1,4}:[^/%+\x00]{1,5}|[^/%+:\x00]{1,6}", fullmatch=True)
    | st.sampled_from(["user_id:alice", "email:a%2Bb", "a+b", ":x", "x:", "user_id:a:b"])
    | anything
)
resources = st.sampled_from([*RESOURCES, "trait", ""])


@given(space=spaces, collection=collections, identifier=identifiers, resource=resources)
def test_the_fast_path_agrees_with_the_general_one(
    space: str, collection: str, identifier: str, resource: str
) -> None:
    for path in (
        f"/v1/spaces/{space}/collections/{collection}/profiles",
        f"/v1/spaces/{space}/collections/{collection}/profiles/{identifier}/{resource}",
    ):
        fast = routing.well_formed(path)
        if fast is None:
            continue
        slow = routing.general(path)
        assert slow is not None
        assert dataclasses.replace(slow, checked=True) == fast
        lookup.validate_path(slow)  # the checks the fast path skips would pass
        lookup.collection_of(slow)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/traits",
        "/v1/spaces/lg8283283/collections/accounts/profiles/group_id:acme/links",
        "/v1/spaces/sp/collections/users/profiles/ios.idfa:6D92078A-8246/events",
        "/v1/spaces/sp/collections/users/profiles/use_alice0000/metadata",
        "/v1/spaces/sp/collections/users/profiles",
    ],
)
def test_usual_paths_take_the_fast_path(path: str) -> None:
    assert routing.match_path(path + "?limit=5") == routing.well_formed(path)
    assert routing.well_formed(path) is not None


@pytest.mark.parametrize(
    "path",
    [
        "/v1/spaces/sp/collections/users/profiles/email:a%2Bb/traits",  # decoded: a+b
        "/v1/spaces/sp/collections/users/profiles/user_id:a+b/traits",  # decoded: a b
        "/v1/spaces/s%70/collections/users/profiles/user_id:a/traits",
        "/v1/spaces/sp/collections/groups/profiles/user_id:a/traits",  # a 404 to explain
        "/v1/spaces/sp/collections/users/profiles/bad type:a/traits",  # a 400 to explain
        "/v1/spaces/sp/collections/users/profiles/user_id:/traits",
    ],
)
def test_paths_to_decode_or_explain_take_the_general_path(path: str) -> None:
    assert routing.well_formed(path) is None
    route = routing.match_path(path)
    assert route is not None
    assert not route.checked


@pytest.mark.parametrize(
    ("collection", "hint"),
    [
        ("groups", "no collection is called `groups`; collections are users, accounts"),
        (
            "user",
            "no collection is called `user`; collections are users, accounts; did you mean"
            " `users`?",
        ),
    ],
)
def test_a_collection_that_is_none_is_told_as_everywhere_else(collection: str, hint: str) -> None:
    route = routing.match_path(f"/v1/spaces/sp/collections/{collection}/profiles/user_id:a/traits")
    assert route is not None
    with pytest.raises(ApiError) as raised:
        lookup.collection_of(route)
    assert (raised.value.status, raised.value.hint) == (404, hint)
