"""pytest plugin: the ``profile_api`` fixture. Thin on purpose; the logic is in
``profilemock.testing``.

- One fake per pytest process (each xdist worker its own), in its own thread and event
  loop, started on first use and stopped at the end of the session.
- ``profile_api`` resets it before each test and re-raises, in the test, anything that went
  wrong inside the server while the test ran.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from profilemock.live import LiveProxy, LiveSettings
    from profilemock.testing import ProfileAPI, ServerPool

# Imported lazily: pytest loads this plugin in every run in the environment, and most runs
# never use the fake.
_USES_HANDLE = pytest.StashKey["ProfileAPI"]()
_LIVE: pytest.StashKey[LiveSettings] = pytest.StashKey()
_NOT_GIVEN: Any = object()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("profilemock", "profilemock (fake Segment Profile API)")
    group.addoption(
        "--profile-api-fixtures",
        action="append",
        default=[],
        metavar="PATH",
        help="fixture file or directory for the profile_api fake (repeatable; default: the demo)",
    )
    group.addoption(
        "--profile-api-live",
        action="store_true",
        default=None,
        help="run profile_api tests against the real API through a validating proxy",
    )
    group.addoption(
        "--profile-api-url",
        metavar="URL",
        help="live mode: the real API's base URL (such as https://profiles.segment.com)",
    )
    group.addoption("--profile-api-space", metavar="ID", help="live mode: the space to read")
    parser.addini("profile_api_live", type="bool", default=False, help="live mode by default")
    parser.addini("profile_api_url", default="", help="live mode: the real API's base URL")
    parser.addini("profile_api_space", default="", help="live mode: the space to read")
    parser.addini(
        "profile_api_fixtures",
        type="paths",
        default=[],
        help="fixture files or directories for the profile_api fake (default: the demo)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "profile_api(fixtures=None, now=None, rate_limit=..., faults=(), realism={},"
        " live=True): configure the profile_api fake for this test — fixture files, a frozen"
        " clock, a rate limit (None: unlimited), fault rules (dicts or --fault specs), realism"
        " switches; live=False: the test needs the fake and is skipped under"
        " --profile-api-live.",
    )
    if _is_live(config):
        import os

        from profilemock.live import LiveSettings

        try:
            config.stash[_LIVE] = LiveSettings.resolve(
                config.getoption("profile_api_url") or config.getini("profile_api_url"),
                config.getoption("profile_api_space") or config.getini("profile_api_space"),
                os.environ,
            )
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None


def _is_live(config: pytest.Config) -> bool:
    given = config.getoption("profile_api_live")
    return bool(config.getini("profile_api_live") if given is None else given)


def _marker_arguments(
    fixtures: Iterable[str] | None = None,
    now: str | dt.datetime | None = _NOT_GIVEN,
    rate_limit: float | None = _NOT_GIVEN,
    faults: Iterable[str | Mapping[str, Any]] = _NOT_GIVEN,
    realism: Mapping[str, Any] = _NOT_GIVEN,
    live: bool = True,
) -> dict[str, Any]:
    """The marker's signature: its keyword arguments are the handle's configuration."""
    given = {"now": now, "rate_limit": rate_limit, "faults": faults, "realism": realism}
    return {
        "fixtures": fixtures,
        "live": live,
        **{k: v for k, v in given.items() if v is not _NOT_GIVEN},
    }


@pytest.fixture(scope="session")
def profile_api_servers(pytestconfig: pytest.Config) -> Iterator[ServerPool]:
    """The fakes of this pytest process, by fixture files."""
    given = pytestconfig.getoption("profile_api_fixtures") or pytestconfig.getini(
        "profile_api_fixtures"
    )
    from profilemock.testing import ServerPool

    pool = ServerPool(given)
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def profile_api_live_proxy(pytestconfig: pytest.Config) -> Iterator[LiveProxy]:
    """Live mode: the validating proxy in front of the real API, started once."""
    from profilemock.live import LiveProxy

    proxy = LiveProxy(pytestconfig.stash[_LIVE])
    yield proxy
    proxy.close()


@pytest.fixture
def profile_api(request: pytest.FixtureRequest) -> ProfileAPI:
    """A fake Segment Profile API, reset for this test (live mode: the real API through a
    validating proxy)."""
    from profilemock.problems import FixtureError
    from profilemock.testing import ProfileAPI

    marker = request.node.get_closest_marker("profile_api")
    options = _marker_arguments(*marker.args, **marker.kwargs) if marker else _marker_arguments()
    fixtures = options.pop("fixtures")
    if _LIVE in request.config.stash:
        return _live_handle(request, options, fixtures)
    options.pop("live")
    profile_api_servers: ServerPool = request.getfixturevalue("profile_api_servers")
    try:
        server = profile_api_servers.get(fixtures)
    except FixtureError as exc:
        pytest.fail(f"profile_api fixtures: {exc}", pytrace=False)
    handle = ProfileAPI(server)
    handle.reset()
    handle.configure(**options)
    request.node.stash[_USES_HANDLE] = handle
    return handle


def _live_handle(
    request: pytest.FixtureRequest, options: dict[str, Any], fixtures: Any
) -> ProfileAPI:
    from profilemock.live import LiveProfileAPI

    if not options.pop("live"):
        pytest.skip("needs the fake (@pytest.mark.profile_api(live=False)); live mode is on")
    handle = LiveProfileAPI(request.getfixturevalue("profile_api_live_proxy"), skip=pytest.skip)
    handle.reset()
    if fixtures is not None:
        options["fixtures"] = fixtures
    handle.configure(**options)
    request.node.stash[_USES_HANDLE] = handle
    return handle


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Fail the test itself when the fake broke while it ran (not its teardown)."""
    result = yield
    handle = item.stash.get(_USES_HANDLE, None)
    if handle is not None:
        handle.check()
    return result
