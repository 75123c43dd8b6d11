"""Realism switches: what the real API does only sometimes, turned on from every source.

Each test names the source of the behaviour it makes the fake reproduce.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from yarl import URL

from profilemock.cli import main
from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.mockserver.app import STATE, create_app
from profilemock.mockserver.serving import ServerThread
from profilemock.mockserver.state import ServerSettings
from profilemock.problems import FixtureError
from profilemock.realism import Realism, RealismError, parse_spec, short_page
from profilemock.testing import ProfileAPI
from profilemock.timeutil import LATEST_NS
from tests.conftest import (
    DEMO_TOKEN,
    NOW,
    Client,
    ClientFactory,
    WriteFixture,
    basic,
    profile_path,
    refused,
)

AUTH = basic(DEMO_TOKEN)
DATA = Path(__file__).resolve().parent.parent / "data"

FIXTURE = """
now: 2026-06-15T12:00:00Z
realism: {short_pages: true}
spaces:
  sp:
    tokens: [tok]
    users:
      - ids: {user_id: many}
        traits: {t00: 0, t01: 1, t02: 2, t03: 3, t04: 4, t05: 5, t06: 6, t07: 7, t08: 8,
                 t09: 9, t10: 10, t11: 11, t12: 12, t13: 13, t14: 14, t15: 15, t16: 16,
                 t17: 17, t18: 18, t19: 19, t20: 20}
        events:
          - {event: Seen, timestamp: -1h, repeat: {count: 12, every: 1m}}
"""
MANY = "/v1/spaces/sp/collections/users/profiles/user_id:many"


def served(clock: Clock | None = None, **settings: Any) -> Any:
    clock = Clock(NOW) if clock is None else clock
    return create_app(
        load_fixtures([demo_fixture_path()], clock), clock, ServerSettings(**settings)
    )


async def get(client: Client, path: str, headers: dict[str, str] = AUTH) -> Any:
    response = await client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


def local(url: str) -> str:
    """A cursor URL as a path for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


# -- short pages ---------------------------------------------------------------------------


def test_a_short_page_is_four_fifths_of_the_limit() -> None:
    # Source: the real quickstart capture (tests/data/segdocs_traits_quickstart_200.json):
    # 8 traits for limit 10, with has_more true.
    capture = json.loads((DATA / "segdocs_traits_quickstart_200.json").read_text())
    assert capture["cursor"]["has_more"] is True
    assert short_page(capture["cursor"]["limit"]) == len(capture["traits"]) == 8
    assert [short_page(n) for n in (1, 2, 5, 25, 200)] == [1, 1, 4, 20, 160]


async def test_short_pages_keep_has_more_and_still_page_through_everything(
    serve_yaml: Any,
) -> None:
    client = await serve_yaml(FIXTURE)  # the fixture turns the switch on
    auth = basic("tok")
    first = await get(client, f"{MANY}/traits?limit=10", auth)
    assert len(first["traits"]) == 8
    assert first["cursor"]["has_more"] is True
    assert first["cursor"]["limit"] == 10
    seen = list(first["traits"])
    url = first["cursor"]["url"]
    while url:
        page = await get(client, local(url), auth)
        seen += list(page["traits"])
        url = page["cursor"]["url"]
    assert seen == [f"t{n:02d}" for n in range(21)]
    events = await get(client, f"{MANY}/events?limit=5", auth)
    assert len(events["data"]) == 4
    assert events["cursor"]["has_more"] is True


# -- gateway errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "text"),
    [
        ("html", "text/html", "<h1>502 Bad Gateway</h1>"),
        ("empty", None, ""),
    ],
)
async def test_gateway_errors_are_not_json_when_switched_on(
    aiohttp_client: ClientFactory, body: str, content_type: str | None, text: str
) -> None:
    # Source: the reference lists 502, 503, 504 as server errors; the balancers in front of
    # an API answer them with their own HTML or empty pages, not the API's envelope.
    client = await aiohttp_client(
        served(realism={"gateway_errors": body}, faults=[{"route": "traits", "status": 502}])
    )
    response = await client.get(profile_path("user_id:u1234", "traits"), headers=AUTH)
    assert response.status == 502
    assert response.headers.get("Content-Type", "").split(";")[0] == (content_type or "")
    assert text in await response.text()
    assert text or await response.read() == b""
    with pytest.raises(json.JSONDecodeError):
        json.loads(await response.text())


async def test_gateway_errors_leave_other_statuses_and_custom_bodies_alone(
    aiohttp_client: ClientFactory,
) -> None:
    faults = [
        {"route": "traits", "status": 500},
        {"route": "events", "status": 503, "body": {"error": {"code": "x", "message": "y"}}},
    ]
    client = await aiohttp_client(served(realism={"gateway_errors": "html"}, faults=faults))
    traits = await client.get(profile_path("user_id:u1234", "traits"), headers=AUTH)
    assert (await traits.json())["error"]["code"] == "internal_error"
    events = await client.get(profile_path("user_id:u1234", "events"), headers=AUTH)
    assert (await events.json())["error"]["code"] == "x"


async def test_injected_gateway_errors_are_json_by_default(aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(served(faults=[{"route": "traits", "status": 504}]))
    response = await client.get(profile_path("user_id:u1234", "traits"), headers=AUTH)
    assert (await response.json())["error"]["code"] == "internal_error"


# -- data: null for empty lists ------------------------------------------------------------


async def test_empty_lists_answer_data_null_when_switched_on(aiohttp_client: ClientFactory) -> None:
    # Source: /events answers "data": null when empty (ethyca/fides tests depend on it);
    # whether external_ids and links do the same is unknown, so a consumer should survive
    # both. The fake's strict contract check (on in this suite) accepts it only here.
    client = await aiohttp_client(served(realism={"null_lists": True}))
    ids = await get(client, profile_path("user_id:u1234", "external_ids") + "?include=ios.idfa")
    assert ids["data"] is None
    links = await get(client, profile_path("user_id:5550000001", "links"))
    assert links["data"] is None
    full = await get(client, profile_path("user_id:u1234", "external_ids"))
    assert full["data"]


async def test_empty_lists_are_lists_by_default(aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(served())
    ids = await get(client, profile_path("user_id:u1234", "external_ids") + "?include=ios.idfa")
    assert ids["data"] == []


# -- propagation delay ---------------------------------------------------------------------


async def test_changes_become_visible_after_the_propagation_delay(
    aiohttp_client: ClientFactory,
) -> None:
    # Source: the issue's audit — profile updates reach the real API after seconds; inferred,
    # not documented. The delay runs on the server's clock, so no test sleeps.
    app = served(realism={"propagation_delay": "5s"})
    client = await aiohttp_client(app)
    upsert = await client.put(
        "/__admin/spaces/lg8283283/collections/users/profiles",
        json={"ids": {"user_id": "fresh"}, "traits": {"plan": "pro"}},
    )
    assert upsert.status == 201
    traits = profile_path("user_id:fresh", "traits")
    missed = await client.get(traits, headers=AUTH)
    assert missed.status == 404
    # It had no hint: a test that read the profile at once saw a 404 with no reason.
    assert missed.headers["Profilemock-Hint"] == (
        "`user_id:fresh` exists in `users`, but the change that made it reaches the API only"
        " after the propagation delay (the `propagation_delay` realism switch): it shows once"
        " the server's clock, which is frozen, is advanced 5s"
    )
    # The admin side sees what was written at once: events can be appended right away.
    appended = await client.post(
        "/__admin/spaces/lg8283283/collections/users/profiles/user_id:fresh/events",
        json={"events": [{"event": "Signed Up", "timestamp": "-1m"}]},
    )
    assert appended.status == 201
    await client.post("/__admin/clock/advance", json={"by": "4s"})
    missed = await client.get(traits, headers=AUTH)
    assert missed.status == 404
    assert missed.headers["Profilemock-Hint"].endswith("is advanced 1s")
    await client.post("/__admin/clock/advance", json={"by": "1s"})
    assert (await get(client, traits))["traits"] == {"plan": "pro"}
    events = await get(client, profile_path("user_id:fresh", "events"))
    assert [e["event"] for e in events["data"]] == ["Signed Up"]


async def test_a_pinned_clock_lets_changes_propagate_as_time_passes(
    aiohttp_client: ClientFactory,
) -> None:
    """``serve --now`` pins the date, not time: a change shows once the delay has passed
    (on a frozen clock nobody advances it never would)."""
    real = [10**18]
    client = await aiohttp_client(
        served(Clock.pinned_at(NOW, source=lambda: real[0]), realism={"propagation_delay": "5s"})
    )
    await client.delete("/__admin/spaces/lg8283283/collections/users/profiles/user_id:u1234")
    traits = profile_path("user_id:u1234", "traits")
    real[0] += 4 * 10**9
    assert (await client.get(traits, headers=AUTH)).status == 200
    real[0] += 10**9
    assert (await client.get(traits, headers=AUTH)).status == 404


@pytest.mark.parametrize(
    ("pinned", "start", "when"),
    [
        (False, 10**18, "in 3s, at 2001-09-09T01:46:45Z on the server's clock"),
        (True, 10**18, "in 3s (the clock's date is pinned; its time runs)"),
        # The clock stops at the end of year 9999: "at 10000-01-01T00:00:02.1Z" it never
        # reads (nor could any RFC 3339 timestamp).
        (False, LATEST_NS - 10**9, "in 3s, at 9999-12-31T23:59:59.999999999Z on the server's clock"),
    ],
)  # fmt: skip
async def test_a_profile_not_visible_yet_says_when_it_shows(
    aiohttp_client: ClientFactory, pinned: bool, start: int, when: str
) -> None:
    real = [start]
    clock = Clock.pinned_at(NOW if pinned else None, source=lambda: real[0])
    client = await aiohttp_client(served(clock, realism={"propagation_delay": "5s"}))
    added = await client.put(
        "/__admin/spaces/lg8283283/collections/users/profiles", json={"ids": {"user_id": "new"}}
    )
    assert added.status == 201
    real[0] += 2 * 10**9 + 123  # told in tenths of a second: 2.999999877s left is 3s
    missed = await client.get(profile_path("user_id:new", "traits"), headers=AUTH)
    assert missed.status == 404
    assert missed.headers["Profilemock-Hint"].endswith(f": it shows {when}")
    # A profile no change makes has no such hint.
    other = await client.get(profile_path("user_id:none", "traits"), headers=AUTH)
    assert "Profilemock-Hint" not in other.headers


async def frozen_and_delayed(aiohttp_client: ClientFactory, delay: str) -> tuple[Any, str]:
    """A client of a server whose changes show ``delay`` later, its clock frozen; the admin
    path of the demo space's users."""
    client = await aiohttp_client(served(realism={"propagation_delay": delay}))
    await client.post("/__admin/clock/freeze")
    return client, "/__admin/spaces/lg8283283/collections/users/profiles"


async def test_a_profile_added_then_deleted_while_propagating_gets_no_coming_hint(
    aiohttp_client: ClientFactory,
) -> None:
    """Said to exist and show once the frozen clock moved 5s: the delete, made at the same
    time, shows with the add, and the API never sees it."""
    client, profiles = await frozen_and_delayed(aiohttp_client, "5s")
    await client.put(profiles, json={"ids": {"user_id": "brief"}})
    assert (await client.delete(f"{profiles}/user_id:brief")).status == 200
    missed = await client.get(profile_path("user_id:brief", "traits"), headers=AUTH)
    assert missed.status == 404
    assert "propagation" not in missed.headers.get("Profilemock-Hint", "")
    # Added again a second later: it shows 5s after that, not 4s (when the first add did).
    await client.post("/__admin/clock/advance", json={"by": "1s"})
    await client.put(profiles, json={"ids": {"user_id": "brief"}})
    again = await client.get(profile_path("user_id:brief", "traits"), headers=AUTH)
    assert again.headers["Profilemock-Hint"].endswith("which is frozen, is advanced 5s")
    await client.post("/__admin/clock/advance", json={"by": "5s"})
    shown = await client.get(profile_path("user_id:brief", "traits"), headers=AUTH)
    assert shown.status == 200


async def test_a_change_behind_one_made_under_a_longer_delay_says_when_it_shows(
    aiohttp_client: ClientFactory,
) -> None:
    """Changes show in the order made: one made after the delay was cut to 5s waits for the
    one made under 1h, and its hint said 5s."""
    client, profiles = await frozen_and_delayed(aiohttp_client, "1h")
    await client.put(profiles, json={"ids": {"user_id": "first"}})
    await client.patch("/__admin/realism", json={"propagation_delay": "5s"})
    await client.put(profiles, json={"ids": {"user_id": "second"}})
    missed = await client.get(profile_path("user_id:second", "traits"), headers=AUTH)
    assert missed.headers["Profilemock-Hint"].endswith("which is frozen, is advanced 1h")
    await client.post("/__admin/clock/advance", json={"by": "5s"})
    still = await client.get(profile_path("user_id:second", "traits"), headers=AUTH)
    assert still.status == 404
    assert still.headers["Profilemock-Hint"].endswith("which is frozen, is advanced 59m55s")


async def test_a_date_set_back_does_not_hold_a_change_back(
    aiohttp_client: ClientFactory,
) -> None:
    """The delay is time passed, not the date: a pinned date moved a year back kept a change
    hidden for a year."""
    real = [10**18]
    client = await aiohttp_client(
        served(Clock.pinned_at(NOW, source=lambda: real[0]), realism={"propagation_delay": "5s"})
    )
    await client.delete("/__admin/spaces/lg8283283/collections/users/profiles/user_id:u1234")
    await client.post("/__admin/clock/pin", json={"at": "2025-06-15T12:00:00Z"})
    traits = profile_path("user_id:u1234", "traits")
    assert (await client.get(traits, headers=AUTH)).status == 200
    real[0] += 5 * 10**9
    assert (await client.get(traits, headers=AUTH)).status == 404


async def test_a_reset_drops_changes_still_propagating(aiohttp_client: ClientFactory) -> None:
    app = served(realism={"propagation_delay": "5s"})
    client = await aiohttp_client(app)
    await client.delete("/__admin/spaces/lg8283283/collections/users/profiles/user_id:u1234")
    await client.post("/__admin/reset")
    await client.post("/__admin/clock/advance", json={"by": "10s"})
    assert (await client.get(profile_path("user_id:u1234", "traits"), headers=AUTH)).status == 200


async def test_turning_the_delay_off_shows_every_pending_change(
    aiohttp_client: ClientFactory,
) -> None:
    client = await aiohttp_client(served(realism={"propagation_delay": "1h"}))
    await client.delete("/__admin/spaces/lg8283283/collections/users/profiles/user_id:u1234")
    traits = profile_path("user_id:u1234", "traits")
    assert (await client.get(traits, headers=AUTH)).status == 200
    await client.patch("/__admin/realism", json={"propagation_delay": None})
    assert (await client.get(traits, headers=AUTH)).status == 404


# -- unescaped special characters ----------------------------------------------------------


async def test_an_unescaped_special_character_answers_500_when_switched_on(
    aiohttp_client: ClientFactory,
) -> None:
    # Source: the Profile API doc's callout (2025): a value "with a non-alphanumeric
    # character" may make the API "respond with `500` error"; escaped, it answers 200.
    client = await aiohttp_client(served(realism={"unescaped_500": True}))
    raw = "/v1/spaces/lg8283283/collections/users/profiles/email:avid.reader@example.com/traits"
    response = await client.get(raw, headers=AUTH)
    assert response.status == 500
    assert await response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on Segment's side."}
    }
    assert "`@`" in response.headers["Profilemock-Hint"]
    assert "%40" in response.headers["Profilemock-Hint"]
    # yarl would decode %40 back to @ (both are valid in a path): send the bytes as written.
    origin = str(client.make_url("/")).rstrip("/")
    escaped = URL(origin + raw.replace("@", "%40"), encoded=True)
    assert (await client.session.get(escaped, headers=AUTH)).status == 200
    # Unreserved characters need no escaping; a plain id passes.
    assert (await client.get(profile_path("user_id:u1234", "traits"), headers=AUTH)).status == 200
    assert app_errors(client) == []


async def test_unescaped_characters_are_fine_by_default(aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(served())
    raw = "/v1/spaces/lg8283283/collections/users/profiles/email:avid.reader@example.com/traits"
    assert (await client.get(raw, headers=AUTH)).status == 200


def app_errors(client: Client) -> list[BaseException]:
    return client.app[STATE].errors


# -- one mechanism, every source -----------------------------------------------------------


def test_switches_parse_from_specs_and_dicts_with_clear_errors() -> None:
    assert parse_spec("short_pages") == {"short_pages": True}
    assert parse_spec("gateway_errors") == {"gateway_errors": "html"}
    assert parse_spec("propagation_delay=2s") == {"propagation_delay": "2s"}
    assert parse_spec("null_lists=off") == {"null_lists": False}
    realism = Realism().changed({"propagation_delay": "2s", "gateway_errors": "empty"})
    assert realism.propagation_delay == 2_000_000_000
    assert realism.as_dict()["propagation_delay"] == "2s"
    # Written as every duration is (timeutil.format_duration): it said 1500ms and 3600s.
    for given, shown in (("1500ms", "1.5s"), ("60m", "1h"), ("150ms", "150ms")):
        changed = Realism().changed({"propagation_delay": given})
        assert changed.as_dict()["propagation_delay"] == shown
    refused: list[tuple[dict[Any, Any], str]] = [
        (
            {"short_page": True},
            "unknown switch `short_page`; switches are short_pages, .*; did you mean `short_pages`",
        ),
        # A TypeError: "'int' object is not iterable" (configure's realism, the marker's).
        ({1: True}, "unknown switch `1`; switches are short_pages, "),
        ({"short_pages": "yes"}, "`short_pages` is true or false"),
        ({"gateway_errors": "xml"}, r"`gateway_errors` is html, empty, true \(html\) or false"),
        ({"propagation_delay": "soon"}, "`propagation_delay` is a duration"),
    ]
    for bad, message in refused:
        with pytest.raises(RealismError, match=message):
            Realism().changed(bad)
    with pytest.raises(RealismError, match="unknown switch `slow`"):
        parse_spec("slow")
    with pytest.raises(RealismError, match=r"`shortpages`.*; did you mean `short_pages`\?$"):
        parse_spec("shortpages")


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("short_pages=maybe", '`short_pages` is true or false, got "maybe"'),
        ("propagation_delay=on", "`propagation_delay` is a duration such as 2s or 500ms, got true"),
        (
            "gateway_errors=xml",
            '`gateway_errors` is html, empty, true (html) or false (off), got "xml"',
        ),
    ],
)
def test_a_flags_bad_value_is_told_with_the_flag_and_as_json_writes_it(
    spec: str, problem: str
) -> None:
    # `--realism propagation_delay=on` said "got `True`", a Python word, without the flag.
    with pytest.raises(RealismError) as raised:
        parse_spec(spec)
    assert str(raised.value) == f"--realism `{spec}`: {problem}"


def test_gateway_errors_on_is_gateway_errors_alone() -> None:
    for spec in ("gateway_errors", "gateway_errors=true", "gateway_errors=on"):
        assert Realism().changed(parse_spec(spec)).gateway_errors == "html"
    assert Realism().changed(parse_spec("gateway_errors=off")).gateway_errors is None


async def test_gateway_errors_true_is_html_wherever_switches_are_given(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    # `--realism gateway_errors=true` was on, while the fixtures' `gateway_errors: true`,
    # the admin API's and the marker's were refused.
    path = tmp_path / "f.yaml"
    path.write_text(
        "realism: {gateway_errors: true}\nspaces: {sp: {tokens: [t], users: [{ids: {user_id: u}}]}}\n"
    )
    clock = Clock(NOW)
    client = await aiohttp_client(create_app(load_fixtures([path], clock), clock))
    body = await (await client.get("/__admin/realism")).json()
    assert body["realism"]["gateway_errors"] == "html"
    await client.patch("/__admin/realism", json={"gateway_errors": False})
    changed = await client.patch("/__admin/realism", json={"gateway_errors": True})
    assert (await changed.json())["realism"]["gateway_errors"] == "html"


async def test_admin_api_reads_and_changes_switches_and_reset_restores_them(
    aiohttp_client: ClientFactory,
) -> None:
    client = await aiohttp_client(served(realism={"short_pages": True}))
    body = await (await client.get("/__admin/realism")).json()
    assert body["realism"]["short_pages"] is True
    changed = await client.patch("/__admin/realism", json={"null_lists": True})
    assert (await changed.json())["realism"]["null_lists"] is True
    bad = await client.patch("/__admin/realism", json={"null_list": True})
    assert bad.status == 400
    assert (
        "unknown field `null_list`; allowed here: gateway_errors,"
        in (await bad.json())["error"]["message"]
    )
    too_slow = await client.patch("/__admin/realism", json={"propagation_delay": "2h"})
    assert too_slow.status == 422
    # As the schema's refusals name a field (was "realism: `propagation_delay` may be …").
    assert (await too_slow.json())["error"]["message"] == (
        "body field `/propagation_delay`: may be at most 1h"
    )
    await client.post("/__admin/reset")
    body = await (await client.get("/__admin/realism")).json()
    assert body["realism"] == {**Realism().as_dict(), "short_pages": True}


def test_fixture_switches_are_checked_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("spaces:\n  sp:\n    tokens: [t]\nrealism:\n  short_pages: maybe\n")
    with pytest.raises(FixtureError) as info:
        load_fixtures([path], Clock(NOW))
    assert f"{path}:5" in str(info.value)


def test_serve_flag_turns_switches_on_and_rejects_unknown_ones() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["serve", "--port", "0", "--realism", "nope"], stdout=out, stderr=err)
    assert code == 2
    assert "unknown switch `nope`" in err.getvalue()
    code = main(["serve", "--port", "0", "--realism", "short_pages=1"], stdout=out, stderr=err)
    assert code == 2
    assert err.getvalue().endswith(
        'profilemock: error: --realism `short_pages=1`: `short_pages` is true or false, got "1"\n'
    )


def test_the_handle_and_marker_options_switch_for_one_test_only() -> None:
    with ServerThread(served()) as server:
        handle = ProfileAPI(server)
        handle.configure(realism={"unescaped_500": True})
        url = f"{server.url}/v1/spaces/lg8283283/collections/users/profiles/email:avid.reader@example.com/traits"
        assert requests.get(url, auth=handle.auth, timeout=5).status_code == 500
        assert handle.realism(unescaped_500=False)["unescaped_500"] is False
        assert requests.get(url, auth=handle.auth, timeout=5).status_code == 200
        handle.realism(short_pages=True)
        handle.reset()
        assert handle.realism()["short_pages"] is False


@pytest.mark.parametrize(
    ("realism", "said"),
    [
        (
            "short_pages",
            '"short_pages" is not an object: `realism` is a mapping of switches, not --realism'
            ' specs: written as one, {"short_pages": true}',
        ),
        (
            "[short_pages, gateway_errors=empty]",
            '["short_pages", "gateway_errors=empty"] is not an object: `realism` is a mapping'
            ' of switches, not --realism specs: written as one, {"short_pages": true,'
            ' "gateway_errors": "empty"}',
        ),
        (
            "[shortpages]",
            '["shortpages"] is not an object: `realism` is a mapping of switches, such as'
            ' {"short_pages": true}',
        ),
    ],
    ids=["spec", "specs", "no-spec"],
)
def test_fixture_realism_written_as_specs_is_shown_as_the_mapping_they_mean(
    write_fixture: WriteFixture, realism: str, said: str
) -> None:
    # It said only "is not an object".
    assert refused(write_fixture, f"spaces: {{sp: {{tokens: [t]}}}}\nrealism: {realism}\n") == [
        f"F:2:1: {said}"
    ]
