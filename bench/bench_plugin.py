"""Benchmark: what the pytest plugin costs a test suite, against pytest-httpserver stubs.

    python bench/bench_plugin.py [--tests 1000] [--rounds 3]

Runs pytest in a child process on generated suites, in one run so the peers share the
machine's noise: N trivial tests (the floor), N tests that each call a stubbed endpoint
through pytest-httpserver, and N tests that each add a user to profile_api and read its
traits. Also times profile_api's reset with 10,000 profiles loaded. Medians of rounds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from profilemock.clock import Clock
from profilemock.fixtures.generator import generate
from profilemock.fixtures.loader import load_data
from profilemock.mockserver.app import create_app
from profilemock.mockserver.serving import ServerThread
from profilemock.testing import ProfileAPI

SUITES = {
    "trivial": """
import pytest

@pytest.mark.parametrize("n", range({n}))
def test_trivial(n):
    assert n >= 0
""",
    "pytest-httpserver": """
import pytest
import requests

@pytest.mark.parametrize("n", range({n}))
def test_stub(httpserver, n):
    httpserver.expect_request(f"/v1/spaces/s/collections/users/profiles/user_id:u{{n}}/traits").respond_with_json(
        {{"traits": {{"plan": "pro"}}, "cursor": {{"url": "", "has_more": False, "next": ""}}}}
    )
    url = httpserver.url_for(f"/v1/spaces/s/collections/users/profiles/user_id:u{{n}}/traits")
    assert requests.get(url, auth=("t", ""), timeout=5).json()["traits"] == {{"plan": "pro"}}
""",
    "profilemock": """
import pytest
import requests

@pytest.mark.parametrize("n", range({n}))
def test_fake(profile_api, n):
    profile_api.add_user({{"user_id": f"u{{n}}"}}, traits={{"plan": "pro"}})
    url = profile_api.profile_url(f"user_id:u{{n}}", "traits")
    assert requests.get(url, auth=profile_api.auth, timeout=5).json()["traits"] == {{"plan": "pro"}}
""",
}
ISOLATION = ["-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest", "-q"]


def run_suite(folder: Path, name: str, count: int) -> float:
    test_file = folder / f"test_{name.replace('-', '_')}_{count}.py"
    test_file.write_text(SUITES[name].format(n=count))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", *ISOLATION, str(test_file)],
        cwd=folder, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="profilemock-bench-plugin-"))
    (folder / "pytest.ini").write_text("[pytest]\n")
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for name in SUITES:
            for count in (1, args.tests):
                times.setdefault((name, count), []).append(run_suite(folder, name, count))
    median = {key: statistics.median(values) for key, values in times.items()}
    rows = []
    for name in SUITES:
        rows.append((f"pytest, 1 test ({name})", f"{median[(name, 1)]:.2f} s"))
    for name in ("pytest-httpserver", "profilemock"):
        startup = median[(name, 1)] - median[("trivial", 1)]
        rows.append((f"session start-up over a trivial test ({name})", f"{startup * 1000:.0f} ms"))
    for name in SUITES:
        rows.append((f"pytest, {args.tests} tests ({name})", f"{median[(name, args.tests)]:.2f} s"))
    per_test = {}
    for name in ("pytest-httpserver", "profilemock"):
        extra = median[(name, args.tests)] - median[("trivial", args.tests)]
        per_test[name] = extra / args.tests
        rows.append(
            (f"per-test overhead over a trivial test ({name})", f"{per_test[name] * 1e3:.2f} ms")
        )
    rows.append(
        (
            "profilemock / pytest-httpserver per-test overhead",
            f"{per_test['profilemock'] / per_test['pytest-httpserver']:.2f}x",
        )
    )

    clock = Clock()
    app = create_app(load_data(generate(10_000, seed=1), clock), clock)
    with ServerThread(app) as server:
        handle = ProfileAPI(server)
        resets = []
        for _ in range(200):
            handle.add_user({"user_id": "overlay"})
            started = time.perf_counter()
            handle.reset()
            resets.append(time.perf_counter() - started)
        local = []
        for _ in range(200):
            started = time.perf_counter()
            server.state.reset()
            local.append(time.perf_counter() - started)
    rows.append(
        (
            "profile_api reset, 10,000 profiles (from the test thread)",
            f"{statistics.median(resets) * 1e6:.0f} µs",
        )
    )
    rows.append(("state reset itself, 10,000 profiles", f"{statistics.median(local) * 1e6:.1f} µs"))

    print("| measure | median |\n| --- | --- |")
    for row in rows:
        print(f"| {row[0]} | {row[1]} |")


if __name__ == "__main__":
    main()
