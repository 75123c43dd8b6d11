"""The CLI: `serve` as a real process (signals, ports, exit codes) and `check` in-process."""

from __future__ import annotations

import argparse
import errno
import gc
import importlib.abc
import io
import os
import re
import selectors
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from profilemock import __main__ as entry
from profilemock import cli
from profilemock.cli import main, parser
from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.fixtures.yamltext import SIMPLE_KEY_LIMIT
from profilemock.mockserver.state import ServerSettings
from tests.conftest import NOW, WriteFixture, running

GOOD = "spaces: {sp: {tokens: [tok], users: [{ids: {user_id: u1}, traits: {plan: pro}}]}}\n"


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


class Served:
    """A `profilemock serve` child process whose output we read with a deadline."""

    def __init__(
        self, *args: str, command: str = "serve", env: dict[str, str] | None = None
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "profilemock", command, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.seen = ""
        self.pending = ""

    def read_until(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """The first match of ``pattern`` in output not matched yet; reads raw to keep select honest."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.pending)
            if found:
                self.pending = self.pending[found.end() :]
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(timeout=remaining):
                break
            chunk = os.read(fd, 65536).decode()
            if not chunk:
                break
            self.seen += chunk
            self.pending += chunk
        raise AssertionError(f"no {pattern!r} in output: {self.seen!r}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=20)

    def close(self) -> None:
        """Kill it if it still runs, and close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=20)
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(*args: str, command: str = "serve", env: dict[str, str] | None = None) -> Served:
        served = Served(*args, command=command, env=env)
        started.append(served)
        return served

    yield start
    for served in started:
        served.close()


def test_serve_demo_prints_what_to_paste_and_stops_on_ctrl_c(serve: Callable[..., Served]) -> None:
    served = serve("--port", "0", "--quiet")
    url = served.read_until(r"at (http://127\.0\.0\.1:\d+)").group(1)
    space = served.read_until(r"space (\S+)\s+token (\S+)")
    assert space.groups() == ("lg8283283", "demo-token")
    served.read_until(r"curl -u demo-token: ")
    served.read_until(re.escape(f"explorer: {url}/__admin/explorer"))
    response = requests.get(
        f"{url}/v1/spaces/lg8283283/collections/users/profiles/user_id:1413639574/traits",
        auth=("demo-token", ""),
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["cursor"]["limit"] == 10
    assert served.stop() == 0
    assert served.process.stdout is not None
    served.read_until("profilemock stopped")


def test_serve_logs_requests_unless_quiet(
    serve: Callable[..., Served], write_fixture: WriteFixture
) -> None:
    served = serve("--port", "0", "--fixtures", str(write_fixture(GOOD)))
    url = served.read_until(r"at (http://\S+)").group(1)
    requests.get(f"{url}/nowhere", timeout=10)
    assert served.stop() == 0
    assert served.process.stderr is not None
    assert "GET /nowhere HTTP/1.1 404" in served.process.stderr.read()


def test_serve_help_says_now_pins_the_date(capsys: pytest.CaptureFixture[str]) -> None:
    # It said "freeze the clock" after --now stopped freezing it (the README said "pin").
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--now TIMESTAMP pin the clock's date at this ISO 8601 instant" in shown
    assert "freeze" not in shown


@pytest.mark.parametrize("name", ["serve", "check", "generate"])
def test_help_says_what_the_command_does_and_its_examples_parse(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    # `check --help` told neither the output nor the exit codes; `serve --help` nothing of
    # what it serves, where, nor an example; `generate --help` only that it needs Faker.
    with pytest.raises(SystemExit):
        parser().parse_args([name, "--help"])
    shown = capsys.readouterr().out
    description = " ".join(shown.split("\n\n")[1].split())
    assert not description.startswith(("options:", "positional")), description
    assert len(description) > 150, description
    examples = shown.split("examples:\n", 1)[1].split("\n\n")[0]
    lines = [line.strip() for line in examples.splitlines() if line.startswith("  profilemock ")]
    assert len(lines) >= 2
    for line in lines:  # each example is a command line the parser takes
        arguments = parser().parse_args(shlex.split(line)[1:])
        assert arguments.command in {name, "serve"}
    assert max(map(len, shown.splitlines())) <= 80  # wrapped, as the options are


def test_serve_now_pins_the_clock(
    serve: Callable[..., Served], write_fixture: WriteFixture
) -> None:
    """The date stands at --now; the rate limiter's time still passes (pinned, not frozen:
    a frozen clock never refilled its bucket, and after 100 requests every answer was a
    429)."""
    fixture = write_fixture(GOOD.replace("traits: {plan: pro}", "created_at: -1d"))
    served = serve(
        "--port", "0", "--quiet", "--now", "2030-01-02T00:00:00Z", "--fixtures", str(fixture)
    )
    url = served.read_until(r"at (http://\S+)").group(1)
    body = requests.get(
        f"{url}/v1/spaces/sp/collections/users/profiles/user_id:u1/metadata",
        auth=("tok", ""),
        timeout=10,
    ).json()
    assert body["metadata"]["created_at"] == "2030-01-01T00:00:00Z"
    clock = requests.get(f"{url}/__admin/clock", timeout=10).json()
    assert clock == {
        "now": "2030-01-02T00:00:00Z",
        "now_ns": 1893542400 * 10**9,
        "frozen": True,
        "pinned": True,
    }
    served.stop()


def test_port_in_use_is_a_one_line_error(serve: Callable[..., Served]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = serve("--port", str(port))
        code = served.process.wait(timeout=20)
    assert code == 2
    assert served.process.stderr is not None
    err = served.process.stderr.read()
    assert err == (
        f"profilemock: error: cannot listen on 127.0.0.1:{port}: address already in use"
        " (choose another --port, or --port 0 for any free port)\n"
    )


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        pytest.param(
            lambda write: ["--fixtures", "/no/such/file.yaml"],
            "profilemock: error: /no/such/file.yaml: no such file or directory\n",
            id="missing-file",
        ),
        pytest.param(
            lambda write: ["--fixtures", str(write("spaces: {sp: {tokenz: []}}\n"))],
            "unknown key `tokenz`",
            id="broken-fixture",
        ),
        pytest.param(lambda write: ["--port", "99999"], "is not a port number", id="bad-port"),
        pytest.param(lambda write: ["--now", "soon"], "`soon` is not", id="bad-now"),
        pytest.param(
            # The token was dropped without a word: a guard that guards nothing.
            lambda write: ["--no-admin", "--admin-token", "secret"],
            "argument --admin-token: not allowed with argument --no-admin",
            id="token-for-no-admin",
        ),
    ],
)
def test_serve_refuses_bad_input_with_exit_2(
    make_args: Callable[[WriteFixture], list[str]], message: str, write_fixture: WriteFixture
) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "profilemock", "serve", *make_args(write_fixture)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert process.returncode == 2
    assert message in process.stderr
    assert "Traceback" not in process.stderr


def test_broken_fixture_error_names_file_line_and_column(write_fixture: WriteFixture) -> None:
    path = write_fixture("spaces:\n  sp:\n    tokenz: []\n")
    code, _, err = run_cli("serve", "--fixtures", str(path), "--port", "0")
    assert code == 2
    assert err.startswith(f"profilemock: error: {path}:3:5: unknown key `tokenz`")


def test_check_accepts_good_fixtures(write_fixture: WriteFixture) -> None:
    code, out, err = run_cli("check", str(write_fixture(GOOD)), str(demo_fixture_path()))
    assert (code, err) == (0, "")
    assert out == "ok: 2 files, 2 spaces, 25 users, 3 accounts\n"


def test_the_ready_banner_counts_each_space_in_english(write_fixture: WriteFixture) -> None:
    users = ", ".join(f"{{ids: {{user_id: u{i}}}}}" for i in range(1200))
    path = write_fixture(
        f"spaces: {{sp: {{tokens: [t], users: [{users}], accounts: [{{ids: {{group_id: g}}}}]}}}}\n"
    )
    store = load_fixtures([path], Clock(NOW))
    banner = cli._banner("http://127.0.0.1:1", store, ServerSettings())
    assert "  space sp  token t  (1,200 users, 1 account)" in banner.splitlines()


def test_the_ready_banner_names_no_admin_origins_with_the_admin_api_off() -> None:
    # It said "CORS: the admin API takes calls from loopback origins, …" with --no-admin.
    store = load_fixtures([demo_fixture_path()], Clock(NOW))
    settings = ServerSettings(admin=False, cors=True, cors_origins=("https://app.example",))
    lines = cli._banner("http://127.0.0.1:1", store, settings).splitlines()
    assert [line for line in lines if line.startswith("CORS")] == [
        "CORS: browsers may call the Profile API from any origin"
    ]


def test_the_ready_banner_says_no_saves_are_served_when_the_watch_was_refused(
    write_fixture: WriteFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It said "watching …: saved changes are served at once" under the line that said the
    # system had refused the watch (its limit of watches reached).
    from aiohttp import web

    from profilemock.mockserver import reload, serving

    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise OSError("OS file watch limit reached. about [...]")
        yield  # an async generator, as watchfiles' is: it raises when first asked

    async def started(app: web.Application, sock: socket.socket, ready: Any, **_: Any) -> None:
        runner = web.AppRunner(app)
        await runner.setup()  # the watch starts, as when serving
        ready("http://127.0.0.1:1")
        await runner.cleanup()
        sock.close()

    monkeypatch.setattr(reload, "_each_second", refused)
    monkeypatch.setattr(serving, "serve_until_stopped", started)
    path = str(write_fixture(GOOD))
    code, out, err = run_cli("serve", "--fixtures", path, "--watch", "--port", "0", "--quiet")
    assert code == 0
    assert err.startswith("--watch stopped: OS file watch limit reached. about [...]; ")
    assert "watching" not in out
    assert out.endswith("Ctrl-C stops it.\nprofilemock stopped\n")


@pytest.mark.parametrize(("now", "given"), [([], False), (["--now", "2030-01-01"], True)])
def test_serve_tells_the_server_a_date_was_given(
    write_fixture: WriteFixture, monkeypatch: pytest.MonkeyPatch, now: list[str], given: bool
) -> None:
    # A reload that changed the files' `now:` moved a clock `--now` pinned at their old one.
    from aiohttp import web

    from profilemock.mockserver import serving
    from profilemock.mockserver.state import STATE

    seen: list[bool] = []

    async def started(app: web.Application, sock: socket.socket, *_: Any, **__: Any) -> None:
        seen.append(app[STATE].settings.now_given)
        sock.close()

    monkeypatch.setattr(serving, "serve_until_stopped", started)
    path = str(write_fixture(GOOD))
    assert run_cli("serve", "--fixtures", path, "--port", "0", "--quiet", *now)[0] == 0
    assert seen == [given]


def test_check_counts_read_as_english(write_fixture: WriteFixture) -> None:
    users = ", ".join(f"{{ids: {{user_id: u{i}}}}}" for i in range(1200))
    path = write_fixture(f"spaces: {{sp: {{tokens: [t], users: [{users}]}}}}\n")
    code, out, _ = run_cli("check", str(path))
    assert (code, out) == (0, "ok: 1 file, 1 space, 1,200 users, 0 accounts\n")


def test_check_lists_every_problem_and_exits_1(write_fixture: WriteFixture) -> None:
    path = write_fixture(
        "spaces:\n  sp:\n    tokens: [t]\n    users:\n      - ids: {user_id: u}\n        oops: 1\n"
        "        events: [{event: e, timestamp: whenever}]\n"
    )
    code, out, err = run_cli("check", str(path))
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"{path}:6:9: unknown key `oops`")
    assert lines[1].startswith(f'{path}:7:29: "whenever" is not allowed here')
    assert lines[2] == "2 problems found"


def test_check_missing_path_exits_2() -> None:
    code, _, err = run_cli("check", "/no/such/dir")
    assert code == 2
    assert err == "profilemock: error: /no/such/dir: no such file or directory\n"


def test_check_of_a_directory_with_no_fixture_file_exits_2(tmp_path: Path) -> None:
    # As the README's table of commands says: 2, not the 1 of a fixture's problems.
    (tmp_path / "notes.txt").write_text("not a fixture")
    code, _, err = run_cli("check", str(tmp_path))
    assert code == 2
    assert err == f"profilemock: error: {tmp_path}: directory holds no .yaml, .yml or .json file\n"


def test_serve_with_faults_rate_limit_and_admin_token(serve: Callable[..., Served]) -> None:
    served = serve(
        "--port", "0", "--quiet", "--fault", "traits:503:times=1", "--rate-limit", "2",
        "--admin-token", "adm", "--seed", "5",
    )  # fmt: skip
    url = served.read_until(r"at (http://\S+)").group(1)
    served.read_until(r"admin API: \S+/__admin/health \(admin token required\)")
    served.read_until(r'fault: \{"route": "traits", "status": 503, "times": 1\}')
    traits = f"{url}/v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/traits"
    statuses = [
        requests.get(traits, auth=("demo-token", ""), timeout=10).status_code for _ in range(4)
    ]
    # The fault answers before auth and the limiter; then two per second are admitted (the
    # clock runs, so the third may or may not refill in time: never more than one extra).
    assert statuses[:3] == [503, 200, 200]
    assert requests.get(f"{url}/__admin/health", timeout=10).status_code == 401
    health = requests.get(
        f"{url}/__admin/health", headers={"Profilemock-Admin-Token": "adm"}, timeout=10
    )
    assert health.json()["requests"] == 4
    assert served.stop() == 0


def test_serve_no_admin(serve: Callable[..., Served]) -> None:
    served = serve("--port", "0", "--quiet", "--no-admin")
    url = served.read_until(r"at (http://\S+)").group(1)
    served.read_until("Ctrl-C stops it.")
    assert "admin API" not in served.seen
    assert requests.get(f"{url}/__admin/health", timeout=10).status_code == 404
    assert served.stop() == 0


def test_demo_lists_who_is_in_the_demo_data() -> None:
    code, out, _ = run_cli("demo")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "space lg8283283  tokens: demo-token"
    assert "  users (24):" in lines
    (u1234,) = [line for line in lines if "user_id:u1234" in line]
    assert u1234.startswith("    anonymous_id:a1234 user_id:u1234  (use_")
    assert u1234.endswith(
        "traits: city, first_name  audiences: high_value_user"
        "  computed: emails_opened_last_30_days  events: 2  links: group_id:12345"
    )
    # One id of each type first: the README's user_id:5550000001 among 28 anonymous ids.
    assert any(
        line.startswith(
            "    anonymous_id:anon-01 email:avid.reader@example.com user_id:5550000001"
            " anonymous_id:anon-02 anonymous_id:anon-03 anonymous_id:anon-04 … (30 in all)"
        )
        for line in lines
    )


def test_demo_lists_other_fixtures_and_says_what_is_wrong_with_them(
    write_fixture: Callable[..., Path],
) -> None:
    good = write_fixture(
        "spaces: {mine: {tokens: [t1, t2], accounts: [{ids: {group_id: g}, traits: {n: 1}}]}}\n"
    )
    code, out, _ = run_cli("demo", "--fixtures", str(good))
    assert code == 0
    assert out.splitlines()[:2] == ["space mine  tokens: t1, t2", "  accounts (1):"]
    assert out.splitlines()[2].startswith("    group_id:g  (acc_")
    assert out.splitlines()[2].endswith(")  traits: n")
    code, _, err = run_cli("demo", "--fixtures", str(good.parent / "missing.yaml"))
    assert code == 2
    assert err.endswith("missing.yaml: no such file or directory\n")


@pytest.mark.parametrize("command", ["serve", "proxy"])
@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--header-timeout", "abc", "`abc` is not seconds from 0.01 to 3600 (such as 30, 0.5 or"),
        ("--body-timeout", "0", "`0` is not seconds from 0.01 to 3600"),
        ("--keepalive-timeout", "nan", "`nan` is not seconds from 0.01 to 3600"),
        ("--body-timeout", "1e9", "`1e9` is not seconds from 0.01 to 3600"),
        ("--max-connections", "0", "`0` is not a number of connections from 1 to"),
        ("--max-connections", "99999999999", "(the open-file limit of this process;"),
    ],
)
def test_bad_connection_limits_are_refused_with_exit_2(
    command: str, flag: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream = ["--region", "us"] if command == "proxy" else []
    with pytest.raises(SystemExit) as exited:  # the parser alone: main() would serve, taken
        parser().parse_args([command, *upstream, flag, value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: `{value}` is not" in err
    assert message in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        pytest.param(
            ["serve", "--bogus"],
            "profilemock serve: error: unrecognized arguments: --bogus\n",
            id="unknown-flag",
        ),
        pytest.param(
            ["serve", "--prot", "0"],
            "profilemock serve: error: unrecognized arguments: --prot 0 (did you mean --port?)\n",
            id="typo",
        ),
        pytest.param(
            ["generate", "--users", "3", "--rate_limit=3"],
            "profilemock generate: error: unrecognized arguments: --rate_limit=3\n",
            id="flag-of-another-command",
        ),
        pytest.param(
            ["serve", "my.yaml"],
            "profilemock serve: error: unrecognized arguments: my.yaml (fixture files are"
            " given with --fixtures: --fixtures my.yaml)\n",
            id="fixtures-without-the-flag",
        ),
        pytest.param(
            ["demo", "--fixtures", "a.yaml", "b.yaml"],
            "profilemock demo: error: unrecognized arguments: b.yaml (fixture files are"
            " given with --fixtures: --fixtures b.yaml)\n",
            id="demo-fixtures-without-the-flag",
        ),
        pytest.param(  # a port, not a file: --fixtures 24001 was suggested
            ["serve", "24001"],
            "profilemock serve: error: unrecognized arguments: 24001\n",
            id="serve-a-word-no-fixture-file",
        ),
        pytest.param(
            ["check", "--fixtures", "a.yaml"],
            "profilemock check: error: unrecognized arguments: --fixtures (check takes its"
            " fixture files as they are, without --fixtures)\n",
            id="check-with-the-flag",
        ),
        pytest.param(
            ["proxy", "--region", "us", "--strcit"],
            "profilemock proxy: error: unrecognized arguments: --strcit (did you mean --strict?)\n",
            id="proxy-typo",
        ),
    ],
)
def test_an_unknown_argument_is_refused_with_the_commands_own_usage(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: profilemock {argv[0]} [-h]")
    assert err.endswith(says)


def test_serve_applies_the_connection_limits_it_is_given(serve: Callable[..., Served]) -> None:
    served = serve(
        "--port", "0", "--quiet", "--header-timeout", "0.3", "--body-timeout", "0.3",
        "--max-connections", "50",
    )  # fmt: skip
    host, port = served.read_until(r"at http://(127\.0\.0\.1):(\d+)").groups()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server after 0.3 s, not after 10 s
        assert time.monotonic() - started < 5
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /__admin/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 9\r\n"
            b"Content-Type: application/json\r\n\r\n{"
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 408")
    assert served.stop() == 0


def test_a_relative_now_that_starts_with_a_minus_is_a_value_not_an_option() -> None:
    from profilemock.cli import _values_joined, parser

    before = time.time_ns()
    args = parser().parse_args(_values_joined(["serve", "--now", "-1d", "--port", "0"]))
    assert before - 86_400 * 10**9 - 10**9 < args.now <= time.time_ns() - 86_400 * 10**9
    assert _values_joined(["serve", "--now", "2026-01-01", "--quiet"]) == [
        "serve",
        "--now",
        "2026-01-01",
        "--quiet",
    ]


def test_a_reader_that_goes_away_ends_the_output_quietly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "profilemock", "generate", "--users", "3000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    assert process.stdout.read(100)
    process.stdout.close()  # as `| head -c 100` does
    errors = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in errors
    assert errors == ""


def test_ctrl_c_stops_serve_even_when_its_parent_started_it_with_sigint_blocked() -> None:
    def blocked() -> None:  # as a parent thread with SIGINT masked would pass it on
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # not ignored: the mask is the test
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})

    serve = (sys.executable, "-m", "profilemock", "serve", "--port", "0", "--quiet")
    with running(*serve, preexec_fn=blocked) as process:
        assert process.stdout is not None
        assert "serving the Segment Profile API" in process.stdout.readline()
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "profilemock stopped" in out


@pytest.fixture
def thawed() -> Iterator[None]:
    """``entry.run()`` freezes what is alive, as the process ends; the tests' goes on."""
    yield
    gc.unfreeze()


def test_ctrl_c_while_the_command_loads_its_modules_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], thawed: None
) -> None:
    """The `profilemock` script runs `profilemock.__main__:run`, which imports the CLI: a
    Ctrl-C in the first half second of a start lands in that import (a traceback of
    whichever module was loading, before)."""

    class CtrlCWhileImporting(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: object, target: object = None) -> None:
            if name == "profilemock.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "profilemock.cli")
    monkeypatch.setattr(sys, "meta_path", [CtrlCWhileImporting(), *sys.meta_path])
    with pytest.raises(SystemExit) as exited:
        entry.run()
    assert exited.value.code == 130
    assert capsys.readouterr().err == "\nprofilemock: stopped (Ctrl-C)\n"


def test_the_command_exits_with_the_code_of_the_cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    thawed: None,
) -> None:
    monkeypatch.setattr(sys, "argv", ["profilemock", "check", str(demo_fixture_path())])
    with pytest.raises(SystemExit) as exited:
        entry.run()
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("ok: 1 file")
    monkeypatch.setattr(sys, "argv", ["profilemock", "check", str(tmp_path / "nope.yaml")])
    with pytest.raises(SystemExit) as exited:
        entry.run()
    assert exited.value.code == 2


def test_what_the_command_leaves_alive_is_not_walked_again_at_exit(
    monkeypatch: pytest.MonkeyPatch, thawed: None
) -> None:
    """A stopped `serve` still holds its store and up to 20,000 built profiles; each of the
    interpreter's collections at exit walked them all (2 to 11 s after "profilemock
    stopped"). Frozen, the teardown frees them without walking them."""
    kept: list[object] = []

    def serve() -> int:
        kept.append({"built": [object()]})  # what a server leaves alive, in a cycle's reach
        return 0

    monkeypatch.setattr(cli, "main", serve)
    with pytest.raises(SystemExit) as exited:
        entry.run()
    assert exited.value.code == 0
    assert not any(alive is kept[0] for alive in gc.get_objects())


def test_a_bad_fault_flag_is_told_before_the_fixtures_load_and_names_the_flag(
    tmp_path: Path,
) -> None:
    # The fixture path does not exist: the flag is checked first, so its error is the one.
    missing = str(tmp_path / "large-set.json")
    code, out, err = run_cli("serve", "--fixtures", missing, "--fault", "traits:999")
    assert (code, out) == (2, "")
    assert err == (
        "profilemock: error: --fault `traits:999`: `999` is not a status: statuses are 200"
        " to 599, such as 503\n"
    )
    code, _, err = run_cli("serve", "--fixtures", missing, "--fault", "trait:429:times=2")
    assert code == 2
    assert err.startswith("profilemock: error: --fault `trait:429:times=2`: no route is called")
    assert "did you mean `traits`?" in err
    code, _, err = run_cli("serve", "--fixtures", missing, "--fault", "traits:42")
    assert err == (
        "profilemock: error: --fault `traits:42`: `42` is not a status: statuses are 200 to"
        " 599, such as 503\n"
    )
    # A rule a spec cannot complete says where it can be written (it said to give headers);
    # a spec holding a tab is named as JSON writes it, as parse_spec's own errors name it.
    room = (
        " (a --fault spec gives no body or headers: write this rule in a fixture file's"
        " `faults:`, or arm it through the admin API or a test)"
    )
    for spec, told in (
        (
            "traits:302",
            "`traits:302`: fault rule: a redirect (301, 302, 303, 307, 308) without a"
            " `Location` is not a redirect: give where it leads, as `headers: {Location: ...}`"
            + room,
        ),
        (
            "traits:200",
            "`traits:200`: fault rule: a 2xx status is no error, so the API has no"
            " body of its own for a rule to send with it: give the `body` to answer with (a"
            " request the rule lets through gets the real answer), or an error status such as"
            " 503" + room,
        ),
        (
            "traits:hang=1s:space=s\tp",
            '"traits:hang=1s:space=s\\tp": `hang=1s` is how long a `hang` fault holds the'
            " request; give the fault too: traits:hang:hang=1s",
        ),
    ):
        code, _, err = run_cli("serve", "--fixtures", missing, "--fault", spec)
        assert (code, err) == (2, f"profilemock: error: --fault {told}\n")


def test_an_address_not_of_this_machine_says_what_host_takes(write_fixture: WriteFixture) -> None:
    # 192.0.2.1 is TEST-NET-1: never an address of this machine.
    code, _, err = run_cli(
        "serve", "--host", "192.0.2.1", "--port", "0", "--fixtures", str(write_fixture(GOOD))
    )
    assert code == 2
    assert err.startswith("profilemock: error: cannot listen on 192.0.2.1:0: ")
    assert err.endswith(
        " (--host takes an address or name of this machine, such as 127.0.0.1, localhost,"
        " or 0.0.0.0 for every address)\n"
    )
    assert "--port" not in err


@pytest.mark.parametrize("value", ["0", "-1", "soon", "3601"])
def test_proxy_timeout_says_it_must_be_above_zero(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(["proxy", "--region", "us", "--timeout", value])
    assert exited.value.code == 2
    assert f"`{value}` is not seconds above 0 and at most 3600" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "seconds"),
    [
        (["proxy", "--region", "us", "--timeout", "500ms"], 0.5),
        (["proxy", "--region", "us", "--timeout", "2m"], 120.0),
        (["record", "--region", "us", "--space", "s", "--id", "user_id:u", "--timeout", "30s"], 30),
        (["serve", "--header-timeout", "250ms"], 0.25),
        (["serve", "--header-timeout", ".5s"], 0.5),
    ],
)
def test_a_flag_of_seconds_takes_a_duration_as_every_other_time(
    argv: list[str], seconds: float
) -> None:
    # `hang=500ms` and `propagation_delay=150ms` were read, `--timeout 500ms` refused.
    args = parser().parse_args(argv)
    assert (args.header_timeout if argv[0] == "serve" else args.timeout) == seconds


def _command(name: str) -> argparse.ArgumentParser:
    (commands,) = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    command: argparse.ArgumentParser = commands.choices[name]
    return command


@pytest.mark.parametrize(("command", "dest"), [("serve", "fixtures"), ("check", "paths")])
def test_the_help_of_a_fixture_path_says_what_a_directory_is_read_for(
    command: str, dest: str
) -> None:
    # "fixture file or directory": users.YAML, read since today, and .github/*.yml, no
    # longer read, were said only in the README.
    (action,) = [a for a in _command(command)._actions if a.dest == dest]
    assert "*.json files in any case anywhere under it, hidden ones left out" in (action.help or "")


@pytest.mark.parametrize("command", ["serve", "proxy", "record"])
def test_the_help_of_a_flag_of_seconds_says_it_takes_a_duration(command: str) -> None:
    # `--timeout SECONDS` read "seconds each request may take": 500ms, which it takes, was
    # said only in the README's row of the connection limits.
    actions = _command(command)._actions
    timed = [a for a in actions if a.type in (cli._seconds, cli._limit_seconds)]
    assert timed
    for action in timed:
        assert "or a duration such as 500ms" in (action.help or ""), action.option_strings


COMMANDS_READING_UPSTREAMS = [
    ["proxy", "--region", "us"],
    ["record", "--region", "us", "--space", "s", "--id", "user_id:a"],
]


@pytest.mark.parametrize(
    ("given", "size"),
    [("32MB", 32_000_000), ("32M", 32_000_000), ("32 MiB", 32 * 2**20), ("1.5kb", 1500),
     ("1KiB", 1024), ("100", 100), ("100B", 100), ("10GB", 10**10)],
)  # fmt: skip
def test_max_body_reads_sizes_in_bytes_and_units(given: str, size: int) -> None:
    for command in COMMANDS_READING_UPSTREAMS:
        assert parser().parse_args([*command, "--max-body", given]).max_body == size


@pytest.mark.parametrize(
    "value", ["0", "0.5", "1.7", "1.0001KB", "-1", "11GB", "12XB", "big", "1e9", "9" * 400]
)
@pytest.mark.parametrize("command", COMMANDS_READING_UPSTREAMS)
def test_max_body_says_what_a_size_is(
    command: list[str], value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args([*command, "--max-body", value])
    assert exited.value.code == 2
    assert (
        f"argument --max-body: `{value}` is not a size from 1 byte to 10GB, such as 64MB,"
        " 500KB, 64MiB or 1000000"
    ) in capsys.readouterr().err


@pytest.mark.parametrize("command", ["serve", "proxy"])
@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "the token is empty (was it taken from a variable that is not set?)"),
        ("two words", "the token may hold visible ASCII characters only (no spaces)"),
        ("pässword", "the token may hold visible ASCII characters only (no spaces)"),
    ],
)
def test_an_admin_token_that_would_not_guard_is_refused(
    command: str, token: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream = ["--region", "us"] if command == "proxy" else []
    # The parser alone: were the token taken, main() would serve for ever and hang the
    # worker, where this fails.
    with pytest.raises(SystemExit) as exited:
        parser().parse_args([command, *upstream, "--admin-token", token, "--port", "0"])
    assert exited.value.code == 2
    assert f"argument --admin-token: {message}" in capsys.readouterr().err
    taken = parser().parse_args([command, *upstream, "--admin-token", "s3cret", "--port", "0"])
    assert taken.admin_token == "s3cret"


@pytest.mark.parametrize("name", ["", "a b", "fake:4010", "-x"])
def test_an_allowed_host_no_host_header_can_carry_is_refused(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each was taken without a word, and matched no request's Host.
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(["serve", f"--allow-host={name}"])
    assert exited.value.code == 2
    assert f"argument --allow-host: `{name}` is not a host name" in capsys.readouterr().err
    assert parser().parse_args(["serve", "--allow-host", "fake.internal"]).allow_host == [
        "fake.internal"
    ]


@pytest.mark.parametrize("size", ["99999999999999999999", "1000000001", "0", "\u00b2", "\u0663"])
@pytest.mark.parametrize("command", [["serve"], ["proxy", "--upstream", "http://127.0.0.1:9"]])
def test_a_journal_size_out_of_range_is_refused_with_the_range(
    capsys: pytest.CaptureFixture[str], command: list[str], size: str
) -> None:
    # 10^20 was an OverflowError traceback sizing the journal's ring buffer.
    with pytest.raises(SystemExit) as exited:
        parser().parse_args([*command, "--journal-size", size])
    assert exited.value.code == 2
    assert f"`{size}` is not a whole number from 1 to 1,000,000,000" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--port", "\u0664\u0660\u0661\u0660"], "is not a port number from 0 to 65535"),
        (["generate", "--users", "\u0663"], "is not a whole number from 0 to 1,000,000,000"),
        (["generate", "--events-per-user", "\u0663-\u0665"], "is not MIN-MAX such as 0-200"),
        (["serve", "--seed", "abc"], "is not a whole number of at most 20 digits, such as 0 or 42"),
        (
            ["generate", "--seed", "1.5"],
            "is not a whole number of at most 20 digits, such as 0 or 42",
        ),
        (
            ["generate", "--seed", "1_0"],
            "is not a whole number of at most 20 digits, such as 0 or 42",
        ),
        (
            ["generate", "--seed", "\u0663"],
            "is not a whole number of at most 20 digits, such as 0 or 42",
        ),
        (["serve", "--rate-limit", "\u0665"], "is not requests per second"),
        (["serve", "--rate-limit", "1_0"], "is not requests per second"),
        (["serve", "--header-timeout", "\u0663\u0660"], "is not seconds from 0.01 to 3600"),
        (["proxy", "--region", "us", "--timeout", "1_0"], "is not seconds above 0"),
        (
            ["record", "--region", "us", "--space", "s", "--id", "user_id:u", "--seed", "x"],
            "is not a whole number of at most 20 digits, such as 0 or 42",
        ),
    ],
)
def test_numbers_are_ascii_digits_and_a_bad_one_is_told_in_words(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    # `--port ٤٠١٠` served on 4010 and `--users ٣` made 3 users (int() reads any script's
    # digits); `--seed abc` said "invalid int value: 'abc'", `--seed 1_0` was seed 10;
    # `--rate-limit \u0665` was 5 a second and `--timeout 1_0` ten seconds (float() reads them).
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(args)
    assert exited.value.code == 2
    assert f"`{args[-1]}` {message}" in capsys.readouterr().err


def test_a_negative_seed_is_a_seed() -> None:
    assert parser().parse_args(["generate", "--seed", "-5"]).seed == -5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--seed"], "is not a whole number of at most 20 digits"),
        (["generate", "--seed"], "is not a whole number of at most 20 digits"),
        (["generate", "--users"], "is not a whole number from 0 to 1,000,000,000"),
        (["serve", "--journal-size"], "is not a whole number from 1 to 1,000,000,000"),
        (["serve", "--max-connections"], "is not a number of connections from 1 to"),
        (["validate", "x.har", "--status"], "is not an HTTP status from 100 to 599"),
        (["generate", "--events-per-user"], "a user has at most 100,000 events"),
    ],
)
def test_a_number_of_thousands_of_digits_is_told_as_any_too_large(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    # int() refuses 4,300 digits and more: argparse said "invalid _seed value: '1111…'".
    huge = "1" * 5000
    with pytest.raises(SystemExit) as exited:
        parser().parse_args([*args, huge])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"`{huge}` {message}" in err or f"`{huge}`: {message}" in err
    assert "invalid" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--snapshots", ""],
        ["check", "x.yaml", "--snapshots", ""],
        ["generate", "--snapshots", ""],
        ["serve", "--fixtures", ""],
        ["demo", "--fixtures", ""],
        ["check", ""],
        ["validate", ""],
        ["generate", "-o", ""],
        ["record", "--region", "us", "--space", "s", "--id", "user_id:u", "-o", ""],
        ["record", "--region", "us", "--space", "s", "--id", "user_id:u", "--token-file", ""],
    ],
)
def test_an_empty_path_is_refused(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    # An empty path (`"$UNSET"`) read as the current directory: `serve --fixtures ""` served
    # every fixture under it, `--snapshots ""` kept snapshots in it, `--token-file ""` said
    # "cannot read --token-file : Is a directory".
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(args)
    assert exited.value.code == 2
    assert "the path is empty (was it taken from a variable that is not set?)" in (
        capsys.readouterr().err
    )


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    # `profilemock --version` said "the following arguments are required: COMMAND".
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        parser().parse_args(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"profilemock {version('profilemock')}\n"


def test_a_reader_of_stderr_that_goes_away_stops_neither_the_watch_nor_a_reload(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    # `serve --watch 2>&1 | head`: the first reload's line met a closed pipe, the watch
    # ended with it (later saves went unserved) and POST /__admin/reload answered 500.
    path = tmp_path / "users.yaml"
    path.write_text(GOOD)
    served = serve(
        "--port", "0", "--quiet", "--watch", "--rate-limit", "none", "--fixtures", str(path)
    )  # fmt: skip
    url = served.read_until(r"at (http://\S+)").group(1)
    served.read_until("watching ")
    assert served.process.stderr is not None
    served.process.stderr.close()
    traits = f"{url}/v1/spaces/sp/collections/users/profiles/user_id:u1/traits"

    def served_plan(plan: str) -> None:
        deadline = time.monotonic() + 20
        while requests.get(traits, auth=("tok", ""), timeout=10).json()["traits"]["plan"] != plan:
            assert time.monotonic() < deadline, f"the plan {plan} was never served"

    for plan in ("team", "enterprise"):
        saved = tmp_path / ".users.yaml.swp"
        saved.write_text(GOOD.replace("plan: pro", f"plan: {plan}"))
        saved.replace(path)
        served_plan(plan)
    assert requests.post(f"{url}/__admin/reload", timeout=10).status_code == 200
    assert served.stop() == 0


def test_serve_started_without_stderr_serves() -> None:
    # `profilemock serve 2>&-` (sys.stderr is None) ended at once, exit 1, without a word.
    serve = (sys.executable, "-m", "profilemock", "serve", "--port", "0", "--watch")
    with running(*serve, stderr=subprocess.DEVNULL, preexec_fn=lambda: os.close(2)) as process:
        assert process.stdout is not None
        url = re.search(r"at (http://\S+)", process.stdout.readline())
        assert url is not None
        assert requests.get(f"{url[1]}/nowhere", timeout=10).status_code == 404
        assert requests.post(f"{url[1]}/__admin/reload", timeout=10).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert "profilemock stopped" in process.stdout.read()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            ["generate", "--users", "1"],
            "standard output is closed: a data set written there would be lost; give -o FILE",
        ),
        (
            ["record", "--upstream", "http://127.0.0.1:1", "--space", "sp", "--id", "user_id:u"],
            "standard output is closed: a recording written there would be lost; give -o FILE",
        ),
        (
            ["openapi"],
            "standard output is closed: a document written there would be lost; redirect it"
            " to a file",
        ),
    ],
)
def test_a_product_for_a_closed_standard_output_is_refused(
    command: list[str], message: str, tmp_path: Path
) -> None:
    # `profilemock record … >&-` said it recorded to standard output and exited 0, the
    # recording lost; generate and openapi the same.
    closed = subprocess.run(
        (sys.executable, "-m", "profilemock", *command),
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: os.close(1),
    )
    assert (closed.returncode, closed.stderr) == (2, f"profilemock: error: {message}\n")
    if command[0] == "generate":  # with -o the file is written all the same
        written = subprocess.run(
            (sys.executable, "-m", "profilemock", *command, "-o", str(tmp_path / "d.yaml")),
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=lambda: os.close(1),
        )
        assert written.returncode == 0, written.stderr
        assert "users:" in (tmp_path / "d.yaml").read_text()


@pytest.mark.parametrize("length", [SIMPLE_KEY_LIMIT, SIMPLE_KEY_LIMIT + 1])
def test_generate_writes_no_yaml_file_that_does_not_load(length: int, tmp_path: Path) -> None:
    # A --space-id of 1,025 characters was written as a YAML key no YAML reader takes:
    # "YAML syntax: a mis-indented key?" at check and serve.
    target = tmp_path / "g.yaml"
    err = io.StringIO()
    command = ["generate", "--users", "1", "--space-id", "s" * length, "--no-snapshots"]
    code = main([*command, "-o", str(target)], stdout=io.StringIO(), stderr=err)
    if length <= SIMPLE_KEY_LIMIT:
        assert code == 0, err.getvalue()
        assert main(["check", "--no-snapshots", str(target)], stdout=io.StringIO()) == 0
        return
    assert code == 2
    assert err.getvalue() == (
        "profilemock: error: --space-id is 1,025 characters, and a YAML key holds at most"
        " 1,024: give a shorter one, or use --format json\n"
    )
    assert not target.exists()
    json_file = tmp_path / "g.json"
    assert main([*command, "-o", str(json_file)], stdout=io.StringIO(), stderr=err) == 0
    assert main(["check", "--no-snapshots", str(json_file)], stdout=io.StringIO()) == 0


@pytest.mark.parametrize("mode", [0o600, 0o444], ids=oct)
def test_a_file_generated_again_keeps_its_permissions(mode: int, tmp_path: Path) -> None:
    """As `record -o`: a file made private (or read-only) came back with the umask's mode."""
    target = tmp_path / "g.yaml"
    target.write_text("old\n")
    target.chmod(mode)
    command = ["generate", "--users", "1", "--no-snapshots", "-o", str(target)]
    assert main(command, stdout=io.StringIO(), stderr=io.StringIO()) == 0
    assert target.read_text().startswith("# Generated by profilemock generate")
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["g.yaml"]


class _Full(io.StringIO):
    """Standard output on a full disk (``> /dev/full``)."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize(
    "command",
    [
        ["generate", "--users", "2", "--no-snapshots"],
        ["check", "--no-snapshots", str(demo_fixture_path())],
        ["demo"],
        ["openapi"],
        ["serve", "--port", "0", "--no-snapshots", "--quiet"],
    ],
    ids=lambda command: command[0],
)
def test_an_output_that_cannot_be_written_is_an_error_not_a_traceback(
    command: list[str],
) -> None:
    # `profilemock generate > users.yaml` on a full disk ended in an OSError's traceback
    # (-o FILE was told "cannot write FILE: No space left on device"); serve too, at its
    # banner.
    err = io.StringIO()
    assert main(command, stdout=_Full(), stderr=err) == 2
    assert (
        err.getvalue() == "profilemock: error: cannot write the output: No space left on device\n"
    )


def test_ctrl_c_inherited_ignored_stops_a_load_as_it_stops_the_server() -> None:
    # A script's background job inherits SIGINT ignored: once serving, the server heeded
    # it (its own handler), but a load before (a minute for a million profiles) did not.
    script = (
        "import signal, sys\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "from profilemock import cli\n"
        "def loading(*args):\n"
        "    signal.raise_signal(signal.SIGINT)  # Ctrl-C while the fixtures load\n"
        "    return 0\n"
        "cli._demo = loading\n"
        "sys.exit(cli.main(['demo']))\n"
    )
    done = subprocess.run(
        (sys.executable, "-c", script), capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr) == (130, "\nprofilemock: stopped (Ctrl-C)\n")


@pytest.mark.parametrize("command", [["serve"], ["proxy", "--region", "us"]])
def test_an_ipv6_host_is_taken_as_a_url_writes_it_too(command: list[str]) -> None:
    # `--host [::1]` was "cannot listen on [::1]:0: Name or service not known", though the
    # server's URL shows it so.
    assert parser().parse_args([*command, "--host", "[::1]"]).host == "::1"
    assert parser().parse_args([*command, "--host", "::1"]).host == "::1"
    assert parser().parse_args([*command, "--host", "[x]"]).host == "[x]"  # no IPv6: as given
