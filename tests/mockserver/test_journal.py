"""The request journal: what an entry says of a request (path, query and route as sent, never
a token), how much it keeps, and its fence: a request belongs to the test (the reset period)
in which it arrived, is journaled at arrival, and gets its outcome when it is known."""

from __future__ import annotations

import gc
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver import journal as journal_module
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.journal import Journal, JournalEntry
from profilemock.mockserver.serving import ServerThread
from tests.conftest import NOW, basic, profile_path

T = TypeVar("T")


@pytest.fixture
def server() -> Iterator[ServerThread]:
    clock = Clock(NOW)
    with ServerThread(create_app(load_fixtures([demo_fixture_path()], clock), clock)) as running:
        yield running


def journal(server: ServerThread) -> list[JournalEntry]:
    return server.call(lambda state: list(state.journal))


def eventually(read: Callable[[], T], until: Callable[[T], bool], timeout: float = 10.0) -> T:
    """Read again (on the server's loop) until ``until`` holds: waits for an event on the
    server, bounded; never lets time pass for its own sake."""
    stop = threading.Event()
    value = read()
    deadline = 0.0
    while not until(value):
        if deadline >= timeout:
            raise AssertionError(f"still {value!r} after {timeout} s")
        stop.wait(0.005)
        deadline += 0.005
        value = read()
    return value


def held_request(server: ServerThread, resource: str = "traits") -> socket.socket:
    """A raw client whose request the fake holds (a `hang` fault): it never answers by
    itself, as with a client that timed out."""
    server.call(
        lambda state: state.faults.add({"route": resource, "fault": "hang", "hang": "300s"})
    )
    host, port = server.url.removeprefix("http://").split(":")
    client = socket.create_connection((host, int(port)))
    auth = basic("demo-token")["Authorization"]
    client.sendall(
        f"GET {profile_path('user_id:u1234', resource)} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {auth}\r\n\r\n".encode()
    )
    return client


def test_a_held_request_is_journaled_when_it_arrives(server: ServerThread) -> None:
    client = held_request(server)
    try:
        (entry,) = eventually(lambda: journal(server), lambda seen: len(seen) == 1)
        assert (entry.route, entry.status, entry.outcome, entry.fault) == (
            "traits",
            None,
            "pending",
            "fault-1",
        )
    finally:
        client.close()


def test_a_client_that_went_away_is_journaled_as_such(server: ServerThread) -> None:
    client = held_request(server)
    eventually(lambda: journal(server), lambda seen: len(seen) == 1)
    client.close()
    (entry,) = eventually(
        lambda: journal(server), lambda seen: seen[0].outcome != "pending", timeout=10
    )
    assert (entry.status, entry.outcome) == (None, "client went away")


def test_nothing_from_before_a_reset_is_seen_after_it(server: ServerThread) -> None:
    client = held_request(server)
    try:
        eventually(lambda: journal(server), lambda seen: len(seen) == 1)
        server.call(lambda state: state.reset())
        # The reset ends the held request: the fake closes the connection ...
        client.settimeout(10)
        assert client.recv(1024) == b""
        # ... and by then has finished with it (on its loop, before this read runs): the
        # request belongs to the period before the reset and is not seen after it.
        assert journal(server) == []
    finally:
        client.close()


def test_an_outcome_arriving_after_a_clear_is_dropped() -> None:
    journal = Journal()
    before = journal.arrived(NOW, "GET", "/v1/a", "basic")
    journal.clear()
    after = journal.arrived(NOW, "GET", "/v1/b", "basic")
    journal.finished(before, 200, None, 1.0, "answered", True, None)
    assert [(e.path, e.outcome) for e in journal] == [("/v1/b", "pending")]
    journal.finished(after, 404, None, 1.0, "answered", True, "no such profile")
    (entry,) = journal
    assert (entry.path, entry.status, entry.outcome, entry.hint) == (
        "/v1/b",
        404,
        "answered",
        "no such profile",
    )


def test_entries_read_in_arrival_order_whatever_order_they_finish_in() -> None:
    journal = Journal()
    slow = journal.arrived(NOW, "GET", "/slow", "basic")
    fast = journal.arrived(NOW, "GET", "/fast", "basic")
    journal.finished(fast, 200, None, 1.0, "answered", True, None)
    assert [(e.path, e.outcome) for e in journal] == [("/slow", "pending"), ("/fast", "answered")]
    journal.finished(slow, 200, None, 9.0, "answered", True, None)
    assert [e.path for e in journal] == ["/slow", "/fast"]


def test_journal_is_a_bounded_ring_buffer() -> None:
    journal = Journal(size=3)
    for n in range(5):
        journal.record(NOW, "GET", f"/{n}", "none", 404, None, 0.1, None)
    assert [e.path for e in journal] == ["/2", "/3", "/4"]
    assert [e.seq for e in journal] == [3, 4, 5]
    with pytest.raises(ValueError, match="at least 1"):
        Journal(size=0)


def test_the_latest_matches_are_read_without_making_an_entry_of_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The explorer reads the latest 100 requests every second: making an entry of each of a
    full journal's 10,000 (its path and query parsed) held the server ~0.1 s each time."""
    journal = Journal()
    users = "/v1/spaces/s/collections/users/profiles/user_id:u{}/{}"
    for n in range(60):
        route = "traits" if n % 2 else "events"
        journal.record(NOW, "GET", users.format(n, route), "basic", 200 + n % 3, None, 0.1, None)
    pending = journal.arrived(NOW, "GET", users.format(60, "traits"), "basic")
    journal.fault_fired(pending, "fault-1", "runtime")
    made: list[int] = []
    entry = journal_module._entry

    def counted(kept: tuple[Any, ...], preflight: bool = False) -> JournalEntry:
        made.append(kept[0])
        return entry(kept, preflight)

    monkeypatch.setattr(journal_module, "_entry", counted)
    total, latest = journal.latest(2, route="traits", status=201)
    assert (total, [e.identifier for e in latest]) == (10, ["user_id:u49", "user_id:u55"])
    assert len(made) == 2
    total, latest = journal.latest(3, fault="fault-1", space="s", method="GET", auth="basic")
    assert (total, [(e.seq, e.outcome) for e in latest]) == (1, [(61, "pending")])
    assert journal.latest(1, collection="accounts") == (0, [])


async def test_journal_entries_say_path_query_and_route_as_sent(serve_yaml: Any) -> None:
    client = await serve_yaml("spaces: {sp: {tokens: [t], users: [{ids: {user_id: a+b}}]}}\n")
    profile = "/v1/spaces/sp/collections/users/profiles"
    await client.get(
        f"{profile}/user_id:a%2Bb/traits?include=x%2Cy&note=1+2&next=k", headers=basic("t")
    )
    await client.post(f"{profile}/user_id:a%2Bb/traits", headers=basic("t"))
    await client.get("/v2/elsewhere?q=1")
    first, posted, unknown = client.app[STATE].journal
    assert (first.path, first.query) == (
        f"{profile}/user_id:a%2Bb/traits",
        [("include", "x,y"), ("note", "1 2"), ("next", "k")],
    )
    assert (first.route, first.space, first.collection) == ("traits", "sp", "users")
    assert (first.identifier, first.raw_identifier, first.status) == (
        "user_id:a+b",
        "user_id:a%2Bb",
        200,
    )
    assert (posted.method, posted.route, posted.status) == ("POST", "traits", 405)
    assert (unknown.path, unknown.query, unknown.route, unknown.status) == (
        "/v2/elsewhere",
        [("q", "1")],
        None,
        404,
    )


async def test_journal_keeps_only_plain_values(serve_yaml: Any) -> None:
    """Tuples of strings and numbers drop out of the garbage collector's passes: thousands
    of kept requests then cost nothing per request."""
    client = await serve_yaml("spaces: {sp: {tokens: [t], users: [{ids: {user_id: u}}]}}\n")
    for _ in range(3):
        await client.get(
            "/v1/spaces/sp/collections/users/profiles/user_id:u/traits?limit=2", headers=basic("t")
        )
    gc.collect()
    kept = client.app[STATE].journal._entries
    assert len(kept) == 3
    assert not any(gc.is_tracked(entry) for entry in kept)


async def test_journal_never_holds_a_token(serve_yaml: Any) -> None:
    client = await serve_yaml(
        "spaces: {sp: {tokens: [top-secret-token], users: [{ids: {user_id: u}}]}}\n"
    )
    await client.get(
        "/v1/spaces/sp/collections/users/profiles/user_id:u/traits",
        headers=basic("top-secret-token"),
    )
    await client.get(
        "/v1/spaces/sp/collections/users/profiles/user_id:u/traits?token=x",
        headers={"Authorization": "Bearer top-secret-token"},
    )
    entries = [e.as_dict() for e in client.app[STATE].journal]
    assert "top-secret-token" not in repr(entries)
    assert [e["auth"] for e in entries] == ["basic", "bearer"]


async def test_an_entry_says_which_rule_fired_where_it_came_from_and_whose_answer_it_is(
    serve_yaml: Any,
) -> None:
    """What ``assert_no_errors`` judges by, kept in the entry itself: a rule removed before
    anyone reads the journal is judged as it was when it fired."""
    client = await serve_yaml(
        "spaces: {sp: {tokens: [t], users: [{ids: {user_id: u}}]}}\n"
        "faults: [{route: events, status: 503}]\n"
    )
    faults = client.app[STATE].faults
    faults.add({"route": "traits", "latency": "1ms", "id": "slow"})
    faults.add({"route": "links", "status": 429, "id": "limited"})
    faults.add({"route": "metadata", "latency": "1ms", "headers": {"X-A": "1"}, "id": "shaped"})
    profiles = "/v1/spaces/sp/collections/users/profiles"
    for path in ("user_id:nobody/traits", "user_id:u/links", "user_id:u/events",
                 "user_id:u/metadata", "user_id:u/external_ids?limit=x"):  # fmt: skip
        await client.get(f"{profiles}/{path}", headers=basic("t"))
    for rule_id in ("slow", "limited", "shaped"):
        assert faults.remove(rule_id)
    entries = list(client.app[STATE].journal)
    assert [(e.status, e.fault, e.fault_origin, e.fault_answered) for e in entries] == [
        (404, "slow", "runtime", False),  # the API's own 404, only delayed
        (429, "limited", "runtime", True),
        (503, "fault-1", "fixtures", True),
        (200, "shaped", "runtime", False),
        (400, None, None, False),
    ]
    listed = await (await client.get("/__admin/requests?route=traits")).json()
    (shown,) = listed["requests"]
    assert (shown["fault"], shown["fault_origin"], shown["fault_answered"]) == (
        "slow",
        "runtime",
        False,
    )


async def test_a_refused_request_a_rule_only_delayed_is_still_refused(serve_yaml: Any) -> None:
    """A 400 the API answered is a refusal, whatever rule delayed it (it said: a fault
    fired, so the call counts)."""
    client = await serve_yaml("spaces: {sp: {tokens: [t], users: [{ids: {user_id: u}}]}}\n")
    client.app[STATE].faults.add({"route": "traits", "latency": "1ms"})
    await client.get(
        "/v1/spaces/sp/collections/users/profiles/user_id:u/traits?limit=x", headers=basic("t")
    )
    (entry,) = client.app[STATE].journal
    assert (entry.status, entry.fault, entry.refused) == (400, "fault-1", True)


def test_a_client_that_gave_up_while_a_rule_delayed_it_left_because_of_the_rule(
    server: ServerThread,
) -> None:
    server.call(lambda state: state.faults.add({"route": "traits", "latency": "50ms"}))
    host, port = server.url.removeprefix("http://").split(":")
    client = socket.create_connection((host, int(port)))
    client.sendall(
        f"GET {profile_path('user_id:u1234', 'traits')} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {basic('demo-token')['Authorization']}\r\n\r\n".encode()
    )
    eventually(lambda: journal(server), lambda seen: len(seen) == 1)
    client.close()  # its timeout ran out: it leaves while the rule holds the request
    (entry,) = eventually(
        lambda: journal(server), lambda seen: seen[0].outcome != "pending", timeout=10
    )
    assert (entry.status, entry.outcome, entry.fault_origin, entry.fault_answered) == (
        None,
        "client went away",
        "runtime",
        True,
    )
