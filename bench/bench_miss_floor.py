"""What a miss costs today against the least it could cost: issue 15's per-request goal.

    .venv/bin/python bench/bench_miss_floor.py [--users 100000] [--reads 100000]
        [--rounds 3] [--work DIR]

With a million profiles and uniformly random users nearly every request makes the profile
it reads (``store.lazy``: 20,000 kept). This measures, in one process and in interleaved
rounds, reading ``/traits``' members and ``/events``' items of ``--reads`` random users:

- **hit**: every profile built already (a working set of 10,000 users, built first);
- **miss**: as the server does it, each built from its record and kept (evicting one);
- **floor**: as the least a miss could cost in this design: every profile's answers made
  *before* (traits' keys and members, events' items with their timestamps cut out, so a
  relative time is read against the clock of the start), written to a file in memory
  (``/dev/shm``: not the process's memory), and a miss reads its own back with
  ``os.pread``, unmarshals it, puts the timestamps in and keeps it (evicting one).

The floor is not served anywhere: it tells how far the per-request goal is from any
design that still makes a profile's answer on its first read, and what making every
answer before costs (per profile, and bytes).
"""

from __future__ import annotations

import argparse
import gc
import marshal
import os
import random
import statistics
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_scale import generated

KEPT = 20_000
WORKING_SET = 10_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench-scale")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ["PROFILEMOCK_LOAD_PROCESSES"] = "1"

    from profilemock.clock import Clock
    from profilemock.fixtures.loader import load_fixtures
    from profilemock.store import lazy
    from profilemock.store.model import Profile, TraitIndex
    from profilemock.timeutil import format_ns

    path = generated(args.work, args.users, "json", "2-2")
    gc.disable()
    clock = Clock()
    now = clock.now_ns()
    store = load_fixtures([path], clock)
    users = store.spaces["generated"].profiles["users"]
    assert isinstance(users, lazy.Profiles)
    ids = list(users)

    # Every profile's answers made before, as a start would have to make them.
    made = time.perf_counter()
    blobs = []
    for segment_id in ids:
        profile = users[segment_id]
        traits = profile.traits_of(None)
        events = []
        for (timestamp, message_id), item in zip(
            profile.event_keys, profile.event_json, strict=True
        ):
            written = format_ns(timestamp).encode()
            at = item.index(written)
            events.append((timestamp - now, message_id, item[:at], item[at + len(written) :]))
        blobs.append(
            marshal.dumps((traits.keys, traits.plain_json, tuple(events), profile.event_names))
        )
    made = (time.perf_counter() - made) / len(ids)
    size = sum(map(len, blobs)) / len(ids)
    fd, name = tempfile.mkstemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    os.unlink(name)  # the descriptor keeps it
    offsets, lengths, at = [], [], 0
    for blob in blobs:
        os.write(fd, blob)
        offsets.append(at)
        lengths.append(len(blob))
        at += len(blob)
    del blobs
    rows = {segment_id: n for n, segment_id in enumerate(ids)}

    gc.freeze()
    gc.enable()
    gc.set_threshold(700, 10, 100)  # as serve runs
    rng = random.Random(1)
    drawn = [ids[rng.randrange(len(ids))] for _ in range(args.reads)]
    working = ids[:WORKING_SET]
    chosen_set = [working[rng.randrange(WORKING_SET)] for _ in range(args.reads)]
    kept: OrderedDict[str, object] = OrderedDict()

    def read(segment_id: str) -> Any:
        n = rows[segment_id]
        return marshal.loads(os.pread(fd, lengths[n], offsets[n]))

    def keep(segment_id: str, value: object) -> None:
        if len(kept) >= KEPT:
            kept.popitem(last=False)
        kept[segment_id] = value

    def trait_members(profile: Profile) -> object:
        return profile.traits_of(None).plain_json

    def event_items(profile: Profile) -> object:
        return profile.event_json

    def built() -> None:
        """The working set built and kept (again: the rounds of misses evicted it)."""
        for segment_id in working:
            trait_members(users[segment_id])
            event_items(users[segment_id])

    def reads(chosen: list[str], part: Callable[[Profile], object]) -> Callable[[], None]:
        """Reading ``part`` of each profile of ``chosen`` through the store."""

        def run() -> None:
            for segment_id in chosen:
                part(users[segment_id])

        return run

    def floor_traits() -> None:
        for segment_id in drawn:
            keys, members, _, _ = read(segment_id)
            keep(segment_id, TraitIndex(keys, members, None, None))  # type: ignore[arg-type]

    def floor_events() -> None:
        write = format_ns.__wrapped__  # its cache would hold one instant in a million
        for segment_id in drawn:
            _, _, events, names = read(segment_id)
            items = tuple([a + write(now + d).encode() + b for d, _, a, b in events])
            keys = tuple([(now + d, m) for d, m, _, _ in events])
            keep(segment_id, (keys, items, names))

    runs: dict[str, list[float]] = {}
    timed: list[tuple[str, Callable[[], None]]] = [
        ("traits hit", reads(chosen_set, trait_members)),
        ("traits miss", reads(drawn, trait_members)),
        ("traits floor", floor_traits),
        ("events hit", reads(chosen_set, event_items)),
        ("events miss", reads(drawn, event_items)),
        ("events floor", floor_events),
    ]
    for _ in range(args.rounds):
        for label, run in timed:
            if label.endswith("hit"):
                built()
            took = time.perf_counter()
            run()
            runs.setdefault(label, []).append((time.perf_counter() - took) / args.reads * 1e6)
    print(
        f"{args.users:,} profiles, {args.reads:,} random reads, {args.rounds} rounds (median,"
        " lowest to highest); answers made before: "
        f"{made * 1e6:.0f} µs and {size:,.0f} bytes a profile"
    )
    print("| read | µs a read | over a hit |")
    print("| --- | --- | --- |")
    for label, times in runs.items():
        hit = statistics.median(runs[label.split()[0] + " hit"])
        median = statistics.median(times)
        print(
            f"| {label} | {median:.1f} ({min(times):.1f} to {max(times):.1f}) |"
            f" {median - hit:+.1f} µs |"
        )


if __name__ == "__main__":
    main()
