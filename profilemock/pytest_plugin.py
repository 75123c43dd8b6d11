"""pytest plugin: the ``profile_api`` fixture. Thin on purpose; the logic is in
``profilemock.testing``.

- One fake per pytest process (each xdist worker its own), in its own thread and event
  loop, started on first use and stopped at the end of the session.
- ``profile_api`` resets it before and after each test and re-raises, in the test,
  anything that went wrong inside the server while the test ran (at teardown: while its
  fixtures were torn down).
- A failed test that used the fake gets a report section listing the requests it saw.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from profilemock.api import (
    LAST_PORT,
    PORT_NUMBERS,
    TOKEN_VARIABLE,
    is_digits,
    port_argument,
    port_number,
)

if TYPE_CHECKING:
    from profilemock.live import LiveProxy, LiveSettings
    from profilemock.testing import Instant, ProfileAPI, ServerPool

# Imported lazily: pytest loads this plugin in every run in the environment, and most runs
# never use the fake.
_USES_HANDLE = pytest.StashKey["ProfileAPI"]()
_POOL = pytest.StashKey["ServerPool"]()
_LIVE: pytest.StashKey[LiveSettings] = pytest.StashKey()
_PROXY: pytest.StashKey[LiveProxy] = pytest.StashKey()
_REACHABLE: pytest.StashKey[ProfileAPI] = pytest.StashKey()
_FAILURES: pytest.StashKey[list[BaseException]] = pytest.StashKey()
_PASSED = pytest.StashKey[bool]()
_STRICT = pytest.StashKey["Strictness"]()
_STARTED = pytest.StashKey[bool]()
_PARSED = pytest.StashKey[bool]()
"""The command line is parsed in full (``pytest_configure`` has begun)."""
_INI_FLAGS = pytest.StashKey[dict[str, bool]]()
_NOT_GIVEN: Any = object()
REPORT_SECTION = "profile_api requests"
NO_ERRORS_ADVICE = (
    "This test runs with no_errors (the marker's no_errors=, or `profile_api_no_errors = true`"
    " in the ini file): any 4xx/5xx the fake answered fails it, but those its own fault rules"
    " made. Expected ones? Allow their statuses with @pytest.mark.profile_api(no_errors=[404]),"
    " or let this test have any with no_errors=False."
)
HYPOTHESIS_ADVICE = (
    "profilemock: profile_api is one fake for all the examples of a @given test, and is made"
    " for it: suppress this health check (suppress_health_check=[HealthCheck."
    "function_scoped_fixture]) and call profile_api.reset() first in the test, so that each"
    " example starts from the fixtures and the marker."
)
ENV_URL = "PROFILE_API_URL"
ENV_SPACE = "PROFILE_API_SPACE_ID"
ENV_TOKEN = TOKEN_VARIABLE


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
    group.addoption(
        "--profile-api-max-body",
        metavar="SIZE",
        help="live mode: bytes of one upstream answer at most, such as 64MB (default 32MB);"
        " a larger one fails its test",
    )
    parser.addini("profile_api_live", type="bool", default=False, help="live mode by default")
    parser.addini("profile_api_url", default="", help="live mode: the real API's base URL")
    parser.addini("profile_api_space", default="", help="live mode: the space to read")
    parser.addini("profile_api_max_body", default="", help="like --profile-api-max-body")
    group.addoption(
        "--profile-api-port",
        type=port_argument,
        default=None,
        metavar="PORT",
        help="port of the default profile_api fake (default: a free one; xdist worker N"
        " takes PORT+N)",
    )
    group.addoption(
        "--profile-api-env",
        action="store_true",
        default=None,
        help=f"start the default fake before collection and export {ENV_URL}, {ENV_SPACE}"
        f" and {ENV_TOKEN}, for code that reads its configuration at import time",
    )
    parser.addini(
        "profile_api_fixtures",
        type="paths",
        default=[],
        help="fixture files or directories for the profile_api fake (default: the demo)",
    )
    parser.addini("profile_api_port", default="", help="like --profile-api-port")
    parser.addini("profile_api_env", type="bool", default=False, help="like --profile-api-env")
    parser.addini(
        "profile_api_faults_must_fire",
        type="bool",
        default=True,
        help="fail a test at teardown when a fault rule it armed never fired (default true;"
        " the marker's faults_must_fire= decides for one test)",
    )
    parser.addini(
        "profile_api_no_errors",
        type="bool",
        default=False,
        help="fail a test at teardown when the fake answered any of its requests with a 4xx or"
        " 5xx (other than what the test's own fault rules made; default false; the marker's"
        " no_errors= decides for one test)",
    )
    parser.addini(
        "profile_api_snapshots",
        type="bool",
        default=True,
        help="start fixture sets of 1 MB and more from a snapshot of an earlier check, as"
        " `profilemock serve` does (in $PROFILEMOCK_CACHE_DIR, else ~/.cache/profilemock)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_PARSED] = True
    config.addinivalue_line(
        "markers",
        "profile_api(fixtures=None, now=None, space=None, rate_limit=..., faults=(), realism={},"
        " live=True, faults_must_fire=None, no_errors=None):"
        " configure the profile_api fake for this test — fixture files (relative to the"
        " rootdir), a pinned date that relative fixture times follow, the space of the handle,"
        " a rate limit (requests/s, {'per_second': N, 'burst': M}, None: unlimited), fault"
        " rules (dicts or --fault specs), realism"
        " switches; live=False: the test needs the fake and is skipped under"
        " --profile-api-live; faults_must_fire=False: a fault rule the test armed may go"
        " unfired (default: the ini's profile_api_faults_must_fire, true); no_errors=True:"
        " any 4xx/5xx the fake answered fails the test, but those its own fault rules made"
        " (a list of statuses: all but those; default: the ini's profile_api_no_errors).",
    )
    _start(config)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """With --profile-api-env the fake starts, and its address is exported, before any
    conftest.py is imported: an app configured at import time there (as Django's and
    Flask's settings are) would otherwise read the real API's address, and its calls go
    there. (Only for this plugin loaded by then, as an installed one is; else at
    pytest_configure.)"""
    _start(early_config)


def _start(config: pytest.Config) -> None:
    """Live mode's settings read, and with --profile-api-env the fake (or the validating
    proxy) started and exported; once, as early as the plugin is asked."""
    if config.stash.get(_STARTED, False):
        return
    config.stash[_STARTED] = True
    asked = config.known_args_namespace
    if asked.help or asked.version:  # shown whatever the settings, as pytest's own are
        return
    _ini_flag(config, "profile_api_live")  # all of them read, so a bad one fails the run here
    _port(config)  # and the port (it failed every test's setup, with a traceback)
    if _is_live(config):
        from profilemock.live import LiveSettings

        try:
            config.stash[_LIVE] = LiveSettings.resolve(
                _option(config, "profile_api_url") or config.getini("profile_api_url"),
                _option(config, "profile_api_space") or config.getini("profile_api_space"),
                os.environ,
                max_body=_option(config, "profile_api_max_body")
                or config.getini("profile_api_max_body"),
            )
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        if _exports_env(config) and not _is_xdist_controller(config):
            # Live, the code configured from the environment goes through the validating
            # proxy too: straight to the upstream, no answer of it would be checked.
            from profilemock.live import LiveProfileAPI

            _export(config, LiveProfileAPI(_live_proxy(config)))
        return
    _fixture_paths(config, check=True)
    if not _worker_id(config):
        _check_fixed_ports(config)
    if _exports_env(config) and not _is_xdist_controller(config):
        from profilemock.problems import FixtureError
        from profilemock.testing import PortTakenError, ProfileAPI

        try:
            handle = ProfileAPI(_pool(config).get())
        except FixtureError as exc:
            raise pytest.UsageError(f"profile_api fixtures: {exc}") from None
        except UserWarning as exc:  # a fixture file's warning, which filterwarnings made an error
            raise pytest.UsageError(
                f"{exc} (a warning, an error under this run's filterwarnings: mend the"
                " file, or add `ignore:profilemock fixtures:UserWarning` to them)"
            ) from None
        except PortTakenError as exc:
            raise pytest.UsageError(f"profile_api: {exc} {PORT_ADVICE}") from None
        _export(config, handle)


def _option(config: pytest.Config, name: str) -> Any:
    """A command-line option: as parsed, or, before pytest has parsed the command line in
    full (while the initial conftests load: its options hold their defaults then), as it
    parsed the known arguments early."""
    if config.stash.get(_PARSED, False):
        return getattr(config.option, name, None)
    return getattr(config.known_args_namespace, name, None)


def _export(config: pytest.Config, handle: ProfileAPI) -> None:
    """Tell code configured from the environment where the fake (or the proxy) is."""
    config.stash[_REACHABLE] = handle
    os.environ.update({ENV_URL: handle.url, ENV_SPACE: handle.space_id, ENV_TOKEN: handle.token})


INI_FLAGS = (
    "profile_api_live", "profile_api_env", "profile_api_faults_must_fire", "profile_api_no_errors",
    "profile_api_snapshots",
)  # fmt: skip


def _ini_flag(config: pytest.Config, name: str) -> bool:
    """One of the ini file's booleans (``INI_FLAGS``), all read on first use. A value that
    is neither true nor false (``maybe``) fails the run once, naming its option: pytest's
    own error ("invalid truth value 'maybe'") named none, and came as a traceback in every
    test."""
    flags = config.stash.get(_INI_FLAGS, None)
    if flags is None:
        flags = {}
        for each in INI_FLAGS:
            try:
                flags[each] = bool(config.getini(each))
            # pytest raises UsageError (ValueError before pytest 9; TypeError from TOML).
            except (pytest.UsageError, TypeError, ValueError) as exc:
                raise pytest.UsageError(
                    f"{each} (an ini option): {exc}; it takes true or false"
                    " (or yes/no, on/off, 1/0)"
                ) from None
        config.stash[_INI_FLAGS] = flags
    return flags[name]


def _is_live(config: pytest.Config) -> bool:
    given = _option(config, "profile_api_live")
    return bool(_ini_flag(config, "profile_api_live") if given is None else given)


def pytest_unconfigure(config: pytest.Config) -> None:
    pool = config.stash.get(_POOL, None)
    if pool is not None:
        pool.close()
        del config.stash[_POOL]
    proxy = config.stash.get(_PROXY, None)
    if proxy is not None:
        proxy.close()
        del config.stash[_PROXY]


def _exports_env(config: pytest.Config) -> bool:
    option = _option(config, "profile_api_env")
    return bool(_ini_flag(config, "profile_api_env") if option is None else option)


def _is_xdist_controller(config: pytest.Config) -> bool:
    return _xdist_workers(config) > 0 and not _worker_id(config)


def _xdist_workers(config: pytest.Config) -> int:
    """How many workers xdist starts (``-n N``, ``-n auto``, ``--tx 2*popen``); 0 without."""
    given = _option(config, "numprocesses")
    if given:
        return int(given) if is_digits(str(given)) else os.cpu_count() or 1
    specs: list[str] = _option(config, "tx") or []
    return sum(int(s.partition("*")[0]) if "*" in s else 1 for s in specs)


def _worker_id(config: pytest.Config) -> str:
    """This xdist worker's id (``gw0``), "" outside one. Its config is told only once the
    command line is parsed; before (where the initial conftests load), its environment
    says — of a process xdist started, with ``python -c`` as execnet starts its workers: a
    pytest run inside a worker (pytester's, tox's) inherits the variable too."""
    worker: str = getattr(config, "workerinput", {}).get("workerid", "")
    if worker or not _xdist_workers(config) or sys.argv[:1] != ["-c"]:
        return worker
    return os.environ.get("PYTEST_XDIST_WORKER", "")


def _check_fixed_ports(config: pytest.Config) -> None:
    """The fixed port, checked before any test: taken, every test that asks for the fake
    would error on it, one by one. With xdist, worker N takes PORT+N: each is checked here,
    in the controller, before a worker starts. (A worker that fails to start is replaced by
    xdist under the next id, on the next port, and a service configured for the fixed port
    would talk to whatever holds it, the run green.)"""
    given = _port(config)
    if not given:
        return
    from profilemock.mockserver.serving import bind
    from profilemock.testing import PortTakenError

    workers = _xdist_workers(config)
    for n in range(max(1, workers)):
        port = given + n
        if port > LAST_PORT:
            raise _past_the_last_port(given, n)
        try:  # bound as the fake binds it: a port a run before left in TIME_WAIT is free
            bind("127.0.0.1", port).close()
        except OSError as exc:
            taken = PortTakenError(port, exc, f"xdist worker gw{n}'s port" if workers else "")
            raise pytest.UsageError(f"profile_api: {taken} {PORT_ADVICE}") from None


def _port(config: pytest.Config) -> int | None:
    given: int | None = _option(config, "profile_api_port")
    if given is None:
        text = str(config.getini("profile_api_port")).strip()
        if not text:
            return None
        given = port_number(text)
        if given is None:
            raise pytest.UsageError(f"profile_api_port must be {PORT_NUMBERS}, got {text!r}")
    worker = _worker_id(config)
    port = given + int(worker[2:]) if given and worker.startswith("gw") else given
    if port > LAST_PORT:
        # The socket would take it modulo 65536 (65536: any free port) without a word.
        raise _past_the_last_port(given, int(worker[2:]))
    return port


def _past_the_last_port(given: int, worker: int) -> pytest.UsageError:
    return pytest.UsageError(
        f"--profile-api-port {given}: xdist worker gw{worker} takes PORT+{worker} ="
        f" {given + worker}, past {LAST_PORT}; choose a lower port"
    )


PORT_ADVICE = "(--profile-api-port or profile_api_port; xdist worker N takes PORT+N)"


def _pool(config: pytest.Config) -> ServerPool:
    """The fakes of this pytest process, by fixture files; created on first use."""
    pool = config.stash.get(_POOL, None)
    if pool is None:
        from profilemock.testing import ServerPool

        given = _fixture_paths(config)
        snapshots = None
        if _ini_flag(config, "profile_api_snapshots"):
            from profilemock.fixtures.snapshot import Snapshots, default_directory

            snapshots = Snapshots(default_directory())
        pool = config.stash[_POOL] = ServerPool(given, port=_port(config), snapshots=snapshots)
    return pool


def _fixture_paths(config: pytest.Config, *, check: bool = False) -> list[str]:
    """The default fake's fixture paths: the command line's, relative to where pytest was
    started, else the ini file's, relative to it (pytest resolves those). ``check``: one
    that does not exist is a usage error naming its setting (every test errored with it)."""
    options: list[str] = _option(config, "profile_api_fixtures") or []
    if "" in options:  # read as the directory pytest started in, and every file under it
        raise pytest.UsageError(
            "--profile-api-fixtures: the path is empty (was it taken from a variable that"
            " is not set?)"
        )
    given = [str(Path(config.invocation_params.dir, p)) for p in options] or [
        str(p) for p in config.getini("profile_api_fixtures")
    ]
    setting = "--profile-api-fixtures" if options else "profile_api_fixtures (an ini option)"
    for path in given if check else ():
        if not Path(path).exists():
            raise pytest.UsageError(f"{setting}: {path}: no such file or directory")
    return given


def _marker_arguments(
    fixtures: Iterable[str] | None = None,
    now: Instant | None = None,
    space: str | None = None,
    rate_limit: float | Mapping[str, float] | None = _NOT_GIVEN,
    faults: Iterable[str | Mapping[str, Any]] = _NOT_GIVEN,
    realism: Mapping[str, Any] = _NOT_GIVEN,
    live: bool = True,
    faults_must_fire: bool | None = None,
    no_errors: bool | Iterable[int] | None = None,
) -> dict[str, Any]:
    """The marker's signature: its keyword arguments are the handle's configuration."""
    given = {"rate_limit": rate_limit, "faults": faults, "realism": realism}
    return {
        "fixtures": fixtures,
        "now": now,
        "space": space,
        "live": live,
        "faults_must_fire": faults_must_fire,
        "no_errors": no_errors,
        **{k: v for k, v in given.items() if v is not _NOT_GIVEN},
    }


MARKER_ARGUMENTS = (
    "fixtures", "now", "space", "rate_limit", "faults", "realism", "live", "faults_must_fire",
    "no_errors",
)  # fmt: skip


def _marker_options(markers: Iterable[pytest.Mark], root: Path) -> dict[str, Any]:
    """The test's configuration from its ``profile_api`` markers, closest first (the
    test's own, its class's, its module's ``pytestmark``): each argument from the closest
    marker that gives it, so a test's ``no_errors=`` does not drop its module's
    ``faults=``. ``root``: where marker paths start (the rootdir)."""
    merged: dict[str, Any] = {}
    for marker in markers:
        unknown = [name for name in marker.kwargs if name not in MARKER_ARGUMENTS]
        if unknown:
            from profilemock.words import did_you_mean

            raise TypeError(
                f"unknown argument `{unknown[0]}`; it takes {', '.join(MARKER_ARGUMENTS)}"
                + did_you_mean(unknown[0], MARKER_ARGUMENTS)
            )
        if marker.args:
            raise TypeError(_positional(marker.args, root))
        for name, value in marker.kwargs.items():
            merged.setdefault(name, value)
    return _marker_arguments(**merged)


def _positional(args: tuple[Any, ...], root: Path) -> str:
    """Why the marker refuses ``args`` (a fault spec or a fixture path was read as
    ``fixtures``: "no such file traits:429"), and the keyword it most likely meant: a
    time is ``now``, a path (a fixture file's suffix, a slash, or a directory of the
    rootdir, ``root``) ``fixtures``."""
    from profilemock.faults import as_mapping
    from profilemock.fixtures.loader import fixture_suffix
    from profilemock.timeutil import TimestampError, parse_timestamp
    from profilemock.words import counted

    said = (
        f"takes its arguments by name ({', '.join(MARKER_ARGUMENTS)}); got"
        f" {counted(len(args), 'positional argument')}: {', '.join(map(repr, args))}"
    )
    if len(args) > 1:
        return said
    (given,) = args
    if isinstance(given, dt.datetime):
        return f"{said}; for the clock's date, write now={given!r}"
    if isinstance(given, str):
        with contextlib.suppress(TimestampError):
            parse_timestamp(given, 0)
            return f"{said}; for the clock's date, write now={given!r}"
    items = [given] if isinstance(given, (str, Path)) else given
    if not isinstance(items, (list, tuple)) or not items:
        return said
    written = [str(item) if isinstance(item, Path) else item for item in items]
    if all(
        isinstance(item, Mapping) or (isinstance(item, str) and as_mapping(item) is not None)
        for item in written
    ):
        return f"{said}; for fault rules, write faults={written!r}"
    if all(
        isinstance(item, str)
        and (
            fixture_suffix(Path(item)) or "/" in item or os.sep in item or Path(root, item).is_dir()
        )
        for item in written
    ):
        return f"{said}; for fixture files, write fixtures={written!r}"
    return said


@pytest.fixture(scope="session")
def profile_api_servers(pytestconfig: pytest.Config) -> ServerPool:
    """The fakes of this pytest process, by fixture files (stopped at the end)."""
    return _pool(pytestconfig)


@pytest.fixture(scope="session")
def profile_api_live_proxy(pytestconfig: pytest.Config) -> LiveProxy:
    """Live mode: the validating proxy in front of the real API, started once (stopped at
    the end)."""
    return _live_proxy(pytestconfig)


def _live_proxy(config: pytest.Config) -> LiveProxy:
    proxy = config.stash.get(_PROXY, None)
    if proxy is None:
        from profilemock.live import LiveProxy

        proxy = config.stash[_PROXY] = LiveProxy(config.stash[_LIVE])
    return proxy


@pytest.fixture
def profile_api(request: pytest.FixtureRequest) -> Iterator[ProfileAPI]:
    """A fake Segment Profile API, reset for this test (live mode: the real API through a
    validating proxy)."""
    handle = _set_up(request)
    yield handle
    # What broke inside the fake while the test's own fixtures were torn down (a client
    # logging out, a cache flushed through the API) fails the test at teardown; what broke
    # during the test itself was raised by pytest_runtest_call, and is not raised again.
    # Then what a test that passed must also have done (its faults fired). Then the fake
    # goes back to its fixtures: a test that does not ask for profile_api but reaches it
    # (--profile-api-env, --profile-api-port) sees none of this test's changes.
    try:
        handle.check()
        if request.node.stash.get(_PASSED, False):
            _verify(handle, request.node.stash[_STRICT])
    finally:
        handle.reset()


class Strictness:
    """What a test that passed must also have done, checked at its teardown: the marker's
    arguments, else the ini's."""

    def __init__(self, config: pytest.Config, options: dict[str, Any]) -> None:
        self.faults_must_fire = _flag(
            "faults_must_fire",
            options.pop("faults_must_fire"),
            _ini_flag(config, "profile_api_faults_must_fire"),
        )
        no_errors = options.pop("no_errors")
        self.no_errors: tuple[int, ...] | None = None
        """The statuses a test that runs with no_errors may get (None: it does not)."""
        if no_errors is None or isinstance(no_errors, bool):
            if _flag("no_errors", no_errors, _ini_flag(config, "profile_api_no_errors")):
                self.no_errors = ()
        else:
            from profilemock.testing import statuses

            self.no_errors = statuses(no_errors, "no_errors", " (or True, or False)")


def _flag(name: str, given: Any, default: Any) -> bool:
    """The marker's ``name=`` (True or False), else the ini's ``default``."""
    from profilemock.testing import flag

    return bool(default) if given is None else flag(given, name)


def _verify(handle: ProfileAPI, strict: Strictness) -> None:
    """Fail the test, one message for every check that failed."""
    __tracebackhide__ = True
    checks: list[tuple[Callable[[], None], str]] = [(lambda: _assert_marker_kept(handle), "")]
    if strict.faults_must_fire:
        checks.append((handle.assert_faults_fired, ""))
    if strict.no_errors is not None:
        allowed = strict.no_errors

        checks.append((lambda: handle.assert_no_errors(allow=allowed), NO_ERRORS_ADVICE))
    problems = []
    for check, advice in checks:
        try:
            check()
        except AssertionError as exc:
            problems.append(f"{exc}\n{advice}" if advice else str(exc))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def _assert_marker_kept(handle: ProfileAPI) -> None:
    lost = handle._marker_lost()
    if lost is not None:
        raise AssertionError(f"profile_api: {lost}")


def _set_up(request: pytest.FixtureRequest) -> ProfileAPI:
    from profilemock.problems import FixtureError
    from profilemock.testing import PortTakenError

    try:
        if _LIVE in request.config.stash:
            return _live_handle(request)
        return _handle(request, request.getfixturevalue("profile_api_servers"))
    except FixtureError as exc:
        problem = f"profile_api fixtures: {exc}"
    except PortTakenError as exc:
        problem = f"profile_api: {exc} {PORT_ADVICE}"
    except (TypeError, ValueError) as exc:
        problem = f"profile_api marker: {exc}"
    # Outside the except block: the failure is the one sentence, without a chained error.
    pytest.fail(problem, pytrace=False)


def _test_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The marker's options for the test, what it must also have done (``Strictness``)
    taken out and kept for its teardown."""
    options = _marker_options(request.node.iter_markers("profile_api"), request.config.rootpath)
    request.node.stash[_STRICT] = Strictness(request.config, options)
    return options


def _handle(request: pytest.FixtureRequest, pool: ServerPool) -> ProfileAPI:
    from profilemock.testing import ProfileAPI, check_list, flag

    options = _test_options(request)
    fixtures, now, space = options.pop("fixtures"), options.pop("now"), options.pop("space")
    # Checked here too, so that live="no" is refused before a live run would run the test.
    flag(options.pop("live"), "live")
    if fixtures is not None and not isinstance(fixtures, (str, bytes, Path)):
        fixtures = list(fixtures) if isinstance(fixtures, Iterable) else fixtures
        like = ", like fixtures=['tests/vip.yaml']"
        check_list("fixtures", fixtures, "fixture paths", (str, os.PathLike), like)
        # Marker paths are relative to the rootdir, wherever pytest was started.
        root = request.config.rootpath
        for given in fixtures:
            if not os.path.lexists(Path(root, given)):  # a broken link: the loader says so
                raise ValueError(_no_such_marker_path(Path(given), root, request.path.parent))
        fixtures = [Path(root, p) for p in fixtures]
    handle = ProfileAPI(pool.get(fixtures, now), space)
    handle._start_test(options)
    request.node.stash[_USES_HANDLE] = handle
    return handle


def _no_such_marker_path(given: Path, root: Path, beside: Path) -> str:
    """A marker's fixture path that is not there, and where marker paths start (a path
    written from the test's directory read "no such file" of the rootdir's)."""
    said = f"fixtures: {Path(root, given)}: no such file or directory"
    if given.is_absolute():
        return said
    said += f"; marker paths are relative to the rootdir, {root}"
    if beside != root and Path(beside, given).exists():
        meant = os.path.relpath(Path(beside, given), root)
        said += f" (`{given}` is beside the test: write fixtures=[{meant!r}])"
    return said


def _live_handle(request: pytest.FixtureRequest) -> ProfileAPI:
    from profilemock.live import LiveProfileAPI
    from profilemock.testing import flag

    options = _test_options(request)
    # Checked: live="no" is truthy, and the test would run against the real API.
    if not flag(options.pop("live"), "live"):
        pytest.skip("needs the fake (@pytest.mark.profile_api(live=False)); live mode is on")
    handle = LiveProfileAPI(request.getfixturevalue("profile_api_live_proxy"), skip=pytest.skip)
    handle._restart()
    # Anything that configures the fake skips the test in live mode.
    given = {k: v for k, v in options.items() if v is not None}
    handle.configure(**given)
    request.node.stash[_USES_HANDLE] = handle
    return handle


# First, so as to wrap Hypothesis's own: its health check fails the test before the test runs.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Fail the test itself when the fake broke while it ran (not its teardown)."""
    __tracebackhide__ = True
    handle = item.stash.get(_USES_HANDLE, None)
    try:
        result = yield
    except (Exception, pytest.fail.Exception) as exc:
        # The test failed on its own, often because of what broke in the fake: that goes
        # into its report (one failure), not raised again as an error at teardown.
        if handle is not None:
            item.stash[_FAILURES] = handle._take_failures()
            if _one_fixture_for_examples(exc):
                _add_note(exc, HYPOTHESIS_ADVICE)
        raise
    if handle is not None:
        handle.check()
    # The code under test may reach the default fake whatever the test asked for (a marker
    # with fixtures= or now= gives the test a handle on another fake).
    reachable = _reachable_fake(item.config)
    if reachable is not None and (handle is None or reachable.url != handle.url):
        reachable.check()
    return result


def _one_fixture_for_examples(exc: BaseException) -> bool:
    """Whether ``exc`` is Hypothesis's health check against a function-scoped fixture, which
    tells what profile_api is but not how a test uses it."""
    errors = sys.modules.get("hypothesis.errors")
    return (
        errors is not None
        and isinstance(exc, errors.FailedHealthCheck)
        and "function-scoped fixture" in str(exc)
    )


def _add_note(exc: BaseException, note: str) -> None:
    """``exc.add_note(note)``, which pytest shows below the error (on Python 3.10 too)."""
    if sys.version_info >= (3, 11):
        exc.add_note(note)
    else:
        exc.__dict__.setdefault("__notes__", []).append(note)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """After its fixtures are torn down, a test that reached the default fake without its
    handle (the code under test, or the test itself through the admin API: a fault, a
    frozen clock) leaves it as the fixtures loaded it for the next test, as one with the
    handle does — also when the teardown failed (its handle on a fake of its marker's, a
    rule of the marker's that never fired); what broke inside it meanwhile fails this
    test's teardown. A test that passed with a marker of its own and never used the
    fixture fails too (``_unused_marker``), as does one whose code reached the default
    fake while its handle is on another (``_not_the_handles_fake``)."""
    __tracebackhide__ = True
    handle = item.stash.get(_USES_HANDLE, None)
    reachable = _reachable_fake(item.config)
    if reachable is None or (handle is not None and reachable.url == handle.url):
        reachable = None
    try:
        result = yield
    except BaseException as exc:
        if reachable is not None:  # the teardown's own failure is the one raised
            failures = reachable._restart()
            if failures:
                _add_note(exc, f"and the default fake failed meanwhile: {failures[0]}")
        raise
    if reachable is not None:
        try:
            reachable.check()
            if handle is not None and item.stash.get(_PASSED, False):
                _not_the_handles_fake(reachable, handle, item.config)
        finally:
            reachable._restart()
    if handle is None and item.stash.get(_PASSED, False):
        _unused_marker(item)
    return result


def _not_the_handles_fake(reachable: ProfileAPI, handle: ProfileAPI, config: pytest.Config) -> None:
    """A test that passed whose handle is on a fake of its marker's (``fixtures=``,
    ``now=``) while its code reached the default one (configured from the environment,
    or for the fixed port): the handle's assertions, rules and ``no_errors`` saw none of
    those requests (``assert_called(times=0)`` passed whatever the code did), and what it
    added was not where the code looked."""
    __tracebackhide__ = True
    if not reachable.requests:
        return
    where = f"exported as {ENV_URL}" if _exports_env(config) else f"port {_port(config)}"
    pytest.fail(
        f"{reachable.summary().replace('the fake', f'the default fake ({where})', 1)}\n"
        f"but this test's profile_api handle is on another fake, {handle.url} (the marker's"
        " fixtures= or now= start a fake of their own): its assertions, fault rules and"
        " no_errors saw none of those requests, and what the test added to it is not where"
        " the code looked. Give the code under test profile_api.url, .space_id and .token,"
        " or leave fixtures= and now= out of the marker (the handle is then on the default"
        " fake).",
        pytrace=False,
    )


def _unused_marker(item: pytest.Item) -> None:
    """A test's own ``profile_api`` marker configures the fixture's handle: on a test that
    never asked for it (its code reaching the fake through ``--profile-api-env``), its
    ``no_errors=``, ``faults=`` and the rest were dropped without a word, and the test
    passed on what they were there to catch. (A class's or module's marker may cover tests
    that do not call the API.)"""
    __tracebackhide__ = True
    for mark in item.iter_markers("profile_api"):
        if mark not in getattr(item, "own_markers", ()) or not (mark.args or mark.kwargs):
            continue
        written = ", ".join(
            [*map(repr, mark.args), *(f"{k}={v!r}" for k, v in mark.kwargs.items())]
        )
        pytest.fail(
            f"@pytest.mark.profile_api({written}) configures the profile_api fixture, which"
            " this test never used: none of it was applied. Ask for profile_api among the"
            " test's arguments (or a fixture's), or remove the marker.",
            pytrace=False,
        )


def _reachable_fake(config: pytest.Config) -> ProfileAPI | None:
    """The default fake (live: the proxy) when code may reach it without the fixture (its
    URL exported, or its port fixed) and it runs: what breaks inside it, or what of the
    upstream's answers breaks the contract, fails the test that ran meanwhile."""
    handle = config.stash.get(_REACHABLE, None)
    if handle is not None:
        return handle
    pool = config.stash.get(_POOL, None)
    server = None if pool is None else pool.running()
    if server is None or not _port(config):
        return None
    from profilemock.testing import ProfileAPI

    handle = config.stash[_REACHABLE] = ProfileAPI(server)
    return handle


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used the fake shows the requests the fake saw in it; a test
    that passed is held, at its teardown, to what it must also have done (``_verify``).
    Passed is read from the report, not from the call returning: a unittest.TestCase's
    failure is recorded without raising through ``pytest_runtest_call``."""
    report = yield
    if report.when == "call":
        item.stash[_PASSED] = report.passed
    handle = item.stash.get(_USES_HANDLE, None)
    if handle is not None and report.failed and report.when == "call":
        text = handle.summary()
        lost = handle._marker_lost()
        if lost is not None:  # often why it failed: a short page, a retry never met
            text += f"\nnote: {lost}"
        failures = item.stash.get(_FAILURES, [])
        if failures:
            text += f"\nthe fake failed {len(failures)} time(s) while answering:"
            text += "".join(f"\n  {type(e).__name__}: {e}" for e in failures)
        report.sections.append((f"Captured {REPORT_SECTION} {report.when}", text))
    return report
