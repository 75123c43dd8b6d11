"""The request log of `serve`: one line a request, written in batches, nothing lost."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import selectors
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator

import pytest
import requests

from profilemock.mockserver import requestlog, serving
from profilemock.mockserver.requestlog import RequestLog
from tests.conftest import running


class _Watched(io.StringIO):
    """A stream that counts its writes and tells a waiting test about the first."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.written = asyncio.get_running_loop().create_future()

    def write(self, text: str) -> int:
        self.writes += 1
        if not self.written.done():
            self.written.set_result(None)
        return super().write(text)


async def test_lines_wait_for_one_write_then_reach_the_stream_by_themselves() -> None:
    stream = _Watched()
    log = RequestLog(stream)
    log.add("GET /a HTTP/1.1 200 2 0ms\n")
    log.add("GET /b HTTP/1.1 404 9 0ms\n")
    assert stream.getvalue() == ""
    await asyncio.wait_for(stream.written, timeout=10)
    assert stream.getvalue() == "GET /a HTTP/1.1 200 2 0ms\nGET /b HTTP/1.1 404 9 0ms\n"
    assert stream.writes == 1


async def test_a_full_batch_is_written_at_once_and_in_order() -> None:
    stream = _Watched()
    log = RequestLog(stream)
    for n in range(requestlog.FLUSH_LINES):
        log.add(f"line {n}\n")
    assert stream.getvalue().splitlines() == [f"line {n}" for n in range(requestlog.FLUSH_LINES)]
    assert stream.writes == 1
    log.add("next\n")
    log.flush()
    assert stream.getvalue().endswith("line 511\nnext\n")


async def test_a_stream_that_went_away_does_not_stop_the_server() -> None:
    class Gone(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    log = RequestLog(Gone())
    log.add("GET / HTTP/1.1 200 2 0ms\n")
    log.flush()
    log.add("GET / HTTP/1.1 200 2 0ms\n")
    assert log.lines == ["GET / HTTP/1.1 200 2 0ms\n"]


async def test_the_servers_own_line_follows_the_request_lines_waiting() -> None:
    stream = _Watched()
    log = RequestLog(stream)
    log.add("GET /a HTTP/1.1 200 2 0ms\n")
    log.say("reloaded users.yaml: 1 space, 1 user, 0 accounts in 0.01 s")
    assert stream.getvalue() == (
        "GET /a HTTP/1.1 200 2 0ms\nreloaded users.yaml: 1 space, 1 user, 0 accounts in 0.01 s\n"
    )
    log.stream = io.StringIO()
    log.stream.close()  # the reader went away: the line is lost, the server serves on
    log.say("reloaded users.yaml: 1 space, 1 user, 0 accounts in 0.01 s")


def test_a_pipe_nobody_reads_never_stops_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # `serve 2>&1 | less` left unscrolled, a terminal paused with Ctrl-S: the write waited
    # for the reader, on the server's loop, and every request hung after ~270 lines.
    # The close below waits for the reader to take everything held (it reads from then
    # on), however loaded the machine: not at most CLOSE_SECONDS.
    monkeypatch.setattr(requestlog, "CLOSE_SECONDS", 60.0)
    read_end, write_end = os.pipe()
    stream = os.fdopen(write_end, "w")
    log = RequestLog(stream)
    # 4 MB: more than can be held without dropping lines, however the writer's thread is
    # scheduled — the pipe's buffer, the text the thread is writing (up to MAX_WAITING) and
    # the texts waiting for it (MAX_WAITING more).
    batches = 80
    lines = [[f"GET /{b:04d}/{n:04d}".ljust(99, ".") for n in range(512)] for b in range(batches)]

    def say_all() -> None:
        for batch in lines:
            log.say("\n".join(batch))

    saying = threading.Thread(target=say_all, daemon=True)
    saying.start()
    saying.join(10)
    assert not saying.is_alive(), "the log waited for a reader that does not read"
    read: list[bytes] = []
    reader = threading.Thread(
        target=lambda: read.extend(iter(lambda: os.read(read_end, 65536), b""))
    )
    reader.start()
    log.close()
    stream.close()
    reader.join(10)
    os.close(read_end)
    written = b"".join(read).decode().splitlines()
    # Each note stands where its lines were dropped: after the text the thread took next,
    # which may come before the last lines (a thread that started late took its first
    # text once drops had begun, and the rest then fitted).
    notes = [re.fullmatch(r"profilemock: (\d+) log lines dropped here: .*", w) for w in written]
    dropped = sum(int(note[1]) for note in notes if note is not None)
    kept = [w for w, note in zip(written, notes, strict=True) if note is None]
    everything = [line for batch in lines for line in batch]
    position = {line: n for n, line in enumerate(everything)}
    places = [position[line] for line in kept]
    assert places == sorted(set(places))  # each line whole, once, in order
    assert len(kept) + dropped == len(everything)
    assert dropped > 0
    assert notes[-1] is not None or written[-1] == everything[-1]  # nothing after the end


def test_a_stop_gives_a_reader_that_stopped_reading_its_seconds_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `serve` closes its log as the server ends, then again as its logging records stop
    # going there: a stderr nobody read held the stop twice CLOSE_SECONDS (4 s, not 2).
    now = [0.0]
    waits: list[float] = []

    def wait(_writer: object, timeout: float) -> None:  # the reader never reads
        waits.append(timeout)
        now[0] += timeout

    monkeypatch.setattr(requestlog._Writer, "close", wait)
    monkeypatch.setattr(requestlog, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as stream:
        log = RequestLog(stream)
        log.say("reloaded the fixtures")
        log.close()
        log.close()
    os.close(read_end)
    assert sum(waits) == requestlog.CLOSE_SECONDS


def test_a_closed_logs_thread_ends_once_its_lines_are_written_and_a_later_line_arrives() -> None:
    # Its thread waited for lines for good: a process running one `serve` after another
    # (a test session calling `main`) kept one idle thread for each server it had stopped.
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as stream:
        log = RequestLog(stream)
        threads = []
        for line in ("GET / HTTP/1.1 404 2 0ms", "reloaded the fixtures"):
            log.say(line)  # the second after the stop: a line logged late
            assert log._writer is not None
            thread = log._writer._thread
            assert thread is not None
            threads.append(thread)
            log.close()
            thread.join(10)
            assert not thread.is_alive(), "the log's thread outlived its server"
        assert threads[0] is not threads[1]
    with os.fdopen(read_end) as written:
        assert written.read() == "GET / HTTP/1.1 404 2 0ms\nreloaded the fixtures\n"


SERVE = (sys.executable, "-m", "profilemock", "serve", "--port", "0")


def _read_until(process: subprocess.Popen[str], stream: str, pattern: str) -> re.Match[str]:
    pipe = getattr(process, stream)
    fd = pipe.fileno()
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + 20
    seen = ""
    while (found := re.search(pattern, seen)) is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not selector.select(timeout=remaining):
            raise AssertionError(f"no {pattern!r} in {stream}: {seen!r}")
        chunk = os.read(fd, 65536).decode()
        if not chunk:
            raise AssertionError(f"{stream} ended without {pattern!r}: {seen!r}")
        seen += chunk
    return found


def test_serve_logs_while_running_and_every_line_by_the_time_it_stops() -> None:
    with running(*SERVE) as process:
        url = _read_until(process, "stdout", r"at (http://127\.0\.0\.1:\d+)").group(1)
        path = "/v1/spaces/lg8283283/collections/users/profiles/user_id:u1234/traits"
        with requests.Session() as session:
            first = session.get(url + path + "?limit=1", auth=("demo-token", ""), timeout=10)
            assert first.status_code == 200
            # Written soon after, without waiting for more requests or for shutdown.
            line = _read_until(process, "stderr", r"GET (\S+) HTTP/1\.1 (\d+) (\d+) (\d+)ms\n")
            logged_path, status, sent, _ = line.groups()
            assert (logged_path, status) == (path + "?limit=1", "200")
            assert int(sent) > len(first.content)  # bytes on the wire: headers and body
            for n in range(600):  # more than one batch, ended by the stop below
                session.get(f"{url}/nowhere/{n}", timeout=10)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert process.stderr is not None
        rest = process.stderr.read()
        assert re.findall(r"GET /nowhere/(\d+) HTTP/1\.1 404 ", rest) == [
            str(n) for n in range(600)
        ]


def test_a_hangup_stops_serve_with_every_line_written() -> None:
    # A closed terminal (SIGHUP) ended the process at once: the lines waiting were lost.
    with running(*SERVE) as process:
        url = _read_until(process, "stdout", r"at (http://127\.0\.0\.1:\d+)").group(1)
        with requests.Session() as session:
            for n in range(3):
                session.get(f"{url}/nowhere/{n}", timeout=10)
        process.send_signal(signal.SIGHUP)
        assert process.wait(timeout=20) == 0
        assert process.stderr is not None
        assert re.findall(r"GET /nowhere/(\d+) HTTP/1\.1 404 ", process.stderr.read()) == [
            "0",
            "1",
            "2",
        ]


def test_a_hangup_that_nohup_ignores_stays_ignored() -> None:
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        assert signal.SIGHUP not in serving._stop_signals()
    finally:
        signal.signal(signal.SIGHUP, before)
    assert signal.SIGHUP in serving._stop_signals()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_a_request_no_whole_answer_went_out_to_has_its_line_too(loop: str) -> None:
    # A connection a fault reset, an answer it cut short, a request held when the server
    # stopped: aiohttp logs only answers, and these had no line at all.
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    code = (
        "import sys\n"
        + ("sys.modules['uvloop'] = None\n" if loop == "asyncio" else "")
        + "from profilemock.cli import main\nsys.exit(main())"
    )
    # Each line a fault made names it: a developer watching the log told a fault's doing
    # from a client that went away by the journal alone.
    faults = ("traits:reset:times=1", "traits:truncate:times=1", "events:hang", "metadata:503")
    flags = [flag for fault in faults for flag in ("--fault", fault)]
    with running(sys.executable, "-c", code, "serve", "--port", "0", *flags) as process:
        url = _read_until(process, "stdout", r"at (http://127\.0\.0\.1:(\d+))")
        profile = "/v1/spaces/lg8283283/collections/users/profiles/user_id:u1234"
        auth = ("demo-token", "")
        for _ in range(2):
            with pytest.raises(requests.RequestException):
                requests.get(url[1] + profile + "/traits", auth=auth, timeout=10)
        assert requests.get(url[1] + profile + "/traits", auth=auth, timeout=10).ok
        assert (
            requests.get(url[1] + profile + "/metadata", auth=auth, timeout=10).status_code == 503
        )
        with socket.create_connection(("127.0.0.1", int(url[2])), timeout=10) as held:
            held.sendall(
                f"GET {profile}/events HTTP/1.1\r\nHost: x\r\n"
                "Authorization: Basic ZGVtby10b2tlbjo=\r\n\r\n".encode()
            )
            deadline = time.monotonic() + 20
            while not any(
                entry["outcome"] == "pending"
                for entry in requests.get(url[1] + "/__admin/requests", timeout=10).json()[
                    "requests"
                ]
            ):
                assert time.monotonic() < deadline, "the held request never arrived"
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=20) == 0
        assert process.stderr is not None
        lines = [line for line in process.stderr.read().splitlines() if profile in line]
        # bytes sent: none, or some (N); time: T
        shown = [re.sub(r" [1-9]\d* (\d+)ms", " N \\1ms", line) for line in lines]
        assert [re.sub(r" \d+ms", " Tms", line.split(profile)[1]) for line in shown] == [
            "/traits HTTP/1.1 - 0 Tms (closed before the answer ended: fault fault-1 (reset))",
            # headers, half the body
            "/traits HTTP/1.1 - N Tms (closed before the answer ended: fault fault-2 (truncate))",
            "/traits HTTP/1.1 200 N Tms",
            "/metadata HTTP/1.1 503 N Tms (fault fault-4)",
            "/events HTTP/1.1 - 0 Tms (closed before the answer ended: fault fault-3 (hang))",
        ]


def test_an_answer_that_finds_the_client_gone_as_it_is_written_has_the_line_of_one() -> None:
    # The client's connection closed after the answer was made and before it was written:
    # aiohttp logged it as sent ("200 0"), and the journal knew it was not.
    code = (
        "import sys\n"
        "from profilemock.mockserver import app\n"
        "made = app.answer\n"
        "def gone(request, *args):\n"
        "    response = made(request, *args)\n"
        "    if request.path.endswith('/metadata'):\n"
        "        request.transport.close()\n"
        "    return response\n"
        "app.answer = gone\n"
        "from profilemock.cli import main\n"
        "sys.exit(main())"
    )
    with running(sys.executable, "-c", code, "serve", "--port", "0") as process:
        url = _read_until(process, "stdout", r"at (http://127\.0\.0\.1:\d+)").group(1)
        profile = "/v1/spaces/lg8283283/collections/users/profiles/user_id:u1234"
        auth = ("demo-token", "")
        with pytest.raises(requests.ConnectionError):
            requests.get(url + profile + "/metadata", auth=auth, timeout=10)
        assert requests.get(url + profile + "/traits", auth=auth, timeout=10).ok
        entries = requests.get(url + "/__admin/requests", timeout=10).json()["requests"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert process.stderr is not None
        logged = process.stderr.read().splitlines()
    assert [(e["path"].rsplit("/", 1)[1], e["outcome"]) for e in entries[-2:]] == [
        ("metadata", "client went away"),
        ("traits", "answered"),
    ]
    lines = [
        re.sub(r" \d+ms", " Tms", line.split(profile)[1]) for line in logged if profile in line
    ]
    assert lines[0] == "/metadata HTTP/1.1 - 0 Tms (closed before the answer ended)"
    assert re.fullmatch(r"/traits HTTP/1\.1 200 [1-9]\d* Tms", lines[1]), lines


def test_a_refused_request_has_one_line_the_refusal() -> None:
    # It had two: the refusal, and an access line of aiohttp's placeholder for it
    # ("UNKNOWN / HTTP/1.0 400 291 1ms").
    with running(*SERVE) as process:
        url = _read_until(process, "stdout", r"at (http://127\.0\.0\.1:(\d+))")
        with socket.create_connection(("127.0.0.1", int(url[2])), timeout=10) as sock:
            sock.sendall(b"GARBAGE\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.0 400 ")
        requests.get(f"{url[1]}/nowhere", timeout=10)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert process.stderr is not None
        refusal, other = process.stderr.read().splitlines()
        assert refusal == (
            "profilemock refused a request from 127.0.0.1:"
            " the request does not start with an HTTP method"
        )
        assert other.startswith("GET /nowhere HTTP/1.1 404 ")


def test_a_refusal_does_not_wait_for_a_stderr_nobody_reads() -> None:
    # The refusal's line went to stderr through `logging`, past the request log: with the
    # pipe full, the server waited on it, and answered nothing more.
    with running(*SERVE) as process:  # stderr never read
        url = _read_until(process, "stdout", r"at (http://127\.0\.0\.1:(\d+))")
        with requests.Session() as session:
            for n in range(20):  # 140 KB of lines: more than a pipe holds
                session.get(f"{url[1]}/{n}/{'x' * 7000}", timeout=10)
            # A reload's line is written at once, with the request lines before it.
            assert session.post(f"{url[1]}/__admin/reload", timeout=10).status_code == 200
        with socket.create_connection(("127.0.0.1", int(url[2])), timeout=10) as sock:
            sock.sendall(b"GARBAGE\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.0 400 ")
        assert requests.get(f"{url[1]}/__admin/health", timeout=10).status_code == 200


class _Drifted(socketserver.StreamRequestHandler):
    """An upstream whose every answer breaks /traits' schema (its traits not an object)."""

    def handle(self) -> None:
        while self.rfile.readline() not in (b"", b"\r\n", b"\n"):
            pass  # the request line and headers
        body = b'{"traits":5}'
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )


@contextlib.contextmanager
def _proxy_of_drifted(*flags: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`profilemock proxy` of a drifted upstream, its stdout and stderr pipes; its URL."""
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Drifted) as upstream:
        upstream.daemon_threads = True
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
        to = f"http://127.0.0.1:{upstream.server_address[1]}"
        proxy = (sys.executable, "-m", "profilemock", "proxy", "--port", "0", *flags)
        try:
            with running(*proxy, "--upstream", to) as process:
                yield process, _read_until(process, "stdout", r"at (http://127\.0\.0\.1:\d+)")[1]
        finally:
            upstream.shutdown()


_TRAITS = "/v1/spaces/sp/collections/users/profiles/user_id:{}/traits"


def test_a_proxys_violations_do_not_wait_for_a_stderr_nobody_reads() -> None:
    # Each violation's line went to stderr through its own `logging` handler, past the
    # request log: with the pipe full, the proxy waited on it and answered nothing more.
    with _proxy_of_drifted("--quiet") as (_, url), requests.Session() as session:
        for n in range(20):  # 140 KB of violation lines, never read: more than a pipe holds
            path = _TRAITS.format(f"{n}{'x' * 7000}")
            answer = session.get(url + path, auth=("token", ""), timeout=10)
            assert answer.headers["Profilemock-Violations"] == "1"


def test_a_proxys_violation_and_its_request_line_reach_stderr() -> None:
    with _proxy_of_drifted() as (process, url):
        path = _TRAITS.format("u1")
        assert requests.get(url + path, auth=("token", ""), timeout=10).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert process.stderr is not None
        lines = process.stderr.read().splitlines()
    # The violation is found before the answer goes out, the request's line once it went.
    assert lines[0] == f"contract violation: GET {path} -> 200 /traits: 5 is not an object [type]"
    assert re.fullmatch(rf"GET {re.escape(path)} HTTP/1\.1 200 \d+ \d+ms", lines[1])
    assert len(lines) == 2


async def test_a_cors_preflights_line_says_it_is_one() -> None:
    # It read `OPTIONS /v1/…/traits HTTP/1.1 204 …` among the app's calls, as one of them.
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from profilemock.mockserver import cors

    log = RequestLog(io.StringIO())
    logger = requestlog._bound_logger(log)(requestlog.LOGGER, "")
    path = "/v1/spaces/sp/collections/users/profiles/user_id:u1/traits"
    asked = make_mocked_request(
        "OPTIONS",
        path,
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"},
    )
    logger.log(asked, cors.preflight(asked), 0.001)
    logger.log(make_mocked_request("GET", path), web.Response(status=204), 0.001)
    logger.log(make_mocked_request("OPTIONS", path), web.Response(status=204), 0.001)
    # CORS off: the API's 405, which the browser reports only as "blocked by CORS policy".
    logger.log(asked, web.Response(status=405), 0.001)
    logger.log(make_mocked_request("OPTIONS", path), web.Response(status=405), 0.001)
    # No Origin: no browser's preflight, which the fake answers 405 with CORS on too (its
    # line said "CORS is off, serve with --cors", of a server serving with it).
    method_only = {"Access-Control-Request-Method": "GET"}
    logger.log(
        make_mocked_request("OPTIONS", path, headers=method_only), web.Response(status=405), 0.001
    )
    assert [line.rstrip("\n") for line in log.lines] == [
        f"OPTIONS {path} HTTP/1.1 204 0 1ms (CORS preflight)",
        f"GET {path} HTTP/1.1 204 0 1ms",
        f"OPTIONS {path} HTTP/1.1 204 0 1ms",
        f"OPTIONS {path} HTTP/1.1 405 0 1ms"
        " (CORS preflight: CORS is off, serve with --cors to let pages call)",
        f"OPTIONS {path} HTTP/1.1 405 0 1ms",
        f"OPTIONS {path} HTTP/1.1 405 0 1ms",
    ]
    log.flush()
