"""The live view of a space: loaded data plus an overlay of changes that a reset drops."""

from __future__ import annotations

import hmac

import pytest

from profilemock.clock import Clock
from profilemock.fixtures.loader import load_data
from profilemock.fixtures.profile import Where, build_profile
from profilemock.store.model import Profile
from profilemock.store.overlay import LiveSpace, LiveStore
from tests.conftest import NOW

DATA = {
    "spaces": {
        "sp": {
            "tokens": ["t1", "t2"],
            "users": [
                {"ids": {"user_id": "old"}, "updated_at": "-2d", "links": ["group_id:acme"]},
                {"ids": {"user_id": "new"}, "updated_at": "-1d"},
            ],
            "accounts": [{"ids": {"group_id": "acme"}}],
        },
        "other": {"tokens": ["t3"]},
    }
}


@pytest.fixture
def store() -> LiveStore:
    return LiveStore(load_data(DATA, Clock(NOW)))


def user(user_id: str, updated_at: str = "now") -> Profile:
    return build_profile(
        {"ids": {"user_id": user_id}, "updated_at": updated_at}, Where("sp", "users"), NOW
    )


def ids(space: LiveSpace) -> list[str]:
    return [p.external_ids[0].id for p in space.by_activity("users")]


def test_an_unchanged_space_answers_from_what_was_loaded(store: LiveStore) -> None:
    space = store.spaces["sp"]
    assert not space.changed
    assert ids(space) == ["new", "old"]
    assert space.by_activity("users") is space.base.by_activity["users"]


def test_put_adds_and_replaces_and_reset_drops_it(store: LiveStore) -> None:
    space = store.spaces["sp"]
    added = user("fresh")
    space.put(added)
    old = space.find("users", "user_id", "old")
    assert old is not None
    space.put(user("renamed", "-3d"), replaces=old.segment_id)
    assert space.changed
    assert ids(space) == ["fresh", "new", "renamed"]
    assert space.find("users", "user_id", "old") is None
    assert space.count("users") == 3
    store.reset()
    assert not space.changed
    assert ids(space) == ["new", "old"]
    assert space.find("users", "user_id", "fresh") is None


def test_delete_hides_a_loaded_profile_and_its_links(store: LiveStore) -> None:
    space = store.spaces["sp"]
    old = space.find("users", "user_id", "old")
    acme = space.find("accounts", "group_id", "acme")
    assert old is not None
    assert acme is not None
    assert space.links_of("accounts", acme.segment_id) == (old.segment_id,)
    space.delete("users", old.segment_id)
    assert space.get("users", old.segment_id) is None
    assert space.links_of("accounts", acme.segment_id) == ()
    store.reset()
    assert space.links_of("accounts", acme.segment_id) == (old.segment_id,)


def test_set_links_changes_both_sides(store: LiveStore) -> None:
    space = store.spaces["sp"]
    new = space.find("users", "user_id", "new")
    acme = space.find("accounts", "group_id", "acme")
    assert new is not None
    assert acme is not None
    space.set_links("users", new.segment_id, [acme.segment_id, acme.segment_id])
    assert space.links_of("users", new.segment_id) == (acme.segment_id,)
    assert new.segment_id in space.links_of("accounts", acme.segment_id)
    space.set_links("users", new.segment_id, [])
    assert new.segment_id not in space.links_of("accounts", acme.segment_id)


def test_tokens_are_matched_per_space(store: LiveStore) -> None:
    assert store.spaces["sp"].accepts("t2")
    assert not store.spaces["sp"].accepts("t3")
    assert store.space_of_token("t3") == "other"
    assert store.space_of_token("nope") is None


def test_a_token_is_compared_in_constant_time_with_every_token_of_the_space(
    store: LiveStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hmac.compare_digest, against every token even after a match: how long a guess takes
    says nothing of which token (or how much of one) it matched."""
    compared: list[tuple[bytes, bytes]] = []

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(hmac, "compare_digest", compare_digest)
    assert store.spaces["sp"].accepts("t1")
    assert not store.spaces["sp"].accepts("t1-guess")
    assert compared == [(b"t1", b"t1"), (b"t1", b"t2"), (b"t1-guess", b"t1"), (b"t1-guess", b"t2")]
