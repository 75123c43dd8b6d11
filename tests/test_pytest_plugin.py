"""The pytest plugin, tested the way users meet it: inner pytest runs with pytester."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import socket
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SERVICE = '''
import requests


def favorite(base_url, space_id, token, user_id):
    """The consumer's code under test: a personalization service."""
    url = f"{base_url}/v1/spaces/{space_id}/collections/users/profiles/user_id:{user_id}/traits"
    response = requests.get(url, auth=(token, ""), params={"include": "favorite_category"}, timeout=5)
    response.raise_for_status()
    return response.json()["traits"].get("favorite_category")
'''


# The inner runs skip our heavy development plugins (schemathesis, hypothesis) to start fast.
INI = (
    "[pytest]\naddopts = -p no:cacheprovider -p no:schemathesis -p no:hypothesispytest\n"
    "asyncio_default_fixture_loop_scope = function\n"
)


# Inner runs are in this process (`runpytest`): a subprocess pays a fresh interpreter's
# imports, seconds a run. Only the xdist test, whose workers are processes anyway, needs one.
@pytest.fixture
def consumer(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(service=SERVICE)
    pytester.makeini(INI)
    return pytester


def test_sync_clients_requests_httpx_urllib(consumer: pytest.Pytester) -> None:
    consumer.makepyfile(
        test_sync=textwrap.dedent(
            """
            import json
            import urllib.request

            import httpx
            import requests

            from service import favorite


            def test_requests(profile_api):
                profile_api.add_user(external_ids={"user_id": "u1"}, traits={"favorite_category": "shoes"})
                assert favorite(profile_api.url, profile_api.space_id, profile_api.token, "u1") == "shoes"
                profile_api.assert_called("traits", identifier="user_id:u1", times=1)


            def test_httpx(profile_api):
                response = httpx.get(profile_api.profile_url("user_id:u1234", "traits"), auth=profile_api.auth)
                assert response.json()["traits"]["first_name"] == "Bob"


            def test_urllib(profile_api):
                request = urllib.request.Request(profile_api.profile_url("phone_number:+5555550123", "metadata"), headers=profile_api.headers)
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert json.load(response)["segment_id"].startswith("use_")
            """
        )
    )
    result = consumer.runpytest()
    result.assert_outcomes(passed=3)


def test_async_tests_with_pytest_asyncio_and_anyio(consumer: pytest.Pytester) -> None:
    consumer.makepyfile(
        test_async=textwrap.dedent(
            """
            import aiohttp
            import httpx
            import pytest


            @pytest.mark.asyncio
            async def test_aiohttp(profile_api):
                profile_api.add_user(external_ids={"user_id": "a1"}, traits={"plan": "pro"})
                async with aiohttp.ClientSession(headers=profile_api.headers) as session:
                    async with session.get(profile_api.profile_url("user_id:a1", "traits")) as response:
                        assert (await response.json())["traits"] == {"plan": "pro"}
                profile_api.assert_called("traits", identifier="user_id:a1")


            @pytest.mark.anyio
            async def test_anyio_httpx(profile_api):
                profile_api.fault("traits:503:times=1")
                async with httpx.AsyncClient(auth=profile_api.auth) as client:
                    first = await client.get(profile_api.profile_url("user_id:u1234", "traits"))
                    second = await client.get(profile_api.profile_url("user_id:u1234", "traits"))
                assert (first.status_code, second.status_code) == (503, 200)


            @pytest.fixture
            def anyio_backend():
                return "asyncio"
            """
        )
    )
    result = consumer.runpytest("-p", "asyncio", "-p", "anyio")
    result.assert_outcomes(passed=2)


def test_each_test_starts_from_the_loaded_fixtures(consumer: pytest.Pytester) -> None:
    consumer.makepyfile(
        test_isolation=textwrap.dedent(
            """
            import pytest
            import requests


            # Its fault is armed to be seen leaking, not to fire.
            @pytest.mark.profile_api(faults_must_fire=False)
            def test_changes_everything(profile_api):
                profile_api.add_user(external_ids={"user_id": "temp"})
                profile_api.remove_profile("user_id:u1234")
                profile_api.fault(route="metadata", status=500)
                profile_api.rate_limit(1)
                profile_api.clock.advance("30d")
                requests.get(profile_api.profile_url("user_id:temp", "traits"), auth=profile_api.auth)


            def test_sees_none_of_it(profile_api):
                assert profile_api.requests == []
                get = lambda identifier, resource: requests.get(profile_api.profile_url(identifier, resource), auth=profile_api.auth)
                assert get("user_id:temp", "traits").status_code == 404
                assert get("user_id:u1234", "metadata").status_code == 200
                assert get("user_id:5550000001", "events").json()["cursor"]["has_more"] is True
                assert all(get("user_id:u1234", "traits").status_code == 200 for _ in range(5))
                assert len(profile_api.requests) == 8
            """
        )
    )
    result = consumer.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_marker_configures_the_handle(consumer: pytest.Pytester) -> None:
    (consumer.path / "custom.yaml").write_text(
        "spaces:\n  custom_space:\n    tokens: [custom-token]\n    users: [{ids: {user_id: c1}, created_at: -1d, traits: {tier: gold}}]\n"
    )
    consumer.makepyfile(
        test_marker=textwrap.dedent(
            """
            import pytest
            import requests


            @pytest.mark.profile_api(fixtures=["custom.yaml"], now="2030-01-01T00:00:00Z", rate_limit=2,
                                     faults=["traits:503:times=1", {"route": "events", "status": 500}])
            def test_configured(profile_api):
                assert (profile_api.space_id, profile_api.token) == ("custom_space", "custom-token")
                assert profile_api.clock.now().isoformat() == "2030-01-01T00:00:00+00:00"
                profile_api.clock.freeze()  # now= pins the date; the rate limit's time stops too
                url = profile_api.profile_url("user_id:c1", "traits")
                statuses = [requests.get(url, auth=profile_api.auth).status_code for _ in range(4)]
                assert statuses == [503, 200, 200, 429]
                assert requests.get(profile_api.profile_url("user_id:c1", "events"), auth=profile_api.auth).status_code == 500


            def test_default_is_the_demo(profile_api):
                assert profile_api.space_id == "lg8283283"


            @pytest.mark.profile_api(rate_limit=None)
            def test_unlimited(profile_api):
                profile_api.clock.freeze()
                url = profile_api.profile_url("user_id:u1234", "metadata")
                assert {requests.get(url, auth=profile_api.auth).status_code for _ in range(120)} == {200}


            @pytest.mark.profile_api(rate_limit={"per_second": 1, "burst": 3})
            def test_a_burst_as_the_fixtures_write_it(profile_api):
                profile_api.clock.freeze()
                url = profile_api.profile_url("user_id:u1234", "metadata")
                statuses = [requests.get(url, auth=profile_api.auth).status_code for _ in range(4)]
                assert statuses == [200, 200, 200, 429]


            @pytest.mark.profile_api(color="blue")
            def test_bad_marker_argument(profile_api):
                pass
            """
        )
    )
    result = consumer.runpytest()
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*profile_api marker: unknown argument `color`; it takes fixtures, now, space, rate_limit, faults, realism, live, faults_must_fire, no_errors"
        ]
    )


def test_the_markers_of_the_test_its_class_and_its_module_combine(
    consumer: pytest.Pytester,
) -> None:
    # A test's own marker took the place of its module's: the module's fault was never
    # armed, and a test of the retry path passed on code that has none.
    consumer.makepyfile(
        test_markers=textwrap.dedent(
            """
            import pytest
            import requests

            pytestmark = pytest.mark.profile_api(faults=["traits:503:times=1"], rate_limit=None)


            def status(profile_api):
                url = profile_api.profile_url("user_id:u1234", "traits")
                return requests.get(url, auth=profile_api.auth, timeout=5).status_code


            @pytest.mark.profile_api(no_errors=[404])
            def test_own_marker_keeps_the_modules_fault(profile_api):
                assert status(profile_api) == 503


            @pytest.mark.profile_api(faults=["traits:429:times=1"])
            def test_own_faults_replace_the_modules(profile_api):
                assert status(profile_api) == 429


            @pytest.mark.profile_api(rate_limit=1)
            class TestClass:
                @pytest.mark.profile_api(faults_must_fire=False)
                def test_the_class_and_the_module(self, profile_api):
                    profile_api.clock.freeze()
                    assert [status(profile_api) for _ in range(3)] == [503, 200, 429]


            @pytest.mark.profile_api(colour="blue")
            def test_a_mistake_in_any_marker(profile_api):
                pass
            """
        )
    )
    result = consumer.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*profile_api marker: unknown argument `colour`*"])


def test_a_mistyped_marker_argument_is_told_with_the_one_meant(
    consumer: pytest.Pytester,
) -> None:
    consumer.makepyfile(
        test_typo=textwrap.dedent(
            """
            import pytest


            @pytest.mark.profile_api(fault=["traits:503"])
            def test_typo(profile_api):
                pass
            """
        )
    )
    result = consumer.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*profile_api marker: unknown argument `fault`; it takes *; did you mean `faults`?"]
    )


def test_a_marker_on_a_test_without_the_fixture_is_an_error(consumer: pytest.Pytester) -> None:
    # With --profile-api-env the code under test reaches the fake without the fixture; the
    # marker configures the fixture's handle, so it was dropped without a word: a 404 the
    # code swallowed passed no_errors=True, a fault was never armed, a misspelled argument
    # never refused.
    consumer.makepyfile(
        test_unused=textwrap.dedent(
            """
            import os

            import pytest
            import requests

            pytestmark = pytest.mark.profile_api(rate_limit=None)


            def traits(user):
                url = (
                    f"{os.environ['PROFILE_API_URL']}/v1/spaces/{os.environ['PROFILE_API_SPACE_ID']}"
                    f"/collections/users/profiles/user_id:{user}/traits"
                )
                answer = requests.get(url, auth=(os.environ["PROFILE_API_TOKEN"], ""), timeout=5)
                return answer.json() if answer.ok else None


            @pytest.mark.profile_api(no_errors=True)
            def test_swallowed_404():
                assert traits("nobody") is None


            @pytest.mark.profile_api(faults=["traits:503"])
            def test_unarmed_fault():
                traits("u1234")


            @pytest.mark.profile_api(colour="blue")
            def test_misspelled():
                pass


            def test_module_marker_alone():
                assert traits("u1234") is not None


            @pytest.mark.profile_api(no_errors=True)
            def test_with_the_fixture_from_the_body(request):
                request.getfixturevalue("profile_api")
                assert traits("u1234") is not None
            """
        )
    )
    result = consumer.runpytest("--profile-api-env", "-p", "no:randomly")
    result.assert_outcomes(passed=5, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_swallowed_404*",
            "*@pytest.mark.profile_api(no_errors=True) configures the profile_api fixture,"
            " which this test never used*",
            "*ERROR at teardown of test_unarmed_fault*",
            "*ERROR at teardown of test_misspelled*",
        ]
    )


def test_fixtures_from_the_option_and_the_ini(consumer: pytest.Pytester) -> None:
    (consumer.path / "one.yaml").write_text(
        "spaces: {from_option: {tokens: [t1], users: [{ids: {user_id: x}}]}}\n"
    )
    (consumer.path / "two.yaml").write_text(
        "spaces: {from_ini: {tokens: [t2], users: [{ids: {user_id: y}}]}}\n"
    )
    consumer.makepyfile(
        test_options="def test_space(profile_api, pytestconfig):\n"
        "    assert profile_api.space_id == pytestconfig.getoption('expected')\n",
        conftest="def pytest_addoption(parser):\n    parser.addoption('--expected')\n",
    )
    consumer.makeini(INI + "profile_api_fixtures = two.yaml\n")
    consumer.runpytest("--expected", "from_ini").assert_outcomes(passed=1)
    consumer.runpytest(
        "--expected", "from_option", "--profile-api-fixtures", "one.yaml"
    ).assert_outcomes(passed=1)


README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize(
    ("language", "name", "more"),
    [
        ("ini", "pytest.ini", INI.removeprefix("[pytest]\n")),
        (
            "toml",
            "pyproject.toml",
            'addopts = "-p no:cacheprovider -p no:schemathesis -p no:hypothesispytest"\n'
            'asyncio_default_fixture_loop_scope = "function"\n',
        ),
    ],
)
def test_the_readme_chooses_the_fixtures_in_an_ini_file_or_in_pyproject_toml(
    pytester: pytest.Pytester, language: str, name: str, more: str
) -> None:
    # The README showed the ini form only; pyproject.toml's takes a list.
    (block,) = [
        text
        for text in re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)
        if "profile_api_fixtures" in text
    ]
    (pytester.path / name).write_text(block + more)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "profiles.yaml").write_text(
        "spaces: {main: {tokens: [t1], users: [{ids: {user_id: a}}]}}\n"
    )
    (pytester.path / "tests" / "vip.yaml").write_text(
        "spaces: {vip: {tokens: [t2], users: [{ids: {user_id: b}}]}}\n"
    )
    pytester.makepyfile(
        test_spaces="def test_both_files(profile_api):\n"
        "    assert (profile_api.space_id, profile_api.spaces) == ('main', ['main', 'vip'])\n"
    )
    result = pytester.runpytest("--rootdir", str(pytester.path))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"configfile: {name}"])


def test_a_broken_fixture_file_is_a_clear_error(consumer: pytest.Pytester) -> None:
    (consumer.path / "bad.yaml").write_text("spaces: {s: {tokens: [t], users: [{idz: {}}]}}\n")
    consumer.makepyfile(test_bad="def test_uses(profile_api):\n    pass\n")
    result = consumer.runpytest("--profile-api-fixtures", "bad.yaml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*profile_api fixtures: 1 problem in fixtures:*", "*bad.yaml:1:36: unknown key `idz`*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_an_empty_fixtures_option_is_a_usage_error(consumer: pytest.Pytester) -> None:
    # `--profile-api-fixtures "$UNSET"` served every fixture file under the directory pytest
    # started in (or said it "holds no .yaml, .yml or .json file").
    (consumer.path / "stray.yaml").write_text("spaces: {stray: {tokens: [t]}}\n")
    consumer.makepyfile(test_empty="def test_uses(profile_api):\n    pass\n")
    result = consumer.runpytest("--profile-api-fixtures", "")
    # Before any test, as a path that does not exist is.
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --profile-api-fixtures: the path is empty (was it taken from a variable that"
            " is not set?)"
        ]
    )


def test_a_server_side_error_fails_the_test_that_caused_it(consumer: pytest.Pytester) -> None:
    consumer.makepyfile(
        test_server_error=textwrap.dedent(
            """
            import requests

            from profilemock.mockserver import resources


            def test_breaks_the_server(profile_api, monkeypatch):
                def explode(request):
                    raise RuntimeError("handler exploded")

                monkeypatch.setitem(resources.RESOURCE_HANDLERS, "metadata", explode)
                # The consumer swallows the 500; the plugin still fails this test.
                requests.get(profile_api.profile_url("user_id:u1234", "metadata"), auth=profile_api.auth)


            def test_next_one_is_fine(profile_api):
                assert requests.get(profile_api.profile_url("user_id:u1234", "metadata"), auth=profile_api.auth).ok
            """
        )
    )
    result = consumer.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_breaks_the_server*",
            "*ProfileAPIError: the fake failed 1 time(s)*handler exploded*",
        ]
    )
    assert "test_next_one_is_fine FAILED" not in result.stdout.str()


def test_a_server_side_error_while_fixtures_are_torn_down_fails_the_test_at_teardown(
    consumer: pytest.Pytester,
) -> None:
    consumer.makepyfile(
        test_teardown_error=textwrap.dedent(
            """
            import pytest
            import requests

            from profilemock.mockserver import resources


            @pytest.fixture
            def client(profile_api, monkeypatch):
                session = requests.Session()
                session.auth = profile_api.auth
                yield session
                # The consumer's client calls the API once more as it closes; the fake breaks.
                monkeypatch.setitem(resources.RESOURCE_HANDLERS, "metadata", lambda r: 1 / 0)
                session.get(profile_api.profile_url("user_id:u1234", "metadata"))


            def test_uses_the_client(client, profile_api):
                assert client.get(profile_api.profile_url("user_id:u1234", "traits")).ok


            def test_next_one_is_fine(profile_api):
                assert profile_api.requests == []
            """
        )
    )
    result = consumer.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_uses_the_client*",
            "*ProfileAPIError: the fake failed 1 time(s)*division by zero*",
        ]
    )


ENV_SERVICE = """
import os
import re

import requests

# Configuration read at import time, as --profile-api-env is for.
BASE = os.environ["PROFILE_API_URL"]
AUTH = (os.environ["PROFILE_API_TOKEN"], "")
SPACE = os.environ["PROFILE_API_SPACE_ID"]


def status(identifier, resource="traits"):
    url = f"{BASE}/v1/spaces/{SPACE}/collections/users/profiles/{identifier}/{resource}"
    return requests.get(url, auth=AUTH, timeout=5).status_code
"""


@pytest.mark.parametrize("mode", ["--profile-api-env", "--profile-api-port"])
def test_a_test_without_the_fixture_that_reaches_the_fake_sees_no_other_tests_changes(
    consumer: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    consumer.makepyfile(env_service=ENV_SERVICE)
    consumer.makepyfile(
        test_unasked=textwrap.dedent(
            """
            import pytest

            import env_service
            from profilemock.mockserver import resources


            @pytest.mark.profile_api(faults_must_fire=False)
            def test_changes_the_fake(profile_api):
                profile_api.add_user(external_ids={"user_id": "added"})
                profile_api.fault("metadata:503")
                profile_api.clock.advance("30d")
                assert env_service.status("user_id:added") == 200


            def test_does_not_ask_for_the_fake():
                # Passed only after the test before, whose user and fault it saw.
                assert env_service.status("user_id:added") == 404
                assert env_service.status("user_id:u1234", "metadata") == 200


            def test_breaks_the_fake_without_asking_for_it(monkeypatch):
                monkeypatch.setitem(resources.RESOURCE_HANDLERS, "metadata", lambda r: 1 / 0)
                assert env_service.status("user_id:u1234", "metadata") == 500  # swallowed


            @pytest.mark.profile_api(now="2030-01-01T00:00:00Z")
            def test_breaks_the_fake_with_a_handle_on_another(profile_api, monkeypatch):
                monkeypatch.setitem(resources.RESOURCE_HANDLERS, "metadata", lambda r: 1 / 0)
                assert env_service.status("user_id:u1234", "metadata") == 500  # swallowed


            def test_after_it(profile_api):
                assert env_service.status("user_id:u1234", "metadata") == 200
            """
        )
    )
    if mode == "--profile-api-env":
        # The inner run is in this process: what the plugin exports is undone after the test.
        for name in ("PROFILE_API_URL", "PROFILE_API_TOKEN", "PROFILE_API_SPACE_ID"):
            monkeypatch.setenv(name, "")
            monkeypatch.delenv(name)
        result = consumer.runpytest("-p", "no:randomly", mode)
    else:
        # The service configured with the fake's fixed port, as a settings file would.
        port = _free_port()
        monkeypatch.setenv("PROFILE_API_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("PROFILE_API_TOKEN", "demo-token")
        monkeypatch.setenv("PROFILE_API_SPACE_ID", "lg8283283")
        result = consumer.runpytest("-p", "no:randomly", f"{mode}={port}")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_breaks_the_fake_without_asking_for_it*",
            "*ProfileAPIError: the fake failed 1 time(s)*division by zero*",
            "*test_breaks_the_fake_with_a_handle_on_another*",
            "*ProfileAPIError: the fake failed 1 time(s)*division by zero*",
        ]
    )


def test_a_test_that_changes_the_fake_without_its_handle_leaves_it_as_loaded(
    consumer: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the fixture reset the fake after a test: one that armed a fault or froze the
    clock through the admin API, without the handle, left them to the next test."""
    consumer.makepyfile(
        test_leak=textwrap.dedent(
            """
            import os

            import requests

            URL = os.environ["PROFILE_API_URL"]
            SPACE, TOKEN = os.environ["PROFILE_API_SPACE_ID"], os.environ["PROFILE_API_TOKEN"]
            TRAITS = f"{URL}/v1/spaces/{SPACE}/collections/users/profiles/user_id:u1234/traits"


            def test_a_drives_the_fake_through_its_admin_api():
                fault = {"route": "traits", "status": 503}
                requests.post(f"{URL}/__admin/faults", json=fault, timeout=5).raise_for_status()
                at = {"at": "2020-01-01T00:00:00Z"}
                requests.post(f"{URL}/__admin/clock/freeze", json=at, timeout=5).raise_for_status()
                assert requests.get(TRAITS, auth=(TOKEN, ""), timeout=5).status_code == 503


            def test_b_expects_the_fake_as_loaded():
                assert requests.get(TRAITS, auth=(TOKEN, ""), timeout=5).status_code == 200
                clock = requests.get(f"{URL}/__admin/clock", timeout=5).json()
                assert clock["frozen"] is False
            """
        )
    )
    for name in ("PROFILE_API_URL", "PROFILE_API_TOKEN", "PROFILE_API_SPACE_ID"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    result = consumer.runpytest("-p", "no:randomly", "--profile-api-env")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("how", ["flag", "ini", "xdist"])
def test_a_service_configured_when_conftest_imports_it_reads_the_fakes_address(
    consumer: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Django's or Flask's settings are read when conftest.py imports the app: exported
    only at pytest_configure, the variables came after it, and the service kept the real
    API's address (its calls went there)."""
    consumer.makepyfile(
        configured=textwrap.dedent(
            """
            import os

            BASE = os.environ.get("PROFILE_API_URL", "https://profiles.segment.com")
            """
        )
    )
    consumer.makeconftest("import configured\n")
    consumer.makepyfile(
        test_configured=textwrap.dedent(
            """
            import configured


            def test_the_service_calls_the_fake(profile_api):
                assert configured.BASE == profile_api.url
            """
        )
    )
    for name in ("PROFILE_API_URL", "PROFILE_API_TOKEN", "PROFILE_API_SPACE_ID"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    if how == "flag":
        result = consumer.runpytest("-p", "no:randomly", "--profile-api-env")
        result.assert_outcomes(passed=1)
        return
    consumer.makeini(INI + "profile_api_env = true\n")
    if how == "ini":
        result = consumer.runpytest("-p", "no:randomly")
        result.assert_outcomes(passed=1)
        return
    # Each worker imports conftest.py itself, and exports its own fake's address first; a
    # run inside a worker of another run (this one's, under xdist) inherits the variable
    # that names a worker, and its controller is still no worker (it took gw0's port).
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    port = _free_port(2)
    result = consumer.runpytest_subprocess(
        "-p", "no:randomly", "-n", "2", f"--profile-api-port={port}"
    )
    result.assert_outcomes(passed=1)
    assert "node down" not in result.stdout.str() + result.stderr.str()


def test_profile_api_fixtures_on_the_command_line_choose_the_exported_fake(
    consumer: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started while the initial conftests load, the fake read --profile-api-fixtures'
    default (an empty list) and served the demo instead of the files given."""
    consumer.makefile(
        ".yaml",
        other="spaces:\n  otherspace:\n    tokens: [other-token]\n    users:\n"
        "      - ids: {user_id: o1}\n",
    )
    consumer.makepyfile(
        test_other=textwrap.dedent(
            """
            import os


            def test_the_exported_space_is_the_files(profile_api):
                assert os.environ["PROFILE_API_SPACE_ID"] == "otherspace"
                assert profile_api.space_id == "otherspace"
            """
        )
    )
    for name in ("PROFILE_API_URL", "PROFILE_API_TOKEN", "PROFILE_API_SPACE_ID"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    result = consumer.runpytest(
        "-p", "no:randomly", "--profile-api-env", "--profile-api-fixtures", "other.yaml"
    )
    result.assert_outcomes(passed=1)


def test_code_that_reached_the_default_fake_while_the_handle_is_on_another_fails_the_test(
    consumer: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A marker's now= (or fixtures=) gives the handle a fake of its own; code configured
    from the environment calls the default one: the handle's times=0 and no_errors saw
    none of its requests, and the test passed whatever the code did. And a test whose
    teardown failed so left the default fake as it had made it, for the next test."""
    consumer.makepyfile(
        test_elsewhere=textwrap.dedent(
            """
            import os

            import pytest
            import requests


            def call(resource="traits"):
                url = (
                    f"{os.environ['PROFILE_API_URL']}/v1/spaces/lg8283283/collections/users/"
                    f"profiles/user_id:u1234/{resource}"
                )
                return requests.get(url, auth=(os.environ["PROFILE_API_TOKEN"], ""), timeout=5)


            @pytest.mark.profile_api(now="2026-01-01T00:00:00Z")
            def test_cached_so_no_call(profile_api):
                call()
                profile_api.assert_called("traits", times=0)


            @pytest.mark.profile_api(now="2026-01-01T00:00:00Z", faults=["events:500"])
            def test_its_teardown_fails(profile_api):
                url = os.environ["PROFILE_API_URL"]
                requests.post(f"{url}/__admin/faults", json={"spec": "traits:503"}, timeout=5)


            def test_the_next_meets_the_fixtures():
                assert call().status_code == 200


            @pytest.mark.profile_api(now="2026-01-01T00:00:00Z")
            def test_the_code_calls_the_handles_fake(profile_api):
                url = profile_api.profile_url("user_id:u1234", "traits")
                assert requests.get(url, auth=profile_api.auth, timeout=5).status_code == 200


            def test_on_the_default_fake(profile_api):
                assert call().status_code == 200
                profile_api.assert_called("traits", times=1)
            """
        )
    )
    for name in ("PROFILE_API_URL", "PROFILE_API_TOKEN", "PROFILE_API_SPACE_ID"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    result = consumer.runpytest("-p", "no:randomly", "--profile-api-env")
    result.assert_outcomes(passed=5, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_cached_so_no_call*",
            "1 request reached the default fake (exported as PROFILE_API_URL) in this test:",
            "  GET /v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/traits -> 200*",
            "but this test's profile_api handle is on another fake, http://127.0.0.1:* (the"
            " marker's fixtures= or now= start a fake of their own): its assertions, fault rules"
            " and no_errors saw none of those requests*Give the code under test profile_api.url,"
            " .space_id and .token, or leave fixtures= and now= out of the marker*",
            "*ERROR at teardown of test_its_teardown_fails*",
            "1 fault rule armed in this test never fired*",
        ]
    )


def _free_port(count: int = 1) -> int:
    """A port that is free, and the ``count - 1`` after it (xdist worker N takes PORT+N).

    Drawn below the kernel's ephemeral range where there is room: a port the kernel gave
    (bind to port 0) and this let go could be given again to any socket of a test running
    beside it before the inner run bound it ("address already in use", seen with four
    suites sharing a machine); below the range only a port asked for by number is."""
    ranges = Path("/proc/sys/net/ipv4/ip_local_port_range")
    lowest = int(ranges.read_text().split()[0]) if ranges.exists() else 0
    while True:
        if lowest > 10_000 + count:
            port = random.randrange(10_000, lowest - count)
        else:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        if port + count - 1 > 65535:
            continue
        try:
            with contextlib.ExitStack() as held:
                for n in range(count):
                    held.enter_context(socket.socket()).bind(("127.0.0.1", port + n))
        except OSError:
            continue
        return port


def test_a_test_failing_on_its_own_while_the_fake_broke_is_one_failure_saying_both(
    consumer: pytest.Pytester,
) -> None:
    consumer.makepyfile(
        test_both=textwrap.dedent(
            """
            import requests

            from profilemock.mockserver import resources


            def test_expects_a_200(profile_api, monkeypatch):
                monkeypatch.setitem(resources.RESOURCE_HANDLERS, "metadata", lambda r: 1 / 0)
                url = profile_api.profile_url("user_id:u1234", "metadata")
                assert requests.get(url, auth=profile_api.auth).status_code == 200
            """
        )
    )
    result = consumer.runpytest()
    # Failed on its assertion, with the fake's failure in its report; not an error as well.
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*assert 500 == 200*",
            "*- Captured profile_api requests call -*",
            "*user_id:u1234/metadata -> 500 (basic)*",
            "the fake failed 1 time(s) while answering:",
            "  ZeroDivisionError: division by zero",
        ]
    )


def test_failed_assert_called_lists_near_misses(consumer: pytest.Pytester) -> None:
    consumer.makepyfile(
        test_near=textwrap.dedent(
            """
            import requests


            def test_wrong_calls(profile_api):
                profile_api.add_user(external_ids={"user_id": "Ada", "phone": "+1555"})
                get = requests.get
                get(profile_api.profile_url("user_id:ada", "traits"), auth=profile_api.auth)
                get(profile_api.url + "/v1/spaces/lg8283283/collections/users/profiles/phone:+1555/traits", auth=profile_api.auth)
                get(profile_api.profile_url("user_id:Ada", "traits"), headers={"Authorization": "Bearer " + profile_api.token})
                get(profile_api.url + "/v1/spaces/other/collections/users/profiles/user_id:Ada/traits", auth=profile_api.auth)
                profile_api.assert_called("traits", identifier="user_id:Ada")
            """
        )
    )
    result = consumer.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*expected a call with route=traits, identifier=user_id:Ada, space=lg8283283; got 0",
            "*near misses:",
            "*user_id:ada/traits -> 404 (basic)  <- identifier differs only in case*",
            "*bearer auth instead of Basic*",
            "*space `other` instead of `lg8283283`",
        ]
    )
    phone = consumer.makepyfile(
        test_phone=textwrap.dedent(
            """
            import requests


            def test_raw_plus(profile_api):
                profile_api.add_user(external_ids={"phone": "+1555"})
                requests.get(profile_api.url + "/v1/spaces/lg8283283/collections/users/profiles/phone:+1555/traits", auth=profile_api.auth)
                profile_api.assert_called("traits", identifier="phone:+1555", times=1)
            """
        )
    )
    result = consumer.runpytest(str(phone))
    result.stdout.fnmatch_lines(["*a raw `+` in the path reads as a space; encode it as %2B*"])


def test_xdist_workers_get_their_own_fake(consumer: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "seen"
    out.mkdir()
    consumer.makepyfile(
        test_parallel=textwrap.dedent(
            f"""
            import json
            import os

            import pytest
            import requests


            @pytest.mark.parametrize("n", range(8))
            def test_worker(profile_api, n):
                profile_api.add_user(external_ids={{"user_id": "same-id"}}, traits={{"n": n}})
                got = requests.get(profile_api.profile_url("user_id:same-id", "traits"), auth=profile_api.auth).json()
                assert got["traits"] == {{"n": n}}
                assert len(profile_api.requests) == 1
                path = os.path.join({str(out)!r}, f"{{n}}.json")
                with open(path, "w") as file:
                    json.dump({{"worker": os.environ["PYTEST_XDIST_WORKER"], "url": profile_api.url}}, file)
            """
        )
    )
    result = consumer.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=8)
    seen = [json.loads(p.read_text()) for p in out.iterdir()]
    urls: dict[str, set[str]] = {s["worker"]: set() for s in seen}
    for s in seen:
        urls[s["worker"]].add(s["url"])
    assert len(urls) == 2
    assert all(len(u) == 1 for u in urls.values())
    assert len(set.union(*urls.values())) == 2


def test_a_held_request_stays_in_the_test_that_made_it(consumer: pytest.Pytester) -> None:
    consumer.makepyfile(
        test_held=textwrap.dedent(
            """
            import socket
            import threading


            def test_makes_a_request_the_fake_holds(profile_api):
                profile_api.fault("traits:hang:hang=300s")
                host, port = profile_api.url.removeprefix("http://").split(":")
                client = socket.create_connection((host, int(port)))
                path = profile_api.profile_url("user_id:u1234", "traits").removeprefix(profile_api.url)
                auth = profile_api.headers["Authorization"]
                client.sendall(f"GET {path} HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: {auth}\\r\\n\\r\\n".encode())
                wait = threading.Event()
                for _ in range(2000):
                    if profile_api.requests:
                        break
                    wait.wait(0.005)
                # Journaled at arrival: the call counts in the test that made it.
                (entry,) = profile_api.assert_called("traits", identifier="user_id:u1234", times=1)
                assert (entry.status, entry.outcome) == (None, "pending")
                client.close()  # the client gives up, as on a timeout


            def test_next_test_sees_none_of_it(profile_api):
                assert profile_api.requests == []
            """
        )
    )
    result = consumer.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_marker_now_moves_relative_fixture_times(consumer: pytest.Pytester) -> None:
    (consumer.path / "recent.yaml").write_text(
        "spaces:\n  s:\n    tokens: [t]\n    users:\n"
        "      - ids: {user_id: r1}\n        created_at: -1d\n"
        "        events: [{event: Viewed, timestamp: -1h}]\n"
    )
    consumer.makepyfile(
        test_now=textwrap.dedent(
            """
            import pytest
            import requests


            @pytest.mark.profile_api(fixtures=["recent.yaml"], now="2026-01-01T00:00:00Z")
            def test_relative_times_follow_the_marker(profile_api):
                get = lambda resource: requests.get(profile_api.profile_url("user_id:r1", resource), auth=profile_api.auth).json()
                assert get("metadata")["metadata"]["created_at"].startswith("2025-12-31T00:00:00")
                assert [e["timestamp"][:19] for e in get("events")["data"]] == ["2025-12-31T23:00:00"]


            @pytest.mark.profile_api(fixtures=["recent.yaml"])
            def test_without_now_times_are_relative_to_the_real_clock(profile_api):
                created = requests.get(profile_api.profile_url("user_id:r1", "metadata"), auth=profile_api.auth).json()["metadata"]["created_at"]
                assert created > "2026-01-01"
            """
        )
    )
    result = consumer.runpytest()
    result.assert_outcomes(passed=2)


def test_a_fixture_files_warnings_reach_the_test_run(consumer: pytest.Pytester) -> None:
    # `check` and `serve` told them; a pytest run, nothing: a test passing against a
    # fixture the real API would answer otherwise (an id type in capitals) got no word.
    (consumer.path / "camel.yaml").write_text(
        "spaces:\n  s:\n    tokens: [t]\n    users:\n      - ids: {userId: u1}\n"
    )
    consumer.makepyfile(
        test_camel=textwrap.dedent(
            """
            import pytest
            import requests


            @pytest.mark.profile_api(fixtures=["camel.yaml"])
            def test_reads_it(profile_api):
                url = profile_api.profile_url("userId:u1", "traits")
                assert requests.get(url, auth=profile_api.auth).status_code == 200
            """
        )
    )
    result = consumer.runpytest("-W", "always::UserWarning")  # (this run's filter: error)
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*UserWarning: profilemock fixtures: *camel.yaml:5:15: id type `userId` has capital*"]
    )
    result = consumer.runpytest("-W", "error::UserWarning")
    result.assert_outcomes(errors=1)


def test_a_fixture_files_warning_made_an_error_stops_an_exported_fake_clearly(
    consumer: pytest.Pytester,
) -> None:
    # With --profile-api-env the fake starts before any test: the warning that
    # filterwarnings = error made an exception was a traceback from pytest's start.
    (consumer.path / "camel.yaml").write_text(
        "spaces:\n  s:\n    tokens: [t]\n    users:\n      - ids: {userId: u1}\n"
    )
    consumer.makepyfile(test_env="def test_env():\n    pass\n")
    flags = ("--profile-api-env", "--profile-api-fixtures", "camel.yaml", "-p", "no:randomly")
    result = consumer.runpytest(*flags, "-W", "error::UserWarning")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: profilemock fixtures: *camel.yaml:5:15: id type `userId` has capital*"
            " (a warning, an error under this run's filterwarnings: mend the file, or add"
            " `ignore:profilemock fixtures:UserWarning` to them)"
        ]
    )
    result = consumer.runpytest(*flags, "-W", "ignore:profilemock fixtures:UserWarning")
    result.assert_outcomes(passed=1)


def test_a_failed_test_shows_the_requests_the_fake_saw(consumer: pytest.Pytester) -> None:
    consumer.makepyfile(
        test_report=textwrap.dedent(
            """
            import requests


            def test_fails(profile_api):
                profile_api.fault("metadata:503:times=1")
                requests.get(profile_api.profile_url("user_id:u1234", "metadata"), auth=profile_api.auth)
                response = requests.get(profile_api.profile_url("user_id:U1234", "traits"), auth=profile_api.auth)
                assert response.status_code == 200


            def test_passes(profile_api):
                requests.get(profile_api.profile_url("user_id:u1234", "traits"), auth=profile_api.auth)
            """
        )
    )
    result = consumer.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- Captured profile_api requests call -*",
            "*2 requests reached the fake in this test:*",
            "*GET /v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/metadata -> 503 (basic) [[]fault fault-1]",
            "*GET /v1/spaces/lg8283283/collections/users/profiles/user_id:U1234/traits -> 404 (basic)",
            "*hint: no exact match; lookups are case-sensitive*",
        ]
    )
    assert result.stdout.str().count("profile_api requests") == 1


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            'fixtures="vip.yaml"',
            "*profile_api marker: fixtures takes a list of fixture paths, got the string 'vip.yaml'; write fixtures=['vip.yaml']",
        ),
        (
            'faults="traits:429"',
            "*profile_api marker: faults takes a list of fault rules (--fault specs or dicts), got the string 'traits:429'; write faults=['traits:429']",
        ),
        (
            # A StopIteration (a RuntimeError under pytest-asyncio) from the handle before.
            "fixtures=[]",
            "*profile_api marker: fixtures is empty: the fake would serve no space; give at"
            " least one fixture path, or leave fixtures out for the default ones",
        ),
        (
            'fixtures=["missing.yaml"]',
            "*profile_api marker: fixtures: */missing.yaml: no such file or directory; marker"
            " paths are relative to the rootdir, *",
        ),
        (
            # A positional argument was taken as fixtures: "write fixtures=['traits:429']",
            # then "no such file or directory".
            "'traits:429'",
            "*profile_api marker: takes its arguments by name (fixtures, now, space, rate_limit,"
            " faults, realism, live, faults_must_fire, no_errors); got 1 positional argument:"
            " 'traits:429'; for fault rules, write faults=['traits:429']",
        ),
        (
            "['tests/vip.yaml', 'more.yml']",
            "*got 1 positional argument: ['tests/vip.yaml', 'more.yml']; for fixture files,"
            " write fixtures=['tests/vip.yaml', 'more.yml']",
        ),
        (
            # A time, or a directory of the rootdir, was told nothing of the keyword meant.
            "'2026-01-01T00:00:00Z'",
            "*got 1 positional argument: '2026-01-01T00:00:00Z'; for the clock's date, write"
            " now='2026-01-01T00:00:00Z'",
        ),
        ("'-1d'", "*got 1 positional argument: '-1d'; for the clock's date, write now='-1d'"),
        (
            "'data'",
            "*got 1 positional argument: 'data'; for fixture files, write fixtures=['data']",
        ),
        (
            "'traits:429', 'events:503'",
            "*profile_api marker: takes its arguments by name (*); got 2 positional arguments:"
            " 'traits:429', 'events:503'\n",
        ),
        ("rate_limit='5/s'", "*rate_limit takes requests per second as a number*got '5/s'*"),
        (
            "rate_limit={'rate': 5}",
            "*profile_api marker: rate_limit takes requests per second as a number (5 or 0.5),"
            " with a burst as {'per_second': 5, 'burst': 10}, or None (unlimited); got {'rate': 5}",
        ),
        (
            "rate_limit={'per_second': None, 'burst': 3}",
            "*profile_api marker: rate_limit takes requests per second as a number (5 or 0.5),"
            " with a burst as {'per_second': 5, 'burst': 10}, or None (unlimited); got"
            " {'per_second': None, 'burst': 3}",
        ),
        (
            "rate_limit={'per_second': 5, 'burst': 2.5}",
            "*profile_api marker: burst is a whole number of requests, got 2.5",
        ),
        (
            "fixtures=[123]",
            "*profile_api marker: fixtures takes a list of fixture paths, like"
            " fixtures=['tests/vip.yaml']; got 123 in it",
        ),
        (
            'now="0001-01-01"',
            "*profile_api marker: now: `0001-01-01` is outside the years 1000 to 9999*",
        ),
        (
            "now=__import__('datetime').datetime(1, 1, 1)",
            "*profile_api marker: now: `0001-01-01T00:00:00+00:00` is outside the years 1000"
            " to 9999*",
        ),
        (
            "realism=['short_pages']",
            "*profile_api marker: realism takes the switches by name, like"
            " {'short_pages': True}; got ['short_pages']",
        ),
        (
            # Was "--fault `traits:4299`: `4299` is not a status (such as 503) …": no
            # command line was involved, and the statuses there are went unsaid.
            "faults=['traits:4299']",
            "*profile_api marker: faults: spec `traits:4299`: `4299` is not a status: statuses"
            " are 200 to 599, such as 503",
        ),
        (
            # Of several specs, the one the rule's own check refused is named.
            "faults=['traits:503', 'traits:503:space=nope']",
            "*profile_api marker: faults: spec `traits:503:space=nope`: fault rule field"
            " `space`: `nope` matches no space",
        ),
        (
            # The spec with the fields that joined it, and a rule of fields, each named as
            # the marker's: the rule's own refusal said neither.
            "faults=[{'spec': 'traits:503:space=nope', 'times': 2}]",
            "*profile_api marker: faults: spec `traits:503:space=nope` with times=2: fault rule"
            " field `space`: `nope` matches no space*",
        ),
        (
            "faults=[{'route': 'traits', 'status': 302}]",
            '*profile_api marker: faults: {"route": "traits", "status": 302}: fault rule: a'
            " redirect*",
        ),
    ],
)
def test_natural_marker_mistakes_get_one_clear_error(
    consumer: pytest.Pytester, marker: str, message: str
) -> None:
    (consumer.path / "data").mkdir()  # a directory of fixture files, named without a slash
    consumer.makepyfile(
        test_mistake=f"import pytest\n\n\n@pytest.mark.profile_api({marker})\ndef test_it(profile_api):\n    pass\n"
    )
    result = consumer.runpytest()
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    position = 0
    for part in message.strip("*").split("*"):
        position = output.index(part, position)  # every part, in order
    assert "Traceback" not in output
    assert "During handling" not in output
    assert "profilemock/" not in output


def test_marker_paths_are_relative_to_the_rootdir(consumer: pytest.Pytester) -> None:
    (consumer.path / "tests" / "data").mkdir(parents=True)
    (consumer.path / "tests" / "data" / "vip.yaml").write_text(
        "spaces: {vip: {tokens: [t], users: [{ids: {user_id: v}}]}}\n"
    )
    (consumer.path / "tests" / "test_vip.py").write_text(
        "import pytest\n\n\n@pytest.mark.profile_api(fixtures=['tests/data/vip.yaml'])\n"
        "def test_vip(profile_api):\n    assert profile_api.space_id == 'vip'\n"
    )
    # Run from inside tests/: the path still reads from the rootdir (where the ini is).
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(consumer.path / "tests")
        result = consumer.runpytest("test_vip.py", "--rootdir", str(consumer.path))
    result.assert_outcomes(passed=1)


def test_a_marker_path_that_is_not_there_says_where_marker_paths_start(
    consumer: pytest.Pytester,
) -> None:
    # It said "/ROOT/vip.yaml: no such file or directory" of a file beside the test.
    (consumer.path / "tests").mkdir()
    (consumer.path / "tests" / "vip.yaml").write_text("spaces: {vip: {tokens: [t]}}\n")
    (consumer.path / "tests" / "test_vip.py").write_text(
        "import pytest\n\n\n@pytest.mark.profile_api(fixtures=['vip.yaml'])\n"
        "def test_vip(profile_api):\n    pass\n"
    )
    result = consumer.runpytest("tests/test_vip.py")
    result.assert_outcomes(errors=1)
    assert (
        f"profile_api marker: fixtures: {consumer.path}/vip.yaml: no such file or directory;"
        f" marker paths are relative to the rootdir, {consumer.path} (`vip.yaml` is beside the"
        " test: write fixtures=['tests/vip.yaml'])\n"
    ) in result.stdout.str()


def test_handle_failures_point_at_the_test_not_at_profilemock(consumer: pytest.Pytester) -> None:
    consumer.makepyfile(
        test_hide=textwrap.dedent(
            """
            def test_asserts(profile_api):
                profile_api.assert_called("traits")


            def test_bad_change(profile_api):
                profile_api.add_user({"user_id": "x"}, trait={"a": 1})
            """
        )
    )
    result = consumer.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*expected a call with route=traits*", "*unknown key `trait`*"])
    assert "profilemock/testing.py" not in result.stdout.str()


def test_a_large_fixture_set_starts_from_its_snapshot_on_the_next_run(
    consumer: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from profilemock.fixtures.generator import generate

    cache = consumer.path / "cache"
    monkeypatch.setenv("PROFILEMOCK_CACHE_DIR", str(cache))
    big = consumer.path / "big.json"
    big.write_text(json.dumps(generate(900, seed=4, events_per_user=3)))
    assert big.stat().st_size > 1 << 20  # large enough to get a snapshot
    consumer.makeini(INI + "profile_api_fixtures = big.json\n")
    consumer.makepyfile(
        test_big="""
        import requests


        def test_user(profile_api):
            url = profile_api.profile_url("user_id:user-0000042", "traits")
            assert requests.get(url, auth=profile_api.auth, timeout=5).status_code == 200
        """
    )
    consumer.runpytest().assert_outcomes(passed=1)
    (saved,) = cache.glob("*.snapshot")
    os.utime(saved, (0, 0))
    consumer.runpytest().assert_outcomes(passed=1)
    assert saved.stat().st_mtime > 0  # read again: the second run started from it
    saved.unlink()
    consumer.makeini(INI + "profile_api_fixtures = big.json\nprofile_api_snapshots = false\n")
    consumer.runpytest().assert_outcomes(passed=1)
    assert list(cache.glob("*.snapshot")) == []


def test_a_fault_armed_but_never_fired_fails_the_test_at_teardown_naming_it(
    consumer: pytest.Pytester,
) -> None:
    (consumer.path / "guarded.yaml").write_text(
        "spaces: {s: {tokens: [t], users: [{ids: {user_id: u1}}]}}\n"
        "faults: [{route: links, status: 503}]\n"
    )
    consumer.makepyfile(
        test_faults=textwrap.dedent(
            """
            import pytest
            import requests


            def get(profile_api, resource):
                return requests.get(profile_api.profile_url("user_id:u1234", resource), auth=profile_api.auth)


            def test_retry_path_never_ran(profile_api):
                profile_api.fault("traits:429:times=1")  # armed for the retry path...
                assert get(profile_api, "metadata").ok  # ...the code called another route


            @pytest.mark.profile_api(faults=[{"route": "events", "status": 503}, "metadata:500:every=2"])
            def test_marker_rules_never_fired(profile_api):
                assert get(profile_api, "metadata").ok  # matched once: every=2 never came


            def test_a_rule_that_fired_passes(profile_api):
                profile_api.fault("traits:429:times=1")
                assert [get(profile_api, "traits").status_code for _ in range(2)] == [429, 200]


            def test_a_chance_rule_only_has_to_be_reached(profile_api):
                profile_api.fault("traits:503:probability=0.01")  # seeded: misses both draws
                assert [get(profile_api, "traits").status_code for _ in range(2)] == [200, 200]


            def test_a_chance_rule_never_reached(profile_api):
                profile_api.fault("events:503:probability=0.5")


            @pytest.mark.profile_api(faults_must_fire=False)
            def test_opted_out(profile_api):
                profile_api.fault("traits:429")


            def test_failing_on_its_own(profile_api):
                profile_api.fault("traits:429")
                assert False, "its own failure"


            def test_skipped(profile_api):
                profile_api.fault("traits:429")
                pytest.skip("not today")


            @pytest.mark.profile_api(fixtures=["guarded.yaml"])
            def test_the_fixtures_rules_are_not_the_tests(profile_api):
                assert requests.get(profile_api.profile_url("user_id:u1", "traits"), auth=profile_api.auth).ok


            @pytest.mark.profile_api(faults_must_fire="yes")
            def test_bad_flag(profile_api):
                pass
            """
        )
    )
    result = consumer.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=7, failed=1, skipped=1, errors=4)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_retry_path_never_ran*",
            "1 fault rule armed in this test never fired, so the code path each was armed for never ran:",
            "  fault-1 traits:429:times=1: matched no request",
            "If a rule is there on purpose*@pytest.mark.profile_api(faults_must_fire=False)*"
            "`profile_api_faults_must_fire = false` in the ini file.",
            "*ERROR at teardown of test_marker_rules_never_fired*",
            "2 fault rules armed in this test never fired*",
            '  fault-1 {"route": "events", "status": 503}: matched no request',
            "  fault-2 metadata:500:every=2: matched 1 request and fired on none"
            " (its schedule: every=2)",
            "*ERROR at teardown of test_a_chance_rule_never_reached*",
            "  fault-1 events:503:probability=0.5: matched no request"
            " (probability=0.5 needs one to draw on)",
            "*ERROR at setup of test_bad_flag*",
            "*profile_api marker: faults_must_fire takes True or False, got 'yes'",
        ]
    )
    # A test that failed or was skipped is not also an error about its rules.
    result.stdout.fnmatch_lines(["FAILED test_faults.py::test_failing_on_its_own - *its own*"])
    result.stdout.no_fnmatch_line("ERROR test_faults.py::test_failing_on_its_own*")
    result.stdout.no_fnmatch_line("ERROR test_faults.py::test_skipped*")


def test_a_unittest_test_that_failed_is_not_also_an_error_about_its_rules(
    consumer: pytest.Pytester,
) -> None:
    # A TestCase's failure is recorded without raising through pytest_runtest_call.
    consumer.makepyfile(
        test_case=textwrap.dedent(
            """
            import unittest

            import pytest


            class TestService(unittest.TestCase):
                @pytest.fixture(autouse=True)
                def _api(self, profile_api):
                    self.api = profile_api

                def test_fails_on_its_own(self):
                    self.api.fault("traits:503")
                    self.assertEqual(1, 2)

                def test_passes_with_a_rule_never_fired(self):
                    self.api.fault("traits:503")
            """
        )
    )
    result = consumer.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.no_fnmatch_line("ERROR test_case.py::TestService::test_fails_on_its_own*")
    result.stdout.fnmatch_lines(
        ["ERROR test_case.py::TestService::test_passes_with_a_rule_never_fired*"]
    )


def test_the_ini_turns_faults_must_fire_off_and_the_marker_decides_for_one_test(
    consumer: pytest.Pytester,
) -> None:
    consumer.makeini(INI + "profile_api_faults_must_fire = false\n")
    consumer.makepyfile(
        test_ini=textwrap.dedent(
            """
            import pytest


            def test_off_by_the_ini(profile_api):
                profile_api.fault("traits:429")


            @pytest.mark.profile_api(faults_must_fire=True)
            def test_on_by_the_marker(profile_api):
                profile_api.fault("traits:429")
            """
        )
    )
    result = consumer.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["ERROR test_ini.py::test_on_by_the_marker - Failed: 1 fault rule armed*"]
    )


def test_no_errors_fails_a_test_at_teardown_for_every_error_answer_but_its_own_faults(
    consumer: pytest.Pytester,
) -> None:
    (consumer.path / "flaky.yaml").write_text(
        "spaces: {s: {tokens: [t], users: [{ids: {user_id: u1}}]}}\n"
        "faults: [{route: events, status: 503}]\n"
    )
    consumer.makeini(INI + "profile_api_no_errors = true\n")
    consumer.makepyfile(
        test_strict=textwrap.dedent(
            """
            import pytest
            import requests


            def status(profile_api, identifier, resource="traits"):
                url = profile_api.profile_url(identifier, resource)
                return requests.get(url, auth=profile_api.auth, timeout=5).status_code


            def test_a_swallowed_404(profile_api):
                assert status(profile_api, "user_id:U1234") in (200, 404)  # the code shrugs it off


            def test_its_own_fault_is_expected(profile_api):
                profile_api.fault("traits:503:times=1")
                assert [status(profile_api, "user_id:u1234") for _ in range(2)] == [503, 200]


            @pytest.mark.profile_api(no_errors=[404])
            def test_allowed_statuses(profile_api):
                assert status(profile_api, "user_id:nobody") == 404


            @pytest.mark.profile_api(no_errors=False)
            def test_off_for_one_test(profile_api):
                assert status(profile_api, "user_id:nobody") == 404


            def test_a_delay_rule_does_not_excuse_the_apis_own_404(profile_api):
                profile_api.fault("traits:latency=1ms")
                assert status(profile_api, "user_id:nobody") == 404


            def test_nor_does_one_the_test_removed_since(profile_api):
                rule = profile_api.fault("traits:latency=1ms")
                assert status(profile_api, "user_id:nobody") == 404
                requests.delete(f"{profile_api.url}/__admin/faults/{rule}", timeout=5)


            @pytest.mark.profile_api(fixtures=["flaky.yaml"])
            def test_the_fixtures_rules_are_not_the_tests(profile_api):
                url = profile_api.profile_url("user_id:u1", "events")
                assert requests.get(url, auth=profile_api.auth, timeout=5).status_code == 503


            def test_both_checks_in_one_message(profile_api):
                profile_api.fault("links:429")
                assert status(profile_api, "user_id:nobody") == 404


            def test_failing_on_its_own(profile_api):
                assert status(profile_api, "user_id:nobody") == 200


            def test_a_404_before_a_reset_in_the_test(profile_api):
                assert status(profile_api, "user_id:nobody") in (200, 404)  # an example's
                profile_api.reset()  # the next example begins
                assert status(profile_api, "user_id:u1234") == 200


            @pytest.mark.profile_api(no_errors="yes")
            def test_bad_value(profile_api):
                pass
            """
        )
    )
    result = consumer.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=9, failed=1, errors=7)  # passed: 6 of them errored after
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_a_swallowed_404*",
            "1 request failed:",
            "  GET /v1/spaces/lg8283283/collections/users/profiles/user_id:U1234/traits -> 404 (basic)",
            "      hint: no exact match; lookups are case-sensitive and `user_id:u1234` exists",
            "This test runs with no_errors*Allow their statuses with"
            " @pytest.mark.profile_api(no_errors=[[]404[]]), or let this test have any with"
            " no_errors=False.",
            "*ERROR at teardown of test_a_delay_rule_does_not_excuse_the_apis_own_404*",
            "  GET */user_id:nobody/traits -> 404 (basic) [[]fault fault-1, the API's own answer[]]",
            "*ERROR at teardown of test_nor_does_one_the_test_removed_since*",
            "  GET */user_id:nobody/traits -> 404 (basic) [[]fault fault-1, the API's own answer[]]",
            "*ERROR at teardown of test_the_fixtures_rules_are_not_the_tests*",
            "  GET */user_id:u1/events -> 503 (basic) [[]fault fault-1 of the fixture files[]]",
            "*ERROR at teardown of test_both_checks_in_one_message*",
            "1 fault rule armed in this test never fired*",
            "  fault-1 links:429: matched no request",
            "*",
            "1 request failed:",
            "  GET */user_id:nobody/traits -> 404 (basic)",
            "*ERROR at teardown of test_a_404_before_a_reset_in_the_test*",
            "1 request failed:",
            "  GET */user_id:nobody/traits -> 404 (basic) (before a reset)",
            "*ERROR at setup of test_bad_value*",
            # Was "…like [404, 429]; got 'yes' (or True, or False)": as if 'yes' were those.
            "*profile_api marker: no_errors takes a list of HTTP statuses like [[]404, 429[]]"
            " (or True, or False); got 'yes'",
        ]
    )
    result.stdout.no_fnmatch_line("ERROR test_strict.py::test_failing_on_its_own*")


def test_a_reset_in_the_test_goes_back_to_the_fixtures_and_the_marker(
    consumer: pytest.Pytester,
) -> None:
    """A reset (a Hypothesis example each) took the marker's realism, rate limit and rules
    away with the test's own changes: a pagination test never met a short page after its
    first example, and the marker's rules failed as "armed before a reset"."""
    consumer.makepyfile(
        test_examples=textwrap.dedent(
            """
            import pytest
            import requests


            def status(profile_api, resource):
                url = profile_api.profile_url("user_id:u1234", resource)
                return requests.get(url, auth=profile_api.auth, timeout=5).status_code


            @pytest.mark.profile_api(
                realism={"short_pages": True}, rate_limit=1, faults=["metadata:503:times=1"]
            )
            def test_examples(profile_api):
                for example in range(3):
                    profile_api.reset()
                    profile_api.fault("links:500")  # the test's own: gone at the next reset
                    assert profile_api.realism()["short_pages"] is True
                    if example == 1:  # the marker's rule fires in one example: enough
                        assert status(profile_api, "metadata") == 503
                    assert status(profile_api, "links") == 500
                    assert status(profile_api, "traits") == 200
                    assert status(profile_api, "traits") == 429  # a burst of 1, each example
                    assert len(profile_api.requests) == (4 if example == 1 else 3)


            @pytest.mark.profile_api(faults=["external_ids:503"])
            def test_a_marker_rule_no_example_fired(profile_api):
                for example in range(2):
                    profile_api.reset()
                    assert status(profile_api, "traits") == 200


            def test_the_next_test_has_no_marker(profile_api):
                profile_api.reset()
                assert profile_api.realism()["short_pages"] is False
                assert status(profile_api, "metadata") == 200
            """
        )
    )
    result = consumer.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_a_marker_rule_no_example_fired*",
            "1 fault rule armed in this test never fired*",
            "  fault-1 external_ids:503: matched no request",
        ]
    )


def test_a_marked_test_that_resets_through_the_admin_api_is_told_the_marker_did_not_hold(
    consumer: pytest.Pytester,
) -> None:
    """An admin reset goes back to the fixtures alone: a marker's rule was gone from then on,
    and not judged either (a reset keeps no marker rule, which the handle's reset arms
    again), so a test whose code never met it passed."""
    consumer.makepyfile(
        test_admin=textwrap.dedent(
            """
            import pytest
            import requests


            def admin_reset(profile_api):
                requests.post(f"{profile_api.url}/__admin/reset", timeout=5)


            def status(profile_api):
                url = profile_api.profile_url("user_id:u1234", "traits")
                return requests.get(url, auth=profile_api.auth, timeout=5).status_code


            @pytest.mark.profile_api(faults=["traits:503:times=1"])
            def test_its_rule_never_met(profile_api):
                admin_reset(profile_api)
                status(profile_api)


            @pytest.mark.profile_api(realism={"short_pages": True})
            def test_failed_without_the_marker(profile_api):
                admin_reset(profile_api)
                assert profile_api.realism()["short_pages"]


            @pytest.mark.profile_api(faults=["traits:503:times=1"])
            def test_the_handles_reset_after_it_keeps_the_marker(profile_api):
                admin_reset(profile_api)
                profile_api.reset()
                assert status(profile_api) == 503


            @pytest.mark.profile_api(no_errors=True)
            def test_a_marker_that_configures_nothing_reset_loses(profile_api):
                admin_reset(profile_api)


            def test_no_marker(profile_api):
                admin_reset(profile_api)
            """
        )
    )
    result = consumer.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_its_rule_never_met*",
            "profile_api: this test reset the fake otherwise than with profile_api.reset() (POST"
            " /__admin/reset, or the reset() of a handle of profile_api.space()), which goes back"
            " to the fixtures alone: the marker's faults=['traits:503:times=1'] did not hold after"
            " it, and its rules were neither met nor judged. Reset with profile_api.reset(), which"
            " goes back to the fixtures and the marker.",
            "*test_failed_without_the_marker*",
            "*Captured profile_api requests call*",
            "note: this test reset the fake otherwise than with profile_api.reset()*the marker's"
            " realism={'short_pages': True} did not hold after it*",
        ]
    )


def test_a_rule_armed_for_an_example_and_reset_unfired_still_fails_the_test(
    consumer: pytest.Pytester,
) -> None:
    """A test that resets in the middle (a Hypothesis example each) answers for the rules
    each example armed, as for the ones still armed at its end."""
    consumer.makepyfile(
        test_examples=textwrap.dedent(
            """
            import pytest
            import requests


            def call(profile_api):
                url = profile_api.profile_url("user_id:u1234", "traits")
                return requests.get(url, auth=profile_api.auth, timeout=5).status_code


            def test_examples(profile_api):
                for example in range(3):
                    profile_api.reset()
                    profile_api.fault("traits:429")
                    profile_api.fault("links:503", optional=True)
                    if example == 2:
                        assert call(profile_api) == 429


            def test_the_next_test_does_not_answer_for_them(profile_api):
                profile_api.fault("traits:429")
                assert call(profile_api) == 429


            @pytest.mark.profile_api(faults_must_fire=False)
            def test_opted_out(profile_api):
                profile_api.fault("traits:429")
                profile_api.reset()
            """
        )
    )
    result = consumer.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_examples*",
            "1 fault rule armed in this test never fired*",
            "  fault-1 traits:429: matched no request (armed before a reset, 2 times)",
            "If a rule is there on purpose*",
        ]
    )


def test_a_fault_armed_as_optional_need_not_fire(consumer: pytest.Pytester) -> None:
    consumer.makepyfile(
        test_optional=textwrap.dedent(
            """
            import pytest


            @pytest.mark.profile_api(faults=[{"route": "events", "status": 503, "optional": True}])
            def test_a_guard_in_the_marker(profile_api):
                pass


            def test_a_guard_and_a_rule_that_must_fire(profile_api):
                profile_api.fault("links:503", optional=True)
                profile_api.fault("traits:429")


            def test_not_a_flag(profile_api):
                profile_api.fault("links:503", optional="yes")


            @pytest.mark.profile_api(faults=["events:503:optional=true"])
            def test_a_guard_in_a_spec_string(profile_api):
                profile_api.fault("links:503:optional=true")


            def test_optional_twice(profile_api):
                profile_api.fault("metadata:503:optional=false", optional=True)


            def test_a_guard_armed_through_the_admin_api(profile_api):
                import requests

                admin = f"{profile_api.url}/__admin/faults"
                requests.post(admin, json={"route": "links", "status": 503, "optional": True}, timeout=5)
                requests.post(admin, json={"spec": "events:503:optional=true"}, timeout=5)
                listed = requests.get(admin, timeout=5).json()["faults"]
                assert [rule["optional"] for rule in listed] == [True, True]
            """
        )
    )
    result = consumer.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4, failed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_a_guard_and_a_rule_that_must_fire*",
            "1 fault rule armed in this test never fired*",
            "  fault-2 traits:429: matched no request",
            "If a rule is there on purpose*arm it with optional=True*",
            "*TypeError: optional takes True or False, got 'yes'",
            "*ValueError: fault: `optional` is in the spec `metadata:503:optional=false` and"
            " given as a keyword too; give it once",
        ]
    )


def test_a_taken_port_is_one_sentence_naming_the_setting(consumer: pytest.Pytester) -> None:
    import socket

    consumer.makepyfile(test_port="def test_uses(profile_api):\n    pass\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = consumer.runpytest(f"--profile-api-port={port}")
        env = consumer.runpytest(f"--profile-api-port={port}", "--profile-api-env")
    # Without xdist too the run stops before any test: each test that asked for the fake
    # errored on it, one by one, the run going on.
    for run in (result, env):
        assert run.ret == pytest.ExitCode.USAGE_ERROR
        run.stderr.fnmatch_lines(
            [
                f"ERROR: profile_api: cannot listen on 127.0.0.1:{port}: *; another process*"
                " (--profile-api-port or profile_api_port; xdist worker N takes PORT+N)"
            ]
        )
        assert "OSError" not in run.stdout.str() + run.stderr.str()


def test_a_port_a_run_before_left_in_time_wait_is_free(consumer: pytest.Pytester) -> None:
    # The check bound without SO_REUSEADDR, which the fake itself sets: a port whose last
    # server closed its connections first (as the fake does when a run ends) was "taken".
    import socket

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the server's side closes first: it is left in TIME_WAIT
            assert client.recv(1) == b""
    consumer.makepyfile(
        test_port=f"def test_uses(profile_api):\n    assert profile_api.url.endswith(':{port}')\n"
    )
    result = consumer.runpytest(f"--profile-api-port={port}")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    "option", ["profile_api_no_errors", "profile_api_faults_must_fire", "profile_api_env"]
)
def test_an_ini_flag_that_is_not_true_or_false_is_one_usage_error_naming_it(
    consumer: pytest.Pytester, option: str
) -> None:
    # pytest's own error named no option, and came as a traceback in every test.
    consumer.makeini(INI + f"{option} = maybe\n")
    consumer.makepyfile(test_it="def test_it(profile_api):\n    pass\n")
    result = consumer.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: {option} (an ini option): invalid truth value 'maybe'; it takes true or"
            " false (or yes/no, on/off, 1/0)"
        ]
    )


@pytest.mark.parametrize("port", ["abc", "٤٠١٠", "70000"])
def test_a_port_that_is_no_port_number_is_one_usage_error_naming_it(
    consumer: pytest.Pytester, port: str
) -> None:
    # Arabic-Indic digits were read as port 4010; in the ini, "abc" failed each test's
    # setup with a traceback; on the command line argparse said "invalid int value".
    consumer.makeini(INI + f"profile_api_port = {port}\n")
    consumer.makepyfile(test_it="def test_it(profile_api):\n    pass\n")
    result = consumer.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: profile_api_port must be a port number from 0 to 65535, got '{port}'"]
    )
    result = consumer.runpytest(f"--profile-api-port={port}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*argument --profile-api-port: `{port}` is not a port number from 0 to 65535"]
    )


def test_a_fixture_path_that_does_not_exist_is_one_usage_error_naming_it(
    consumer: pytest.Pytester,
) -> None:
    # Each test errored with the same "no such file or directory", the run going on.
    consumer.makepyfile(test_it="def test_a(profile_api):\n    pass\n\n\ndef test_b():\n    pass\n")
    result = consumer.runpytest("--profile-api-fixtures=tests/nope.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --profile-api-fixtures: *tests/nope.yaml: no such file or directory"]
    )
    consumer.makeini(INI + "profile_api_fixtures = missing.yaml\n")
    result = consumer.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: profile_api_fixtures (an ini option): *missing.yaml: no such file or directory"]
    )


@pytest.mark.parametrize(
    "setting",
    ["profile_api_fixtures = missing.yaml", "profile_api_port = abc", "profile_api_env = maybe"],
)
def test_help_is_shown_whatever_the_settings(consumer: pytest.Pytester, setting: str) -> None:
    # `pytest --help` was the usage error of a setting it could have told how to fix.
    consumer.makeini(INI + setting + "\n")
    result = consumer.runpytest("--help")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*--profile-api-fixtures*"])


def test_xdist_workers_ports_are_checked_before_any_worker_starts(
    consumer: pytest.Pytester,
) -> None:
    """A worker that failed to listen on PORT+N crashed, xdist replaced it under the next id
    on the next port, and the run passed against whatever held the fixed port (or, past
    65535, crashed worker after worker): the controller says it once, as a usage error."""
    consumer.makepyfile(test_one="def test_one(profile_api):\n    pass\n")
    result = consumer.runpytest_subprocess(
        "-p", "no:randomly", "-n", "2", "--profile-api-port=65535"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--profile-api-port 65535: xdist worker gw1 takes PORT+1 = 65536, past 65535*"]
    )
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        result = consumer.runpytest_subprocess(
            "-p", "no:randomly", "-n", "2", f"--profile-api-port={taken}"
        )
        # xdist's workers without -n: --tx (crashed and restarted without end)
        by_tx = consumer.runpytest_subprocess(
            "-p", "no:randomly", "--tx", "2*popen", "--dist", "load", f"--profile-api-port={taken}"
        )
    for run in (result, by_tx):
        assert run.ret == pytest.ExitCode.USAGE_ERROR
        run.stderr.fnmatch_lines(
            [f"*cannot listen on 127.0.0.1:{taken} (xdist worker gw0's port)*"]
        )
        assert "node down" not in run.stdout.str() + run.stderr.str()


def test_hypothesis_health_check_on_profile_api_says_how_to_use_it(
    consumer: pytest.Pytester,
) -> None:
    """Hypothesis refuses a function-scoped fixture in a @given test and says to suppress the
    check if the test works anyway; a test that did so and never reset the fake between
    examples failed on colliding ids. The refusal now says what profile_api asks of it."""
    consumer.makeini(INI.replace(" -p no:hypothesispytest", ""))
    consumer.makepyfile(
        test_given=textwrap.dedent(
            """
            from hypothesis import given, strategies as st


            @given(st.integers())
            def test_examples(profile_api, n):
                profile_api.reset()
            """
        )
    )
    result = consumer.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*FailedHealthCheck: *uses a function-scoped fixture 'profile_api'*",
            "*profilemock: profile_api is one fake for all the examples of a @given test*"
            " call profile_api.reset() first in the test*",
        ]
    )
