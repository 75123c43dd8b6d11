"""Benchmark: fixture load time, and per-request cost against a bare aiohttp floor.

    python bench/bench_core.py [--rounds 5] [--requests 2000]

Servers run as separate processes on 127.0.0.1, port 0; the client here sends sequential
keep-alive GETs (http.client, the cheapest client in the standard library). Every figure
is a median over rounds; ratios compare peers measured in the same run.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _servers import Server, profilemock

from profilemock.clock import Clock
from profilemock.fixtures.generator import dump_yaml, generate
from profilemock.fixtures.loader import load_fixtures

HERE = Path(__file__).resolve().parent


def median_time(action: object, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def latencies(port: int, paths: list[str], auth: str) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": auth}
    result = []
    for path in paths:
        start = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        result.append(time.perf_counter() - start)
        assert response.status == 200, response.status
    connection.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    work = Path(tempfile.mkdtemp(prefix="profilemock-bench-"))
    files = {}
    for users in (1_000, 10_000):
        data = generate(users, seed=1, events_per_user=5)
        files[(users, "json")] = work / f"{users}.json"
        files[(users, "json")].write_text(json.dumps(data))
        files[(users, "yaml")] = work / f"{users}.yaml"
        files[(users, "yaml")].write_text(dump_yaml(data))
    for (users, kind), path in files.items():
        seconds = median_time(lambda p=path: load_fixtures([p], Clock()), 3)
        size = path.stat().st_size / 1e6
        rows.append((f"load {users:,} profiles ({kind}, {size:.1f} MB)", f"{seconds:.2f} s"))

    import base64

    auth = "Basic " + base64.b64encode(b"generated-token:").decode()
    rng = random.Random(1)
    medians: dict[str, float] = {}
    for users in (1_000, 10_000):
        fake = profilemock("--rate-limit", "none", "--fixtures", str(files[(users, "json")]))
        paths = [
            f"/v1/spaces/generated/collections/users/profiles/user_id:user-{rng.randrange(users):07d}/traits"
            for _ in range(args.requests)
        ]
        body_file = work / "body.json"
        connection = http.client.HTTPConnection("127.0.0.1", fake.port)
        connection.request("GET", paths[0], headers={"Authorization": auth})
        body_file.write_bytes(connection.getresponse().read())
        connection.close()
        bare = Server([sys.executable, str(HERE / "bare_server.py"), str(body_file)])
        try:
            fake_runs, bare_runs = [], []
            for _ in range(args.rounds):  # interleaved, so both see the same machine noise
                latencies(fake.port, paths[:200], auth)
                fake_runs.append(statistics.median(latencies(fake.port, paths, auth)))
                bare_runs.append(statistics.median(latencies(bare.port, paths, auth)))
        finally:
            fake.stop()
            bare.stop()
        medians[f"fake{users}"] = statistics.median(fake_runs)
        medians[f"bare{users}"] = statistics.median(bare_runs)
        fake_us, bare_us = medians[f"fake{users}"] * 1e6, medians[f"bare{users}"] * 1e6
        rows.append((f"GET /traits, {users:,} profiles: profilemock", f"{fake_us:.0f} µs"))
        rows.append(
            (f"GET /traits, {users:,} profiles: bare aiohttp, same bytes", f"{bare_us:.0f} µs")
        )
        rows.append((f"profilemock / bare ({users:,} profiles)", f"{fake_us / bare_us:.2f}x"))
    rows.append(
        (
            "per-request cost 10,000 / 1,000 profiles",
            f"{medians['fake10000'] / medians['fake1000']:.2f}x",
        )
    )
    print("| measure | median |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
