"""Recording: demo fixture -> fake -> record -> fixture -> second fake answers the same."""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import yaml

from profilemock.api import Collection
from profilemock.clock import Clock
from profilemock.contract.record import (
    Outcome,
    Progress,
    Recorded,
    Retry,
    pinned_now,
    record,
    to_fixture,
    unserved,
)
from profilemock.contract.redact import E164, EMAIL, Redactor
from profilemock.fixtures.generator import dump_yaml
from profilemock.fixtures.loader import load_fixtures
from profilemock.mockserver.app import create_app
from profilemock.mockserver.serving import ServerThread
from profilemock.mockserver.state import ServerSettings
from profilemock.timeutil import format_ns, parse_iso
from tests.contract.conftest import FLOOD, Flood, Upstream

SPACE = "lg8283283"
RECORDED_AT = time.time_ns()
UNLIMITED = ServerSettings(rate_limit=None)
PROFILES: list[tuple[Collection, str]] = [
    ("users", "user_id:u1234"),  # several sources, audiences, computed traits, links
    ("users", "user_id:9800664881"),  # the reference's metadata and links examples
    ("users", "phone_number:+5555550123"),
    ("users", "user_id:5550000001"),  # pages of events
    ("users", "anonymous_id:a1234"),
    ("accounts", "group_id:12345"),  # more than one page of links
]
# Every endpoint, and small pages so every cursor is followed.
QUERIES = {
    "traits": [
        "",
        "verbose=true",
        "class=audience",
        "class=computed_trait",
        "limit=2",
        "limit=3&verbose=true",
    ],
    "external_ids": ["", "limit=1"],
    "events": ["", "limit=3", "limit=4&sort=asc", "include=Product%20Viewed&limit=2"],
    "metadata": [""],
    "links": ["", "limit=1"],
}


def walk(base: str, token: str, collection: str, identifier: str) -> list[tuple[str, int, Any]]:
    """Every page of every query of every endpoint of one profile, hosts taken out."""
    from urllib.parse import quote

    seen: list[tuple[str, int, Any]] = []
    path = f"/v1/spaces/{SPACE}/collections/{collection}/profiles/{quote(identifier, safe=':')}"
    for resource, queries in QUERIES.items():
        for query in queries:
            url: str | None = f"{base}{path}/{resource}" + (f"?{query}" if query else "")
            while url:
                response = requests.get(url, auth=(token, ""), timeout=10)
                body = response.json()
                target = url.replace(base, "")
                seen.append((target, response.status_code, _hostless(body, base)))
                url = (body.get("cursor") or {}).get("url") or None
    return seen


def _hostless(body: Any, base: str) -> Any:
    cursor = body.get("cursor") if isinstance(body, dict) else None
    if cursor and cursor.get("url"):
        return {**body, "cursor": {**cursor, "url": cursor["url"].replace(base, "")}}
    return body


@pytest.fixture
def first_fake() -> Iterator[ServerThread]:
    from profilemock.fixtures.loader import demo_fixture_path

    clock = Clock()
    store = load_fixtures([demo_fixture_path()], clock)
    server = ServerThread(create_app(store, clock, UNLIMITED)).start()
    yield server
    server.stop()


def recorded_file(
    upstream: str, tmp_path: Path, *, redactor: Redactor | None = None, name: str = "recorded.yaml"
) -> tuple[Path, Any]:
    stream = io.StringIO()
    outcome = asyncio.run(
        record(
            upstream,
            SPACE,
            "demo-token",
            PROFILES,
            progress=Progress(stream, len(PROFILES)),
            clock=lambda: RECORDED_AT,
        )
    )
    assert outcome.missing == []
    document = to_fixture(outcome, SPACE, fixture_token="test-token", redactor=redactor)
    path = tmp_path / name
    path.write_text(dump_yaml(document, header="# recorded\n"), encoding="utf-8")
    return path, stream.getvalue()


def serve_file(path: Path) -> ServerThread:
    clock = Clock()
    return ServerThread(create_app(load_fixtures([path], clock), clock, UNLIMITED)).start()


def test_recorded_profiles_answer_the_same_on_every_endpoint_and_page(
    first_fake: ServerThread, tmp_path: Path
) -> None:
    path, log = recorded_file(first_fake.url, tmp_path)
    assert "demo-token" not in path.read_text()
    assert log.splitlines()[0].startswith("users user_id:u1234: ")
    second = serve_file(path)
    pages = 0
    try:
        for collection, identifier in PROFILES:
            before = walk(first_fake.url, "demo-token", collection, identifier)
            after = walk(second.url, "test-token", collection, identifier)
            assert [s for _, s, _ in before] == [200] * len(before)
            for (url, _, expected), (_, _, got) in zip(before, after, strict=True):
                assert got == expected, url
            pages += len(before)
    finally:
        second.stop()
    assert pages > 100


def test_a_missing_profile_is_reported_and_the_others_recorded(first_fake: ServerThread) -> None:
    stream = io.StringIO()
    wanted: list[tuple[Collection, str]] = [("users", "user_id:nobody"), ("users", "user_id:u1234")]
    outcome = asyncio.run(
        record(first_fake.url, SPACE, "demo-token", wanted, progress=Progress(stream, 2))
    )
    assert outcome.missing == ["users user_id:nobody: not found (404)"]
    assert [r.asked for r in outcome.recorded] == ["user_id:u1234"]
    assert stream.getvalue().splitlines()[0] == "users user_id:nobody: not found (404)"


def test_a_profile_of_the_other_collection_is_told_with_the_collection_to_record_it_in(
    first_fake: ServerThread,
) -> None:
    # Each said "not found (404)": the upstream's Profilemock-Hint was dropped, and a
    # `group_id` (of accounts) asked for in users said nothing of --collection.
    stream = io.StringIO()
    wanted: list[tuple[Collection, str]] = [
        ("users", "group_id:12345"),  # the fake's hint: it is in accounts
        ("users", "group_id:nobody"),  # no hint (as from the real API): an id of accounts
        ("accounts", "user_id:u1234"),
        ("accounts", "group_id:nobody"),
        ("accounts", "anonymous_id:nobody"),  # no hint: said "not found (404)" alone
    ]
    outcome = asyncio.run(
        record(first_fake.url, SPACE, "demo-token", wanted, progress=Progress(stream, 5))
    )
    assert outcome.missing == [
        "users group_id:12345: not found (404): `group_id:12345` is a profile in `accounts`,"
        " not `users`; record it with --collection accounts",
        "users group_id:nobody: not found (404): `group_id` is an id of accounts; record it"
        " with --collection accounts",
        "accounts user_id:u1234: not found (404): `user_id:u1234` is a profile in `users`, not"
        " `accounts`; record it with --collection users",
        "accounts group_id:nobody: not found (404)",
        "accounts anonymous_id:nobody: not found (404): accounts are found by `group_id`, and"
        " `anonymous_id` is an id of users; record it with --collection users",
    ]
    assert stream.getvalue().splitlines() == outcome.missing


def test_an_email_asked_for_with_capitals_is_told_it_is_stored_in_lowercase() -> None:
    # The real API gives no hint: `email:Ada@Example.com` was "not found (404)" alone.
    from aiohttp import web

    async def not_found(request: web.Request) -> web.Response:
        body = {"error": {"code": "not_found", "message": "Profile was not found."}}
        return web.json_response(body, status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", not_found)
    real = ServerThread(app).start()
    try:
        wanted: list[tuple[Collection, str]] = [
            ("users", "email:Ada@Example.com"),
            ("users", "email:ada@example.com"),
        ]
        found = record(real.url, SPACE, "t", wanted, progress=Progress(io.StringIO(), 2))
        outcome = asyncio.run(found)
    finally:
        real.stop()
    assert outcome.missing == [
        "users email:Ada@Example.com: not found (404): `email` ids are stored in lowercase;"
        " record email:ada@example.com",
        "users email:ada@example.com: not found (404)",
    ]


def _record_u1234(fake: ServerThread, **options: Any) -> tuple[Outcome, list[float]]:
    """Record the demo's ``user_id:u1234`` from ``fake``, its waits kept instead of slept."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    found = record(
        fake.url, SPACE, "demo-token", [("users", "user_id:u1234")], sleep=sleep, **options
    )
    return asyncio.run(found), waits


def test_429s_back_off_exponentially_with_jitter_and_5xx_are_retried_a_bounded_number_of_times(
    first_fake: ServerThread,
) -> None:
    first_fake.call(lambda s: s.faults.add({"route": "metadata", "status": 429, "times": 3}))
    first_fake.call(lambda s: s.faults.add({"route": "traits", "status": 503, "times": 2}))
    outcome, waits = _record_u1234(first_fake, rng=random.Random(1), retry=Retry(base=1.0))
    assert outcome.missing == []
    # 429s: 1, 2, 4 s ceilings, each a random half to all of it; then the 503s start over.
    for wait, ceiling in zip(waits, [1, 2, 4, 1, 2], strict=True):
        assert ceiling / 2 <= wait <= ceiling
    first_fake.call(lambda s: s.faults.add({"route": "metadata", "status": 500}))
    outcome, _ = _record_u1234(first_fake, retry=Retry(server_errors=2))
    assert outcome.missing == [
        "users user_id:u1234: GET /v1/spaces/lg8283283/collections/users/profiles/user_id:u1234"
        '/metadata answered 500 (3 tries): {"error":{"code":"internal_error","message":"Something'
        " went wrong on Segment's side.\"}}"
    ]


def test_a_request_failing_after_its_retries_is_named_with_its_query_and_what_came_back(
    first_fake: ServerThread,
) -> None:
    # It said "GET …/traits answered 503 (4 tries)": which of the three traits requests (or
    # which page) failed, and what the upstream (a load balancer's page) said, untold.
    page = "<html>\n  <body><h1>503 Service Unavailable</h1></body>\n</html>\n"
    rule = {"route": "traits", "status": 503, "after": 1, "body": page}
    first_fake.call(lambda s: s.faults.add(rule))
    outcome, _ = _record_u1234(first_fake, retry=Retry(server_errors=1))
    assert outcome.missing == [
        "users user_id:u1234: GET /v1/spaces/lg8283283/collections/users/profiles/user_id:u1234"
        "/traits?class=computed_trait&verbose=true&limit=200 answered 503 (2 tries): <html>"
        " <body><h1>503 Service Unavailable</h1></body> </html>"
    ]


def test_fields_the_contract_does_not_name_are_left_out_and_told_never_the_profile(
    first_fake: ServerThread, tmp_path: Path
) -> None:
    # A metadata field the contract does not name (as the API may add one) left the
    # profile unrecorded ("no fixture can hold what the upstream answered: …/last_seen_at:
    # unknown key"); one of an event was dropped without a word.
    url = f"{first_fake.url}/v1/spaces/{SPACE}/collections/users/profiles/user_id:u1234"
    answered = requests.get(f"{url}/metadata", auth=("demo-token", ""), timeout=10).json()
    body = {**answered, "version": 3}
    body["metadata"] = {**answered["metadata"], "last_seen_at": answered["metadata"]["updated_at"]}
    first_fake.call(lambda s: s.faults.add({"route": "metadata", "status": 200, "body": body}))
    stream = io.StringIO()
    outcome, _ = _record_u1234(first_fake, progress=Progress(stream, 1))
    assert outcome.missing == []
    assert stream.getvalue() == (
        "users user_id:u1234: 4 traits, 2 external ids, 2 events, 1 link; left out (fields the"
        " contract does not name, no fixture holds): metadata /metadata/last_seen_at, metadata"
        " /version\n"
    )
    path = tmp_path / "recorded.yaml"
    path.write_text(dump_yaml(to_fixture(outcome, SPACE)), encoding="utf-8")
    second = serve_file(path)
    try:
        again = f"{second.url}/v1/spaces/{SPACE}/collections/users/profiles/user_id:u1234"
        assert (
            requests.get(f"{again}/metadata", auth=("test-token", ""), timeout=10).json()
            == answered
        )
    finally:
        second.stop()


def test_a_field_each_item_holds_is_told_once(first_fake: ServerThread) -> None:
    # Told once a trait, it would have been 200 times in one line.
    trait = {"value": True, "source_id": "s1", "updated_at": "2026-11-01T00:00:00Z"}
    body = {
        "traits": {name: {**trait, "source_name": "web"} for name in ("a/b", "c")},
        "cursor": {"url": "", "has_more": False, "next": "", "limit": 200},
        "total": 2,
    }
    first_fake.call(lambda s: s.faults.add({"route": "traits", "status": 200, "body": body}))
    stream = io.StringIO()
    outcome, _ = _record_u1234(first_fake, progress=Progress(stream, 1))
    assert outcome.missing == []
    assert stream.getvalue().endswith(
        "; left out (fields the contract does not name, no fixture holds): traits"
        " /total, traits /traits/*/source_name\n"
    )


def test_events_the_files_clock_leaves_in_its_future_are_told() -> None:
    # Profiles read minutes apart each answer their own last 14 days: one clock cannot
    # serve both ends, and the newest events were written and never answered, untold.
    start = parse_iso("2026-11-01T00:00:00Z")

    def profile(asked: str, *seconds: int) -> Recorded:
        events = [{"timestamp": format_ns(start + s * 10**9)} for s in seconds]
        return Recorded("users", asked, events=events)

    fortnight = 14 * 86_400
    early = profile("user_id:early", 0, 60)
    late = profile("user_id:late", fortnight + 1, fortnight + 2, fortnight - 1)
    outcome = Outcome([early, late], [], 0, start + (fortnight + 5) * 10**9)
    assert pinned_now(outcome) == start + fortnight * 10**9
    assert unserved(outcome) == (
        "2 events lie after the clock the file pins (2026-11-15T00:00:00Z, 14 days after the"
        " oldest event recorded), so serve answers without them: users user_id:late (2); each"
        " profile answered its last 14 days when it was read, and the file has one clock"
    )
    one = profile("user_id:one", fortnight + 1)
    assert (unserved(Outcome([early, one], [], 0, outcome.now)) or "").startswith(
        "1 event lies after the clock the file pins"
    )
    assert unserved(Outcome([late], [], 0, outcome.now)) is None
    assert unserved(Outcome([early, profile("user_id:empty")], [], 0, outcome.now)) is None


def test_a_429s_retry_after_is_waited_and_told(first_fake: ServerThread) -> None:
    # Retried after the back-off alone (0.25 to 0.5 s), sooner than asked: refused again;
    # in the end "still rate limited after 2 retries", naming no request.
    rule = {"route": "metadata", "status": 429, "headers": {"Retry-After": "7"}}
    first_fake.call(lambda s: s.faults.add(rule))
    outcome, waits = _record_u1234(
        first_fake,
        retry=Retry(rate_limited=2, base=0.5, cap=30),
        progress=Progress(io.StringIO(), 1),
    )
    assert waits == [7, 7]
    assert outcome.missing == [
        "users user_id:u1234: GET /v1/spaces/lg8283283/collections/users/profiles/user_id:u1234"
        "/metadata still rate limited (429) after 2 retries, the last asking Retry-After: 7"
    ]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_gets_a_progress_bar() -> None:
    stream, clock = _Terminal(), _FakeTime()
    progress = Progress(stream, 2, clock=clock)
    clock.now += 1
    progress.request()
    progress.profile("users user_id:a: 1 trait")
    clock.now += 1
    progress.request()
    progress.close()
    text = stream.getvalue()
    assert "\rrecording [------------------------------] 0/2 profiles, 1 request (0%, 1 s)" in text
    assert "\r\x1b[Kusers user_id:a: 1 trait\n" in text
    assert "recording [###############---------------] 1/2 profiles, 2 requests (50%, 2 s)" in text
    assert text.endswith("\r\x1b[K")


def test_the_bar_is_redrawn_at_most_ten_times_a_second_and_lines_always_come() -> None:
    # Every request redrew it: a run of thousands of requests wrote a bar for each.
    stream, clock = _Terminal(), _FakeTime()
    progress = Progress(stream, 2, clock=clock)
    clock.now += 1
    for _ in range(50):
        progress.request()
    assert stream.getvalue().count("recording [") == 1
    progress.profile("users user_id:a: 1 trait")  # told at once, the bar under it
    assert stream.getvalue().endswith("1/2 profiles, 50 requests (50%, 1 s)\x1b[K")
    clock.now += 0.2
    progress.request()
    assert "51 requests" in stream.getvalue()


def test_off_a_terminal_only_the_lines_come() -> None:
    stream, clock = io.StringIO(), _FakeTime()
    progress = Progress(stream, 2, clock=clock)
    clock.now += 5
    progress.request()
    progress.profile("users user_id:a: 1 trait")
    progress.close()
    assert stream.getvalue() == "users user_id:a: 1 trait\n"
    closed = io.StringIO()
    closed.close()
    Progress(closed, 1)  # isatty() raised ValueError: I/O operation on closed file


def test_redacted_recording_keeps_request_shapes_and_consistent_replacements(
    first_fake: ServerThread, tmp_path: Path
) -> None:
    path, _ = recorded_file(first_fake.url, tmp_path, redactor=Redactor(seed=3))
    again, _ = recorded_file(first_fake.url, tmp_path, redactor=Redactor(seed=3), name="again.yaml")
    text = path.read_text()
    assert text == again.read_text()  # the same seed, the same file
    for real in ("+5555550123", "bob@example.com", "Bob", "73.92.233.78"):
        assert real not in text, real
    data = yaml.safe_load(text)
    users = data["spaces"][SPACE]["users"]
    phones = [i["id"] for u in users for i in u["ids"].get("phone_number", [])]
    emails = [i["id"] for u in users for i in u["ids"].get("email", [])]
    assert phones
    assert emails
    assert all(E164.match(p) for p in phones)
    assert all(EMAIL.match(e) and e == e.lower() for e in emails)
    second = serve_file(path)
    replaced: dict[str, set[str]] = {}
    try:
        redactor = Redactor(seed=3)
        for collection, identifier in PROFILES:
            id_type, _, value = identifier.partition(":")
            fake_identifier = f"{id_type}:{redactor.identifier(id_type, value)}"
            before = walk(first_fake.url, "demo-token", collection, identifier)
            after = walk(second.url, "test-token", collection, fake_identifier)
            assert [(s, _shape(b)) for _, s, b in before] == [(s, _shape(b)) for _, s, b in after]
            for (_, _, real), (_, _, fake) in zip(before, after, strict=True):
                for a, b in zip(_leaves(real), _leaves(fake), strict=True):
                    if a != b and not str(a).startswith(("map_", "/v1/")):
                        replaced.setdefault(str(a), set()).add(str(b))
    finally:
        second.stop()
    assert "+5555550123" in replaced
    # Each real value became one fake value everywhere it appears, and no two became one.
    assert all(len(fakes) == 1 for fakes in replaced.values()), replaced
    fakes = [next(iter(f)) for f in replaced.values()]
    assert len(set(fakes)) == len(fakes)


def _leaves(body: Any) -> list[Any]:
    if isinstance(body, dict):
        return [leaf for k in sorted(body) for leaf in _leaves(body[k])]
    if isinstance(body, list):
        return [leaf for item in body for leaf in _leaves(item)]
    return [body]


def _shape(body: Any) -> Any:
    """Keys and types, not values."""
    if isinstance(body, dict):
        return {k: _shape(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_shape(v) for v in body]
    return type(body).__name__


def test_the_same_real_value_becomes_the_same_fake_value() -> None:
    redactor = Redactor(seed=1)
    email = redactor.identifier("email", "Ada@Example.com")
    assert redactor.value({"email": "Ada@Example.com"}) == {"email": email}
    assert redactor.identifier("user_id", "Ada@Example.com") == email  # an email by shape
    assert Redactor(seed=1).identifier("email", "Ada@Example.com") == email
    assert Redactor(seed=2).identifier("email", "Ada@Example.com") != email
    assert redactor.identifier("email", "other@example.com") != email
    assert redactor.value({"first_name": "Ada", "plan": "pro", "ip": "not an ip"}) == {
        "first_name": redactor.replace("first_name", "Ada"),
        "plan": "pro",
        "ip": "not an ip",
    }
    ip = redactor.value("2001:db8::1", "ip")
    assert ":" in ip


def test_a_redacted_recording_tells_which_ids_to_ask_for_instead_of_those_asked(
    first_fake: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file answered `phone_number:+5555550123` with a 404, and which id it answers for
    # instead was to be found in it.
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    target = tmp_path / "red.yaml"
    code, _, err = run_cli(
        "record", "--upstream", first_fake.url, "--space", SPACE, "--id",
        "phone_number:+5555550123", "--id", "user_id:u1234", "--redact", "-o", str(target),
    )  # fmt: skip
    assert code == 0
    phone = Redactor(seed=0).identifier("phone_number", "+5555550123")
    assert err.splitlines()[-1].endswith(
        f"; redacted, it answers phone_number:+5555550123 as phone_number:{phone}"
    )  # user_id:u1234 is kept, and not told
    second = serve_file(target)
    try:
        path = f"/v1/spaces/{SPACE}/collections/users/profiles/phone_number:{quote(phone)}"
        url = second.url + path
        assert requests.get(f"{url}/traits", auth=("test-token", ""), timeout=10).ok
    finally:
        second.stop()


def test_a_value_its_key_names_but_that_cannot_be_of_that_kind_is_kept() -> None:
    # Each became an email address or a phone number, and no longer read as what it was.
    redactor = Redactor(seed=1)
    kept = {
        "email_opt_in": "yes",
        "email_status": "subscribed",
        "phone_verified": "true",
        "mobile_app_version": "3.2.1",
        "mobile_os": "iOS",
        "ip": "not an ip",
        "phone_verified_at": "2024-01-01",
    }
    assert redactor.value(kept) == kept
    replaced = {
        "work_email": "ada@corp.example",
        "mobile": "555-1234",
        "phone": "+1 (555) 0100 22",
        "home_phone": "+1 (555) 010-9999",  # 11 digits written in 17 characters
    }
    redacted = redactor.value(replaced)
    assert redacted["work_email"] == redactor.replace("email", "ada@corp.example")
    assert all(E164.match(redacted[key]) for key in ("mobile", "phone", "home_phone"))
    assert len(redacted["home_phone"]) == len("+15550109999")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://shop.example/welcome?email=ada@corp.example&utm=x", "https://shop.example/welcome?email={}&utm=x"),
        ("Ada Lovelace <ada@corp.example>", "Ada Lovelace <{}>"),
        ("mailto:ada@corp.example", "mailto:{}"),
        ("write to ada@corp.example or ada@corp.example.", "write to {} or {}."),
    ],
)  # fmt: skip
def test_an_email_inside_a_text_is_replaced_there_the_rest_kept(text: str, shown: str) -> None:
    # A URL holding one became an email address whole; one in a text with spaces was kept.
    redactor = Redactor(seed=1)
    fake = redactor.identifier("email", "ada@corp.example")
    assert redactor.value({"context": {"page": {"url": text}}}) == {
        "context": {"page": {"url": shown.format(fake, fake)}}
    }


def test_follow_links_records_the_linked_profiles_too(
    first_fake: ServerThread, tmp_path: Path
) -> None:
    wanted: list[tuple[Collection, str]] = [("users", "user_id:9800664881")]
    outcome = asyncio.run(
        record(
            first_fake.url,
            SPACE,
            "demo-token",
            wanted,
            follow_links=True,
            progress=Progress(io.StringIO(), 1),
        )
    )
    assert [(r.collection, r.asked) for r in outcome.recorded] == [
        ("users", "user_id:9800664881"),
        ("accounts", "group_id:ADGCJE3Y8H"),
        ("accounts", "group_id:ghdctIwnA"),
    ]
    path = tmp_path / "linked.yaml"
    path.write_text(dump_yaml(to_fixture(outcome, SPACE)), encoding="utf-8")
    second = serve_file(path)
    try:
        for collection, identifier in [(r.collection, r.asked) for r in outcome.recorded]:
            before = walk(first_fake.url, "demo-token", collection, identifier)
            after = walk(second.url, "test-token", collection, identifier)
            assert [b for *_, b in before] == [b for *_, b in after]
    finally:
        second.stop()


def run_cli(*args: str) -> tuple[int, str, str]:
    from profilemock.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_record_command_writes_the_file_and_reports_what_it_could_not_record(
    first_fake: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    target = tmp_path / "out.yaml"
    code, out, err = run_cli(
        "record", "--upstream", first_fake.url, "--space", SPACE, "--id", "user_id:u1234",
        "--id", "user_id:nobody", "--redact", "--seed", "5", "-o", str(target),
    )  # fmt: skip
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "users user_id:u1234: 4 traits, 2 external ids, 2 events, 1 link"
    assert lines[1] == "users user_id:nobody: not found (404)"
    assert lines[2] == "profilemock: not recorded: users user_id:nobody: not found (404)"
    assert lines[3].startswith("recorded 1 of 2 profiles (1 user and 1 account written")
    text = target.read_text()
    assert text.startswith("# Recorded by profilemock record from")
    assert "demo-token" not in text
    assert "test-token" in text
    assert run_cli("check", str(target))[0] == 0


def test_a_user_and_an_account_are_recorded_into_one_file_that_answers_for_both(
    first_fake: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--id group_id:…` was asked for in users (404: "record it with --collection
    # accounts"), and two runs made two files that no serve takes together: their `now:`
    # differs, and each holds the other's profiles as stubs.
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    target = tmp_path / "both.yaml"
    code, _, err = run_cli(
        "record", "--upstream", first_fake.url, "--space", SPACE, "--id", "user_id:u1234",
        "--id", "group_id:ghdctIwnA", "-o", str(target),
    )  # fmt: skip
    assert code == 0, err
    assert err.startswith("users user_id:u1234: 4 traits")
    assert "\naccounts group_id:ghdctIwnA: 1 trait, 1 external id, 0 events, 1 link\n" in err
    second = serve_file(target)
    try:
        for collection, identifier in [
            ("users", "user_id:u1234"),
            ("accounts", "group_id:ghdctIwnA"),
        ]:
            before = walk(first_fake.url, "demo-token", collection, identifier)
            after = walk(second.url, "test-token", collection, identifier)
            assert [b for *_, b in before] == [b for *_, b in after]
    finally:
        second.stop()
    code, _, err = run_cli(
        "record", "--upstream", first_fake.url, "--space", SPACE, "--id", "group_id:ghdctIwnA",
        "--collection", "users", "-o", str(target),
    )  # fmt: skip
    assert code == 2
    assert "record it with --collection accounts" in err


def test_record_command_reads_the_token_from_a_file_and_writes_json_to_stdout(
    first_fake: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROFILE_API_TOKEN", raising=False)
    token_file = tmp_path / "token"
    token_file.write_text("demo-token\n")
    code, out, _ = run_cli(
        "record", "--upstream", first_fake.url, "--space", SPACE, "--id", "group_id:12345",
        "--collection", "accounts", "--token-file", str(token_file), "--fixture-token", "ci",
    )  # fmt: skip
    assert code == 0
    data = yaml.safe_load(out)
    assert data["spaces"][SPACE]["tokens"] == ["ci"]
    assert len(data["spaces"][SPACE]["users"]) == 22  # the linked users, as stubs


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(
            [], {}, "no token: set PROFILE_API_TOKEN or pass --token-file FILE", id="no-token"
        ),
        pytest.param(
            ["--token-file", "/nonexistent/token"],
            {},
            "cannot read --token-file /nonexistent/token",
            id="unreadable-token-file",
        ),
        pytest.param(
            [],
            {"PROFILE_API_TOKEN": "wrong"},
            "the upstream refused the token (401)",
            id="refused-token",
        ),
        pytest.param(
            ["--id", "user_id:nobody"],
            {"PROFILE_API_TOKEN": "demo-token"},
            "no profile was recorded; nothing written",
            id="nothing-found",
        ),
    ],
)
def test_record_command_fails_clearly(
    first_fake: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    args: list[str], env: dict[str, str], message: str,
) -> None:  # fmt: skip
    monkeypatch.delenv("PROFILE_API_TOKEN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    target = tmp_path / "never.yaml"
    ids = [] if "--id" in args else ["--id", "user_id:u1234"]
    code, _, err = run_cli(
        "record", "--upstream", first_fake.url, "--space", SPACE, *ids, *args, "-o", str(target)
    )
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not target.exists()


NO_TOKEN = "a space, a line break or a `:`, which no token has\n"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        # A UnicodeDecodeError traceback.
        (b"\xd0\x00token", "is not UTF-8 text (byte 1): is it the token's file?\n"),
        # Each went upstream as it was, and came back "the upstream refused the token".
        (b"demo-token\nsecond line\n", f"holds more than a token: {NO_TOKEN}"),
        (b"demo-token:", f"holds more than a token: {NO_TOKEN}"),
    ],
)
def test_a_token_file_that_holds_no_token_is_refused_before_any_request(
    first_fake: ServerThread, tmp_path: Path, content: bytes, problem: str
) -> None:
    token_file = tmp_path / "token"
    token_file.write_bytes(content)
    code, _, err = run_cli(
        "record", "--upstream", first_fake.url, "--space", SPACE, "--id", "user_id:u1234",
        "--token-file", str(token_file), "-o", str(tmp_path / "never.yaml"),
    )  # fmt: skip
    assert (code, err) == (2, f"profilemock: error: --token-file {token_file} {problem}")
    assert first_fake.call(lambda state: len(state.journal)) == 0


def test_a_token_file_saved_with_a_byte_order_mark_is_read_without_it(
    first_fake: ServerThread, tmp_path: Path
) -> None:
    # Notepad's byte order mark went upstream as the token's first character: refused.
    token_file = tmp_path / "token"
    token_file.write_bytes(b"\xef\xbb\xbfdemo-token\r\n")
    code, _, err = run_cli(
        "record", "--upstream", first_fake.url, "--space", SPACE, "--id", "user_id:u1234",
        "--token-file", str(token_file), "-o", str(tmp_path / "recorded.yaml"),
    )  # fmt: skip
    assert code == 0, err


def test_an_output_that_cannot_be_written_is_told_before_any_request(
    first_fake: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was told after every profile was recorded, and the recording was lost."""
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    before = first_fake.call(lambda state: len(state.journal))
    for target, message in (
        (tmp_path / "missing" / "out.yaml", "the directory"),
        (tmp_path, "it is a directory"),
    ):
        code, out, err = run_cli(
            "record", "--upstream", first_fake.url, "--space", SPACE, "--id", "user_id:u1234",
            "-o", str(target),
        )  # fmt: skip
        assert (code, out) == (2, "")
        assert f"cannot write {target}: {message}" in err
    assert first_fake.call(lambda state: len(state.journal)) == before


@pytest.mark.parametrize("links", [["out.yaml"], ["out.yaml", "b.yaml"]])
def test_an_output_whose_links_lead_round_in_a_loop_is_refused_before_the_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, links: list[str]
) -> None:
    # It was a traceback, "RuntimeError: Symlink loop from …".
    for name, to in zip(links, [*links[1:], links[0]], strict=True):
        (tmp_path / name).symlink_to(to)
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    code, _, err = run_cli(
        "record", "--upstream", "http://127.0.0.1:9", "--space", SPACE, "--id", "user_id:u",
        "-o", str(tmp_path / "out.yaml"),
    )  # fmt: skip
    assert code == 2
    assert err.strip().endswith(
        f"cannot write {tmp_path / 'out.yaml'}: its symbolic links lead round in a loop"
    )


def test_writing_atomically_through_links_that_lead_round_in_a_loop_is_refused(
    tmp_path: Path,
) -> None:
    from profilemock.cli import CliError, _write_atomically

    (tmp_path / "out.yaml").symlink_to("out.yaml")
    with pytest.raises(CliError, match="its symbolic links lead round in a loop"):
        _write_atomically(tmp_path / "out.yaml", "spaces: {}\n")
    assert (tmp_path / "out.yaml").is_symlink()


def test_record_writes_a_symlinks_file_and_keeps_the_link(
    first_fake: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `generate -o` does: the link was replaced by a file of its own (and, as root,
    `-o /dev/stdout` would have replaced /dev/stdout with one)."""
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    (tmp_path / "real.yaml").write_text("old\n")
    link = tmp_path / "link.yaml"
    link.symlink_to("real.yaml")
    code, _, _ = run_cli(
        "record", "--upstream", first_fake.url, "--space", SPACE, "--id", "user_id:u1234",
        "-o", str(link),
    )  # fmt: skip
    assert code == 0
    assert link.is_symlink()
    assert (tmp_path / "real.yaml").read_text().startswith("# Recorded by profilemock record")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.yaml", "real.yaml"]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444], ids=oct)
def test_a_file_recorded_again_keeps_its_permissions(
    first_fake: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    """A recording kept private (`chmod 600`: real profiles) came back world-readable, the
    umask's 644, once recorded again: the file renamed into place was a new one."""
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    target = tmp_path / "out.yaml"
    target.write_text("old\n")
    target.chmod(mode)
    code, _, _ = run_cli(
        "record", "--upstream", first_fake.url, "--space", SPACE, "--id", "user_id:u1234",
        "-o", str(target),
    )  # fmt: skip
    assert code == 0
    assert target.read_text().startswith("# Recorded by profilemock record")
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.yaml"]


def test_record_writes_a_fifo_as_it_is(
    first_fake: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-o /dev/stdout`, a named pipe: a file was renamed over it (as root, over
    /dev/stdout itself), and its reader waited for ever."""
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    fifo = tmp_path / "out.yaml"
    os.mkfifo(fifo)
    read: list[str] = []

    def reader() -> None:
        with fifo.open() as f:
            read.append(f.read())

    reading = threading.Thread(target=reader, daemon=True)
    reading.start()
    code, _, _ = run_cli(
        "record", "--upstream", first_fake.url, "--space", SPACE, "--id", "user_id:u1234",
        "-o", str(fifo),
    )  # fmt: skip
    reading.join(10)
    assert code == 0
    assert read[0].startswith("# Recorded by profilemock record")
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["out.yaml"]


def _record_stopped(
    url: str, output: Path, patched: str, stop: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``record -o output`` of one user in a process that sends itself ``stop`` as it calls
    ``where.name`` (``patched`` imports ``where`` and sets ``name``)."""
    code = (
        f"import os, signal, sys\n{patched}"
        "real = getattr(where, name)\n"
        "def stopped(*args, **kwargs):\n"
        f"    os.kill(os.getpid(), signal.{stop})\n"
        "    return real(*args, **kwargs)\n"
        "setattr(where, name, stopped)\n"
        "from profilemock.cli import main\nsys.exit(main())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, "record", "--upstream", url, "--space", SPACE,
         "--id", "user_id:u1234", "-o", str(output)],
        env={**os.environ, "PROFILE_API_TOKEN": "demo-token"},
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_a_stop_while_a_fifo_waits_for_its_reader_ends_record(
    first_fake: ServerThread, tmp_path: Path
) -> None:
    """A pipe is written as standard output is: a stop is not held for it. A named pipe no
    one reads held the stop while record waited for its reader, and `timeout`, Ctrl-C or a
    CI job's SIGTERM never ended it (only SIGKILL)."""
    fifo = tmp_path / "out.yaml"
    os.mkfifo(fifo)  # no reader: opening it to write waits for ever
    patched = "from pathlib import Path\nwhere, name = Path, 'write_text'\n"
    done = _record_stopped(first_fake.url, fifo, patched, "SIGTERM", timeout=30)
    assert done.returncode == 143
    assert done.stderr.splitlines()[-1] == "profilemock: stopped (SIGTERM)"
    assert stat.S_ISFIFO(fifo.stat().st_mode)


@pytest.mark.parametrize(
    ("stop", "moment"),
    [
        ("SIGTERM", "writing"),
        ("SIGINT", "writing"),
        ("SIGHUP", "writing"),
        ("SIGTERM", "recording"),
    ],
)
def test_a_stop_while_the_file_is_written_waits_for_it_and_one_before_leaves_nothing(
    first_fake: ServerThread, tmp_path: Path, stop: str, moment: str
) -> None:
    """A stop as the recording was written left its hidden `.FILE.partial` (real profiles
    in it) beside the output, the recording lost; SIGTERM, without a word."""
    if moment == "writing":  # as the file is about to be renamed into place
        patched = "from pathlib import Path\nwhere, name = Path, 'replace'\n"
    else:
        patched = "import profilemock.contract.record as where\nname = 'record_profile'\n"
    target = tmp_path / "out.yaml"
    done = _record_stopped(first_fake.url, target, patched, stop, timeout=60)
    lines = [line for line in done.stderr.splitlines() if line]
    if moment == "recording":
        assert (done.returncode, lines) == (143, ["profilemock: stopped (SIGTERM)"])
        assert list(tmp_path.iterdir()) == []
        return
    assert [p.name for p in tmp_path.iterdir()] == ["out.yaml"]
    assert run_cli("check", str(target))[0] == 0
    if stop == "SIGHUP":  # ends the process as it would have, once the file is in place
        assert done.returncode == -signal.SIGHUP
        assert lines[-1].startswith("recorded 1 of 1 profiles (1 user and 1 account written")
    else:
        assert lines[-2].startswith("recorded 1 of 1 profiles (1 user and 1 account written")
        told = "Ctrl-C" if stop == "SIGINT" else "SIGTERM"
        assert lines[-1] == f"profilemock: stopped ({told})"
        assert done.returncode == (130 if stop == "SIGINT" else 143)


def test_a_stop_while_the_summary_waits_to_be_written_is_not_held(
    first_fake: ServerThread, tmp_path: Path
) -> None:
    """The summary was printed with the stops held: to a stderr no one reads (or a terminal
    paused with Ctrl-S), Ctrl-C and SIGTERM waited until that print returned. Here its
    write waits for a minute, as one to a full pipe would, after a SIGTERM."""
    target = tmp_path / "out.yaml"
    code = (
        "import os, signal, sys, threading\n"
        "class Stuck:\n"
        "    def __init__(self, real):\n"
        "        self.real = real\n"
        "    def write(self, text):\n"
        "        if text.startswith('recorded '):\n"
        "            os.kill(os.getpid(), signal.SIGTERM)\n"
        "            threading.Event().wait(60)\n"
        "        return self.real.write(text)\n"
        "    def __getattr__(self, name):\n"
        "        return getattr(self.real, name)\n"
        "sys.stderr = Stuck(sys.stderr)\n"
        "from profilemock.cli import main\nsys.exit(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "record", "--upstream", first_fake.url, "--space", SPACE,
         "--id", "user_id:u1234", "-o", str(target)],
        env={**os.environ, "PROFILE_API_TOKEN": "demo-token"},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 143
    assert done.stderr.splitlines()[-1] == "profilemock: stopped (SIGTERM)"
    assert [p.name for p in tmp_path.iterdir()] == ["out.yaml"]  # in place, whole
    assert run_cli("check", str(target))[0] == 0


def test_partial_files_a_killed_run_left_are_removed_never_a_running_ones(
    first_fake: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run ended by SIGKILL leaves its `.FILE.PID.partial`, and nothing removed it.
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead, alive = int(gone.stdout), os.getppid()
    # Killed, its parent yet to reap it (a container without an init): gone as well.
    zombie = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    zombie.kill()
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped
    left = [
        f".out.yaml.{dead}.partial",  # its run is gone: removed
        f".out.yaml.{zombie.pid}.partial",  # removed too
        f".out.yaml.{alive}.partial",  # its run may be writing: kept
        f".other.yaml.{dead}.partial",  # another file's: kept
        ".out.yaml.x1.partial",  # not one of ours: kept
    ]
    for name in left:
        (tmp_path / name).write_text("half a recording")
        os.utime(tmp_path / name, (time.time() - 61, time.time() - 61))  # a minute unwritten
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    code, _, _ = run_cli(
        "record", "--upstream", first_fake.url, "--space", SPACE, "--id", "user_id:u1234",
        "-o", str(tmp_path / "out.yaml"),
    )  # fmt: skip
    zombie.wait()
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.yaml", *left[2:]])


def test_a_partial_file_written_lately_is_kept_though_its_process_is_not_seen(
    first_fake: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run in another PID namespace (a container sharing the folder) is "no such process"
    # here: its partial file, still being written, was removed, and that run failed at
    # its end ("cannot write …: No such file or directory"), the recording lost.
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    writing = tmp_path / f".out.yaml.{int(gone.stdout)}.partial"
    writing.write_text("half a recording")
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    code, _, _ = run_cli(
        "record", "--upstream", first_fake.url, "--space", SPACE, "--id", "user_id:u1234",
        "-o", str(tmp_path / "out.yaml"),
    )  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.yaml", writing.name])


def test_two_runs_writing_one_file_each_put_theirs_in_place_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both wrote into one `.FILE.partial`: the second (here, while the first was half
    # written) filled it and renamed it into place, and the first wrote its second half
    # into the file now in place — half of each — then failed, "No such file or directory".
    from profilemock.cli import _write_atomically

    target = tmp_path / "recorded.yaml"
    other = "import pathlib, sys; from profilemock.cli import _write_atomically as w;"
    other += " w(pathlib.Path(sys.argv[1]), 'B' * 1000)"

    def written_in_two(self: Path, text: str, encoding: str | None = None) -> int:
        with open(self, "w", encoding=encoding) as file:
            file.write(text[:500])
            file.flush()
            subprocess.run([sys.executable, "-c", other, str(target)], check=True)
            file.write(text[500:])
        return len(text)

    monkeypatch.setattr(Path, "write_text", written_in_two)
    _write_atomically(target, "A" * 1000)
    assert target.read_text() == "A" * 1000
    assert [p.name for p in tmp_path.iterdir()] == ["recorded.yaml"]


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("too-deep", "the body cannot be used: nested deeper than 100 levels at line 1 column 110"),
        ("not-utf8", "answered a body that is not UTF-8 (byte 20)"),
    ],
)
def test_an_upstream_body_that_cannot_be_read_is_a_profile_not_recorded(
    upstream: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    case: str, problem: str,
) -> None:  # fmt: skip
    # Both were tracebacks: a RecursionError, and a UnicodeDecodeError reading the text.
    err = _not_recorded(upstream[1], tmp_path, monkeypatch, case)
    assert f"profilemock: not recorded: users user_id:{case}: " in err
    assert problem in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        (
            "gzip-gzip",
            "answered a body still content-coded: its Content-Encoding `gzip, gzip` was not"
            " undone, and it starts with gzip's magic bytes 1f 8b",
        ),
        ("gzip-twice", "answered a body still content-coded: it starts with gzip's magic bytes"),
        ("odd-coding", "answered a body still content-coded: its Content-Encoding `x-odd`"),
        # It was recorded with the last `traits`: a client keeping the first reads 5.
        (
            "repeated-key",
            "answered a body that breaks the contract at /traits: the key `traits` is given 2"
            " times in one object",
        ),
    ],
)
def test_an_upstream_body_still_content_coded_or_holding_a_key_twice_is_told_so(
    raw: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, problem: str
) -> None:
    # Each was "answered a body that is not UTF-8 (byte 2)".
    err = _not_recorded(raw, tmp_path, monkeypatch, case)
    assert (
        f"profilemock: not recorded: users user_id:{case}: GET"
        f" /v1/spaces/sp/collections/users/profiles/user_id:{case}/metadata {problem}"
    ) in err


@pytest.mark.parametrize("case", ["two-lengths", "nul-header", "bad-chunk-size", "not-http"])
def test_an_answer_that_is_not_well_formed_http_is_not_asked_again(raw: str, case: str) -> None:
    # Each was taken for a server error and asked 3 times more, waiting between: the same
    # bytes came back each time.
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    found = record(raw, "sp", "demo-token", [("users", f"user_id:{case}")], sleep=sleep)
    outcome = asyncio.run(found)
    assert waits == []
    [missing] = outcome.missing
    assert missing.startswith(
        f"users user_id:{case}: GET /v1/spaces/sp/collections/users/profiles/user_id:{case}"
        "/metadata failed: the upstream answered "
    ), missing
    assert "tries)" not in missing


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        (
            "chunked",
            "answered 200: the body is over the --max-body limit of 100,000 bytes (reading"
            " stopped there); raise it with --max-body SIZE, such as --max-body 1MB",
        ),
        (
            "declared",
            f"answered 200: the body is {FLOOD:,} bytes (its Content-Length), over the"
            " --max-body limit of 100,000 bytes",
        ),
    ],
)
def test_an_upstream_body_over_max_body_is_a_profile_not_recorded_unread_past_the_limit(
    flood: tuple[Flood, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    case: str, problem: str,
) -> None:  # fmt: skip
    flooding, url = flood
    err = _not_recorded(url, tmp_path, monkeypatch, case, "--max-body", "100kB")
    assert (
        f"profilemock: not recorded: users user_id:{case}: GET"
        f" /v1/spaces/sp/collections/users/profiles/user_id:{case}/metadata {problem}"
    ) in err
    assert flooding.sent.get(timeout=20) < FLOOD // 2  # not retried, not read to the end
    assert flooding.sent.empty()


def test_an_id_without_a_type_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_cli("record", "--region", "us", "--space", "s", "--id", "u1234")
    assert "`u1234` is not TYPE:VALUE" in capsys.readouterr().err


CURSORS = {
    # The next page named by cursor.url alone (the FAQ's cursor has no `next`).
    "next-in-url": {
        "traits": {"a": 1},
        "cursor": {"url": "{origin}/v1/x?next=b", "has_more": True},
    },
    "next-in-url?next=b": {"traits": {"b": 2}, "cursor": {"has_more": False}},
    # has_more, and a cursor.url that names no next page (one with no url and no next at
    # all breaks the contract: the schema tells it).
    "no-next": {
        "traits": {"a": 1},
        "cursor": {"url": "{origin}/v1/x", "has_more": True, "next": ""},
    },
    "same-next": {"traits": {"a": 1}, "cursor": {"url": "", "has_more": True, "next": "a"}},
    "same-next?next=a": {"traits": {"a": 1}, "cursor": {"url": "", "has_more": True, "next": "a"}},
}


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("next-in-url", None),
        # Recorded short, silently: the fixture then answered one trait of two.
        (
            "no-next",
            "users/profiles/user_id:no-next/traits: page 1 says has_more but its cursor gives"
            " no `next` (nor a cursor.url with one), so the rest of the list cannot be asked for",
        ),
        # Asked again and again, 100,000 times.
        (
            "same-next",
            "users/profiles/user_id:same-next/traits: page 2's cursor leads back to `next=a`,"
            " a page already read, so the list never ends",
        ),
    ],
)
def test_a_cursor_is_followed_to_its_end_or_its_fault_told(
    upstream: tuple[Upstream, str], monkeypatch: pytest.MonkeyPatch, case: str, problem: str | None
) -> None:
    import aiohttp

    from profilemock.contract.record import Client, ProfileFailed
    from tests.contract.conftest import DRIFTS

    drifting, url = upstream
    for name, body in CURSORS.items():
        text = json.dumps(body) if "{origin}" in json.dumps(body) else body
        monkeypatch.setitem(DRIFTS, name, (200, "application/json", text))

    async def traits() -> list[dict[str, Any]] | None:
        async with aiohttp.ClientSession() as session:
            client = Client(session, url, "sp", "t")
            return await client.pages(f"users/profiles/user_id:{case}/traits", [], "traits")

    if problem is None:
        pages = asyncio.run(traits())
        assert [page["traits"] for page in pages or []] == [{"a": 1}, {"b": 2}]
        return
    with pytest.raises(ProfileFailed) as failure:
        asyncio.run(traits())
    assert str(failure.value) == problem
    assert len(drifting.seen) <= 2


def test_a_profile_without_external_ids_is_reported_not_recorded(
    upstream: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It was left out of the file, silently: "recorded 1 of 1 profiles (0 users and 0
    # accounts written...)", exit code 0.
    from tests.contract.conftest import DRIFTS

    no_ids = {**EVERY_RESOURCE, "data": []}
    monkeypatch.setitem(DRIFTS, "no-ids", (200, "application/json", no_ids))
    err = _not_recorded(upstream[1], tmp_path, monkeypatch, "no-ids")
    assert (
        "profilemock: not recorded: users user_id:no-ids: its /external_ids lists none, and a"
        " fixture profile needs one"
    ) in err


TIME = "2026-01-01T00:00:00Z"
EVERY_RESOURCE = {  # one body every route of the drifting upstream answers with
    "segment_id": "use_x",
    "metadata": {"created_at": TIME, "updated_at": TIME},
    "traits": {"vip": {"value": True, "source_id": "s1", "updated_at": TIME}},  # any class
    "data": [
        {"id": "x", "type": "track", "source_id": "s1", "collection": "users", "created_at": TIME,
         "encoding": "none", "message_id": "m1", "timestamp": TIME, "event": "Signed Up",
         "to_collection": "accounts", "external_ids": []},
    ],
    "cursor": {"url": "", "has_more": False, "next": ""},
}  # fmt: skip


@pytest.mark.parametrize(
    ("case", "change", "problem"),
    [
        (
            "verbose-without-source",
            {"traits": {"vip": {"value": True}}},
            "traits?verbose=true&limit=200 answered a body that breaks the contract at"
            " /traits/vip: missing required field `source_id` [required]",
        ),
        (
            "time-that-is-none",
            {"data": [{**EVERY_RESOURCE["data"][0], "timestamp": "yesterday"}]},  # type: ignore[index]
            "events?limit=100 answered a body that breaks the contract at /data/0/timestamp:"
            ' "yesterday" is not a valid date-time [format]',
        ),
    ],
)
def test_a_body_out_of_contract_is_a_profile_not_recorded(
    upstream: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    case: str, change: dict[str, Any], problem: str,
) -> None:  # fmt: skip
    # A KeyError and a TimestampError traceback; a trait time that is none was written
    # into a file that did not load.
    from tests.contract.conftest import DRIFTS

    monkeypatch.setitem(DRIFTS, case, (200, "application/json", {**EVERY_RESOURCE, **change}))
    err = _not_recorded(upstream[1], tmp_path, monkeypatch, case)
    assert (
        f"profilemock: not recorded: users user_id:{case}: GET"
        f" /v1/spaces/sp/collections/users/profiles/user_id:{case}/{problem}"
    ) in err
    assert "Traceback" not in err


def test_a_404_that_is_not_the_apis_is_told_not_taken_for_a_profile_not_found(
    upstream: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A wrong --upstream (a web server's own 404 page) had every profile "not found (404)".
    from tests.contract.conftest import DRIFTS

    page = "<html>\n  <body>Not Found</body>\n</html>"
    monkeypatch.setitem(DRIFTS, "elsewhere", (404, "text/html", page))
    err = _not_recorded(upstream[1], tmp_path, monkeypatch, "elsewhere")
    assert (
        "profilemock: not recorded: users user_id:elsewhere: GET"
        " /v1/spaces/sp/collections/users/profiles/user_id:elsewhere/metadata answered 404"
        " without the API's error envelope, so not that the profile is not found (is"
        " --upstream the API's base URL?): <html> <body>Not Found</body> </html>\n"
    ) in err


def test_a_403_that_is_not_the_apis_is_told_not_taken_for_the_token_refused(
    upstream: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A corporate proxy's own page was "the upstream refused the token (403); check
    # PROFILE_API_TOKEN": the token was never seen by the API.
    from tests.contract.conftest import DRIFTS

    monkeypatch.setitem(DRIFTS, "blocked", (403, "text/html", "<h1>Blocked by policy</h1>"))
    err = _not_recorded(upstream[1], tmp_path, monkeypatch, "blocked")
    assert err == (
        "profilemock: error: GET /v1/spaces/sp/collections/users/profiles/user_id:blocked/metadata"
        " answered 403 without the API's error envelope, so not the API refusing the token (a"
        " proxy or firewall between?): <h1>Blocked by policy</h1>\n"
    )


def test_a_redirect_is_told_with_where_it_leads(
    upstream: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It said "GET …/metadata? answered 302: " (a `?` of no query, nothing after the colon).
    from tests.contract.conftest import ANSWER_HEADERS, DRIFTS

    monkeypatch.setitem(DRIFTS, "moved", (302, "text/plain", ""))
    monkeypatch.setitem(ANSWER_HEADERS, "moved", [("Location", "https://sso.example.com/login")])
    err = _not_recorded(upstream[1], tmp_path, monkeypatch, "moved")
    assert (
        "profilemock: not recorded: users user_id:moved: GET"
        " /v1/spaces/sp/collections/users/profiles/user_id:moved/metadata answered 302: a"
        " redirect to https://sso.example.com/login, not followed (the API answers in place)\n"
    ) in err


@pytest.mark.parametrize(
    ("case", "trait", "problem"),
    [
        ("empty-name", {"": True}, "sources/0/audiences/: an empty key name is not allowed here"),
        ("null-audience", {"vip": None}, "sources/0/audiences/vip: null is not true or false"),
    ],
)
def test_a_profile_no_fixture_can_hold_is_reported_not_recorded(
    upstream: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    case: str, trait: dict[str, Any], problem: str,
) -> None:  # fmt: skip
    # In the contract, so written into a file that did not load (`profilemock serve` of
    # it: "an empty key name is not allowed here"), "recorded 1 of 1 profiles", exit 0.
    from tests.contract.conftest import DRIFTS

    [(key, value)] = trait.items()
    traits = {key: {"value": value, "source_id": "s1", "updated_at": TIME}}
    monkeypatch.setitem(
        DRIFTS, case, (200, "application/json", {**EVERY_RESOURCE, "traits": traits})
    )
    err = _not_recorded(upstream[1], tmp_path, monkeypatch, case)
    assert (
        f"profilemock: not recorded: users user_id:{case}: no fixture can hold what the"
        f" upstream answered: users/0/{problem}\n"
    ) in err


def test_a_body_in_contract_with_fields_it_does_not_name_is_recorded(
    upstream: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.contract.conftest import DRIFTS

    body = {**EVERY_RESOURCE, "debug": {"shard": 7}}
    monkeypatch.setitem(DRIFTS, "extra", (200, "application/json", body))
    monkeypatch.setenv("PROFILE_API_TOKEN", "t")
    target = tmp_path / "recorded.yaml"
    _, url = upstream
    code, _, err = run_cli(
        "record", "--upstream", url, "--space", "sp", "--id", "user_id:extra", "-o", str(target)
    )
    assert (code, "not recorded" in err) == (0, False)
    assert load_fixtures([target], Clock()).spaces["sp"]


EVERY_CALL = """
spaces:
  calls:
    tokens: [calls-token]
    users:
      - ids: {user_id: caller, anonymous_id: anon-1, email: caller@example.com}
        events:
          - {event: Signed Up, timestamp: -6h, properties: {plan: pro}}
          - {type: identify, timestamp: -5h, traits: {email: caller@example.com}}
          - {type: page, name: Pricing, timestamp: -4h, properties: {path: /pricing}}
          - {type: screen, name: Home, timestamp: -3h}
          - {type: group, group_id: g1, timestamp: -2h, traits: {name: Acme}}
          - {type: alias, previous_id: anon-1, timestamp: -1h}
"""


def test_every_kind_of_call_is_recorded_with_its_own_fields_and_the_file_loads(
    tmp_path: Path,
) -> None:
    # A page, identify, screen, group or alias call was written `event: null` (no fixture
    # takes it: the recorded file failed `check`) and lost its name, traits or ids.
    before, after = _recorded_answers(
        tmp_path, EVERY_CALL, "calls", "calls-token", "user_id:caller", "events"
    )
    assert [e["type"] for e in before["data"]] == [
        "alias", "group", "screen", "page", "identify", "track"
    ]  # fmt: skip
    assert after == before


def _recorded_answers(
    tmp_path: Path, fixture: str, space: str, token: str, identifier: str, resource: str
) -> tuple[Any, Any]:
    """``resource`` of ``identifier`` as the fake serving ``fixture`` answers it, and as the
    fake serving what ``record`` wrote of it answers it."""
    source = tmp_path / "source.yaml"
    source.write_text(fixture)
    clock = Clock()
    first = ServerThread(create_app(load_fixtures([source], clock), clock, UNLIMITED)).start()
    try:
        outcome = asyncio.run(
            record(
                first.url,
                space,
                token,
                [("users", identifier)],
                progress=Progress(io.StringIO(), 1),
            )
        )
        assert outcome.missing == []
        path = tmp_path / "recorded.yaml"
        document = to_fixture(outcome, space, fixture_token=token)
        path.write_text(dump_yaml(document, header=""), encoding="utf-8")
        second = serve_file(path)
        try:
            url = f"/v1/spaces/{space}/collections/users/profiles/{identifier}/{resource}"
            before = requests.get(first.url + url, auth=(token, ""), timeout=10).json()
            after = requests.get(second.url + url, auth=(token, ""), timeout=10).json()
        finally:
            second.stop()
    finally:
        first.stop()
    return before, after


CARRIED = """
spaces:
  carried:
    tokens: [carried-token]
    users:
      - ids: {user_id: server-side, anonymous_id: [anon-1, anon-2]}
        events:
          - {event: Order Completed, timestamp: -3h, external_ids: {user_id: server-side}}
          - {event: Page Viewed, timestamp: -2h, external_ids: {anonymous_id: anon-2}}
          - {type: identify, timestamp: -1h, external_ids: {anonymous_id: [anon-1, anon-2]}}
"""


def test_the_ids_each_message_carried_are_recorded(tmp_path: Path) -> None:
    # They were left out: each event was served with what its call would carry (the
    # user_id and the first anonymous_id), whatever the upstream had said.
    before, after = _recorded_answers(
        tmp_path, CARRIED, "carried", "carried-token", "user_id:server-side", "events"
    )
    assert [[x["id"] for x in e["external_ids"]] for e in before["data"]] == [
        ["anon-1", "anon-2"], ["anon-2"], ["server-side"]
    ]  # fmt: skip
    assert after == before


def test_an_id_a_message_carried_that_the_profile_no_longer_has_is_recorded(
    tmp_path: Path,
) -> None:
    # Left out (no fixture could name it): the replay listed one id fewer for the event.
    fixture = CARRIED.replace(
        "external_ids: {anonymous_id: anon-2}}",
        "external_ids: {anonymous_id: [anon-0, anon-2], user_id: earlier-id}}",
    )
    before, after = _recorded_answers(
        tmp_path, fixture, "carried", "carried-token", "user_id:server-side", "events"
    )
    assert [[x["id"] for x in e["external_ids"]] for e in before["data"]] == [
        ["anon-1", "anon-2"], ["anon-0", "anon-2", "earlier-id"], ["server-side"]
    ]  # fmt: skip
    assert after == before


def test_an_id_whose_first_message_is_null_is_recorded_so(tmp_path: Path) -> None:
    # It was left out, and the recording served the oldest event's message id instead.
    fixture = CARRIED.replace(
        "anon-1, anon-2]}", "{id: anon-1, first_message_id: null}, anon-2]}", 1
    )
    before, after = _recorded_answers(
        tmp_path, fixture, "carried", "carried-token", "user_id:server-side", "external_ids"
    )
    [anon_1] = [x for x in before["data"] if x["id"] == "anon-1"]
    assert anon_1["first_message_id"] is None
    assert after == before


@pytest.mark.parametrize(
    ("flag", "value", "problem"),
    [
        ("--fixture-token", "", "`` is not a token (no `:` and no spaces)"),
        ("--fixture-token", "a b", "`a b` is not a token (no `:` and no spaces)"),
        ("--space", "a/b", "`a/b` is not a space id (letters, digits, `_` and `-`)"),
    ],
)
def test_a_space_or_fixture_token_no_fixture_can_hold_is_refused_before_any_request(
    capsys: pytest.CaptureFixture[str], flag: str, value: str, problem: str
) -> None:
    # The token was written into a file that failed `check`; `--space a/b` went upstream
    # and came back as "the upstream refused the token (401)".
    from profilemock.cli import parser

    args = ["record", "--region", "us", "--space", "s", "--id", "user_id:u", flag, value]
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(args)
    assert exited.value.code == 2
    assert f"argument {flag}: {problem}" in capsys.readouterr().err


def _not_recorded(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, *flags: str
) -> str:
    """``record`` of ``user_id:<case>`` from the upstream at ``url`` into a file, which
    fails (exit 2) and writes no file; what it said on stderr."""
    monkeypatch.setenv("PROFILE_API_TOKEN", "t")
    target = tmp_path / "never.yaml"
    code, _, err = run_cli(
        "record", "--upstream", url, "--space", "sp", "--id", f"user_id:{case}", *flags,
        "-o", str(target),
    )  # fmt: skip
    assert code == 2
    assert not target.exists()
    return err
