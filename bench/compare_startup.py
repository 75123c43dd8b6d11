"""Start-up to the first 200 of two checkouts of profilemock, side by side.

    python bench/compare_startup.py BEFORE_DIR AFTER_DIR ROUNDS FIXTURE_FILE...
        [--kinds second,cold,plugin] [--work DIR]

Each checkout's package is put first on PYTHONPATH (the same virtualenv otherwise), and
every child starts in ``--work`` (never inside a checkout, which ``-m`` would import). A
FIXTURE_FILE is ``profilemock generate`` output (space ``generated``, token
``generated-token``; ``/traits`` of ``user-0000001`` is asked), or ``demo`` for the bundled
demo (no ``--fixtures``; ``/traits`` of ``user_id:u1234``): the peer the issue names ("a
worker's fake starts as fast as the demo"). Kinds of start (``--kinds``, default
``second,cold``):

- ``second``: ``profilemock serve --quiet`` with a snapshot directory of the checkout's own
  (under ``--work``), filled by one untimed start before the rounds: every later start of
  the same files, what a user (or a CI worker) sees from the second start on;
- ``cold``: ``profilemock serve --quiet --no-snapshots`` (every file read and checked);
- ``default``: ``profilemock serve --quiet`` as it is (the default snapshot directory);
- ``plugin``: what a pytest-xdist worker does: a pytest process with one test that reads
  ``/traits`` through ``profile_api`` (``--profile-api-fixtures FILE``, snapshots in the
  checkout's directory through ``PROFILEMOCK_CACHE_DIR``), with no plugin but profilemock's
  (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``: nothing else imports aiohttp first), timed from
  launch to exit, and the test's setup and call as pytest's ``--durations`` reports them
  (the fake's start: importing the server, loading, listening, the first 200);
- ``xdist``: the same with pytest-xdist, one worker a CPU and one test each, all starting
  their fakes at once from the same snapshot; the slowest test's setup and call;
- ``instructions``: the CPU instructions (valgrind's callgrind, counted once: the count does
  not depend on the machine's load) of a process that does what a second start does short
  of listening: imports ``profilemock.cli``, loads the files from the snapshot and makes
  the app. Beside it, the floor every start pays: ``import aiohttp.web, uvloop``.

"Start" is from launching the process until the first 200 of ``/traits`` is read (for
``plugin``: until pytest exits, its own start included). Children write and read bytecode
(``PYTHONDONTWRITEBYTECODE`` is cleared for them), as an installed package has it: the
untimed first start writes it. Rounds are interleaved (each round: every file, kind and
checkout in turn). Prints, per file and kind, each checkout's median start (range), peak
RSS and RSS once answering, the per-round ratio before / after, and each file against
``demo`` in the same checkout when ``demo`` is given.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _servers import Server

GENERATED = (
    "generated-token",
    "/v1/spaces/generated/collections/users/profiles/user_id:user-0000001/traits",
)
DEMO = ("demo-token", "/v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/traits")
PLUGIN_TEST = """
import urllib.request

import pytest


@pytest.mark.parametrize("worker", range({workers}))
def test_reads_traits(profile_api, worker):
    url = profile_api.profile_url("{identifier}", "traits")
    request = urllib.request.Request(url, headers=profile_api.headers)
    with urllib.request.urlopen(request, timeout=600) as response:
        assert response.status == 200
"""
STARTS = """
import sys
from pathlib import Path
import profilemock.cli
from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.fixtures.snapshot import Snapshots
from profilemock.mockserver.app import create_app
from profilemock.mockserver.state import ServerSettings

files = [demo_fixture_path()] if sys.argv[1] == "demo" else [sys.argv[1]]
clock = Clock()
store = load_fixtures(files, clock, snapshots=Snapshots(Path(sys.argv[2])))
create_app(store, clock, ServerSettings())
"""
FLOOR = "import aiohttp.web, uvloop"
Measured = tuple[float, float, float]
"""Seconds to the first 200, peak RSS (MB), RSS then (MB) or, for ``plugin``, the seconds
of the test's setup and call."""


def child_env(tree: str, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = tree
    env["PROFILEMOCK_CACHE_DIR"] = str(cache)
    return env


def serve(tree: str, fixture: str, kind: str, cache: Path) -> Measured:
    token, probe = DEMO if fixture == "demo" else GENERATED
    flags = [] if fixture == "demo" else ["--fixtures", fixture]
    if kind == "cold":
        flags.append("--no-snapshots")
    elif kind == "second":
        flags += ["--snapshots", str(cache)]
    env = child_env(tree, cache)
    if kind == "default":
        env.pop("PROFILEMOCK_CACHE_DIR")
    server = Server(
        [sys.executable, "-m", "profilemock", "serve", "--quiet", "--port", "0", *flags],
        env=env,
    )
    auth = "Basic " + base64.b64encode(f"{token}:".encode()).decode()
    request = urllib.request.Request(server.url + probe, headers={"Authorization": auth})
    try:
        with urllib.request.urlopen(request, timeout=1800) as response:
            assert response.status == 200
        took = time.perf_counter() - server.started
        return took, server.peak_rss_mb(), server.rss_mb()
    finally:
        server.stop()


def pytest_worker(tree: str, fixture: str, cache: Path, folder: Path, workers: int = 0) -> Measured:
    """One pytest process (``workers``: pytest-xdist workers, one test each); the third
    value is the slowest test's setup and call."""
    identifier = "user_id:u1234" if fixture == "demo" else "user_id:user-0000001"
    test = folder / f"test_{'demo' if fixture == 'demo' else 'generated'}_{workers}.py"
    test.write_text(PLUGIN_TEST.format(identifier=identifier, workers=max(workers, 1)))
    given = [] if fixture == "demo" else ["--profile-api-fixtures", fixture]
    xdist = ["-p", "xdist.plugin", "-n", str(workers)] if workers else []
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *xdist,
        "-p", "profilemock.pytest_plugin", "--durations=0", "--durations-min=0", *given,
        str(test),
    ]  # fmt: skip
    env = child_env(tree, cache)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=out)
        _, status, usage = os.wait4(process.pid, 0)  # the child's own peak RSS
        took = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    if process.returncode != 0:
        raise RuntimeError(f"pytest failed in {tree} with {fixture}:\n{output}")
    tests: dict[str, float] = {}
    for seconds, name in re.findall(r"^([0-9.]+)s (?:setup|call) +(\S+)", output, re.MULTILINE):
        tests[name] = tests.get(name, 0.0) + float(seconds)
    return took, usage.ru_maxrss / 1024, max(tests.values())


def instructions(tree: str, cache: Path, *code: str) -> Measured:
    """Instructions (millions) that ``python -c CODE`` runs, counted by callgrind."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         "-c", *code],
        env=child_env(tree, cache), capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", done.stderr)
    assert found is not None, done.stderr
    return int(found.group(1)) / 1e6, float("nan"), float("nan")


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f} to {max(values):.2f})"


def describe(kind: str, measured: list[Measured]) -> str:
    if kind == "instructions":
        return f"{measured[0][0]:,.0f} million instructions"
    peak = f"peak RSS {statistics.median(m[1] for m in measured):.0f} MB"
    if kind in ("plugin", "xdist"):
        fake = spread([m[2] for m in measured])
        return (
            f"pytest {spread([m[0] for m in measured])}, {peak}; the test's setup and call {fake}"
        )
    then = statistics.median(m[2] for m in measured)
    return f"{spread([m[0] for m in measured])}, {peak}, RSS then {then:.0f} MB"


def ratio(over: list[Measured], under: list[Measured], field: int = 0) -> str:
    ratios = [a[field] / b[field] for a, b in zip(over, under, strict=True)]
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f} to {max(ratios):.2f})"


def ratios(kind: str, over: list[Measured], under: list[Measured]) -> str:
    if kind in ("plugin", "xdist"):
        return f"pytest {ratio(over, under)}; setup and call {ratio(over, under, 2)}"
    return ratio(over, under)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("rounds", type=int)
    parser.add_argument("files", nargs="+", help="generated fixture files, or `demo`")
    parser.add_argument("--kinds", type=lambda text: text.split(","), default=["second", "cold"])
    parser.add_argument("--work", type=Path, default=None, help="snapshots and test files")
    args = parser.parse_args()
    work = (args.work or Path(tempfile.mkdtemp(prefix="profilemock-startup-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    trees = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    caches = {label: work / f"snapshots-{label}" for label in trees}
    files = [f if f == "demo" else os.path.abspath(f) for f in args.files]
    # Children start in the work directory: `python -m`/`-c` put the current directory
    # first on sys.path, so from inside a checkout both would import that checkout.
    os.chdir(work)

    def once(label: str, fixture: str, kind: str) -> Measured:
        if kind == "instructions":
            return instructions(trees[label], caches[label], STARTS, fixture, str(caches[label]))
        if kind == "plugin":
            return pytest_worker(trees[label], fixture, caches[label], work)
        if kind == "xdist":
            workers = os.cpu_count() or 2
            return pytest_worker(trees[label], fixture, caches[label], work, workers)
        return serve(trees[label], fixture, kind, caches[label])

    for label in trees:  # untimed: writes bytecode, and the snapshots a second start reads
        for fixture in files:
            once(label, fixture, "second")
    runs: dict[tuple[str, str, str], list[Measured]] = {}
    for _ in range(args.rounds):
        for fixture in files:
            for kind in args.kinds:
                for label in trees:
                    if kind == "instructions" and (fixture, kind, label) in runs:
                        continue  # the same count every time
                    measured = once(label, fixture, kind)
                    runs.setdefault((fixture, kind, label), []).append(measured)
                    print(
                        f"{os.path.basename(fixture)} {kind} {label}: {measured[0]:.2f} s",
                        file=sys.stderr,
                        flush=True,
                    )
    print("\n| start | median (range) |\n| --- | --- |")
    for fixture in files:
        name = os.path.basename(fixture)
        for kind in args.kinds:
            for label in trees:
                print(
                    f"| {name}, {kind}, {label} | {describe(kind, runs[(fixture, kind, label)])} |"
                )
            before, after = runs[(fixture, kind, "before")], runs[(fixture, kind, "after")]
            print(f"| {name}, {kind}, before / after | {ratios(kind, before, after)} |")
            if "demo" in files and fixture != "demo":
                for label in trees:
                    mine, demo = runs[(fixture, kind, label)], runs[("demo", kind, label)]
                    print(f"| {name} / demo, {kind}, {label} | {ratios(kind, mine, demo)} |")

    if "instructions" in args.kinds:
        floor = instructions(trees["after"], caches["after"], FLOOR)[0]
        print(f"| floor: `{FLOOR}` | {floor:,.0f} million instructions |")
        for fixture in files:
            for label in trees:
                above = runs[(fixture, "instructions", label)][0][0] - floor
                print(
                    f"| {os.path.basename(fixture)}, instructions above the floor, {label} |"
                    f" {above:,.0f} million |"
                )


if __name__ == "__main__":
    main()
