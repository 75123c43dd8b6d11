"""Slowloris: do working clients keep being served while slow ones hold connections?

Usage: python bench/bench_slowloris.py [--slow N] [--requests N] [--nofile N] [--rounds N]
                                       [--attack headers|body]

Each server runs as a child process with its open-file limit lowered to ``--nofile``
(default 256). The attacker opens ``--slow`` connections (default 3x that limit), each
sending the start of a request and never finishing it (``--attack headers``, the default:
half a header; ``body``: whole headers that promise a body, and the first bytes of it);
then a client sends ``--requests``
ordinary requests, one connection each, with a 5 s timeout. Reported per server: the
share of requests answered and the median latency, with and without the attack, as
medians over ``--rounds`` rounds. The peer is a bare aiohttp server (what profilemock
was before it guarded its connections), measured in the same run.
"""

from __future__ import annotations

import argparse
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _servers import Server

ROOT = Path(__file__).resolve().parent
METADATA = "/v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/metadata"
REQUEST = (
    f"GET {METADATA} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Authorization: Basic ZGVtby10b2tlbjo=\r\nConnection: close\r\n\r\n"
).encode()


def limited(nofile: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    return apply


def start(kind: str, nofile: int, body: Path) -> Server:
    if kind == "profilemock":
        command = [sys.executable, "-m", "profilemock", "serve", "--quiet", "--port", "0"]
    else:
        command = [sys.executable, str(ROOT / "bare_server.py"), str(body)]
    server = Server.__new__(Server)
    server.started = time.perf_counter()
    server._log = None  # Server.__init__ would start the process itself
    server.process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=limited(nofile),  # a child of our own, started before any thread
    )
    assert server.process.stdout is not None
    for line in server.process.stdout:
        if "http://127.0.0.1:" in line:
            server.url = "http://127.0.0.1:" + line.split("http://127.0.0.1:")[1].split()[0]
            server.port = int(server.url.rsplit(":", 1)[1].split("/")[0])
            deadline = time.monotonic() + 20  # bare_server prints before it listens
            while one_request(server.port) is None and time.monotonic() < deadline:
                time.sleep(0.05)
            return server
    raise RuntimeError(f"{kind} did not start")


def one_request(port: int) -> float | None:
    """Seconds to a complete answer, or None when none came within 5 s."""
    started = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(REQUEST)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    except OSError:
        return None
    return time.perf_counter() - started if data.startswith(b"HTTP/1.1 200") else None


ATTACKS = {
    "headers": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
    "body": (
        f"GET {METADATA} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Authorization: Basic ZGVtby10b2tlbjo=\r\nContent-Length: 1000\r\n\r\n{"
    ).encode(),
}
"""What each slow connection sends, and then nothing more."""


def attack(port: int, count: int, kind: str = "headers") -> list[socket.socket]:
    held = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(ATTACKS[kind])
        except OSError:
            continue
        held.append(sock)
    return held


def measure(port: int, requests: int) -> tuple[float, float | None]:
    """(share answered, median seconds of the answered)."""
    times = [one_request(port) for _ in range(requests)]
    answered = [t for t in times if t is not None]
    return len(answered) / requests, statistics.median(answered) if answered else None


def main() -> None:
    options = argparse.ArgumentParser()
    options.add_argument("--slow", type=int, default=0, help="slow connections (default 3x nofile)")
    options.add_argument("--requests", type=int, default=20)
    options.add_argument("--nofile", type=int, default=256)
    options.add_argument("--rounds", type=int, default=3)
    options.add_argument("--attack", choices=sorted(ATTACKS), default="headers")
    args = options.parse_args()
    slow = args.slow or 3 * args.nofile
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "body.json"
        body.write_text('{"segment_id":"x","metadata":{}}')
        results: dict[str, list[tuple[float, float | None, float, float | None]]] = {}
        for _ in range(args.rounds):
            for kind in ("profilemock", "bare aiohttp"):
                server = start(kind, args.nofile, body)
                try:
                    calm = measure(server.port, args.requests)
                    held = attack(server.port, slow, args.attack)
                    under = measure(server.port, args.requests)
                    for sock in held:
                        sock.close()
                finally:
                    server.stop()
                results.setdefault(kind, []).append((*calm, *under))
    print(
        f"{slow} slow connections ({args.attack}) against a server limited to"
        f" {args.nofile} open files;"
    )
    print(f"{args.requests} requests each round, medians of {args.rounds} rounds\n")
    print("| server | answered, calm | median, calm | answered, attacked | median, attacked |")
    print("| --- | --- | --- | --- | --- |")
    for kind, rows in results.items():
        print(f"| {kind} | " + " | ".join(_median(rows, i) for i in range(4)) + " |")


def _median(rows: list[tuple[float, float | None, float, float | None]], i: int) -> str:
    values = [value for row in rows if (value := row[i]) is not None]
    if not values:
        return "-"
    value = statistics.median(values)
    return f"{value:.0%}" if i in (0, 2) else f"{value * 1000:.1f} ms"


if __name__ == "__main__":
    main()
