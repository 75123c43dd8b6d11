"""How long appending events through the admin API's code takes, as a profile grows.

    .venv/bin/python bench/bench_append.py [--rounds 3] [--count 100000] [--calls 3]

In-process, no HTTP: ``append_events`` (what ``POST /__admin/…/events`` and the test
handle's ``add_events`` run) adds ``--count`` repeated events to the demo profile
``user_id:u1234``, ``--calls`` times in a row (helper-20's case: 100,000 events three
times). Each append rebuilds the profile with all its events, so the cost grows with the
profile. The peer, in the same run: ``build_profile`` of the same grown data (the fixture
with those events, as the loader builds it), the rebuild an append cannot avoid. Then the
first read of the grown profile's events (each written as JSON once, when first read).
And the admin API's check of a body of ``--input-events`` plain events (a 1 MiB body holds
about 25,000). Medians over ``--rounds`` of CPU time (``time.process_time``: one thread,
and this machine is shared, so wall time would measure the neighbours too).
"""

from __future__ import annotations

import argparse
import statistics
import time

from profilemock.clock import Clock
from profilemock.fixtures.loader import demo_fixture_path, load_fixtures
from profilemock.fixtures.profile import Where, build_profile
from profilemock.fixtures.source import from_data
from profilemock.mockserver.lookup import resolve
from profilemock.mockserver.mutations import append_events
from profilemock.store.overlay import LiveStore
from profilemock.timeutil import parse_timestamp

NOW = parse_timestamp("2026-11-29T12:00:00Z", 0)


def one_round(count: int, calls: int) -> dict[str, list[float]]:
    clock = Clock(NOW)
    space = LiveStore(load_fixtures([demo_fixture_path()], clock)).spaces["lg8283283"]
    times: dict[str, list[float]] = {}
    for call in range(1, calls + 1):
        events = [{"event": "x", "timestamp": "-1h", "repeat": {"count": count, "every": "1ms"}}]
        started = time.process_time()
        append_events(space, "users", "user_id:u1234", events, NOW)
        times.setdefault(f"append {call}", []).append(time.process_time() - started)
        profile = resolve(space, "users", "user_id:u1234")
        assert profile is not None
        data_of, path, read_at = profile.recipe
        data = data_of()
        started = time.process_time()
        where = Where("lg8283283", "users", space.settings)
        build_profile(data, where, read_at, doc=from_data(data, "profile"), path=path)
        times.setdefault(f"rebuild {call}", []).append(time.process_time() - started)
    profile = resolve(space, "users", "user_id:u1234")
    assert profile is not None
    started = time.process_time()
    events_read = len(profile.event_json)
    times["first read of the events"] = [time.process_time() - started]
    assert events_read >= count * calls
    return times


def input_check(events: int) -> dict[str, list[float]]:
    """The admin API's check of a body of ``events`` plain events before the handler runs:
    the schema, then the pass that makes ``3.0`` an integer (needless without a float)."""
    from profilemock.mockserver import admin

    body = {"events": [{"event": "x", "timestamp": "-1h"} for _ in range(events)]}
    _, checks = admin._inputs()[admin.add_events]
    assert checks.body is not None
    validator, strict = checks.body
    started = time.process_time()
    assert admin._first_problem(validator, body) is None
    checked = time.process_time()
    admin._whole(body, strict)
    done = time.process_time()
    return {
        f"admin input, {events:,} events: schema": [checked - started],
        f"admin input, {events:,} events: 3.0 made 3": [done - checked],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--input-events", type=int, default=20_000)
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        measured = {**one_round(args.count, args.calls), **input_check(args.input_events)}
        for name, values in measured.items():
            results.setdefault(name, []).extend(values)
    print(f"| measure ({args.count:,} events a call, median of {args.rounds}) | s |")
    print("| --- | --- |")
    for name, values in results.items():
        print(f"| {name} | {statistics.median(values):.2f} |")
    for call in range(1, args.calls + 1):
        ratio = statistics.median(results[f"append {call}"]) / statistics.median(
            results[f"rebuild {call}"]
        )
        print(f"| append {call} / rebuild {call} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
