"""The profile_api handle, used by this suite through its own pytest plugin."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from profilemock import testing
from profilemock.fixtures.loader import load_fixtures
from profilemock.fixtures.profile import build_profile
from profilemock.mockserver import mutations
from profilemock.mockserver import state as state_module
from profilemock.mockserver.state import ServerState
from profilemock.problems import FixtureError
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


@pytest.mark.parametrize(
    ("resource", "collection", "message"),
    [
        ("trait", "users", "no resource is called `trait`; resources are traits, external_ids,"),
        ("traits", "account", "no collection is called `account`; collections are users,"),
    ],
)
def test_a_url_of_no_route_is_a_mistake_in_the_test(
    profile_api: ProfileAPI, resource: str, collection: str, message: str
) -> None:
    # Not a URL that answers 404 or 400, for the test to puzzle over.
    with pytest.raises(ValueError, match=re.escape(f"profile_url: {message}")):
        profile_api.profile_url("user_id:u1234", resource, collection)


def test_bad_appended_events_are_named_as_events_of_the_call(profile_api: ProfileAPI) -> None:
    # Was "the profile is not valid: /events/1/timestamp": the profile was never given.
    with pytest.raises(ValueError, match=r"^the events are not valid: ") as info:
        profile_api.add_events(
            "user_id:5550000001",
            [{"event": "Fine", "timestamp": "-1m"}, {"event": "Bad", "timestamp": "2026-02-30"}],
        )
    assert str(info.value).startswith("the events are not valid: /events/1/timestamp: ")


@pytest.mark.parametrize(
    ("user", "account", "message"),
    [
        (
            "user_id:u1234",
            "user_id:u1234",
            "no profile `user_id:u1234` in `accounts` to link; it is in `users`",
        ),
        (
            "group_id:12345",
            "user_id:u1234",
            "no profile `group_id:12345` in `users` to link; it is in `accounts`",
        ),
    ],
)
def test_a_link_to_a_profile_of_the_wrong_collection_says_where_it_is(
    profile_api: ProfileAPI, user: str, account: str, message: str
) -> None:
    # Was "no profile `user_id:u1234` to link", of a profile that is there.
    with pytest.raises(ValueError, match=r"^no profile ") as info:
        profile_api.link(user, account)
    assert str(info.value) == message + ": link(user, account) takes the user, then the account"


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
    with pytest.raises(ValueError, match=r"^no profile `user_id:ghost` in `users` to link$"):
        profile_api.link("user_id:ghost", "group_id:12345")
    # Was "--fault `traits:42`: …", of no command line.
    with pytest.raises(ValueError, match="is not a status") as failure:
        profile_api.fault("traits:42")
    assert str(failure.value) == (
        "fault: spec `traits:42`: `42` is not a status: statuses are 200 to 599, such as 503"
    )
    with pytest.raises(ValueError, match=r"^fault: spec `traits:503:space=nope`: fault rule"):
        profile_api.fault("traits:503:space=nope")
    with pytest.raises(ValueError, match="give `status`, `latency` or `fault`"):
        profile_api.fault(route="traits")
    with pytest.raises(ValueError, match="no profile"):
        profile_api.remove_profile("user_id:ghost")


def test_a_bad_rule_is_named_as_given_when_fields_join_its_spec(profile_api: ProfileAPI) -> None:
    # Fields beside the spec dropped the spec from the message: "fault rule field `space`: …"
    # with nothing to say which call's rule; a marker's dict was told as nothing at all.
    space = "fault rule field `space`: `nope` matches no space of the fixtures"
    told: list[tuple[Callable[[], object], str]] = [
        (
            lambda: profile_api.fault("traits:503:space=nope", times=2),
            f"fault: spec `traits:503:space=nope` with times=2: {space}",
        ),
        (
            lambda: profile_api.fault("traits:302", headers={"X": "1"}),
            "fault: spec `traits:302` with headers={'X': '1'}: fault rule field `headers`: a"
            " redirect",
        ),
        (
            lambda: profile_api.configure(faults=[{"spec": "traits:503:space=nope", "times": 2}]),
            f"faults: spec `traits:503:space=nope` with times=2: {space}",
        ),
        (
            lambda: profile_api.configure(
                faults=[{"route": "traits", "status": 503, "space": "nope"}]
            ),
            f'faults: {{"route": "traits", "status": 503, "space": "nope"}}: {space}',
        ),
    ]
    for call, message in told:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
            call()
    with pytest.raises(ValueError, match=r"^faults: `times` is in the spec `traits:503:times=1`"):
        profile_api.configure(faults=[{"spec": "traits:503:times=1", "times": 2}])
    with pytest.raises(TypeError, match=r"^faults: a rule's `spec` is a --fault spec like"):
        profile_api.configure(faults=[{"spec": 503}])
    # A marker's rule as the handle takes one: a spec and more fields, as the admin API's.
    profile_api.configure(faults=[{"spec": "traits:503", "headers": {"Retry-After": "1"}}])
    answer = get(profile_api, "user_id:u1234", "traits")
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "1")


def test_a_name_holding_a_line_break_is_told_on_one_line(profile_api: ProfileAPI) -> None:
    # Each was shown raw, in backticks: the message broke across lines at the name.
    field: dict[str, Any] = {"tr\nx": 1}
    with pytest.raises(ValueError, match="unknown key") as failure:
        profile_api.add_user({"user_id": "x"}, **field)
    assert str(failure.value).startswith(
        'the profile is not valid: "/tr\\nx": unknown key "tr\\nx"; allowed here: audiences,'
    )
    with pytest.raises(ValueError, match=r'^realism: unknown switch "short\\npages"; switches'):
        profile_api.realism(**{"short\npages": True})
    with pytest.raises(ValueError, match=r'^fault: spec "traits:fo\\no=1": unknown key "fo\\no";'):
        profile_api.fault("traits:fo\no=1")
    with pytest.raises(ValueError, match="matches no space") as failure:
        profile_api.fault("traits:503:space=s\np")  # refused by the rule's own check
    assert str(failure.value).startswith(
        'fault: spec "traits:503:space=s\\np": fault rule field `space`: "s\\np" matches no'
        " space of the fixtures;"
    )
    answer = requests.post(
        f"{profile_api.url}/__admin/faults", json={"route": "traits", "x\ny": 1}, timeout=10
    )
    assert answer.json()["error"]["message"].startswith(
        'body field "/x\\ny": unknown field "x\\ny"; allowed here: after, body,'
    )


def test_configure_tells_a_realism_switch_whose_name_is_no_text(profile_api: ProfileAPI) -> None:
    # configure (and so the marker) splat the switches: Python's "keywords must be
    # strings", which named neither realism nor the switches; unsplat, a TypeError in
    # realism's own message ("'int' object is not iterable").
    switches: dict[Any, bool] = {1: True}
    with pytest.raises(
        ValueError, match=r"^realism: unknown switch `1`; switches are short_pages,"
    ):
        profile_api.configure(realism=switches)
    assert profile_api.realism()["short_pages"] is False


def test_a_timeout_test_asserts_the_client_gave_up_not_only_that_the_rule_fired(
    profile_api: ProfileAPI,
) -> None:
    # A latency shorter than the client's timeout fires (assert_faults_fired is content),
    # but the timeout path never ran: the outcome says so, and the near miss why.
    profile_api.fault("traits:latency=20ms")
    assert get(profile_api, "user_id:u1234", "traits").status_code == 200
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_called("traits", outcome="client went away")
    assert (
        "  GET /v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/traits -> 200"
        " (basic) [fault fault-1, the API's own answer]  <- answered (200, the API's own"
        " answer; fault-1 fired on it) instead of `client went away`: the client waited for"
        " it (a `latency` shorter than the client's timeout never runs the timeout path; a"
        " `hang` holds the answer until the client gives up)"
    ) in str(failure.value).splitlines()
    profile_api.assert_called("traits", outcome="answered")
    # A hang holds the answer until the client gives up, which the journal is told a
    # moment after the client's timeout: assert_called waits for it.
    profile_api.fault("events:hang")
    with pytest.raises(requests.Timeout):
        requests.get(
            profile_api.profile_url("user_id:u1234", "events"), auth=profile_api.auth, timeout=0.2
        )
    (gone,) = profile_api.assert_called("events", outcome="client went away", times=1)
    assert (gone.status, gone.fault) == (None, "fault-2")
    with pytest.raises(ValueError, match="no outcome is called `gone`; outcomes are pending,"):
        profile_api.assert_called("events", outcome="gone")  # type: ignore[arg-type]


def test_an_outcome_waits_for_no_held_request_it_cannot_match(
    profile_api: ProfileAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request the test's hang holds on purpose (a spinner shown meanwhile) cost every
    assert_called(outcome=...) the whole grace, 2 s, whatever route it asked about."""

    def fire() -> None:
        with contextlib.suppress(requests.ConnectionError):  # a hang let go closes it
            get(profile_api, "user_id:u1234", "events")

    profile_api.fault("events:hang")
    held = threading.Thread(target=fire)
    held.start()
    while not profile_api.requests:  # it arrives (no clock is moved: it is being held)
        threading.Event().wait(0.005)
    assert get(profile_api, "user_id:u1234", "traits").status_code == 200

    def no_wait(seconds: float) -> None:
        raise AssertionError(f"waited for a request it cannot match ({seconds} s)")

    monkeypatch.setattr(testing, "time", SimpleNamespace(monotonic=time.monotonic, sleep=no_wait))
    profile_api.assert_called("traits", outcome="answered", times=1)
    with pytest.raises(AssertionError, match="waited for a request it cannot match"):
        profile_api.assert_called("events", outcome="client went away")  # it may match
    profile_api.reset()  # lets the held request go
    held.join(timeout=10)
    assert not held.is_alive()


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


def test_a_pinned_date_stands_while_the_rate_limit_refills(profile_api: ProfileAPI) -> None:
    profile_api.clock.pin("2030-01-01T00:00:00Z")
    assert profile_api.clock.now() == dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    state = profile_api._server.state
    assert (state.clock.frozen, state.clock.pinned) == (True, True)
    with pytest.raises(TypeError, match=r"clock.pin takes an ISO 8601 time.*got 5"):
        profile_api.clock.pin(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("per_second", [0, -1])
def test_a_rate_limit_of_none_says_how_to_turn_it_off(
    profile_api: ProfileAPI, per_second: int
) -> None:
    # `--rate-limit 0` is no limit; here 0 is refused, so say what is.
    with pytest.raises(ValueError, match=re.escape("(None: no limit), got")):
        profile_api.rate_limit(per_second)


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


def test_a_failed_assert_called_counts_the_requests_it_lists(profile_api: ProfileAPI) -> None:
    get(profile_api, "user_id:u1234", "metadata")
    with pytest.raises(AssertionError) as one:
        profile_api.assert_called("events")
    assert "\n1 request reached the fake in this test:\n  GET " in str(
        one.value
    )  # was "all 1 requests:"
    for _ in range(24):
        get(profile_api, "user_id:u1234", "metadata")
    with pytest.raises(AssertionError) as many:
        profile_api.assert_called("events")
    # Was "all 25 requests:" above the last 20 of them.
    listed = str(many.value).split("25 requests reached the fake in this test, the last 20:\n")[1]
    assert len(listed.splitlines()) == 20


def test_assert_called_with_a_route_or_collection_no_request_can_have_is_a_mistake(
    profile_api: ProfileAPI,
) -> None:
    get(profile_api, "user_id:u1234", "traits")
    with pytest.raises(ValueError, match=r"no route is called `trait`; routes are traits, ") as bad:
        profile_api.assert_called("trait", identifier="user_id:u1234")
    assert str(bad.value).endswith("profiles; did you mean `traits`?")
    with pytest.raises(ValueError, match=r"collections are users, accounts; did you mean `users`"):
        profile_api.assert_called("traits", collection="user")
    assert len(profile_api.assert_called("traits", collection="users")) == 1


def test_a_refused_call_does_not_count_unless_asked_for(profile_api: ProfileAPI) -> None:
    url = profile_api.profile_url("user_id:u1234", "traits")
    assert requests.get(url, auth=("wrong-token", ""), timeout=10).status_code == 401
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_called("traits", identifier="user_id:u1234")
    assert "got 0" in str(failure.value)
    assert (
        "user_id:u1234/traits -> 401 (basic)  <- refused (401): no space `lg8283283` accepts"
        " this token" in str(failure.value)
    )
    (refused,) = profile_api.assert_called("traits", status=401)
    assert (refused.authorized, refused.refused) == (False, True)
    assert profile_api.assert_called("traits", authorized=False, times=1) == [refused]


def test_a_refused_call_counts_against_times_0_a_call_was_made(profile_api: ProfileAPI) -> None:
    profile_api.assert_called("traits", times=0)
    url = profile_api.profile_url("user_id:u1234", "traits")
    assert requests.get(url, auth=("stale-token", ""), timeout=10).status_code == 401
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_called("traits", times=0)
    assert "expected 0 calls with route=traits, space=lg8283283; got 1" in str(failure.value)
    assert "user_id:u1234/traits -> 401 (basic)" in str(failure.value)
    profile_api.assert_called("traits", identifier="user_id:other", times=0, unknown_profile=True)


def test_a_spec_takes_more_fields_as_keywords(profile_api: ProfileAPI) -> None:
    # They were dropped without a word: the rule fired forever, with no Retry-After.
    profile_api.fault("traits:503", times=1, headers={"Retry-After": "2"})
    first = get(profile_api, "user_id:u1234", "traits")
    assert (first.status_code, first.headers.get("Retry-After")) == (503, "2")
    assert get(profile_api, "user_id:u1234", "traits").status_code == 200
    with pytest.raises(ValueError, match="`times` is in the spec `traits:503:times=1` and given"):
        profile_api.fault("traits:503:times=1", times=2)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            {"space": "nope"},
            "fault rule field `space`: `nope` matches no space of the fixtures; spaces are"
            " lg8283283",
        ),
        (
            {"collection": "user"},
            "fault rule field `collection`: `user` matches no collection; collections are"
            " users, accounts; did you mean `users`?",
        ),
    ],
    ids=["space", "collection"],
)
def test_a_fault_rule_no_request_could_match_is_refused_at_the_call(
    profile_api: ProfileAPI, field: dict[str, Any], message: str
) -> None:
    # It was armed, and only the test's end said it "matched no request". Named with the
    # spec and the field that joined it.
    ((name, value),) = field.items()
    given = f"fault: spec `traits:503` with {name}={value!r}: "
    with pytest.raises(ValueError, match=f"^{re.escape(given + message)}"):
        profile_api.fault("traits:503", **field)
    assert profile_api.fault("traits:503", space="lg*", collection="u*", optional=True)


def test_a_faulted_call_counts_as_made(profile_api: ProfileAPI) -> None:
    profile_api.fault("traits:503:times=1")
    assert get(profile_api, "user_id:u1234", "traits").status_code == 503
    assert get(profile_api, "user_id:u1234", "traits").status_code == 200
    first, _ = profile_api.assert_called("traits", times=2)
    assert (first.authorized, first.refused, first.fault) == (True, False, "fault-1")


def test_add_user_takes_ids_as_in_the_fixture_format(profile_api: ProfileAPI) -> None:
    profile_api.add_user(ids={"user_id": "fmt"}, traits={"a": 1})
    assert get(profile_api, "user_id:fmt", "traits").json()["traits"] == {"a": 1}
    with pytest.raises(TypeError, match=r"give the ids once: `external_ids` or `ids`"):
        profile_api.add_user({"user_id": "x"}, ids={"user_id": "y"})


def test_a_profile_served_otherwise_than_written_is_a_warning(profile_api: ProfileAPI) -> None:
    with pytest.warns(UserWarning, match=r"^add_user: /ids/email: `email` ids are stored in"):
        profile_api.add_user(ids={"email": "Mixed@Example.com"})
    assert get(profile_api, "email:mixed@example.com", "traits").status_code == 200


def test_a_profile_that_warns_is_built_once(
    profile_api: ProfileAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It was built twice: once to find the warnings (nothing changed), once again to store.
    built = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        built.append(args[0])
        return build_profile(*args, **kwargs)

    monkeypatch.setattr(mutations, "build_profile", counted)
    with pytest.warns(UserWarning, match=r"^add_user: /ids/email: `email` ids are stored in"):
        profile_api.add_user(ids={"email": "Once@Example.com"}, traits={"plan": "pro"})
    assert len(built) == 1
    body = get(profile_api, "email:once@example.com", "traits").json()
    assert body["traits"] == {"plan": "pro"}
    # Replacing a profile found by its ids (another segment id) builds it for that id.
    built.clear()
    with pytest.warns(UserWarning, match=r"^add_user: /ids/email: "):
        profile_api.add_user(ids={"user_id": "u1234", "email": "Ann@Example.com"}, traits={"a": 1})
    assert len(built) == 2
    assert get(profile_api, "user_id:u1234", "traits").json()["traits"] == {"a": 1}


def test_appended_events_served_otherwise_than_written_are_a_warning(
    profile_api: ProfileAPI,
) -> None:
    # add_user warned of an email an event carried in capitals; add_events did not.
    event = {"event": "Signed Up", "timestamp": "-1h", "external_ids": {"email": "Q@X.COM"}}
    with pytest.warns(UserWarning, match=r"^add_events: ") as caught:
        (message_id,) = profile_api.add_events("user_id:u1234", [event])
    assert [str(w.message) for w in caught] == [
        "add_events: /events/0/external_ids/email: `email` ids are stored in lowercase, as"
        " Segment stores them: this one is served as `q@x.com`, and a query for `Q@X.COM`"
        " answers 404"
    ]
    assert caught[0].filename == __file__
    served = get(profile_api, "user_id:u1234", "events").json()["data"]
    assert [e["message_id"] for e in served].count(message_id) == 1
    # -W error: raised before the change, the events not appended.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(UserWarning, match=r"^add_events: /events/0/external_ids/email: "):
            profile_api.add_events("user_id:u1234", [{**event, "event": "Not Kept"}])
    served = get(profile_api, "user_id:u1234", "events").json()["data"]
    assert "Not Kept" not in [e.get("event") for e in served]


def test_a_warning_raised_as_an_error_leaves_the_fake_as_it_was(profile_api: ProfileAPI) -> None:
    # `-W error` / `filterwarnings = error`: the test sees the warning, and nothing changed.
    before = get(profile_api, "user_id:u1234", "traits").json()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(UserWarning, match=r"^add_user: /ids/email: `email` ids are stored"):
            profile_api.add_user(ids={"email": "New@Example.com"})
        with pytest.raises(UserWarning, match=r"^add_user: /ids/email: "):
            profile_api.add_user(ids={"user_id": "u1234", "email": "Ann@Example.com"}, traits={})
        with pytest.raises(UserWarning, match=r"^add_account: /ids/email: "):
            profile_api.add_account(ids={"group_id": "g-new", "email": "Acme@Example.com"})
    assert get(profile_api, "email:new@example.com", "traits").status_code == 404
    assert get(profile_api, "user_id:u1234", "traits").json() == before
    assert get(profile_api, "group_id:g-new", "traits", "accounts").status_code == 404


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda api: api.add_user("user_id:x"),
            "external_ids is a mapping of id type to value, like {'user_id': 'x'};"
            " got the string 'user_id:x'",
        ),
        (
            lambda api: api.rate_limit("5/s"),
            "rate_limit takes requests per second as a number (5 or 0.5) or None"
            " (unlimited); got '5/s'",
        ),
        (
            lambda api: api.add_events("user_id:u1234", {"event": "x"}),
            "events is a list of events (dicts in the fixture format); got a dict",
        ),
        (
            lambda api: api.configure(faults="traits:429"),
            "faults takes a list of fault rules (--fault specs or dicts), got the string"
            " 'traits:429'; write faults=['traits:429']",
        ),
        # Python said "takes from 1 to 2 positional arguments but 3 were given", not which.
        (
            lambda api: api.assert_called("traits", "user_id:u1234", 1),
            "assert_called takes the route by position and the rest by name; got"
            " 'user_id:u1234', 1 after it: write assert_called('traits',"
            " identifier='user_id:u1234', times=1)",
        ),
        (
            lambda api: api.assert_called("traits", "get", 404),
            "assert_called takes the route by position and the rest by name; got 'get', 404"
            " after it: write assert_called('traits', method='GET', status=404)",
        ),
        (
            lambda api: api.assert_called("traits", None),
            "assert_called takes the route by position and the rest by name; got None after it",
        ),
        (
            lambda api: api.fault("traits", 503),
            "fault takes one --fault spec by position, the rest by name; got 'traits', 503:"
            " write fault('traits:503')",
        ),
    ],
)
def test_natural_mistakes_get_one_clear_sentence(
    profile_api: ProfileAPI, call: Any, message: str
) -> None:
    with pytest.raises((TypeError, ValueError)) as failure:
        call(profile_api)
    assert str(failure.value) == message


def test_the_readme_near_misses_are_what_assert_called_says(profile_api: ProfileAPI) -> None:
    profile_api.add_user({"user_id": "Ada"})
    base = f"{profile_api.url}/v1/spaces/%s/collections/%s/profiles/%s"
    calls = [
        ("lg8283283", "users", "user_id:ada/traits?include=email", profile_api.headers),
        (
            "lg8283283",
            "users",
            "user_id:Ada/traits?include=email",
            {"Authorization": "Bearer demo-token"},
        ),
        ("other", "users", "user_id:Ada/traits?include=email", profile_api.headers),
        ("lg8283283", "users", "user_id:Ada/traits?include=email", {"Authorization": "Basic eDo="}),
        ("lg8283283", "users", "user_id:Ada/trait?include=email", profile_api.headers),
        ("lg8283283", "users", "user_id:Ada/traits?include=name", profile_api.headers),
        ("lg8283283", "accounts", "user_id:Ada/traits?include=email", profile_api.headers),
    ]
    for space, collection, rest, headers in calls:
        requests.get(base % (space, collection, rest), headers=headers, timeout=10)
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_called("traits", identifier="user_id:Ada", query={"include": "email"})
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    shown = readme.split("AssertionError: ", 1)[1].split("```", 1)[0]
    assert str(failure.value).startswith(shown)


@pytest.mark.parametrize(
    ("path", "fault", "wanted", "why"),
    [
        (
            "collections/users/profiles/user_id:u1234/trait",
            None,
            {"method": "GET"},
            "its path is no route of the API (so it reached no space)",  # was "space `None`"
        ),
        (
            "collections/users/profiles",
            None,
            {"identifier": "user_id:u1234"},
            "no identifier (the `profiles` list) instead of `user_id:u1234`",
        ),
        (
            "collections/users/profiles/user_id:u1234/traits",
            "traits:reset",
            {"status": 200},
            "no answer (broken) instead of status `200`",  # was "status `None`"
        ),
    ],
    ids=["no-route", "the-list", "no-answer"],
)
def test_a_near_miss_says_what_the_request_had_not_none(
    profile_api: ProfileAPI, path: str, fault: str | None, wanted: dict[str, Any], why: str
) -> None:
    if fault is not None:
        profile_api.fault(fault)
    with contextlib.suppress(requests.ConnectionError):
        requests.get(
            f"{profile_api.url}/v1/spaces/lg8283283/{path}", auth=profile_api.auth, timeout=10
        )
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_called(**wanted)
    near_miss = str(failure.value).splitlines()[2]
    assert near_miss.startswith(f"  GET /v1/spaces/lg8283283/{path} -> ")
    assert near_miss.endswith(f"  <- {why}")
    assert "None" not in near_miss


def test_assert_no_errors_lists_failed_requests_with_their_hints(profile_api: ProfileAPI) -> None:
    profile_api.fault("metadata:503")
    get(profile_api, "user_id:u1234", "metadata")
    get(profile_api, "user_id:u1234", "traits")
    profile_api.assert_no_errors()
    get(profile_api, "user_id:U1234", "traits")
    profile_api.assert_no_errors(allow=[404])
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_no_errors()
    assert str(failure.value) == (
        "1 request failed:\n"
        "  GET /v1/spaces/lg8283283/collections/users/profiles/user_id:U1234/traits -> 404 (basic)\n"
        "      hint: no exact match; lookups are case-sensitive and `user_id:u1234` exists"
    )


def test_a_request_http_could_not_read_is_in_the_journal(profile_api: ProfileAPI) -> None:
    """A request the fake refused before any route saw it (a line or header too long, as a
    long `include=` makes) answered 400 and was never journaled: assert_no_errors, and the
    marker's no_errors=True, passed a consumer that swallowed it."""
    names = ",".join(f"trait_number_{n}" for n in range(700))
    answer = requests.get(
        profile_api.profile_url("user_id:u1234", "traits"),
        auth=profile_api.auth,
        params={"include": names},
        timeout=10,
    )
    assert answer.status_code == 400
    (entry,) = profile_api.requests
    assert (entry.status, entry.route, entry.outcome) == (400, None, "answered")
    assert entry.request_id == answer.headers["Request-Id"]
    with pytest.raises(AssertionError, match="a request line or header is too long"):
        profile_api.assert_no_errors()


@pytest.mark.parametrize("fault", ["reset", "empty", "hang"])
def test_a_connection_the_tests_own_rule_broke_is_no_error(
    profile_api: ProfileAPI, fault: str
) -> None:
    """ "What a fault rule the test added made (its status, a broken connection) is
    expected": a connection its reset, empty or hang rule broke counted as an error (the
    journal took it for the API's own answer), and a retry test under no_errors failed."""
    profile_api.fault(f"traits:{fault}" + (":hang=50ms" if fault == "hang" else ""))
    with pytest.raises(requests.ConnectionError):
        get(profile_api, "user_id:u1234", "traits")
    (entry,) = profile_api.requests
    assert (entry.outcome, entry.fault_answered) == ("broken", True)
    profile_api.assert_no_errors()


def test_assert_no_errors_waits_for_a_request_the_code_did_not_wait_for(
    profile_api: ProfileAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request still being answered was left out as pending: a call in a thread nobody
    joined passed on its 404, and the next test's reset dropped it unseen."""

    def fixture_rules(state: ServerState) -> None:  # the fixtures' own, not the test's
        state.faults.add({"route": "traits", "latency": "300ms"}, origin="fixtures")
        state.faults.add({"route": "external_ids", "fault": "hang"}, origin="fixtures")

    def fire(identifier: str, resource: str) -> None:
        with contextlib.suppress(requests.ConnectionError):  # a hang let go closes it
            get(profile_api, identifier, resource)

    profile_api._server.call(fixture_rules)
    profile_api.fault("metadata", fault="hang")  # the test's own: not waited for
    calls = [
        threading.Thread(target=fire, args=(identifier, resource))
        for identifier, resource in (("user_id:nobody", "traits"), ("user_id:u1234", "metadata"))
    ]
    for call in calls:
        call.start()

    def in_flight() -> int:
        return sum(e.outcome == "pending" for e in profile_api.requests)

    while in_flight() < 2:  # both arrive (no clock is moved: they are being answered)
        threading.Event().wait(0.005)
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_no_errors()
    assert str(failure.value) == (
        "1 request failed:\n"
        "  GET /v1/spaces/lg8283283/collections/users/profiles/user_id:nobody/traits -> 404"
        " (basic) [fault fault-1 of the fixture files, the API's own answer]"
    )
    # One held for longer than assert_no_errors waits is named, not passed over.
    monkeypatch.setattr(testing, "PENDING_GRACE", 0.0)
    calls.append(threading.Thread(target=fire, args=("user_id:u1234", "external_ids")))
    calls[-1].start()
    while in_flight() < 2:
        threading.Event().wait(0.005)
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_no_errors(allow=[404])
    assert str(failure.value) == (
        "1 request failed:\n"
        "  GET /v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/external_ids"
        " -> pending (basic) [fault fault-2 of the fixture files]: still unanswered after 0 s,"
        " so not judged (did the code wait for its answer?)"
    )
    profile_api.reset()  # lets the hanging requests go
    for call in calls:
        call.join(timeout=10)
    assert not any(call.is_alive() for call in calls)


def test_assert_no_errors_judges_the_requests_a_reset_took_from_the_journal(
    profile_api: ProfileAPI,
) -> None:
    """A test that resets in its middle (a Hypothesis example each) answers for every
    request it made: an error before the reset is named as such, not forgotten."""
    profile_api.fault("metadata:503")
    assert get(profile_api, "user_id:u1234", "metadata").status_code == 503  # its own rule
    assert get(profile_api, "user_id:U1234", "traits").status_code == 404
    profile_api.reset()
    assert get(profile_api, "user_id:u1234", "traits").status_code == 200
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_no_errors()
    assert str(failure.value) == (
        "1 request failed:\n"
        "  GET /v1/spaces/lg8283283/collections/users/profiles/user_id:U1234/traits -> 404"
        " (basic) (before a reset)\n"
        "      hint: no exact match; lookups are case-sensitive and `user_id:u1234` exists"
    )
    profile_api.assert_no_errors(allow=[404])
    profile_api.reset()  # kept through another reset too
    with pytest.raises(AssertionError, match="1 request failed"):
        profile_api.assert_no_errors()
    profile_api.reset(new_test=True)  # a new test does not answer for them
    profile_api.assert_no_errors()


def test_emptying_the_journal_through_the_admin_api_hides_no_error(
    profile_api: ProfileAPI,
) -> None:
    assert get(profile_api, "user_id:nobody", "traits").status_code == 404
    emptied = requests.delete(f"{profile_api.url}/__admin/requests", timeout=10)
    assert emptied.json() == {"deleted": 1}
    assert profile_api.requests == []
    with pytest.raises(AssertionError, match=r"user_id:nobody/traits -> 404 \(basic\) \(before"):
        profile_api.assert_no_errors()


def test_errors_before_resets_beyond_those_kept_of_a_status_are_counted(
    profile_api: ProfileAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each status keeps its first ones whole: a 401 after many allowed 404s is listed with
    its path and hint."""
    monkeypatch.setattr(state_module, "MAX_KEPT_ERRORS", 2)
    for identifier in ("user_id:A", "user_id:B", "user_id:C"):
        assert get(profile_api, identifier, "traits").status_code == 404
    url = profile_api.profile_url("user_id:u1234", "traits")
    assert requests.get(url, auth=("stale-token", ""), timeout=10).status_code == 401
    profile_api.reset()
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_no_errors()
    lines = str(failure.value).splitlines()
    assert lines[0] == "4 requests failed:"
    assert "/user_id:A/traits -> 404 (basic) (before a reset)" in lines[1]
    assert lines[-1] == "  1 more request before a reset -> 404"
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_no_errors(allow=[404])
    lines = str(failure.value).splitlines()
    assert lines[:2] == [
        "1 request failed:",
        "  GET /v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/traits -> 401"
        " (basic) (before a reset)",
    ]
    profile_api.assert_no_errors(allow=[401, 404])


def test_an_error_an_example_judged_itself_is_not_judged_again_after_a_reset(
    profile_api: ProfileAPI,
) -> None:
    """Hypothesis examples that each reset and assert their own, each with its own allow=:
    the next example does not answer for the one before."""
    assert get(profile_api, "user_id:nobody", "traits").status_code == 404
    profile_api.assert_no_errors(allow=[404])
    profile_api.reset()
    assert get(profile_api, "user_id:u1234", "traits").status_code == 200
    profile_api.assert_no_errors()
    assert get(profile_api, "user_id:nobody", "traits").status_code == 404
    profile_api.reset()  # not judged before this reset: kept
    with pytest.raises(AssertionError, match=r"user_id:nobody/traits -> 404 \(basic\) \(before"):
        profile_api.assert_no_errors()


def test_the_handle_reaches_every_space(profile_api: ProfileAPI) -> None:
    assert profile_api.spaces == ["lg8283283"]
    with pytest.raises(
        ValueError, match="no space `nope` in the loaded fixtures; spaces are lg8283283"
    ):
        profile_api.space("nope")
    # Written in capitals, or with a digit lost: the one meant is named.
    for mistaken in ("LG8283283", "lg828328"):
        with pytest.raises(ValueError, match=r"; did you mean `lg8283283`\?"):
            profile_api.space(mistaken)
    same = profile_api.space("lg8283283")
    assert (same.url, same.token) == (profile_api.url, profile_api.token)


@pytest.mark.parametrize(
    ("fields", "where", "why"),
    [
        ({"traits": {"born": dt.date(1990, 5, 17)}}, "/traits/born", "write it as `1990-05-17`"),
        (
            {"computed_traits": {"seen": dt.datetime(2024, 1, 2, 3, 4, 5)}},
            "/computed_traits/seen",
            "date and time",
        ),
        ({"traits": {"tags": {"a", "b"}}}, "/traits/tags", "a set"),
        ({"traits": {"n": [1, float("nan")]}}, "/traits/n/1", "`nan` is not a finite number"),
        ({"traits": {"s": "a\ud800"}}, "/traits/s", "`\\\\ud800` is a lone surrogate"),
        ({"traits": {"x\udfff": 1}}, "/traits", "`\\\\udfff` is a lone surrogate"),
        (
            {
                "events": [
                    {"event": "E", "timestamp": "-1d", "properties": {"on": dt.date(2020, 1, 1)}}
                ]
            },
            "/events/0/properties/on",
            "write it as `2020-01-01`",
        ),
    ],
)
def test_a_value_json_cannot_hold_is_refused_when_added_naming_where_it_is(
    profile_api: ProfileAPI, fields: dict[str, Any], where: str, why: str
) -> None:
    # Refused at once, not served later as a 500 (or as NaN, which is not JSON), and the
    # profile it would have replaced is still there.
    profile_api.add_user({"user_id": "kept"}, traits={"plan": "pro"})
    with pytest.raises(ValueError, match=f"{where}: .*{why}"):
        profile_api.add_user({"user_id": "kept"}, **fields)
    assert get(profile_api, "user_id:kept", "traits").json()["traits"] == {"plan": "pro"}
    assert get(profile_api, "user_id:kept", "events").status_code == 200
    if "events" in fields:
        with pytest.raises(ValueError, match=f"{where}: .*{why}"):
            profile_api.add_events("user_id:kept", fields["events"])
        assert get(profile_api, "user_id:kept", "events").json()["data"] in (None, [])


def test_values_json_writes_as_it_always_did_are_still_taken(profile_api: ProfileAPI) -> None:
    # A tuple is a list, a whole-number key of a nested object a string, as json.dumps has it.
    profile_api.add_user({"user_id": "tuple"}, traits={"pair": (1, 2), "by_id": {7: "x"}})
    traits = get(profile_api, "user_id:tuple", "traits").json()["traits"]
    assert traits == {"pair": [1, 2], "by_id": {"7": "x"}}


def test_an_added_profile_answers_what_it_was_given_when_the_callers_data_changes_after(
    profile_api: ProfileAPI,
) -> None:
    # A test reusing its dicts for the next profile must not rewrite the profiles it added.
    address = {"city": "Paris"}
    event = {"event": "Order Completed", "timestamp": "-1d", "properties": {"total": 10}}
    profile_api.add_user({"user_id": "first"}, traits={"address": address}, events=[event])
    later = {"event": "Refund", "timestamp": "-1h", "properties": {"total": 1}}
    profile_api.add_events("user_id:first", [later])
    address["city"] = "Rome"
    event["properties"]["total"] = 20  # type: ignore[index]
    later["properties"]["total"] = 2  # type: ignore[index]
    profile_api.add_user({"user_id": "second"}, traits={"address": address}, events=[event])
    traits = get(profile_api, "user_id:first", "traits").json()["traits"]
    assert traits == {"address": {"city": "Paris"}}
    events = get(profile_api, "user_id:first", "events").json()["data"]
    assert sorted(e["properties"]["total"] for e in events) == [1, 10]
    assert get(profile_api, "user_id:second", "traits").json()["traits"] == traits | {
        "address": {"city": "Rome"}
    }


def test_a_reset_raises_what_broke_inside_the_fake_before_it_instead_of_dropping_it(
    profile_api: ProfileAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from profilemock.mockserver import resources
    from profilemock.testing import ProfileAPIError

    def explode(request: Any) -> Any:
        raise RuntimeError("handler exploded")

    # As in a Hypothesis test that resets between examples: the consumer swallowed the 500.
    profile_api.add_user({"user_id": "before-reset"})
    monkeypatch.setitem(resources.RESOURCE_HANDLERS, "metadata", explode)
    assert get(profile_api, "user_id:u1234", "metadata").status_code == 500
    with pytest.raises(ProfileAPIError, match=r"failed 1 time\(s\).*handler exploded"):
        profile_api.reset()
    # The reset was done all the same, and the failure is raised once.
    assert get(profile_api, "user_id:before-reset", "traits").status_code == 404
    assert [e.status for e in profile_api.requests] == [404]
    profile_api.reset()
    profile_api.check()


def test_assertions_refuse_to_pass_on_a_journal_that_dropped_requests_of_the_test() -> None:
    from profilemock.clock import Clock
    from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
    from profilemock.mockserver.app import create_app
    from profilemock.mockserver.serving import ServerThread
    from profilemock.mockserver.state import ServerSettings

    clock = Clock()
    store = load_fixtures([demo_fixture_path()], clock)
    with ServerThread(create_app(store, clock, ServerSettings(journal_size=3))) as server:
        handle = ProfileAPI(server)
        url = handle.profile_url("user_id:u1234", "traits")
        assert requests.get(url, auth=("stale-token", ""), timeout=10).status_code == 401
        for _ in range(3):
            assert requests.get(url, auth=handle.auth, timeout=10).status_code == 200
        # The 401 was pushed out: without a word, both would pass on the three left.
        for assertion in (
            handle.assert_no_errors,
            lambda: handle.assert_called("traits", times=3),
        ):
            with pytest.raises(AssertionError, match="keeps the last 3 requests and dropped 1"):
                assertion()
        handle.reset()
        assert requests.get(url, auth=handle.auth, timeout=10).status_code == 200
        handle.assert_called("traits", times=1)  # the journal counts again
        # The 401 may have been an error of the test's: the reset did not make it judged.
        with pytest.raises(AssertionError, match="dropped 1 of this test's before a reset"):
            handle.assert_no_errors()
        handle.reset(new_test=True)
        handle.assert_no_errors()


def test_a_rule_whose_identifier_differs_from_a_request_only_in_case_names_that_request(
    profile_api: ProfileAPI,
) -> None:
    # It said only "matched no request", where assert_called names the near miss.
    profile_api.fault("traits:429:times=1", identifier="user_id:U1234")
    profile_api.fault("traits:503:identifier=user_id:U9*", optional=True)
    profile_api.fault("events:503:identifier=user_id:U1234", optional=True)
    get(profile_api, "user_id:u1234", "traits")
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_faults_fired()
    assert str(failure.value).splitlines()[1] == (
        '  fault-1 {"route": "traits", "status": 429, "times": 1, "identifier":'
        ' "user_id:U1234"}: matched no request; `user_id:u1234` was asked for, which differs'
        " from its identifier `user_id:U1234` only in case (identifiers are case-sensitive)"
    )
    assert get(profile_api, "user_id:U1234", "traits").status_code == 429
    profile_api.assert_faults_fired()


def test_assert_faults_fired_names_each_rule_armed_since_the_reset_that_never_fired(
    profile_api: ProfileAPI,
) -> None:
    profile_api.assert_faults_fired()  # none armed
    profile_api.fault("traits:429:times=1")
    profile_api.fault(route="events", status=503, after=1)
    # Armed through the admin API, as a test may: quoted as written too.
    added = requests.post(
        f"{profile_api.url}/__admin/faults", json={"spec": "links:reset:times=2"}, timeout=10
    )
    assert added.status_code == 201
    get(profile_api, "user_id:u1234", "traits")
    get(profile_api, "user_id:u1234", "events")
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_faults_fired()
    lines = str(failure.value).splitlines()
    assert lines[:3] == [
        "2 fault rules armed in this test never fired, so the code path each was armed for never ran:",
        '  fault-2 {"route": "events", "status": 503, "after": 1}: matched 1 request and fired'
        " on none (its schedule: after=1)",
        "  fault-3 links:reset:times=2: matched no request",
    ]
    assert "faults_must_fire=False" in lines[3]
    get(profile_api, "user_id:u1234", "events")
    with pytest.raises(requests.ConnectionError):
        get(profile_api, "user_id:u1234", "links")
    profile_api.assert_faults_fired()
    profile_api.fault("traits:503")
    profile_api.fault("links:503", optional=True)
    profile_api.reset()  # the reset takes the test's rules away, but not their debt
    for _ in range(2):  # as Hypothesis examples do: the counter restarts, ids repeat
        profile_api.fault("traits:503")
        profile_api.reset()
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_faults_fired()
    assert str(failure.value).splitlines()[:3] == [
        "2 fault rules armed in this test never fired, so the code path each was armed for never ran:",
        "  fault-4 traits:503: matched no request (armed before a reset)",
        "  fault-1 traits:503: matched no request (armed before a reset, 2 times)",
    ]
    profile_api.assert_faults_fired()  # each is named once
    for _ in range(2):
        profile_api.reset()
        profile_api.fault("traits:503")
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_faults_fired()
    assert str(failure.value).splitlines()[1] == (
        "  fault-1 traits:503: matched no request (armed 2 times, 1 of them before a reset)"
    )
    profile_api.reset()  # named already: not kept for the next check
    profile_api.assert_faults_fired()
    profile_api.fault("traits:503")
    profile_api.reset(new_test=True)  # another runner's next test: not its rules
    profile_api.assert_faults_fired()
    with pytest.raises(TypeError, match="new_test takes True or False, got 'yes'"):
        profile_api.reset(new_test="yes")  # type: ignore[arg-type]


def test_the_servers_own_fault_rules_are_not_a_tests_to_fire() -> None:
    from profilemock.clock import Clock
    from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
    from profilemock.mockserver.app import create_app
    from profilemock.mockserver.serving import ServerThread
    from profilemock.mockserver.state import ServerSettings

    clock = Clock()
    store = load_fixtures([demo_fixture_path()], clock)
    settings = ServerSettings(faults=[{"route": "links", "status": 503}])  # `serve --fault`
    with ServerThread(create_app(store, clock, settings)) as server:
        handle = ProfileAPI(server)
        handle.assert_faults_fired()
        handle.fault("traits:429")
        with pytest.raises(AssertionError, match=r"(?m)^  fault-2 traits:429: matched no request$"):
            handle.assert_faults_fired()
        handle.reset()
        handle.assert_faults_fired()


def test_a_404_for_a_profile_in_the_other_collection_is_not_the_expected_call(
    profile_api: ProfileAPI,
) -> None:
    # The classic bug: the service asks `accounts` for a user; the 404 reads as "no such user".
    assert get(profile_api, "user_id:u1234", "traits", "accounts").status_code == 404
    with pytest.raises(AssertionError) as failure:
        profile_api.assert_called("traits", identifier="user_id:u1234", times=1)
    assert str(failure.value).splitlines()[:3] == [
        "expected 1 call with route=traits, identifier=user_id:u1234, space=lg8283283; got 0",
        "near misses:",
        "  GET /v1/spaces/lg8283283/collections/accounts/profiles/user_id:u1234/traits -> 404"
        " (basic)  <- 404: the profile is in `users`, not `accounts`; a call to the wrong"
        " collection does not count unless asked for: collection='accounts' counts the calls"
        " to it (assert each collection's calls on their own)",
    ]
    with pytest.raises(AssertionError, match="got 0"):
        profile_api.assert_called("traits", identifier="user_id:u1234")
    # Asked for, it counts; and it is a call made, for "no such call at all".
    profile_api.assert_called("traits", identifier="user_id:u1234", collection="accounts", times=1)
    profile_api.assert_called("traits", identifier="user_id:u1234", status=404, times=1)
    with pytest.raises(AssertionError, match=r"expected 0 calls .* got 1"):
        profile_api.assert_called("traits", identifier="user_id:u1234", times=0)
    # A 404 for a profile that is nowhere is the call the test expected (an unknown user).
    assert get(profile_api, "user_id:nobody", "traits").status_code == 404
    profile_api.assert_called("traits", identifier="user_id:nobody", times=1)
    # The right collection counts as ever.
    assert get(profile_api, "user_id:u1234", "traits").status_code == 200
    profile_api.assert_called("traits", identifier="user_id:u1234", times=1)
    # A service that asks both collections on purpose has each collection's calls counted.
    for collection in ("accounts", "users"):
        profile_api.assert_called(
            "traits", identifier="user_id:u1234", collection=collection, times=1
        )


@pytest.mark.parametrize(
    ("allow", "message"),
    [
        # One status in parentheses, (404), is that status: what to write instead.
        (404, "allow takes a list of HTTP statuses like [404, 429]; got 404: write allow=[404]"),
        ("404", "allow takes a list of HTTP statuses like [404, 429]; got '404'"),
        (
            [404, "429"],
            "allow takes HTTP statuses like [404, 429]; got '429', not an HTTP status from 100"
            " to 599",
        ),
        (
            [4040],
            "allow takes HTTP statuses like [404, 429]; got 4040, not an HTTP status from 100 to"
            " 599",
        ),
    ],
)
def test_assert_no_errors_refuses_an_allow_that_would_let_errors_through(
    profile_api: ProfileAPI, allow: Any, message: str
) -> None:
    with pytest.raises(TypeError) as failure:
        profile_api.assert_no_errors(allow=allow)
    assert str(failure.value) == message


def test_assert_called_refuses_a_filter_no_request_can_match(profile_api: ProfileAPI) -> None:
    # Each would make times=0 pass whatever the code did: a mistake in the test, said so.
    assert get(profile_api, "user_id:u1234", "traits").status_code == 200
    with pytest.raises(ValueError, match=r"method `get`.*did you mean `GET`"):
        profile_api.assert_called("traits", method="get", times=0)
    with pytest.raises(
        TypeError, match="status is an HTTP status from 100 to 599, such as 404; got '200'"
    ):
        profile_api.assert_called("traits", status="200", times=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="identifier is `type:value` text"):
        profile_api.assert_called("traits", identifier=1234)  # type: ignore[arg-type]
    for times in ("1", -1, True):
        with pytest.raises(TypeError, match="times is a number of calls, 0 or more"):
            profile_api.assert_called("traits", times=times)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="authorized takes True or False"):
        profile_api.assert_called("traits", authorized="yes")  # type: ignore[arg-type]
    # The list route names no profile: an identifier with it matched nothing, ever.
    with pytest.raises(ValueError, match=r"the `profiles` route \(the list\) has no identifier"):
        profile_api.assert_called("profiles", identifier="user_id:u1234", times=0)


def test_times_0_for_a_profile_nobody_has_is_refused_as_a_likely_typo(
    profile_api: ProfileAPI,
) -> None:
    # It passed whatever the code did: `user_id:u1243` names no profile and no request.
    assert get(profile_api, "user_id:u1234", "traits").status_code == 200
    with pytest.raises(ValueError, match="names no profile") as failure:
        profile_api.assert_called("events", identifier="user_id:u1243", times=0)
    assert str(failure.value) == (
        "assert_called: times=0 for identifier='user_id:u1243', which names no profile of"
        " space `lg8283283` (users or accounts, as loaded or since) and which no request of"
        " this test asked for: it would pass whatever the code did; did you mean"
        " `user_id:u1234`? If the profile is meant not to exist, say so: unknown_profile=True"
    )
    profile_api.assert_called("events", identifier="user_id:u1243", times=0, unknown_profile=True)
    # An existing profile nobody asked for, one the test added or removed, and an unknown
    # one a request asked for are all fine as they were.
    profile_api.assert_called("events", identifier="user_id:u1234", times=0)
    profile_api.add_user({"user_id": "added"})
    profile_api.assert_called("traits", identifier="user_id:added", times=0)
    profile_api.remove_profile("user_id:u1234")
    profile_api.assert_called("events", identifier="user_id:u1234", times=0)
    assert get(profile_api, "user_id:ghost", "traits").status_code == 404
    profile_api.assert_called("events", identifier="user_id:ghost", times=0)
    with pytest.raises(TypeError, match="unknown_profile takes True or False"):
        profile_api.assert_called("traits", unknown_profile="yes")  # type: ignore[arg-type]


def test_times_0_for_a_bare_value_says_an_identifier_is_type_value(
    profile_api: ProfileAPI,
) -> None:
    # It said "names no profile … say so: unknown_profile=True" of `u1234`, meant as
    # `user_id:u1234`, which is in the demo.
    with pytest.raises(ValueError, match="names no profile") as failure:
        profile_api.assert_called("traits", identifier="u1234", times=0)
    assert str(failure.value) == (
        "assert_called: times=0 for identifier='u1234', which names no profile of space"
        " `lg8283283` (users or accounts, as loaded or since) and which no request of this"
        " test asked for: it would pass whatever the code did; `u1234` has no `type:`; use"
        " `type:value` such as user_id:u1234 (a bare value only matches a segment id). If the"
        " profile is meant not to exist, say so: unknown_profile=True"
    )


def test_unknown_profile_without_times_0_and_an_identifier_is_refused(
    profile_api: ProfileAPI,
) -> None:
    # It was ignored: the flag answers times=0's typo guard, which only those two call.
    assert get(profile_api, "user_id:ghost", "traits").status_code == 404
    with pytest.raises(ValueError, match="goes with times=0") as failure:
        profile_api.assert_called("traits", identifier="user_id:ghost", unknown_profile=True)
    assert str(failure.value) == (
        "assert_called: unknown_profile=True goes with times=0 and an identifier (it says the"
        " identifier is meant to name no profile, which only times=0 checks); got times=None:"
        " leave unknown_profile out"
    )
    with pytest.raises(ValueError, match="got times=1: leave unknown_profile out"):
        profile_api.assert_called(
            "traits", identifier="user_id:ghost", times=1, unknown_profile=True
        )
    with pytest.raises(ValueError, match="got no identifier: leave unknown_profile out"):
        profile_api.assert_called("traits", times=0, unknown_profile=True)
    profile_api.assert_called("traits", identifier="user_id:ghost", times=1)
    profile_api.assert_called("traits", identifier="user_id:gone", times=0, unknown_profile=True)


def test_times_0_for_a_query_parameter_no_route_takes_is_refused_as_a_likely_typo(
    profile_api: ProfileAPI,
) -> None:
    # `inclde` passed whatever the code sent: the API takes no such parameter.
    url = profile_api.profile_url("user_id:u1234", "traits")
    requests.get(url, auth=profile_api.auth, params={"include": "email"}, timeout=10)
    with pytest.raises(ValueError, match="query parameter") as failure:
        profile_api.assert_called("traits", query={"inclde": "email"}, times=0)
    assert str(failure.value) == (
        "assert_called: times=0 for query parameter `inclde`, which `traits` does not take"
        " (it takes class, include, limit, verbose, next) and no request of this test sent:"
        " it would pass whatever the code did; did you mean `include`? (to assert that the code"
        " never sends it, read profile_api.requests: `inclde` in dict(entry.query) of none)"
    )
    with pytest.raises(ValueError, match=r"which no route of the API takes \(they take class,"):
        profile_api.assert_called(query={"srot": "asc"}, times=0)
    # A value nobody sent is an assertion (no call asked for it), and so is a parameter the
    # code did send, documented or not.
    profile_api.assert_called("traits", query={"include": "plan"}, times=0)
    requests.get(url, auth=profile_api.auth, params={"debug": "1"}, timeout=10)
    profile_api.assert_called("traits", query={"debug": "2"}, times=0)
    profile_api.assert_called("events", query={"sort": "asc"}, times=0)


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ({"include": ["email", "first_name"]}, "['email', 'first_name']"),
        ({"include": None}, "None"),
        ({"verbose": True}, "True"),
        ({1: "email"}, "1"),
    ],
)
def test_assert_called_refuses_a_query_value_no_request_can_have(
    profile_api: ProfileAPI, query: Any, shown: str
) -> None:
    # Written as text, a list, None or True matched no request: times=0 passed whatever
    # the code sent (a list read as "all of these" was never checked at all).
    requests.get(
        profile_api.profile_url("user_id:u1234", "traits"),
        auth=profile_api.auth,
        params={"include": "email", "verbose": "true"},
        timeout=10,
    )
    with pytest.raises(TypeError, match=r"query takes parameter names and values as text") as e:
        profile_api.assert_called("traits", query=query, times=0)
    assert f"got {shown}" in str(e.value)


def test_assert_called_query_matches_any_value_of_a_repeated_parameter(
    profile_api: ProfileAPI,
) -> None:
    requests.get(
        profile_api.profile_url("user_id:u1234", "traits"),
        auth=profile_api.auth,
        params=[("include", "email"), ("include", "first_name")],
        timeout=10,
    )
    profile_api.assert_called("traits", query={"include": "email"}, times=1)
    profile_api.assert_called("traits", query={"include": "first_name"}, times=1)
    with pytest.raises(AssertionError, match="got 1"):
        profile_api.assert_called("traits", query={"include": "email"}, times=0)
    with pytest.raises(AssertionError, match="query include=email&include=first_name instead"):
        profile_api.assert_called("traits", query={"include": "plan"})


def test_assert_called_query_matches_a_name_among_an_include_list(
    profile_api: ProfileAPI,
) -> None:
    """The API reads `include=first_name,email` as it reads `include` repeated: it asks for
    email. `times=0` for `include=email` passed whatever such a list held."""
    requests.get(
        profile_api.profile_url("user_id:u1234", "events"),
        auth=profile_api.auth,
        params={"include": "first_name, email", "exclude": "Signed Up", "sort": "asc"},
        timeout=10,
    )
    with pytest.raises(AssertionError, match="got 1"):
        profile_api.assert_called("events", query={"include": "email"}, times=0)
    profile_api.assert_called("events", query={"include": "email,first_name"}, times=1)
    profile_api.assert_called("events", query={"exclude": "Signed Up"}, times=1)
    profile_api.assert_called("events", query={"include": "email,plan"}, times=0)
    profile_api.assert_called("events", query={"sort": "as"}, times=0)  # one value: whole


def test_clock_mistakes_get_one_clear_sentence(profile_api: ProfileAPI) -> None:
    with pytest.raises(ValueError, match=r"clock.advance moves the clock forward; got '-1s'"):
        profile_api.clock.advance("-1s")
    with pytest.raises(ValueError, match=r"clock.advance moves the clock forward; got -5"):
        profile_api.clock.advance(-5)
    with pytest.raises(ValueError, match=r"takes a duration such as '1s'.*got '1 second'"):
        profile_api.clock.advance("1 second")
    with pytest.raises(ValueError, match="takes a duration"):
        profile_api.clock.advance(float("nan"))
    with pytest.raises(TypeError, match=r"takes a duration.*got None"):
        profile_api.clock.advance(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"clock.freeze takes an ISO 8601 time.*got 1700000000"):
        profile_api.clock.freeze(1700000000)  # type: ignore[arg-type]
    profile_api.clock.freeze("2030-01-01T00:00:00Z")
    profile_api.clock.advance(" 1s ")
    assert profile_api.clock.now() == dt.datetime(2030, 1, 1, 0, 0, 1, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda clock: clock.freeze(dt.datetime(1, 1, 1)),
            r"clock.freeze: `0001-01-01T00:00:00\+00:00` is outside the years 1000 to 9999",
        ),
        (
            lambda clock: clock.pin("0999-12-31T23:59:59Z"),
            r"clock.pin: `0999-12-31T23:59:59Z` is outside the years 1000 to 9999",
        ),
        (
            lambda clock: clock.freeze("-1000000w"),
            r"clock.freeze: `-1000000w` is outside the years 1000 to 9999",
        ),
        (
            lambda clock: clock.advance(1e300),  # was an OverflowError
            r"clock.advance\(1e\+300\): the result is outside the years 1000 to 9999",
        ),
        (
            lambda clock: clock.advance(dt.timedelta.max),
            r"clock.advance\(datetime.timedelta\(days=999999999.*\): the result is outside",
        ),
    ],
    ids=["freeze-year-1", "pin-year-999", "freeze-relative", "advance-1e300", "advance-max"],
)
def test_a_clock_set_outside_the_years_it_can_stand_in_is_refused_by_name(
    profile_api: ProfileAPI, call: Any, message: str
) -> None:
    profile_api.clock.freeze("2030-01-01T00:00:00Z")
    with pytest.raises(ValueError, match=f"^{message}"):
        call(profile_api.clock)
    assert profile_api.clock.now() == dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (
            dt.datetime(1969, 12, 31, 23, 59, 59, 500000),  # was read a second late
            dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=dt.timezone.utc),
        ),
        (
            dt.datetime(9999, 12, 31, 23, 59, 59, 999999),  # was refused as year 10000
            dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone.utc),
        ),
        (
            "9999-12-31T23:59:59.999999999Z",  # now() was a ValueError: year 10000
            dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone.utc),
        ),
        (
            dt.datetime(1000, 1, 1, 0, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=-1))),
            dt.datetime(1000, 1, 1, 1, 0, 0, 1, tzinfo=dt.timezone.utc),
        ),
    ],
    ids=["before-1970", "last-microsecond", "last-nanosecond", "year-1000-offset"],
)
def test_the_clock_stands_exactly_where_it_is_told_from_1000_to_9999(
    profile_api: ProfileAPI, at: str | dt.datetime, expected: dt.datetime
) -> None:
    profile_api.clock.freeze(at)
    assert profile_api.clock.now() == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda api: api.profile_url("user_id:u1234", None),
            "profile_url: resource is one of traits, external_ids, events, metadata, links;"
            " got None",
        ),
        (
            lambda api: api.profile_url("user_id:u1234", "traits", None),
            "profile_url: collection is one of users, accounts; got None",
        ),
        (
            lambda api: api.profile_url(None, "traits"),
            "profile_url: identifier is `type:value` text like 'user_id:u1' (or a segment id);"
            " got None",
        ),
        (
            lambda api: api.remove_profile(None),
            "remove_profile: identifier is `type:value` text",
        ),
        (lambda api: api.add_events(None, []), "add_events: identifier is `type:value` text"),
        (lambda api: api.link("user_id:u1234", 7), "link: account is `type:value` text"),
        (
            lambda api: api.assert_called("traits", collection=3),
            "assert_called: collection is one of users, accounts; got 3",
        ),
    ],
    ids=[
        "resource",
        "collection",
        "identifier",
        "remove-profile",
        "add-events",
        "link",
        "assert-called-collection",
    ],
)
def test_a_name_or_id_that_is_no_text_says_what_is_allowed(
    profile_api: ProfileAPI, call: Any, message: str
) -> None:
    # `None` read "no resource is called `None`"; an id of None failed deep inside the fake
    # (AttributeError: 'NoneType' object has no attribute 'partition') or in `quote`.
    with pytest.raises(TypeError) as raised:
        call(profile_api)
    assert str(raised.value).startswith(message)


def test_a_change_to_a_collection_that_is_not_one_is_one_sentence(profile_api: ProfileAPI) -> None:
    with pytest.raises(ValueError, match=r"no collection is called `user`.*did you mean `users`"):
        profile_api.add_events(
            "user_id:u1234",
            [{"event": "X"}],
            collection="user",  # type: ignore[arg-type]
        )
    with pytest.raises(ValueError, match="no collection is called `user`"):
        profile_api.remove_profile("user_id:u1234", collection="user")  # type: ignore[arg-type]


def test_a_rule_removed_through_the_admin_api_before_it_fired_is_still_named(
    profile_api: ProfileAPI,
) -> None:
    # The outage healed before the code ever met it: the test tested nothing.
    admin = f"{profile_api.url}/__admin/faults"
    requests.post(admin, json={"id": "outage", "route": "traits", "status": 503}, timeout=10)
    fired = profile_api.fault("metadata:503")
    assert get(profile_api, "user_id:u1234", "metadata").status_code == 503
    profile_api.fault("links:503", optional=True)
    assert requests.delete(f"{admin}/outage", timeout=10).ok
    assert requests.delete(f"{admin}/{fired}", timeout=10).ok  # it fired: nothing to say
    with pytest.raises(AssertionError) as raised:
        profile_api.assert_faults_fired()
    assert raised.value.args[0].splitlines()[1:2] == [
        '  outage {"id": "outage", "route": "traits", "status": 503}: matched no request;'
        " removed before it fired"
    ]
    profile_api.fault("events:503")
    assert requests.delete(admin, timeout=10).json() == {"deleted": 2}
    with pytest.raises(AssertionError, match="events:503: matched no request; removed before"):
        profile_api.assert_faults_fired()
    profile_api.assert_faults_fired()  # each named once


def test_fixtures_that_cannot_load_are_read_once_a_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each test of a suite whose fixtures are broken fails with their problems; reading a
    # large set again for every test multiplied the time the run took to say so.
    broken = tmp_path / "broken.yaml"
    broken.write_text("spaces: {sp: {tokens: [t], users: [{ids: {user_id: u}, trait: {}}]}}\n")
    reads: list[object] = []

    def counted_load(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return load_fixtures(*args, **kwargs)

    monkeypatch.setattr(testing, "load_fixtures", counted_load)
    pool = testing.ServerPool([broken])
    errors = []
    for _ in range(3):
        with pytest.raises(FixtureError) as info:
            pool.get()
        errors.append(str(info.value))
    assert len(reads) == 1
    assert errors == [errors[0]] * 3
    assert "unknown key `trait`" in errors[0]


def _in_examples(use: Callable[[], object]) -> None:
    """``use()`` in each of a few Hypothesis examples."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=3, database=None, deadline=None)
    @given(st.integers())
    def examples(_: int) -> None:
        use()

    examples()


def test_an_example_that_begins_with_a_reset_through_the_admin_api_is_not_told_to_reset(
    profile_api: ProfileAPI,
) -> None:
    """A test whose harness resets the fake as any client of it can (``POST
    /__admin/reset``) was told to call profile_api.reset() in its second example: the
    handle saw only its own resets."""
    from hypothesis import given, settings

    from profilemock.strategies import profiles

    @settings(max_examples=5, database=None, deadline=None)
    @given(profiles())
    def through_the_admin_api(profile: dict[str, Any]) -> None:
        requests.post(f"{profile_api.url}/__admin/reset", timeout=10).raise_for_status()
        profile_api.add_user(**profile)
        profile_api.assert_called("traits", times=0)

    through_the_admin_api()
    requests.post(f"{profile_api.url}/__admin/reset", timeout=10).raise_for_status()
    with pytest.raises(testing.ExampleNotResetError):  # and without a reset, it is told
        _in_examples(lambda: profile_api.assert_called("links", times=0))


def test_a_reset_in_an_example_that_would_take_away_what_was_set_up_before_is_refused(
    profile_api: ProfileAPI,
) -> None:
    """A pytest fixture's add_user (or rule, or clock) before a @given test whose examples
    each begin with reset(), as told: the first reset took it away, no example met it, and
    a property that held without it passed."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=3, database=None, deadline=None)
    @given(st.integers())
    def resets_first(_: int) -> None:
        profile_api.reset()

    set_ups: list[tuple[Callable[[], object], str]] = [
        (lambda: profile_api.add_user({"user_id": "vip"}), "add_user"),
        (lambda: profile_api.fault("traits:503", optional=True), "fault(traits:503)"),
        (lambda: profile_api.clock.freeze(), "clock.freeze"),
        (lambda: profile_api.space(profile_api.space_id).rate_limit(1), "rate_limit"),
    ]
    for set_up, named in set_ups:
        set_up()
        with pytest.raises(testing.SetUpLostError, match=rf"began \({re.escape(named)}, by a"):
            resets_first()
        profile_api.reset()  # outside the examples: what was set up is gone, and forgotten
        resets_first()
    profile_api.realism()  # reads the switches: nothing set up
    resets_first()
    # A marker's configuration is the examples' own start, not a set-up they lose.
    profile_api._start_test({"faults": ["traits:503:optional=true"], "realism": {}})
    resets_first()


def test_an_example_that_meets_what_an_earlier_example_left_is_told_to_reset(
    profile_api: ProfileAPI,
) -> None:
    """@given with profile_api and no reset(): the drawn profiles of earlier examples stayed,
    two ids collided ("these ids belong to 2 different profiles"), and Hypothesis reported
    an example that passes alone. The second example to use the fake says what to do."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from profilemock.strategies import profiles

    @settings(max_examples=30, database=None, deadline=None)
    @given(profiles())
    def without_reset(profile: dict[str, Any]) -> None:
        profile_api.add_user(**profile)

    with pytest.raises(testing.ExampleNotResetError, match=r"Call profile_api\.reset\(\) first"):
        without_reset()

    uses: dict[str, Callable[[ProfileAPI], object]] = {
        "add_user": lambda api: api.add_user(ids={"user_id": "same"}),
        "fault": lambda api: api.fault("links:503", optional=True),
        "clock": lambda api: api.clock.advance("1s"),
        "another space's handle": lambda api: api.space(api.space_id).rate_limit(None),
        "assert_called": lambda api: api.assert_called("links", times=0),
    }

    @settings(max_examples=10, database=None, deadline=None)
    @given(st.sampled_from(sorted(uses)), st.sampled_from(sorted(uses)))
    def with_reset(first: str, then: str) -> None:
        profile_api.reset()
        uses[first](profile_api)
        uses[then](profile_api)

    with_reset()  # each example from the fixtures: nothing to tell
    profile_api.reset()
    for name in uses:  # outside Hypothesis, nothing is an example
        uses[name](profile_api)
        uses[name](profile_api)
    for use in uses.values():  # each use is told, and none of them in its first example
        profile_api.reset()
        with pytest.raises(testing.ExampleNotResetError):
            _in_examples(functools.partial(use, profile_api))
