"""The pytest plugin, tested the way users meet it: inner pytest runs with pytester."""

from __future__ import annotations

import json
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
            import requests


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


            @pytest.mark.profile_api(color="blue")
            def test_bad_marker_argument(profile_api):
                pass
            """
        )
    )
    result = consumer.runpytest()
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*unexpected keyword argument 'color'*"])


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


def test_a_broken_fixture_file_is_a_clear_error(consumer: pytest.Pytester) -> None:
    (consumer.path / "bad.yaml").write_text("spaces: {s: {tokens: [t], users: [{idz: {}}]}}\n")
    consumer.makepyfile(test_bad="def test_uses(profile_api):\n    pass\n")
    result = consumer.runpytest("--profile-api-fixtures", "bad.yaml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*profile_api fixtures: 1 problem in fixtures:*", "*bad.yaml:1:36: unknown key `idz`*"]
    )
    assert "Traceback" not in result.stdout.str()


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
    urls = {s["worker"]: set() for s in seen}
    for s in seen:
        urls[s["worker"]].add(s["url"])
    assert len(urls) == 2
    assert all(len(u) == 1 for u in urls.values())
    assert len(set.union(*urls.values())) == 2
