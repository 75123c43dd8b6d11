"""Benchmark: profilemock under load, side by side with Stoplight Prism and bare aiohttp.

    python bench/bench_http.py [--rounds 3] [--seconds 4] [--connections 16] [--prism PATH]
                               [--profiles 100000] [--only request|startup|scaling ...]

Needs wrk (Debian: apt-get install wrk) and, for the Prism column, @stoplight/prism-cli 5
(npm install @stoplight/prism-cli@5; pass its bin/prism with --prism, or have it on PATH).

- Request cost: GET /traits (50 traits) and GET /events (100 events, limit=100) from
  profilemock, from a bare aiohttp handler answering the same bytes (the floor of our
  stack), and from `prism mock` on an OpenAPI document whose example is those bytes. wrk
  (a second process, one thread, bounded duration) drives each; rounds are interleaved so
  every server sees the same machine noise. Rate limit off. Besides wrk's figures, the
  server's CPU time per request (from /proc).
- Start-up: `profilemock serve` to the first 200, with the demo data and with 10,000 and
  100,000 generated profiles (JSON); peak RSS of the server.
- Scaling: /traits of random users with 1,000 vs 100,000 profiles loaded, both servers up
  at once, rounds interleaved.
Every figure is a median over rounds; a ratio is the median of per-round ratios of peers
measured back to back.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _servers import Server, profilemock

from profilemock.fixtures.generator import dump_yaml, generate

HERE = Path(__file__).resolve().parent
TOKEN = "bench-token"
AUTH = "Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode()
ROUTES = {
    "traits": "/v1/spaces/bench/collections/users/profiles/user_id:bench-user/traits?limit=50",
    "events": "/v1/spaces/bench/collections/users/profiles/user_id:bench-user/events?limit=100",
}


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": AUTH})
    with urllib.request.urlopen(request, timeout=30) as response:
        return bytes(response.read())


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def load(
    server: Server,
    path: str,
    seconds: int,
    connections: int,
    script: Path | None = None,
    auth: str = AUTH,
) -> dict[str, float]:
    """wrk against ``server``: requests/s, p50 and p99 (ms), and the server's CPU time per
    request (µs) — the cost of a request, less sensitive than throughput to what else the
    machine is doing."""
    before = server.cpu_seconds()
    result = wrk(server.url + path, seconds, connections, script, auth)
    used = server.cpu_seconds() - before
    result["cpu"] = used / max(result["rps"] * seconds, 1) * 1e6
    return result


def wrk(
    url: str, seconds: int, connections: int, script: Path | None = None, auth: str = AUTH
) -> dict[str, float]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"Authorization: {auth}",
    ]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}  # type: ignore[union-attr]
    for percentile in ("50", "99"):
        value, unit = re.search(rf"\s{percentile}%\s+([\d.]+)(us|ms|s)\b", output).groups()  # type: ignore[union-attr]
        result[f"p{percentile}"] = float(value) * _UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} non-2xx answers under load")
    return result


def bench_fixture() -> dict[str, Any]:
    traits = {f"trait_{n:02d}": n if n % 3 else f"value {n}" for n in range(50)}
    events = [
        {
            "event": "Page Viewed",
            "timestamp": "-10m",
            "repeat": {"count": 100, "every": "3h"},
            "properties": {"path": "/docs", "title": "Docs"},
            "context": {
                "ip": "73.92.233.78",
                "library": {"name": "analytics.js", "version": "3.2.5"},
            },
        }
    ]
    return {
        "spaces": {
            "bench": {
                "tokens": [TOKEN],
                "rate_limit": None,
                "users": [{"ids": {"user_id": "bench-user"}, "traits": traits, "events": events}],
            }
        }
    }


def prism_document(bodies: dict[str, bytes]) -> dict[str, Any]:
    paths = {}
    for name, body in bodies.items():
        paths[
            f"/v1/spaces/{{space_id}}/collections/{{collection}}/profiles/{{identifier}}/{name}"
        ] = {
            "get": {
                "parameters": [
                    {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                    for p in ("space_id", "collection", "identifier")
                ]
                + [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"example": json.loads(body)}},
                    }
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Profile API (benchmark)", "version": "1"},
        "security": [{"basicAuth": []}],
        "components": {"securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}}},
        "paths": paths,
    }


def serve(fixtures: Path) -> Server:
    return profilemock("--rate-limit", "none", "--fixtures", str(fixtures))


Rows = list[tuple[str, str]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--prism", default=shutil.which("prism"))
    parser.add_argument("--profiles", type=int, default=100_000, help="largest data set")
    parser.add_argument(
        "--formats",
        type=lambda text: text.split(","),
        default=["json", "yaml"],
        help="fixture formats for start-up (default json,yaml)",
    )
    parser.add_argument(
        "--only", choices=SECTIONS, action="append", help="run only these sections (repeatable)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="profilemock-bench-http-"))
    rows: Rows = []
    for name in args.only or SECTIONS:
        rows += SECTIONS[name](args, work)
    when = f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores"
    print(f"| measure ({when}) | median of {args.rounds} |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


LOGGED = "profilemock"
QUIET = "profilemock --quiet"
PIPED = "profilemock, log to a pipe"
"""The log on, to a stream that is not a file (a terminal or a pipe, as ``serve`` mostly
runs): written from the request log's own thread. The stream is /dev/null, so the time
is the server's, not a reader's."""


def request_cost(args: argparse.Namespace, work: Path) -> Rows:
    """/traits and /events under wrk: profilemock as users run it (default flags, the request
    log on, written to a file; and to a pipe), the same with --quiet, bare aiohttp, Prism
    (its log on)."""
    fixture = work / "bench.json"
    fixture.write_text(json.dumps(bench_fixture()))

    # Default flags: the fixture's space has no rate limit, as a load-tester's would.
    fake = profilemock("--fixtures", str(fixture), log=work / "requests.log")
    bodies = {name: fetch(fake.url + route) for name, route in ROUTES.items()}
    for name, body in bodies.items():
        (work / f"{name}.json").write_bytes(body)
    servers = {
        LOGGED: fake,
        PIPED: profilemock("--fixtures", str(fixture), quiet=False),
        QUIET: profilemock("--fixtures", str(fixture)),
    }
    servers["bare aiohttp"] = Server(
        [
            sys.executable,
            str(HERE / "bare_server.py"),
            str(work / "traits.json"),
            str(work / "events.json"),
        ]
    )
    if args.prism:
        (work / "prism.json").write_text(json.dumps(prism_document(bodies)))
        servers["Prism 5"] = Server(
            [args.prism, "mock", str(work / "prism.json"), "-p", "0"],
            r"listening on (http://127\.0\.0\.1:\d+)",
        )
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        for server in servers.values():
            for route in ROUTES.values():  # warm up
                load(server, route, 1, args.connections)
        for _ in range(args.rounds):
            for route_name, route in ROUTES.items():
                for name, server in servers.items():
                    runs.setdefault((route_name, name), []).append(
                        load(server, route, args.seconds, args.connections)
                    )
    finally:
        for server in servers.values():
            server.stop()
    logged_lines = sum(1 for _ in (work / "requests.log").open())

    rows = [
        (f"GET /{route} — {name}", summary(measured)) for (route, name), measured in runs.items()
    ]
    for route_name in ROUTES:
        ours = runs[(route_name, LOGGED)]
        for peer in (QUIET, "bare aiohttp", "Prism 5"):
            if (route_name, peer) in runs:
                ratio = paired(ours, runs[(route_name, peer)], "rps")
                rows.append((f"/{route_name}: {LOGGED} / {peer} throughput", spread(ratio)))
        ratio = paired(runs[(route_name, PIPED)], runs[(route_name, QUIET)], "cpu")
        rows.append((f"/{route_name}: {PIPED} / {QUIET}, server CPU a request", spread(ratio)))
        ratio = paired(runs[(route_name, QUIET)], runs[(route_name, "bare aiohttp")], "rps")
        rows.append((f"/{route_name}: {QUIET} / bare aiohttp throughput", spread(ratio)))
        if (route_name, "Prism 5") in runs:
            prism = runs[(route_name, "Prism 5")]
            rows.append(
                (f"/{route_name}: {LOGGED} p99 / Prism p99", spread(paired(ours, prism, "p99")))
            )
    rows.append(
        ("request log lines written (every request of the logged server)", f"{logged_lines:,}")
    )
    return rows


def summary(runs: list[dict[str, float]]) -> str:
    """Medians of the runs, as a table cell."""
    m = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    return (
        f"{m['rps']:,.0f} req/s, p50 {m['p50']:.2f} ms, p99 {m['p99']:.2f} ms,"
        f" {m['cpu']:.0f} µs CPU a request"
    )


def paired(mine: list[dict[str, float]], theirs: list[dict[str, float]], key: str) -> list[float]:
    """Per-round ratios: each round's pair ran back to back, under the same machine noise."""
    return [a[key] / b[key] for a, b in zip(mine, theirs, strict=True)]


def spread(ratios: list[float]) -> str:
    """The median of per-round ratios, and their range."""
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f} to {max(ratios):.2f})"


def generated(work: Path, count: int, form: str = "json") -> Path:
    """``count`` generated profiles (2 events each) as JSON or YAML, written once per run."""
    path = work / f"generated-{count}.{form}"
    if not path.exists():
        data = generate(count, seed=1, events_per_user=2)
        path.write_text(json.dumps(data) if form == "json" else dump_yaml(data))
    return path


def startup(args: argparse.Namespace, work: Path) -> Rows:
    """Start-up to the first answer, peak memory and memory once answering."""
    rows: Rows = []
    sets: dict[str, Path | None] = {"demo data": None}
    for count in (10_000, args.profiles):
        for form in args.formats:
            sets[f"{count:,} profiles ({form})"] = generated(work, count, form)
    for label, path in sets.items():
        startups, peak, rss = [], [], []
        for _ in range(args.rounds if path is None or path.stat().st_size < 50e6 else 1):
            server = profilemock(*([] if path is None else ["--fixtures", str(path)]))
            probe = "/v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/traits"
            if path is not None:
                probe = (
                    "/v1/spaces/generated/collections/users/profiles/user_id:user-0000001/traits"
                )
            request = urllib.request.Request(
                server.url + probe,
                headers={
                    "Authorization": "Basic "
                    + base64.b64encode(
                        b"demo-token:" if path is None else b"generated-token:"
                    ).decode()
                },
            )
            with urllib.request.urlopen(request, timeout=600) as response:
                assert response.status == 200
            startups.append(time.perf_counter() - server.started)
            peak.append(server.peak_rss_mb())
            rss.append(server.rss_mb())
            server.stop()
        size = "" if path is None else f", {path.stat().st_size / 1e6:.0f} MB file"
        rows.append(
            (
                f"start-up to first 200, {label}{size}",
                f"{statistics.median(startups):.2f} s ({min(startups):.2f} to"
                f" {max(startups):.2f}), peak RSS {statistics.median(peak):.0f} MB,"
                f" RSS then {statistics.median(rss):.0f} MB",
            )
        )
    return rows


def scaling(args: argparse.Namespace, work: Path) -> Rows:
    """/traits of random users, a small and a large data set served side by side, rounds
    interleaved."""
    return random_users(
        lambda count: serve(generated(work, count)),
        (1_000, args.profiles),
        work,
        args.rounds,
        args.seconds,
        args.connections,
    )


def random_users(
    start: Callable[[int], Server],
    counts: tuple[int, int],
    work: Path,
    rounds: int,
    seconds: int,
    connections: int,
    routes: Sequence[str] = ("traits",),
) -> Rows:
    """``GET /<route>`` of uniformly random users of a small and a large generated set
    (``start(count)`` serves one), both up at once, rounds interleaved; the cost of a
    request with the large set loaded against the small, as same-round ratios."""
    auth = "Basic " + base64.b64encode(b"generated-token:").decode()
    servers: dict[int, Server] = {}
    scripts: dict[tuple[str, int], Path] = {}
    runs: dict[tuple[str, int], list[dict[str, float]]] = {}
    try:
        for count in counts:
            for route in routes:
                scripts[route, count] = work / f"random-{count}-{route}.lua"
                scripts[route, count].write_text(
                    "math.randomseed(1)\n"
                    "request = function()\n"
                    '  local path = string.format("/v1/spaces/generated/collections/users/'
                    f'profiles/user_id:user-%07d/{route}", math.random(0, {count - 1}))\n'
                    "  return wrk.format(nil, path)\n"
                    "end\n"
                )
                runs[route, count] = []
            servers[count] = start(count)
            load(servers[count], "/", 1, connections, scripts[routes[0], count], auth)
        for _ in range(rounds):
            for route in routes:
                for count in counts:
                    server, script = servers[count], scripts[route, count]
                    runs[route, count].append(load(server, "/", seconds, connections, script, auth))
    finally:
        for server in servers.values():
            server.stop()
    rows: Rows = []
    for route in routes:
        small, large = runs[route, counts[0]], runs[route, counts[1]]
        rows += [
            *(
                (f"GET /{route} of random users, {c:,} profiles", summary(runs[route, c]))
                for c in counts
            ),
            (
                f"/{route}: per-request cost {counts[1]:,} / {counts[0]:,} profiles"
                " (server CPU a request)",
                spread(paired(large, small, "cpu")),
            ),
            (
                f"/{route}: per-request cost {counts[1]:,} / {counts[0]:,} profiles (1/throughput)",
                spread(paired(small, large, "rps")),
            ),
        ]
    return rows


SECTIONS = {"request": request_cost, "startup": startup, "scaling": scaling}


if __name__ == "__main__":
    main()
