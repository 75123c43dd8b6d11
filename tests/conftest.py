"""Shared test helpers: a frozen clock, stores built from YAML text, clients on port 0."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import settings

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.fixtures.source import Recipes
from profilemock.mockserver.app import create_app
from profilemock.mockserver.connections import OPEN
from profilemock.mockserver.serving import ServerThread
from profilemock.problems import FixtureError
from profilemock.store.space import Store
from profilemock.timeutil import parse_iso

# CI runs the property tests derandomized so a red build is reproducible; locally they
# explore new examples each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Every answer of every fake started by the suite, in-process or as a child process, is
# checked against the response schemas in strict mode (see contract_middleware).
os.environ["PROFILEMOCK_STRICT_CONTRACT"] = "1"
# Snapshots of large fixture sets that `serve` saves go to a directory of the run's own,
# never the user's cache.
os.environ["PROFILEMOCK_CACHE_DIR"] = tempfile.mkdtemp(prefix="profilemock-test-cache-")

NOW = parse_iso("2026-06-15T12:00:00Z")
DEMO_SPACE = "lg8283283"
DEMO_TOKEN = "demo-token"

EAGER_HANDLERS = sys.version_info >= (3, 12)
"""Whether aiohttp runs a request's handler in the loop's turn that read the request (an
eager task: Python 3.12 and newer). Before 3.12 the handler starts a turn later, once what
arrived with the request has been read too: a client's leaving, sent with its request,
is known to the handler then, and its answer finds the connection closing; from 3.12 the
answer goes out before the leaving is read, as it does on every Python when the client
leaves a moment later."""

# A client of one of our apps: ``client.app[STATE]`` is the fake's typed state.
Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[..., Awaitable[Client]]
WriteFixture = Callable[..., Path]
ServeYaml = Callable[[str], Awaitable[Client]]


def basic(token: str, password: str = "") -> dict[str, str]:
    """An Authorization header for ``token`` the way the Profile API wants it."""
    raw = base64.b64encode(f"{token}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def profile_path(
    identifier: str, resource: str, *, space: str = DEMO_SPACE, collection: str = "users"
) -> str:
    return f"/v1/spaces/{space}/collections/{collection}/profiles/{identifier}/{resource}"


@contextlib.contextmanager
def running(*argv: str, **popen: Any) -> Iterator[subprocess.Popen[str]]:
    """The command ``argv`` running (stdout and stderr pipes, text, unless ``popen`` says
    otherwise); killed if still running at the end, its pipes closed."""
    process = subprocess.Popen(
        argv, **{"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=20)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


@contextlib.contextmanager
def loop_held(server: ServerThread) -> Iterator[None]:
    """Hold ``server``'s loop while the block runs: what the block sends it (a request and
    its client's leaving, say) arrives all at once when the block ends."""
    busy, release = threading.Event(), threading.Event()
    let_go: list[bool] = []

    def hold(state: object) -> None:
        busy.set()
        let_go.append(not release.wait(10))

    holder = threading.Thread(target=server.call, args=(hold,))
    holder.start()
    assert busy.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join()
    # Let go before the block ended, the loop may have run what the block meant to arrive
    # all at once: what the test asserts next would not be of that.
    assert let_go == [False], "the block held the server's loop past 10 s: it was let go"


def until_connections(opened: int, within: float = 10) -> None:
    """Until the process has ``opened`` connections open again, or fewer (a connection the
    client left is done with; another test's may have closed meanwhile): an AssertionError
    after ``within`` seconds, so that what the test then asserts is not of a request still
    running."""
    for _ in range(max(1, round(within / 0.005))):
        if OPEN.open <= opened:
            return
        threading.Event().wait(0.005)
    raise AssertionError(f"{OPEN.open} connections still open after {within} s, not {opened}")


def materialised(value: Any) -> Any:
    """Fixture data as plain Python data: streamed profile lists (``Recipes``) read out."""
    if isinstance(value, Recipes):
        return list(value)
    if isinstance(value, dict):
        return {k: materialised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [materialised(v) for v in value]
    return value


def refused(write: WriteFixture, text: str) -> list[str]:
    """The problems of loading fixture ``text`` (it must fail), its file's path written F."""
    return problems_of(write(text))


def problems_of(path: Path) -> list[str]:
    """The problems of loading the fixture file ``path`` (it must fail), its path written F."""
    with pytest.raises(FixtureError) as info:
        load_fixtures([path], Clock(NOW))
    return [str(p).replace(str(path), "F") for p in info.value.problems]


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def write_fixture(tmp_path: Path) -> WriteFixture:
    """Write YAML text to a file in tmp_path and return its path."""

    def write(text: str, name: str = "fixture.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def demo_store(clock: Clock) -> Store:
    return load_fixtures([demo_fixture_path()], clock)


@pytest.fixture
async def demo_client(aiohttp_client: ClientFactory, demo_store: Store, clock: Clock) -> Client:
    return await aiohttp_client(create_app(demo_store, clock))


@pytest.fixture
def serve_yaml(
    aiohttp_client: ClientFactory, write_fixture: WriteFixture, clock: Clock
) -> ServeYaml:
    """A client of a fake serving the given fixture YAML (clock frozen at NOW)."""

    async def serve(text: str) -> Client:
        store = load_fixtures([write_fixture(text)], clock)
        return await aiohttp_client(create_app(store, clock))

    return serve
