"""Live mode: the same consumer tests against a "real API" (a local fake) through the proxy.

Every run here is a pytester run against a local upstream on 127.0.0.1, port 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

import pytest
import requests

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.live import LiveClock, LiveProfileAPI, LiveProxy, LiveSettings, NeedsFake
from profilemock.mockserver.app import create_app
from profilemock.mockserver.serving import ServerThread
from profilemock.mockserver.state import ServerSettings
from profilemock.testing import ClockHandle, ProfileAPIError
from tests.contract.conftest import FLOOD, Flood

# The same consumer tests, run with and without --profile-api-live.
CONSUMER_TESTS = """
import pytest
import requests


def read_plan(profile_api, identifier):
    response = requests.get(
        profile_api.profile_url(identifier, "traits"), auth=profile_api.auth, timeout=10
    )
    return response.status_code, response.json()


def test_reads_traits(profile_api):
    status, body = read_plan(profile_api, "user_id:u1234")
    assert status == 200
    assert "first_name" in body["traits"]
    profile_api.assert_called("traits", identifier="user_id:u1234", times=1)


def test_unknown_profile_is_404(profile_api):
    assert read_plan(profile_api, "user_id:nobody")[0] == 404


def test_adds_a_user(profile_api):
    profile_api.add_user({"user_id": "new"}, traits={"plan": "pro"})
    assert read_plan(profile_api, "user_id:new")[0] == 200


def test_moves_the_clock(profile_api):
    profile_api.clock.advance("1d")


@pytest.mark.profile_api(faults=["traits:429:times=1"])
def test_retries_after_a_429(profile_api):
    assert read_plan(profile_api, "user_id:u1234")[0] == 429


@pytest.mark.profile_api(live=False)
def test_needs_the_fake(profile_api):
    profile_api.rate_limit(1)


def test_code_that_swallows_a_drifted_answer(profile_api):
    try:
        read_plan(profile_api, "user_id:drifting")
    except Exception:
        pass
"""
INI = (
    "[pytest]\naddopts = -p no:cacheprovider -p no:schemathesis -p no:hypothesispytest\n"
    "asyncio_default_fixture_loop_scope = function\n"
)
DRIFT = {
    "route": "traits",
    "identifier": "user_id:drifting",
    "status": 200,
    "body": {"traits": ["plan"], "cursor": {"url": "", "has_more": False, "next": ""}},
}


def line_of(text: str) -> int:
    """The line of the consumer tests' file holding ``text`` (pytester writes them stripped)."""
    lines = CONSUMER_TESTS.strip().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


@pytest.fixture
def real_api() -> Iterator[ServerThread]:
    """The "real API": the demo fake, told to answer one profile out of contract."""
    clock = Clock()
    store = load_fixtures([demo_fixture_path()], clock)
    server = ServerThread(create_app(store, clock, ServerSettings(rate_limit=None))).start()
    server.call(lambda state: state.faults.add(DRIFT))
    yield server
    server.stop()


def test_one_live_run_passes_skips_mutations_and_fails_on_violations(
    pytester: pytest.Pytester, real_api: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    pytester.makeini(INI)
    pytester.makepyfile(test_consumer=CONSUMER_TESTS)
    result = pytester.runpytest(
        "--profile-api-live",
        "--profile-api-url",
        real_api.url,
        "--profile-api-space",
        "lg8283283",
        "-rsf",
    )
    result.assert_outcomes(passed=2, skipped=4, failed=1)
    # Each skip is told at the test's line (the call's, or the test's own for the marker):
    # those of a call were told at profilemock/live.py's, the same for every test.
    result.stdout.fnmatch_lines(
        [
            f"SKIPPED [[]1[]] test_consumer.py:{line_of('profile_api.add_user(')}: live mode:"
            " `add_user` needs the fake*",
            f"SKIPPED [[]1[]] test_consumer.py:{line_of('profile_api.clock.advance(')}: live"
            " mode: `clock.advance` needs the fake*",
            f"SKIPPED [[]1[]] test_consumer.py:{line_of('profile_api(faults=')}: live"
            " mode: the profile_api marker's `faults=` configures the fake*",
            f"SKIPPED [[]1[]] test_consumer.py:{line_of('profile_api(live=False)')}: needs the"
            " fake (@pytest.mark.profile_api(live=False)); live mode is on",
        ]
    )
    assert not [line for line in result.outlines if "SKIPPED" in line and "live.py" in line]
    result.stdout.fnmatch_lines(
        [
            "*ProfileAPIError: the real API's answers broke the contract (1 violation):",
            "*GET /v1/spaces/lg8283283/collections/users/profiles/user_id:drifting/traits"
            " (traits) -> 200: /traits: * [[]type[]]",
            "FAILED test_consumer.py::test_code_that_swallows_a_drifted_answer*",
        ]
    )
    assert "demo-token" not in result.stdout.str()


def test_the_same_tests_pass_against_the_fake(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_consumer=CONSUMER_TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=7)


def test_live_mode_says_what_is_missing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROFILE_API_TOKEN", raising=False)
    pytester.makeini(INI)
    pytester.makepyfile(test_consumer=CONSUMER_TESTS)
    result = pytester.runpytest("--profile-api-live")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: live mode needs the upstream: --profile-api-url URL or the ini key"
            " profile_api_url; the space: --profile-api-space ID or the ini key"
            " profile_api_space; the token: the PROFILE_API_TOKEN environment variable"
        ]
    )


def test_live_mode_reads_the_ini_file(
    pytester: pytest.Pytester, real_api: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    pytester.makeini(
        INI
        + f"profile_api_live = true\nprofile_api_url = {real_api.url}\n"
        + "profile_api_space = lg8283283\n"
    )
    pytester.makepyfile(test_consumer=CONSUMER_TESTS)
    result = pytester.runpytest("-k", "reads_traits or swallows")
    result.assert_outcomes(passed=1, failed=1)


FLOODED_TEST = """
import requests


def test_reads_a_flood(profile_api):
    requests.get(profile_api.profile_url("user_id:chunked", "traits"), timeout=10)
"""


@pytest.mark.parametrize("where", ["option", "ini"])
def test_an_upstream_answer_over_max_body_fails_its_test_naming_the_setting(
    pytester: pytest.Pytester, flood: tuple[Flood, str], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    flooding, url = flood
    monkeypatch.setenv("PROFILE_API_TOKEN", "t")
    pytester.makeini(INI + ("profile_api_max_body = 100kB\n" if where == "ini" else ""))
    pytester.makepyfile(test_consumer=FLOODED_TEST)
    options = ["--profile-api-max-body", "100kB"] if where == "option" else []
    args = ["--profile-api-live", "--profile-api-url", url, "--profile-api-space", "sp"]
    result = pytester.runpytest(*args, *options)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*GET /v1/spaces/sp/collections/users/profiles/user_id:chunked/traits (traits) -> 502:"
            " /: the body is over the --profile-api-max-body limit of 100,000 bytes (reading"
            " stopped there); raise it with --profile-api-max-body SIZE, such as"
            " --profile-api-max-body 1MB [[]max-body[]]"
        ]
    )
    assert flooding.sent.get(timeout=20) < FLOOD // 2


def test_live_mode_says_what_a_max_body_is(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROFILE_API_TOKEN", "t")
    pytester.makeini(INI)
    pytester.makepyfile(test_consumer=FLOODED_TEST)
    args = ["--profile-api-url", "http://127.0.0.1:9", "--profile-api-space", "sp"]
    result = pytester.runpytest("--profile-api-live", *args, "--profile-api-max-body", "lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --profile-api-max-body (or profile_api_max_body): `lots` is not a size from"
            " 1 byte to 10GB, such as 64MB, 500KB, 64MiB or 1000000"
        ]
    )


def test_the_live_handle_outside_pytest(real_api: ServerThread) -> None:
    proxy = LiveProxy(LiveSettings(real_api.url, "lg8283283", "demo-token"))
    try:
        handle = LiveProfileAPI(proxy)
        assert handle.url == proxy.server.url
        assert handle.auth == ("demo-token", "")
        with pytest.raises(NeedsFake, match="`fault` needs the fake"):
            handle.fault("traits:500")
        with pytest.raises(NeedsFake, match="`realism` needs the fake"):
            handle.realism(short_pages=True)
        # It said "no space `lg8283283` in the loaded fixtures; spaces are " (none).
        assert handle.spaces == ["lg8283283"]
        assert handle.space("lg8283283") is handle
        with pytest.raises(NeedsFake, match=r"`space\('other'\)` needs the fake"):
            handle.space("other")
        handle.check()  # no requests, nothing broken
        # The proxy knows no profiles, so it cannot call an identifier unknown (a typo).
        handle.assert_called("traits", identifier="user_id:u1243", times=0)
        # A failed test's report said "reached the fake", in a run with no fake.
        assert (
            handle.summary()
            == "no request reached the API through the validating proxy in this test"
        )
        requests.get(handle.profile_url("user_id:u1234", "traits"), auth=handle.auth, timeout=10)
        assert handle.summary().startswith(
            "1 request reached the API through the validating proxy in this test:\n  GET "
        )
    finally:
        proxy.close()


def test_live_mode_checks_every_page_a_client_walks_by_cursor_url(real_api: ServerThread) -> None:
    # From the second request on, the "real API" answers this profile's traits out of
    # contract: only a client that stayed in the proxy gets that page checked.
    drift_later = {**DRIFT, "identifier": "user_id:9800664881", "after": 1}
    real_api.call(lambda state: state.faults.add(drift_later))
    proxy = LiveProxy(LiveSettings(real_api.url, "lg8283283", "demo-token"))
    try:
        handle = LiveProfileAPI(proxy)
        first = requests.get(
            handle.profile_url("user_id:9800664881", "traits") + "?limit=2",
            auth=handle.auth,
            timeout=10,
        ).json()
        following = first["cursor"]["url"]
        assert following.startswith(f"{handle.url}/v1/spaces/lg8283283/")
        assert requests.get(following, auth=handle.auth, timeout=10).status_code == 200
        assert [len(entry.query) for entry in handle.requests] == [1, 2]  # limit, then next
        with pytest.raises(ProfileAPIError, match=r"/traits: \[.plan.\] is not an object"):
            handle.check()
    finally:
        proxy.close()


def test_a_violation_under_a_key_holding_a_line_break_fails_on_one_line(
    real_api: ServerThread,
) -> None:
    # The upstream chooses its keys: shown raw, one split the failure into a line of its
    # choosing (the proxy's log showed it as JSON writes it; the failure did not).
    odd = {
        "route": "traits",
        "identifier": "user_id:odd",
        "status": 200,
        "body": '{"traits":{"a\\nPASSED b":1,"a\\nPASSED b":2},'
        '"cursor":{"url":"","has_more":false,"next":""}}',
    }
    real_api.call(lambda state: state.faults.add(odd))
    proxy = LiveProxy(LiveSettings(real_api.url, "lg8283283", "demo-token"))
    try:
        handle = LiveProfileAPI(proxy)
        requests.get(handle.profile_url("user_id:odd", "traits"), auth=handle.auth, timeout=10)
        with pytest.raises(ProfileAPIError) as failed:
            handle.check()
        [line] = [each for each in str(failed.value).splitlines() if "user_id:odd" in each]
        assert line.endswith(
            '-> 200: "/traits/a\\nPASSED b": the key "a\\nPASSED b" is given 2'
            " times in one object; clients disagree on which value counts (most keep the last,"
            " which is the one checked; some the first) [duplicate-key]"
        )
        assert not [each for each in str(failed.value).splitlines() if each.startswith(" b")]
    finally:
        proxy.close()


def test_a_404_for_a_profile_in_the_other_collection_is_not_the_expected_call_live_either(
    real_api: ServerThread,
) -> None:
    # As against the fake (test_testing's test of the same name): the real API gives no
    # hint, so the proxy asks the other collection; the 404 counted as the call, before.
    proxy = LiveProxy(LiveSettings(real_api.url, "lg8283283", "demo-token"))
    try:
        handle = LiveProfileAPI(proxy)

        def get(identifier: str, collection: str) -> int:
            url = handle.profile_url(identifier, "traits", collection)
            return requests.get(url, auth=handle.auth, timeout=10).status_code

        assert get("user_id:u1234", "accounts") == 404
        with pytest.raises(AssertionError) as failure:
            handle.assert_called("traits", identifier="user_id:u1234", times=1)
        assert (
            str(failure.value)
            .splitlines()[2]
            .endswith(
                "  <- 404: the profile is in `users`, not `accounts`; a call to the wrong collection"
                " does not count unless asked for: collection='accounts' counts the calls to it"
                " (assert each collection's calls on their own)"
            )
        )
        handle.assert_called("traits", identifier="user_id:u1234", collection="accounts", times=1)
        handle.assert_called("traits", identifier="user_id:u1234", status=404, times=1)
        # A 404 for a profile that is nowhere is the call the test expected (an unknown user).
        assert get("user_id:nobody", "users") == 404
        handle.assert_called("traits", identifier="user_id:nobody", times=1)
        # The question to the other collection is the proxy's own: not journaled as a call.
        assert [entry.route for entry in handle.requests] == ["traits", "traits"]
    finally:
        proxy.close()


def test_live_code_configured_from_the_environment_goes_through_the_proxy(
    pytester: pytest.Pytester, real_api: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
    monkeypatch.delenv("PROFILE_API_URL", raising=False)
    pytester.makeini(INI + "profile_api_env = true\n")
    pytester.makepyfile(
        service="""
        import os

        import requests

        # Read at import time: in live mode too, the URL is the validating proxy's.
        BASE = os.environ["PROFILE_API_URL"]
        SPACE = os.environ["PROFILE_API_SPACE_ID"]
        AUTH = (os.environ["PROFILE_API_TOKEN"], "")


        def status(user_id):
            url = f"{BASE}/v1/spaces/{SPACE}/collections/users/profiles/user_id:{user_id}/traits"
            return requests.get(url, auth=AUTH, timeout=10).status_code
        """,
        test_consumer="""
        import service


        def test_with_the_fixture(profile_api):
            assert service.status("u1234") == 200
            profile_api.assert_called("traits", identifier="user_id:u1234", times=1)


        def test_without_the_fixture_swallowing_a_drifted_answer():
            service.status("drifting")


        def test_without_the_fixture_reading_a_good_one():
            assert service.status("u1234") == 200
        """,
    )
    result = pytester.runpytest_subprocess(
        "--profile-api-live", "--profile-api-url", real_api.url, "--profile-api-space", "lg8283283"
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ProfileAPIError: the real API's answers broke the contract (1 violation):",
            "*user_id:drifting/traits (traits) -> 200: /traits: * [[]type[]]",
            "FAILED test_consumer.py::test_without_the_fixture_swallowing_a_drifted_answer*",
        ]
    )


@pytest.mark.parametrize("mode", ["fake", "live"])
def test_the_markers_live_takes_true_or_false(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # live="no" is truthy: live, the test ran against the real API instead of being skipped.
    # (Refused before the upstream is asked anything, so none listens.)
    monkeypatch.setenv("PROFILE_API_TOKEN", "t")
    pytester.makeini(INI)
    pytester.makepyfile(
        test_consumer="""
import pytest


@pytest.mark.profile_api(live="no")
def test_needs_the_fake(profile_api):
    pass
"""
    )
    live = [
        "--profile-api-live",
        "--profile-api-url",
        "http://127.0.0.1:9",
        "--profile-api-space",
        "s",
    ]
    result = pytester.runpytest(*(live if mode == "live" else []))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*profile_api marker: live takes True or False, got 'no'"])


@pytest.mark.parametrize(
    "name", sorted(n for n in vars(ClockHandle) if not n.startswith("_") and n != "now")
)
def test_the_live_clock_skips_every_move_of_the_fake_clock(name: str) -> None:
    """Each way the fake's ``clock`` moves (``pin`` came after the others) skips a live test,
    naming itself, rather than failing on an AttributeError."""

    def skip(reason: str) -> NoReturn:
        raise NeedsFake(reason)

    with pytest.raises(NeedsFake, match=rf"live mode: `clock\.{name}` needs the fake"):
        getattr(LiveClock(skip), name)(*(["1s"] if name == "advance" else []))


def test_an_upstream_url_no_request_can_go_to_is_refused_naming_the_option() -> None:
    # It was taken, and every request of the session then "could not be reached".
    with pytest.raises(ValueError, match=r"^--profile-api-url: `http://x%00y`: `x%00y` is no host"):
        LiveSettings.resolve("http://x%00y", "sp", {"PROFILE_API_TOKEN": "t"})


def test_an_upstream_url_with_credentials_is_told_where_live_mode_takes_the_token() -> None:
    # It said "… Authorization header (or PROFILE_API_TOKEN for `record`)".
    with pytest.raises(ValueError, match="must not hold credentials") as told:
        LiveSettings.resolve("http://u:secret@h", "sp", {"PROFILE_API_TOKEN": "t"})
    assert str(told.value) == (
        "--profile-api-url: the URL must not hold credentials (a user or password before the"
        " host); the token goes in the PROFILE_API_TOKEN environment variable"
    )
