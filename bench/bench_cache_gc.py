"""The garbage collector and the built-profile cache: what a miss costs and how long the
collector stops the process, with a large set whose every request builds a profile.

    .venv/bin/python bench/bench_cache_gc.py [--users 100000] [--misses 200000]
        [--every 250,0] [--rounds 3] [--work DIR]

Each round runs one child process per ``--every`` value (the cache's ``COLLECT_EVERY``;
0: no collection of its own, as before it had one), rounds interleaved. A child loads
``--users`` generated profiles (``profilemock generate --seed 1``, two events a user,
written once into ``--work``), turns the collector on as ``serve`` does (the store frozen,
thresholds 700, 10, 100), and reads the traits and the events of ``--misses`` uniformly
random users through a cache of 20,000 (nearly every read builds a profile and evicts
one). It reports the time a miss, the collector's time and collections, its longest and
99th-percentile pause, the objects it tracks a kept profile, and how long one full
collection of the full cache takes.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_scale import generated


def child(path: Path, misses: int, every: int) -> dict[str, float]:
    from profilemock.clock import Clock
    from profilemock.fixtures.loader import load_fixtures
    from profilemock.store import lazy

    lazy.COLLECT_EVERY = every or 1 << 62
    gc.disable()
    store = load_fixtures([path], Clock())
    gc.freeze()
    gc.enable()
    gc.set_threshold(700, 10, 100)
    users = store.spaces["generated"].profiles["users"]
    assert isinstance(users, lazy.Profiles)
    pauses: list[float] = []
    started = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - started[0])

    ids = list(users)
    rng = random.Random(1)
    chosen = [ids[rng.randrange(len(ids))] for _ in range(misses)]
    before = len(gc.get_objects())
    gc.callbacks.append(timed)
    took = time.perf_counter()
    for segment_id in chosen:
        profile = users[segment_id]
        profile.traits_of(None).plain_json  # noqa: B018 (read to be built)
        profile.event_json  # noqa: B018
    took = time.perf_counter() - took
    gc.callbacks.remove(timed)
    gc.collect()
    tracked = (len(gc.get_objects()) - before) / users.cached
    full = time.perf_counter()
    gc.collect()
    full = time.perf_counter() - full
    pauses.sort()
    return {
        "miss_us": took / misses * 1e6,
        "gc_s": sum(pauses),
        "collections": len(pauses),
        "longest_ms": pauses[-1] * 1e3 if pauses else 0.0,
        "p99_ms": pauses[int(len(pauses) * 0.99)] * 1e3 if pauses else 0.0,
        "tracked": tracked,
        "full_ms": full * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--misses", type=int, default=200_000)
    parser.add_argument("--every", type=lambda text: [int(n) for n in text.split(",")])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench-scale")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, misses, every = args.child
        print(json.dumps(child(Path(path), int(misses), int(every))))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    path = generated(args.work, args.users, "json", "2-2")
    everies = args.every or [250, 0]
    results: dict[int, list[dict[str, float]]] = {every: [] for every in everies}
    for _ in range(args.rounds):
        for every in everies:
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path), str(args.misses), str(every)],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PROFILEMOCK_LOAD_PROCESSES": "1"},
            ).stdout
            results[every].append(json.loads(out))
    print(f"{args.users:,} profiles, {args.misses:,} random misses, {args.rounds} rounds")
    print(
        "| COLLECT_EVERY | a miss | collector | collections | longest pause | 99th |"
        " kept profile | full collection |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for every, runs in results.items():
        med = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        span = [run["longest_ms"] for run in runs]
        print(
            f"| {every or 'off'} | {med['miss_us']:.1f} µs | {med['gc_s']:.2f} s |"
            f" {med['collections']:.0f} | {med['longest_ms']:.1f} ms ({min(span):.1f} to"
            f" {max(span):.1f}) | {med['p99_ms']:.1f} ms | {med['tracked']:.1f} objects |"
            f" {med['full_ms']:.0f} ms |"
        )


if __name__ == "__main__":
    main()
