"""The validating proxy: what pointing cursor.url at itself costs a page, and what
--max-body saves on an answer far larger than any page.

Usage: python bench/bench_proxy.py [--requests 1000] [--rounds 5] [--flood-mb 200]

Every server is a child process on 127.0.0.1, port 0:

- **Per page**: the fake (demo data) and two proxies in front of it, one as shipped
  (``cursor.url`` pointed at the proxy), one with ``--keep-cursor-urls`` (the body passed
  on untouched, as before). A sequential keep-alive client sends ``--requests`` GETs of a
  traits page that has a next page (so every answer is rewritten) to each of the three,
  alternately, ``--rounds`` rounds; reported: the median of the per-round medians, and
  the ratio of the two proxies.
- **Flood**: an upstream streaming ``--flood-mb`` MB of JSON without a Content-Length, and
  two proxies in front of it: one with the default limit (32MB), one with a limit above
  the flood (reading it whole, as every proxy did before). Reported: the median time to
  the client's answer over three requests each, and each proxy's peak resident memory.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _servers import Server

TRAITS = "/v1/spaces/lg8283283/collections/users/profiles/user_id:9800664881/traits?limit=2"
AUTH = {"Authorization": "Basic ZGVtby10b2tlbjo="}
FLOOD_PATH = "/v1/spaces/sp/collections/users/profiles/user_id:flood/traits"
FLOOD_SERVER = """
import asyncio
import sys

from aiohttp import web

SIZE = int(sys.argv[1])


async def handle(request):
    answer = web.StreamResponse(headers={"Content-Type": "application/json"})
    await answer.prepare(request)
    await answer.write(b'{"traits":{"x":"')
    chunk, sent = b"0" * 65536, 0
    try:
        while sent < SIZE:
            await answer.write(chunk)
            sent += len(chunk)
        await answer.write(b'"}}')
    except ConnectionError:
        pass  # the proxy hung up at its limit
    return answer


async def main():
    app = web.Application()
    app.router.add_get("/{path:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"flood at {site.name}", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
"""


def profilemock(*args: str) -> list[str]:
    return [sys.executable, "-m", "profilemock", *args]


def timed_gets(url: str, path: str, count: int) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("GET", path, headers=AUTH)
        answer = connection.getresponse()
        answer.read()
        times.append(time.perf_counter() - started)
        assert answer.status in (200, 502), answer.status
    connection.close()
    return times


def per_page(requests: int, rounds: int) -> list[tuple[str, str]]:
    fake = Server(profilemock("serve", "--port", "0", "--rate-limit", "none", "--quiet"))
    proxies = {
        "proxy, cursor.url pointed at it": Server(
            profilemock("proxy", "--upstream", fake.url, "--port", "0", "--quiet")
        ),
        "proxy, --keep-cursor-urls": Server(
            profilemock(
                "proxy", "--upstream", fake.url, "--port", "0", "--quiet", "--keep-cursor-urls"
            )
        ),
    }
    servers = {"fake alone": fake, **proxies}
    medians: dict[str, list[float]] = {name: [] for name in servers}
    cpu: dict[str, list[float]] = {name: [] for name in proxies}
    try:
        for server in servers.values():
            timed_gets(server.url, TRAITS, 50)  # warm up
        for _ in range(rounds):
            for name, server in servers.items():
                before = server.cpu_seconds()
                medians[name].append(statistics.median(timed_gets(server.url, TRAITS, requests)))
                if name in cpu:
                    cpu[name].append((server.cpu_seconds() - before) / requests)
    finally:
        for server in servers.values():
            server.stop()
    rows = [
        (f"GET traits page: {name}", f"{statistics.median(m) * 1e6:.0f} µs")
        for name, m in medians.items()
    ]
    rows += [
        (
            f"proxy CPU a page: {name.removeprefix('proxy, ')}",
            f"{statistics.median(c) * 1e6:.0f} µs",
        )
        for name, c in cpu.items()
    ]
    pointed, kept = (statistics.median(medians[name]) for name in proxies)
    rows.append(("time a page, pointed / kept", f"{pointed / kept:.2f}x"))
    pointed, kept = (statistics.median(cpu[name]) for name in proxies)
    rows.append(("proxy CPU a page, pointed / kept", f"{pointed / kept:.2f}x"))
    return rows


def flood(megabytes: int) -> list[tuple[str, str]]:
    size = megabytes * 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "flood.py"
        script.write_text(FLOOD_SERVER)
        upstream = Server([sys.executable, str(script), str(size)])
        proxies = {
            "--max-body 32MB (default)": Server(
                profilemock("proxy", "--upstream", upstream.url, "--port", "0", "--quiet")
            ),
            f"--max-body {2 * megabytes}MB (reads it whole)": Server(
                profilemock(
                    "proxy",
                    "--upstream",
                    upstream.url,
                    "--port",
                    "0",
                    "--quiet",
                    "--max-body",
                    f"{2 * megabytes}MB",
                )
            ),
        }
        rows = []
        try:
            for name, proxy in proxies.items():
                took = statistics.median(timed_gets(proxy.url, FLOOD_PATH, 3))
                rows.append((f"{megabytes} MB answer, {name}: time to answer", f"{took:.2f} s"))
                peak = f"{proxy.peak_rss_mb():.0f} MB"
                rows.append((f"{megabytes} MB answer, {name}: proxy's peak memory", peak))
        finally:
            for server in [*proxies.values(), upstream]:
                server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--flood-mb", type=int, default=200)
    args = parser.parse_args()
    rows = per_page(args.requests, args.rounds) + flood(args.flood_mb)
    print("| measure | median |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
