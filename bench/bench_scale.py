"""Issue 15's goals: start-up and memory from 10,000 to 1,000,000 profiles, the first start
(reading and checking the files) and the second (from the snapshot), and the cost of a
request with many profiles loaded against 1,000.

    .venv/bin/python bench/bench_scale.py [--sizes 10000,100000,1000000] [--formats json,yaml]
        [--events 2-2] [--kinds cold,first,second,generated] [--rounds 3] [--seconds 4]
        [--work DIR] [--only startup|requests]

Data sets come from ``profilemock generate --seed 1`` (``--events`` events a user), written
once into ``--work`` and kept there between runs. Every start is ``profilemock serve`` as a
child process, timed from launch until ``GET /traits`` of one user answers 200, with its
peak RSS (VmHWM) and RSS then, and the peak of the memory it and the processes it forks to
read its fixtures held together (their resident sets summed, sampled every 0.1 s: a
copy-on-write page they share counts in each, an upper bound). Four kinds of start per set:

- ``cold``: ``--no-snapshots`` (every file read and every profile checked);
- ``first``: a fresh snapshot directory: what a user's first start costs (cold, plus
  writing the snapshot);
- ``second``: a directory holding that snapshot: every later start of the same files;
- ``generated``: ``generate -o FILE`` as users run it (it checks the file it wrote and
  saves its snapshot; its own time is shown too), then the first ``serve`` of FILE (one
  round);
- ``cold-one`` (not by default): cold starts whose first read is one process's
  (``PROFILEMOCK_LOAD_PROCESSES=1``) against the default (a process a CPU), rounds
  interleaved, and their ratio per round.

Snapshots are kept in ``--work``/snapshots, so a later run's ``second`` and ``requests``
start warm (a run with changed profilemock source makes new ones).

``requests``: wrk (one thread, 16 connections) asks ``/traits`` of uniformly random users
of the largest set and of a 1,000-profile set, both servers up at once, rounds
interleaved; the server's CPU time a request, and throughput, as ratios of the two. Then
the same of a working set of the largest set (10,000 users, each built first) against the
1,000: what a request costs at that size when it makes no profile.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _servers import Server, profilemock
from bench_http import load, paired, random_users, spread, summary

TOKEN = "generated-token"
AUTH = "Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode()
PROBE = "/v1/spaces/generated/collections/users/profiles/user_id:user-0000001/traits"
BIG = 100e6
"""Files from this size are started once per kind, not ``--rounds`` times."""

Rows = list[tuple[str, str]]


def generate(users: int, form: str, events: str, output: Path, *flags: str) -> float:
    """Wall seconds of ``profilemock generate --seed 1`` writing ``output``."""
    started = time.perf_counter()
    subprocess.run(
        [
            *(sys.executable, "-m", "profilemock", "generate", "--users", str(users)),
            *("--events-per-user", events, "--seed", "1", "--format", form),
            *("--output", str(output), *flags),
        ],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def generated(work: Path, users: int, form: str, events: str) -> Path:
    path = work / f"users-{users}-events-{events}.{form}"
    if not path.exists():
        partial = path.with_suffix(".partial")
        # The data to measure with: its starts are measured, not its check here.
        generate(users, form, events, partial, "--no-snapshots")
        partial.rename(path)
    return path


def after_generate(args: argparse.Namespace, work: Path, users: int, form: str) -> Rows:
    """``generate -o FILE`` as users run it (it checks FILE and saves its snapshot), then
    the first ``serve`` of FILE."""
    snapshots = Path(tempfile.mkdtemp(dir=work, prefix="generated-"))
    path = snapshots / f"users-{users}.{form}"
    took_generating = generate(users, form, args.events, path, "--snapshots", str(snapshots))
    server, took = start("--fixtures", str(path), "--snapshots", str(snapshots))
    peak, answering = server.peak_rss_mb(), server.rss_mb()
    server.stop()
    shutil.rmtree(snapshots)
    label = f"{users:,} profiles ({form})"
    rows = [
        (f"{label}: generate -o (the file and its check)", f"{took_generating:.1f} s"),
        (
            f"{label}: first serve after generate, to first 200",
            f"{took:.2f} s, peak RSS {peak:,.0f} MB, RSS then {answering:,.0f} MB",
        ),
    ]
    for row in rows:
        print(*row, sep=" | ", flush=True)
    return rows


def start(*args: str, env: dict[str, str] | None = None) -> tuple[Server, float]:
    """A server on these arguments, and the seconds until its first 200 (its memory with
    its readers' sampled until then: ``Server.tree_peak_mb``)."""
    server = profilemock(*args, env=env)
    request = urllib.request.Request(server.url + PROBE, headers={"Authorization": AUTH})
    with urllib.request.urlopen(request, timeout=3600) as response:
        assert response.status == 200
    took = time.perf_counter() - server.started
    server.tree_peak_mb()
    return server, took


def startups(args: argparse.Namespace, work: Path) -> Rows:
    rows: Rows = []
    for users in args.sizes:
        for form in args.formats:
            path = generated(work, users, form, args.events)
            rounds = 1 if path.stat().st_size >= BIG else args.rounds
            label = f"{users:,} profiles ({form}, {path.stat().st_size / 1e6:,.0f} MB)"
            fresh = Path(tempfile.mkdtemp(dir=work, prefix="first-"))
            kept = work / "snapshots"
            kinds = {
                "cold": ["--no-snapshots"],
                "first": ["--snapshots", str(fresh)],
                "second": ["--snapshots", str(kept)],
            }
            if "cold-one" in args.kinds:
                rows += cold_alone(path, label, rounds)
            for kind, flags in kinds.items():
                if kind not in args.kinds:
                    continue
                times, peaks, answering, trees = [], [], [], []
                for _ in range(1 if kind == "first" else rounds):
                    server, took = start("--fixtures", str(path), *flags)
                    times.append(took)
                    peaks.append(server.peak_rss_mb())
                    answering.append(server.rss_mb())
                    trees.append(server.tree_peak_mb())
                    server.stop()
                if kind == "first":  # the second start (and `requests`) find it there
                    kept.mkdir(exist_ok=True)
                    for saved in fresh.glob("*.snapshot"):
                        saved.replace(kept / saved.name)
                rows.append(
                    (
                        f"{label}: {kind} start to first 200",
                        f"{statistics.median(times):.2f} s ({min(times):.2f} to"
                        f" {max(times):.2f}), peak RSS {statistics.median(peaks):,.0f} MB,"
                        f" RSS then {statistics.median(answering):,.0f} MB, peak with its"
                        f" readers {statistics.median(trees):,.0f} MB",
                    )
                )
                print(*rows[-1], sep=" | ", flush=True)
            shutil.rmtree(fresh)
            if "generated" in args.kinds:
                rows.extend(after_generate(args, work, users, form))
    return rows


def cold_alone(path: Path, label: str, rounds: int) -> Rows:
    """Cold starts read by one process (``PROFILEMOCK_LOAD_PROCESSES=1``) and by as many as
    there are CPUs (the default), rounds interleaved: what sharing the first read gains."""
    took: dict[str, list[float]] = {"1": [], "default": []}
    peaks: dict[str, list[float]] = {"1": [], "default": []}
    trees: dict[str, list[float]] = {"1": [], "default": []}
    for _ in range(rounds):
        for processes in took:
            # The default: the variable left empty (as unset), whatever this shell says.
            env = {"PROFILEMOCK_LOAD_PROCESSES": "1" if processes == "1" else ""}
            server, seconds = start("--fixtures", str(path), "--no-snapshots", env=env)
            took[processes].append(seconds)
            peaks[processes].append(server.peak_rss_mb())
            trees[processes].append(server.tree_peak_mb())
            server.stop()
    rows = [
        (
            f"{label}: cold start to first 200, {'one process' if p == '1' else 'every CPU'}",
            f"{statistics.median(t):.2f} s ({min(t):.2f} to {max(t):.2f}), peak RSS"
            f" {statistics.median(peaks[p]):,.0f} MB, peak with its readers"
            f" {statistics.median(trees[p]):,.0f} MB",
        )
        for p, t in took.items()
    ]
    ratios = [one / every for one, every in zip(took["1"], took["default"], strict=True)]
    rows.append(
        (
            f"{label}: one process / every CPU (per round)",
            f"{statistics.median(ratios):.2f}x ({min(ratios):.2f} to {max(ratios):.2f})",
        )
    )
    for row in rows:
        print(*row, sep=" | ", flush=True)
    return rows


def requests(args: argparse.Namespace, work: Path) -> Rows:
    """``--routes`` of random users: 1,000 profiles against the largest set, side by side;
    then the largest set's working set against 1,000 profiles (``working_set``)."""
    snapshots = work / "snapshots"

    def serve(count: int) -> Server:
        path = generated(work, count, "json", args.events)
        flags = ("--rate-limit", "none", "--fixtures", str(path), "--snapshots", str(snapshots))
        return start(*flags)[0]

    counts = (1_000, max(args.sizes))
    rows = random_users(serve, counts, work, args.rounds, args.seconds, 16, args.routes)
    return rows + working_set(serve, counts, work, args.rounds, args.seconds)


WORKING_SET = 10_000
"""Users of the large set the working-set rows ask for: fewer than a server keeps built
(``store.lazy.CACHE_SIZE``), so once each was asked for every request finds its profile
built."""


def working_set(
    serve: Callable[[int], Server], counts: tuple[int, int], work: Path, rounds: int, seconds: int
) -> Rows:
    """``/traits`` of random users among the large set's first ``WORKING_SET``, each built
    first (users asked for in turn), against random users of the small set, rounds
    interleaved: what a request costs at that size when it makes no profile — the lookups
    in indexes of millions of entries — apart from what making one costs. (Run on its own:
    random users of the whole set would evict the working set from the cache.)"""
    small, large = counts
    path = "/v1/spaces/generated/collections/users/profiles/user_id:user-%07d/traits"
    warm, drawn = work / f"cycle-{WORKING_SET}-traits.lua", work / f"set-{WORKING_SET}-traits.lua"
    warm.write_text(
        f"local n = -1\nrequest = function()\n  n = (n + 1) % {WORKING_SET}\n"
        f'  return wrk.format(nil, string.format("{path}", n))\nend\n'
    )
    drawn.write_text(
        f"math.randomseed(1)\nrequest = function()\n  return wrk.format(nil,"
        f' string.format("{path}", math.random(0, {WORKING_SET - 1})))\nend\n'
    )
    auth = "Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode()
    servers = {count: serve(count) for count in counts}
    runs: dict[int, list[dict[str, float]]] = {small: [], large: []}
    try:
        scripts = {small: work / f"random-{small}-traits.lua", large: drawn}
        built = load(servers[large], "/", 3, 16, warm, auth)  # one Lua state: users in turn
        if built["rps"] * 3 < WORKING_SET:
            raise SystemExit(f"the working set was not built in 3 s ({built['rps']:.0f} req/s)")
        load(servers[small], "/", 1, 16, scripts[small], auth)
        for _ in range(rounds):
            for count in counts:
                runs[count].append(load(servers[count], "/", seconds, 16, scripts[count], auth))
    finally:
        for server in servers.values():
            server.stop()
    return [
        (f"GET /traits of random users, {small:,} profiles", summary(runs[small])),
        (
            f"GET /traits of a working set of {WORKING_SET:,} users (each built), {large:,}"
            " profiles",
            summary(runs[large]),
        ),
        (
            f"/traits: per-request cost, working set of {large:,} / {small:,} profiles"
            " (server CPU a request)",
            spread(paired(runs[large], runs[small], "cpu")),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[10_000, 100_000],
        help="profiles in each data set (comma-separated)",
    )
    parser.add_argument("--formats", type=lambda text: text.split(","), default=["json", "yaml"])
    parser.add_argument("--events", default="2-2", help="events a user (MIN-MAX)")
    parser.add_argument(
        "--kinds",
        type=lambda text: text.split(","),
        default=["cold", "first", "second"],
        help="which starts (a second start needs a first; generated, and cold-one: cold"
        " starts by one process against every CPU, interleaved: not by default)",
    )
    parser.add_argument(
        "--routes",
        type=lambda text: text.split(","),
        default=["traits", "events"],
        help="profile routes requested of random users (default traits,events)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench-scale")
    parser.add_argument("--only", choices=("startup", "requests"), action="append")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows: Rows = []
    if not args.only or "startup" in args.only:
        rows += startups(args, args.work)
    if not args.only or "requests" in args.only:
        rows += requests(args, args.work)
    print("\n| measure | median |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
