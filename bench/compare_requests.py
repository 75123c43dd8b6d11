"""Request cost of two checkouts of profilemock, side by side, with the bare-aiohttp floor.

    python bench/compare_requests.py BEFORE_DIR AFTER_DIR [--rounds 5] [--seconds 4]
                                     [--connections 16] [--log]

The question a refactoring asks ("did it make requests dearer?"), answered in one run: each
checkout's ``profilemock serve --quiet`` (its package put first on PYTHONPATH, so both run
on this environment's aiohttp and uvloop and only profilemock's code differs) and bare
aiohttp answering the same bytes, all up at once, driven by wrk over bench_http's /traits
and /events routes and fixture, rounds interleaved so all three see the same machine noise.
Prints each server's medians, then per-round ratios (median and range): after / before
and each / bare aiohttp, for throughput and for the server's CPU time a request. Needs wrk.
``--log``: both checkouts with the request log on, to a file, as ``serve`` runs by default
(did a change make the logged request dearer?).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from _servers import Server
from bench_http import HERE, ROUTES, bench_fixture, fetch, load, paired, spread, summary

BARE = "bare aiohttp"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("before", help="checkout of the code before (its profilemock/ inside)")
    parser.add_argument("after", help="checkout of the code after")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--log", action="store_true", help="the request log on, to a file")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="profilemock-compare-requests-"))
    # Children start in the work directory: `python -m` puts the current directory first on
    # sys.path, so from inside a checkout both servers would run that checkout's code.
    os.chdir(work)
    fixture = work / "bench.json"
    fixture.write_text(json.dumps(bench_fixture()))
    servers: dict[str, Server] = {}
    try:
        for label in ("before", "after"):
            tree = str(Path(getattr(args, label)).resolve())
            quiet = () if args.log else ("--quiet",)
            command = [sys.executable, "-m", "profilemock", "serve", *quiet, "--port", "0"]
            servers[label] = Server(
                [*command, "--fixtures", str(fixture)],
                env={**os.environ, "PYTHONPATH": tree},
                log=work / f"{label}.log" if args.log else None,
            )
        bodies = {name: fetch(servers["after"].url + route) for name, route in ROUTES.items()}
        for name, route in ROUTES.items():
            # The fixture's times are relative: the bytes differ, the size does not.
            if len(fetch(servers["before"].url + route)) != len(bodies[name]):
                print(
                    f"note: the checkouts answer /{name} in bodies of other sizes", file=sys.stderr
                )
            (work / f"{name}.json").write_bytes(bodies[name])
        servers[BARE] = Server(
            [
                sys.executable,
                str(HERE / "bare_server.py"),
                str(work / "traits.json"),
                str(work / "events.json"),
            ]
        )
        runs: dict[tuple[str, str], list[dict[str, float]]] = {}
        for server in servers.values():
            for route in ROUTES.values():  # warm up
                load(server, route, 1, args.connections)
        for n in range(args.rounds):
            for route_name, route in ROUTES.items():
                # Alternate who goes first, so neither always runs after the floor.
                order = ["before", "after", BARE] if n % 2 == 0 else ["after", "before", BARE]
                for label in order:
                    runs.setdefault((route_name, label), []).append(
                        load(servers[label], route, args.seconds, args.connections)
                    )
            print(f"round {n + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    finally:
        for server in servers.values():
            server.stop()
    print(f"| measure ({os.cpu_count()} cores), medians of {args.rounds} rounds | |")
    print("| --- | --- |")
    for (route_name, label), measured in runs.items():
        print(f"| GET /{route_name} — {label} | {summary(measured)} |")
    for route_name in ROUTES:
        before, after, bare = (runs[(route_name, x)] for x in ("before", "after", BARE))
        for key, what in (("rps", "throughput"), ("cpu", "CPU a request")):
            print(
                f"| /{route_name}: after / before, {what} | {spread(paired(after, before, key))} |"
            )
            for label, mine in (("before", before), ("after", after)):
                ratio = spread(paired(mine, bare, key))
                print(f"| /{route_name}: {label} / bare aiohttp, {what} | {ratio} |")


if __name__ == "__main__":
    main()
