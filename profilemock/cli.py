"""The ``profilemock`` commands (serve, check, validate, openapi, generate, proxy, record):
a thin layer over the library.

Exit codes: 0 success, 1 fixtures with problems (``check``), 2 unusable input or a server
that cannot start. Errors are one line each on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import gc
import json
import logging
import os
import re
import signal
import socket
import stat
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from profilemock import extras
from profilemock.api import (
    COLLECTIONS,
    HTTP_STATUSES,
    ID_TYPE_CHARS,
    OTHER,
    SPACE_ID_CHARS,
    TOKEN_CHARS,
    TOKEN_VARIABLE,
    is_decimal,
    is_http_status,
    is_loopback_name,
    port_argument,
    whole_number,
)
from profilemock.clock import Clock
from profilemock.contract.upstream import (
    AUTHORIZATION_HEADER,
    DEFAULT_MAX_BODY,
    DEFAULT_TIMEOUT,
    MAX_BODY_FLAG,
    REGIONS,
    UpstreamError,
    parse_size,
    upstream_url,
    version_doubled,
)
from profilemock.faults import FaultRuleError, FaultSet, parse_rule, parse_spec, spec_given
from profilemock.fixtures import fanout
from profilemock.fixtures.loader import (
    check_fixtures,
    demo_fixture_path,
    fixture_files,
    fixture_suffix,
    load_fixtures,
)
from profilemock.fixtures.snapshot import Snapshots, default_directory
from profilemock.fixtures.source import json_named
from profilemock.mockserver.limits import (
    BODY_TIMEOUT,
    HEADER_TIMEOUT,
    KEEPALIVE_TIMEOUT,
    Limits,
    default_max_connections,
    file_limit,
)
from profilemock.problems import FixtureError
from profilemock.progress import ProgressBar, Steps, megabytes
from profilemock.realism import Realism, RealismError
from profilemock.realism import parse_spec as parse_realism
from profilemock.schemas import BODIES
from profilemock.store.model import ExternalId, Profile
from profilemock.store.space import Limit, Space, Store, counts_text
from profilemock.timeutil import NS_PER_SECOND, TimestampError, parse_duration, parse_timestamp
from profilemock.words import closest, counted, few

if TYPE_CHECKING:
    from profilemock.mockserver.requestlog import RequestLog
    from profilemock.mockserver.state import ServerSettings
    from profilemock.schemas.files import Report

# What only some commands use (recording, generating, validating files, the OpenAPI
# document, and the YAML they may write) is imported by those commands: every `serve`
# would pay for it at start otherwise. The server (aiohttp: ~0.4 s to import) too: `check`
# and `generate` never need it, and `serve` imports it while forked processes read its
# fixtures (`_server`, `fanout.meanwhile`).

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4010


class CliError(Exception):
    """A problem that ends the command with exit code 2 and one line per problem."""


class Terminated(BaseException):
    """SIGTERM, raised where the command was (``_cleaned_up_on_sigterm``), so that what
    it leaves half-written is removed as on Ctrl-C; a BaseException, as KeyboardInterrupt
    is, so that no ``except Exception`` takes it for a failure."""


def _timestamp(text: str) -> int:
    try:
        return parse_timestamp(text, time.time_ns())
    except TimestampError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _status(text: str) -> int:
    status = whole_number(text, 599)
    if status is None or not is_http_status(status):
        raise argparse.ArgumentTypeError(f"`{text}` is not {HTTP_STATUSES}")
    return status


def _body_status(text: str) -> int:
    """``validate --status``: the status of answers with a body of the API to check (one
    whose answer has none was refused once a file, after each was read)."""
    from profilemock.schemas.validation import nothing_to_check

    status = _status(text)
    if nothing_to_check("GET", status) is not None:
        raise argparse.ArgumentTypeError(
            f"a {status} answer holds no body of the API to check (1xx, 204 and 3xx answers"
            " have none of their own); give the status the bodies came with: 200 to 299 but"
            " 204, or 400 to 599 for error bodies"
        )
    return status


def _fixture_path(argument: str) -> bool:
    """Whether a stray argument reads as a fixture path (not ``24001``, meant as a port)."""
    path = Path(argument)
    return fixture_suffix(path) or path.is_dir()


class _Command(argparse.ArgumentParser):
    """A command's parser that refuses what it does not know with its own usage.

    argparse leaves a command's unknown arguments to the top-level parser, which prints
    ``usage: profilemock [-h] COMMAND ...`` — of no help to ``serve --bogus``.
    """

    # typeshed overloads the namespace type; argparse calls this with None only.
    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, unknown = super().parse_known_args(args, namespace)
        if unknown:
            message = f"unrecognized arguments: {' '.join(unknown)}"
            flags = [option for option in self._option_string_actions if option.startswith("--")]
            for argument in unknown:
                close = closest(argument.partition("=")[0], flags, cutoff=0.75)
                if argument.startswith("-") and close:
                    message += f" (did you mean {close}?)"
                    break
            if "--fixtures" in flags and all(map(_fixture_path, unknown)):
                # `check` takes its paths as they are; `serve` and `demo` by the flag.
                given = " ".join(f"--fixtures {path}" for path in unknown)
                message += f" (fixture files are given with --fixtures: {given})"
            elif unknown[0].partition("=")[0] == "--fixtures" and self.prog.endswith(" check"):
                message += " (check takes its fixture files as they are, without --fixtures)"
            self.error(message)
        return parsed, unknown


class _Version(argparse.Action):
    """``--version``: the installed version, read from the package's metadata only when
    asked (every other run leaves it unread)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from profilemock import __version__

        print(f"profilemock {__version__}")
        parser.exit()


class _Help(argparse.HelpFormatter):
    """Wraps a command's description to the terminal, as argparse does; keeps the lines
    of its epilog (example command lines) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" not in text:
            return super()._fill_text(text, width, indent)
        return "".join(indent + line for line in text.splitlines(keepends=True))


def _examples(*lines: tuple[str, str], footer: str = "") -> str:
    """A command's help epilog: example command lines, each with what it does."""
    text = "examples:\n" + "".join(
        f"  {command}\n" + (f"      {what}\n" if what else "") for command, what in lines
    )
    return text + (f"\n{footer}\n" if footer else "")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="profilemock",
        description="A faithful fake of the Segment Profile API.",
    )
    top.add_argument("--version", action=_Version, help="print the version and exit")
    commands = top.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Command
    )

    serve = commands.add_parser(
        "serve",
        help="serve fixtures as the Profile API",
        description="Serve fixture files (default: the bundled demo data, space lg8283283,"
        " token demo-token) as the Segment Profile API on http://127.0.0.1:4010, with an"
        " admin API under /__admin/ and the explorer page at /__admin/explorer. A broken"
        " fixture file stops it before it listens, each problem as FILE:LINE:COLUMN;"
        " Ctrl-C stops it.",
        epilog=_examples(
            ("profilemock serve", "the demo data"),
            (
                "profilemock serve --fixtures fixtures/ --watch --cors",
                "your files, served anew on each save, callable from a browser",
            ),
            (
                "profilemock serve --port 0 --fault 'traits:429:times=2'",
                "any free port (printed); the first two /traits answer 429",
            ),
            (
                "profilemock serve --now 2026-06-15T12:00:00Z --rate-limit none",
                "the data's date pinned; no rate limit",
            ),
            footer="fault specs (ROUTE[:FIELD]...), realism switches, the fixture format:\n"
            '  the README\'s sections "Fault rules", "Realism switches", "The fixture format"',
        ),
        formatter_class=_Help,
    )
    serve.add_argument(
        "--fixtures",
        action="append",
        type=_path,
        metavar="PATH",
        help=f"fixture file or directory ({_DIRECTORY_READ}; repeatable; default: the bundled"
        " demo data)",
    )
    _add_address(serve)
    serve.add_argument(
        "--now",
        type=_timestamp,
        metavar="TIMESTAMP",
        help="pin the clock's date at this ISO 8601 instant (or relative time such as -1d):"
        " the data never ages, the rate limit still refills as time passes",
    )
    serve.add_argument(
        "--watch",
        action="store_true",
        help="reload the fixtures when they change on disk (a bad save keeps the old data)",
    )
    serve.add_argument("--quiet", action="store_true", help="do not log each request")
    _snapshot_options(serve, "always read and check the fixture files; never write a snapshot")
    serve.add_argument(
        "--rate-limit",
        type=_rate_limit,
        metavar="N",
        default="fixtures",
        help="requests/s for every space (0 or none: no limit; default: each space's own, 100)",
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault, such as traits:429:times=2 or *:latency=150ms (repeatable)",
    )
    serve.add_argument(
        "--realism",
        action="append",
        default=[],
        metavar="SWITCH",
        help="behave as the real API does sometimes: short_pages, gateway_errors[=html|empty],"
        " null_lists, propagation_delay=5s, unescaped_500 (repeatable)",
    )
    serve.add_argument(
        "--seed", type=_seed, default=0, metavar="N", help="seed of fault randomness (default 0)"
    )
    serve.add_argument(
        "--journal-size",
        type=_positive,
        default=10_000,
        metavar="N",
        help="requests kept in the journal (default 10000)",
    )
    serve.add_argument(
        "--cors",
        action="store_true",
        help="let browsers call the fake from any origin (the real API does not allow it)",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        type=_origin,
        metavar="ORIGIN",
        help="also let pages at ORIGIN (such as https://app.example:8443) call the admin API;"
        " implies --cors (repeatable)",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        type=_host_name,
        metavar="NAME",
        help="let the admin API answer to Host NAME besides IP addresses, localhost and --host"
        " (such as a Docker service name; * for any: turns off DNS-rebinding protection)",
    )
    _add_admin(serve)
    _add_limits(serve)

    demo = commands.add_parser(
        "demo",
        help="list who is in the demo data (or in fixture files): spaces, tokens, profiles",
    )
    demo.add_argument(
        "--fixtures",
        action="append",
        type=_path,
        metavar="PATH",
        help="list these fixture files or directories instead of the demo (repeatable)",
    )

    check = commands.add_parser(
        "check",
        help="validate fixture files without serving",
        description="Validate fixture files without serving them: each problem is a line"
        " FILE:LINE:COLUMN: what is wrong (and what is allowed there), each warning the"
        " same with `warning:`; a clean set ends with one `ok:` line. Exit code 0: no"
        " problem (warnings allowed); 1: problems; 2: a path that does not exist, or a"
        " directory holding no *.yaml, *.yml or *.json file.",
        epilog=_examples(
            ("profilemock check fixtures/", "every fixture file under it, as one set"),
            ("profilemock check users.yaml accounts.json", "files served together"),
        ),
        formatter_class=_Help,
    )
    check.add_argument(
        "paths",
        nargs="+",
        type=_path,
        metavar="PATH",
        help=f"fixture file or directory ({_DIRECTORY_READ})",
    )
    _snapshot_options(
        check, "always read and check the fixture files; never read or write a snapshot"
    )

    check_bodies = commands.add_parser(
        "validate",
        help="check recorded API responses (JSON bodies or HAR files) against the schemas",
    )
    check_bodies.add_argument(
        "files", nargs="+", type=_path, metavar="FILE", help="JSON body or HAR file"
    )
    where = check_bodies.add_mutually_exclusive_group()
    where.add_argument(
        "--endpoint",
        choices=BODIES,
        metavar="ENDPOINT",
        help=f"which endpoint the bodies answered: {', '.join(BODIES)}",
    )
    where.add_argument(
        "--url",
        metavar="URL",
        help="the URL the bodies answered (endpoint and verbose read from it)",
    )
    check_bodies.add_argument(
        "--status",
        type=_body_status,
        default=200,
        metavar="STATUS",
        help="HTTP status of the bodies (default 200; 4xx/5xx use the error schema)",
    )
    check_bodies.add_argument(
        "--verbose", action="store_true", help="traits bodies are verbose=true"
    )
    check_bodies.add_argument(
        "--strict", action="store_true", help="also report fields the contract does not name"
    )
    check_bodies.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept a HAR file with no Profile API answer to check (default: exit 2)",
    )
    check_bodies.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        dest="output_format",
        help="the report as text (default) or as a JSON list, one object a body checked",
    )

    openapi = commands.add_parser("openapi", help="print the OpenAPI 3.1 document of the API")
    openapi.add_argument(
        "--format",
        choices=("yaml", "json"),
        default="yaml",
        dest="output_format",
        help="YAML (default) or JSON",
    )
    openapi.add_argument(
        "--server-url",
        type=_server_url,
        metavar="URL",
        help="list this server first (such as http://127.0.0.1:4010, or a path such as /api)",
    )
    openapi.add_argument(
        "--no-admin",
        "--api-only",
        action="store_true",
        help="leave profilemock's admin API out: only the Profile API",
    )

    generate = commands.add_parser(
        "generate",
        help="write a seeded synthetic data set (varied users, accounts, events), streamed",
        description="Write a fixture file of synthetic users (names, emails, phones, traits,"
        " computed traits, audiences, browsing sessions of events) and the accounts they"
        " belong to; the same --seed writes the same bytes. Users are user_id:user-0000000,"
        " user-0000001, ...; accounts group_id:acct-000000, ...; space `generated`, token"
        " `generated-token`. Needs Faker (the `generate` extra): pip install Faker.",
        epilog=_examples(
            ("profilemock generate --users 500 --seed 1 -o fixtures/users.yaml", ""),
            ("profilemock serve --fixtures fixtures/users.yaml", "then serve it"),
            (
                "profilemock generate --users 100000 --events-per-user 0-300 -o big.json",
                "large sets load faster as JSON",
            ),
        ),
        formatter_class=_Help,
    )
    generate.add_argument(
        "--users", type=_count, default=100, metavar="N", help="number of users (default 100)"
    )
    generate.add_argument(
        "--accounts",
        type=_count,
        metavar="M",
        help="number of accounts users belong to (default one per 20 users)",
    )
    generate.add_argument(
        "--events-per-user",
        type=_events_range,
        default=(0, 200),
        metavar="MIN-MAX",
        help="fewest and most events of a user (default 0-200; most have a few, some hundreds;"
        " at most 100,000)",
    )
    generate.add_argument(
        "--seed",
        type=_seed,
        default=0,
        metavar="N",
        help="random seed (default 0): same seed, same bytes",
    )
    generate.add_argument(
        "--space-id",
        type=_space_id,
        default="generated",
        metavar="ID",
        help="space id (default generated)",
    )
    generate.add_argument(
        "--token",
        type=_access_token,
        default="generated-token",
        metavar="T",
        help="access token (default generated-token)",
    )
    generate.add_argument(
        "--output",
        "-o",
        type=_path,
        metavar="FILE",
        help="write here instead of standard output",
    )
    generate.add_argument(
        "--format",
        choices=("yaml", "json"),
        help="default: json for a .json output, else yaml (large sets load faster as JSON)",
    )
    _snapshot_options(
        generate,
        "do not check the written file for a snapshot (then the first serve of it checks it)",
    )
    _proxy_parser(commands)
    _record_parser(commands)
    return top


def _upstream(text: str, token: str = AUTHORIZATION_HEADER) -> str:
    """``--upstream``: ``token`` says where the command takes the token from."""
    try:
        return upstream_url(text, token=token)
    except UpstreamError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _server_url(text: str) -> str:
    """An OpenAPI server: an http(s) URL with a host, or a path on the document's own."""
    if text.startswith("/"):
        problem = version_doubled(text, text, text)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return text
    try:
        return upstream_url(text, also=", or a path such as /api")
    except UpstreamError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_DIRECTORY_READ = (
    "a directory: the *.yaml, *.yml and *.json files in any case anywhere under it, hidden"
    " ones left out"
)
"""What ``--fixtures`` and ``check`` read of a directory given them (``loader.held_fixture``)."""


def _seconds(text: str, least: float = 0.0) -> float:
    """A flag's time in seconds: ``30``, ``0.5``, ``30s``, or a duration as every other one
    is written (``500ms``, ``2m``), above 0 (``least``: from it) and at most an hour."""
    number = text.removesuffix("s")
    try:  # is_decimal refuses nan, inf, 1e9 and 1_0, which float() reads
        value = float(number) if is_decimal(number) else parse_duration(text) / NS_PER_SECOND
    except TimestampError:
        value = -1.0
    if (value >= least if least else value > 0) and value <= 3600:
        return value
    bounds = f"from {least:g} to 3600" if least else "above 0 and at most 3600"
    raise argparse.ArgumentTypeError(f"`{text}` is not seconds {bounds} (such as 30, 0.5 or 500ms)")


_limit_seconds = functools.partial(_seconds, least=0.01)
"""The connection limits' time flags (``--header-timeout`` …): at least 0.01 s."""


def _connections(text: str) -> int:
    most = file_limit()
    connections = whole_number(text, most)
    if not connections:
        raise argparse.ArgumentTypeError(
            f"`{text}` is not a number of connections from 1 to {most} (the open-file limit"
            " of this process; `ulimit -n` raises it)"
        )
    return connections


def _add_admin(command: argparse.ArgumentParser) -> None:
    """``--admin-token`` or ``--no-admin``: a token for an admin API turned off is an error,
    not a guard that guards nothing."""
    admin = command.add_mutually_exclusive_group()
    admin.add_argument(
        "--admin-token", type=_admin_token, metavar="TOKEN", help="require this token on /__admin/"
    )
    admin.add_argument("--no-admin", action="store_true", help="turn the admin API off")


def _add_limits(command: argparse.ArgumentParser) -> None:
    """What a connection may take: see "Security and limits" in the README."""
    limits = command.add_argument_group("connection limits")
    for flag, default, what in (
        ("--header-timeout", HEADER_TIMEOUT, "a new connection has to send its request's headers"),
        (
            "--body-timeout",
            BODY_TIMEOUT,
            "a request's body has to arrive after its headers (and, at the connection cap,"
            " a client to read part of an answer)",
        ),
        ("--keepalive-timeout", KEEPALIVE_TIMEOUT, "an idle keep-alive connection stays open"),
    ):
        limits.add_argument(
            flag,
            type=_limit_seconds,
            default=default,
            metavar="SECONDS",
            help=f"seconds (or a duration such as 500ms) {what} (default {default:g})",
        )
    limits.add_argument(
        "--max-connections",
        type=_connections,
        metavar="N",
        help="connections served at once; at the cap the oldest idle one is closed, else a"
        " 503 (default: the open-file limit less 64, at most 90%% of it:"
        f" {default_max_connections()} here)",
    )


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(
        header_timeout=args.header_timeout,
        keepalive_timeout=args.keepalive_timeout,
        body_timeout=args.body_timeout,
        max_connections=args.max_connections,
    )


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_max_body(command: argparse.ArgumentParser, beyond: str) -> None:
    command.add_argument(
        MAX_BODY_FLAG,
        type=_size,
        default=DEFAULT_MAX_BODY,
        metavar="SIZE",
        help=f"bytes of one upstream body at most, such as 64MB (default"
        f" {DEFAULT_MAX_BODY // 10**6}MB); {beyond}",
    )


def _add_address(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--host",
        type=_bound_host,
        default=DEFAULT_HOST,
        metavar="HOST",
        help=f"address to bind (default {DEFAULT_HOST})",
    )
    command.add_argument(
        "--port",
        type=port_argument,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"port (default {DEFAULT_PORT}; 0 = any free port)",
    )


def _add_upstream(command: argparse.ArgumentParser, token: str = AUTHORIZATION_HEADER) -> None:
    where = command.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--upstream",
        type=functools.partial(_upstream, token=token),
        metavar="URL",
        help="the API's base URL",
    )
    where.add_argument(
        "--region",
        choices=sorted(REGIONS),
        help=f"the real API: us ({REGIONS['us']}) or eu ({REGIONS['eu']})",
    )


def _proxy_parser(commands: argparse._SubParsersAction[_Command]) -> None:
    proxy = commands.add_parser(
        "proxy", help="forward to the real API and check every answer against the schemas"
    )
    _add_upstream(proxy)
    _add_address(proxy)
    proxy.add_argument(
        "--strict", action="store_true", help="also report fields the contract does not name"
    )
    proxy.add_argument(
        "--fail-on-violation",
        action="store_true",
        help="answer a contract-breaking response with a 502 naming the first violation",
    )
    proxy.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="seconds (or a duration such as 500ms) the upstream has to answer, else 504"
        f" (default {DEFAULT_TIMEOUT:g})",
    )
    _add_max_body(
        proxy,
        "a larger one is answered 502 (body_too_large), unread past the limit; so is a"
        " request body, with a 413, never sent upstream",
    )
    proxy.add_argument(
        "--keep-upstream-urls",
        "--keep-cursor-urls",
        dest="keep_upstream_urls",
        action="store_true",
        help="pass cursor.url, Location and Content-Location on as the upstream wrote them; by"
        " default a URL under the upstream's is pointed at the proxy, so a client paging"
        " through it or following a redirect stays in it (--keep-cursor-urls: the old name)",
    )
    proxy.add_argument("--quiet", action="store_true", help="do not log each request")
    proxy.add_argument(
        "--journal-size",
        type=_positive,
        default=10_000,
        metavar="N",
        help="requests kept in the journal (default 10000)",
    )
    _add_admin(proxy)
    _add_limits(proxy)


_TOKEN = re.compile(r"[!-~]+")
"""Visible ASCII: what an HTTP header carries intact (spaces at the ends are stripped)."""


def _bound_host(text: str) -> str:
    """An address to bind, an IPv6 one also as a URL writes it (``[::1]``, as the server's
    own URL shows it): bracketed, it was "Name or service not known"."""
    if text.startswith("[") and text.endswith("]") and ":" in text:
        return text[1:-1]
    return text


def _host_name(text: str) -> str:
    """A name a Host header can carry (``*``: any); an empty or spaced one could match none."""
    if text != "*" and not _HOST_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"`{text}` is not a host name (letters, digits, `-`, `_` and `.`, no port; such as"
            " profile-api or fake.internal), or * for any"
        )
    return text


_HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _admin_token(text: str) -> str:
    """An empty ``--admin-token "$UNSET_VARIABLE"`` would leave the admin API unguarded
    without a word; a space or a non-ASCII character could never be sent back intact."""
    if not text:
        raise argparse.ArgumentTypeError(
            "the token is empty (was it taken from a variable that is not set?); an empty"
            " token would leave the admin API unguarded: give one, or leave the flag out"
        )
    if not _TOKEN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            "the token may hold visible ASCII characters only (no spaces), as an HTTP header"
            " carries them intact"
        )
    return text


def _identifier(text: str) -> str:
    id_type, sep, value = text.partition(":")
    if not sep or not value or not re.fullmatch(f"{ID_TYPE_CHARS}+", id_type):
        raise argparse.ArgumentTypeError(
            f"`{text}` is not TYPE:VALUE such as user_id:u1234 or email:ada@example.com"
        )
    return text


def _record_parser(commands: argparse._SubParsersAction[_Command]) -> None:
    record = commands.add_parser(
        "record",
        help="record real profiles into a fixture file the fake answers the same from",
        description=f"The token comes from {TOKEN_VARIABLE} or --token-file, never a flag.",
    )
    _add_upstream(record, token=f"{TOKEN_VARIABLE} or --token-file FILE")
    record.add_argument(
        "--space", required=True, type=_space_id, metavar="ID", help="the space to record from"
    )
    record.add_argument(
        "--id",
        dest="ids",
        action="append",
        required=True,
        type=_identifier,
        metavar="TYPE:VALUE",
        help="a profile to record (repeatable), such as user_id:u1234",
    )
    record.add_argument(
        "--collection",
        choices=COLLECTIONS,
        help="the collection all the identifiers are of (default: accounts for a group_id,"
        " users for any other)",
    )
    record.add_argument(
        "--follow-links", action="store_true", help="also record the profiles they link to"
    )
    record.add_argument(
        "--output",
        "-o",
        type=_path,
        metavar="FILE",
        help="write here (.json or YAML) instead of stdout",
    )
    record.add_argument(
        "--redact",
        action="store_true",
        help="replace emails, phone numbers, names, addresses and IPs with Faker values",
    )
    record.add_argument(
        "--seed",
        type=_seed,
        default=0,
        metavar="N",
        help="seed of the replacements of --redact (default 0)",
    )
    record.add_argument(
        "--fixture-token",
        default="test-token",
        type=_access_token,
        metavar="T",
        help="the recorded space's token (default test-token); the real one is never written",
    )
    record.add_argument(
        "--token-file",
        type=_path,
        metavar="FILE",
        help=f"read the token from here (else {TOKEN_VARIABLE})",
    )
    record.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="seconds (or a duration such as 500ms) each request may take"
        f" (default {DEFAULT_TIMEOUT:g})",
    )
    _add_max_body(record, "a larger one leaves its profile unrecorded")


def _rate_limit(text: str) -> Limit | str | None:
    if text == "fixtures":  # the default: each space's own limit
        return text
    if text.lower() in ("none", "0", "off"):
        return None
    try:
        if not is_decimal(text):
            raise ValueError(text)
        return Limit.parse(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"`{text}` is not requests per second (a number above 0, or 0/none for no limit)"
        ) from None


def _origin(text: str) -> str:
    from profilemock.mockserver.origins import split_origin

    found = split_origin(text)
    said = f"`{text}` is not an origin such as https://app.example:8443 (scheme, host, port)"
    if "*" in text:  # a wildcard, as other servers' CORS settings take one: no page matched
        raise argparse.ArgumentTypeError(
            f"{said}: --cors lets every origin call the API; --cors-origin names each page"
            " the admin API also takes, one a flag (loopback origins it takes with --cors)"
        )
    if found is None or found[1].strip("/"):
        # `localhost:5173`, a dev server's address without its scheme: offer it with one.
        meant = f"http://{text.rstrip('/')}"
        again = None if "://" in text else split_origin(meant)
        raise argparse.ArgumentTypeError(
            said + (f"; did you mean {meant}?" if again is not None and not again[1] else "")
        )
    return text[: len(text) - len(found[1])].lower()


_MOST_KEPT = 1_000_000_000
"""The largest --journal-size: more than any run keeps (Python cannot size a ring buffer
beyond 2^63, and answered a larger one with a traceback)."""


def _positive(text: str) -> int:
    kept = whole_number(text, _MOST_KEPT)
    if not kept:
        raise argparse.ArgumentTypeError(f"`{text}` is not a whole number from 1 to {_MOST_KEPT:,}")
    return kept


def _events_range(text: str) -> tuple[int, int]:
    try:
        from profilemock.fixtures.generator import parse_range

        return parse_range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _space_id(text: str) -> str:
    if not re.fullmatch(f"{SPACE_ID_CHARS}+", text):
        raise argparse.ArgumentTypeError(
            f"`{text}` is not a space id (letters, digits, `_` and `-`)"
        )
    return text


_API_TOKEN = re.compile(f"{TOKEN_CHARS}+")


def _access_token(text: str) -> str:
    if not _API_TOKEN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"`{text}` is not a token (no `:` and no spaces)")
    return text


def _snapshot_options(command: argparse.ArgumentParser, never: str) -> None:
    command.add_argument(
        "--snapshots",
        type=_directory,
        metavar="DIR",
        default=None,
        help="keep snapshots of checked fixture sets (1 MB and up) here, so the next start"
        " of the same files skips checking them (default: $PROFILEMOCK_CACHE_DIR, else"
        " $XDG_CACHE_HOME/profilemock, else ~/.cache/profilemock)",
    )
    command.add_argument("--no-snapshots", action="store_true", help=never)


def _path(text: str) -> str:
    """A path given on the command line, not empty: an empty one (``"$UNSET"``) reads as
    the current directory, which ``--fixtures`` then served and ``--snapshots`` filled."""
    if not text:
        raise argparse.ArgumentTypeError(
            "the path is empty (was it taken from a variable that is not set?)"
        )
    return text


def _directory(text: str) -> Path:
    return Path(_path(text))


def _snapshots(args: argparse.Namespace) -> Snapshots | None:
    """The snapshots ``--snapshots``/``--no-snapshots`` ask for."""
    return None if args.no_snapshots else Snapshots(args.snapshots or default_directory())


def _seed(text: str) -> int:
    size = whole_number(text.removeprefix("-"), 10**SEED_DIGITS - 1)
    if size is None:
        raise argparse.ArgumentTypeError(
            f"`{text}` is not a whole number of at most {SEED_DIGITS} digits, such as 0 or 42"
        )
    return -size if text.startswith("-") else size


SEED_DIGITS = 20
"""The most digits of a seed (2**64 has 20): one of thousands was int()'s error."""


def _count(text: str) -> int:
    count = whole_number(text, _MOST_KEPT)
    if count is None:
        raise argparse.ArgumentTypeError(f"`{text}` is not a whole number from 0 to {_MOST_KEPT:,}")
    return count


def main(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the CLI; returns the exit code."""
    out = stdout or sys.stdout or _nowhere()
    err = stderr or sys.stderr or _nowhere()
    # Ctrl-C and SIGTERM stop the server even when the parent started it with them blocked
    # (a blocked signal is never delivered: the server would run on, deaf to both).
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    # An ignored Ctrl-C too (a script's background job inherits it ignored): the server
    # heeds it once serving, and so does everything before (a load of a minute).
    if (
        signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        and threading.current_thread() is threading.main_thread()
    ):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    args = parser().parse_args(_values_joined(sys.argv[1:] if argv is None else argv))
    try:
        if stdout is None and sys.stdout is None:
            _refuse_lost_output(args)
        try:
            fanout.wanted()
        except fanout.ProcessesError as exc:
            raise CliError(str(exc)) from None
        if args.command == "check":
            return _check(args.paths, _snapshots(args), out, err)
        if args.command == "demo":
            return _demo(args.fixtures, out)
        if args.command == "generate":
            return _generate(args, out, err)
        if args.command == "validate":
            return _validate(args, out, err)
        if args.command == "openapi":
            return _openapi(args, out)
        if args.command == "proxy":
            return _proxy(args, out, err)
        if args.command == "record":
            with _cleaned_up_on_sigterm():
                return _record(args, out, err)
        return _serve(args, out, err)
    except (CliError, extras.MissingExtra) as exc:
        _tell(exc, err)
        return 2
    except BrokenPipeError:
        # The reader went away (`profilemock demo | head`): stop quietly, as `cat` does.
        _stdout_dropped()
        return 141
    except OSError as exc:
        if exc.filename is not None:
            raise  # a file's error no command expected: a bug, with its traceback
        # A stream that cannot be written: standard output to a full disk (`generate >
        # users.yaml`), /dev/full, a terminal gone. Each file a command writes names itself.
        with contextlib.suppress(OSError, ValueError):
            _tell(CliError(f"cannot write the output: {exc.strerror or exc}"), err)
            err.flush()
        if out is sys.stdout:
            _stdout_dropped()  # else the interpreter tries again at exit, with a traceback
        return 2
    except KeyboardInterrupt:
        # Ctrl-C while loading, generating or starting: nothing half-done is left behind
        # (generate removes its partial file), so no traceback either.
        print("\nprofilemock: stopped (Ctrl-C)", file=err, flush=True)
        return 130
    except Terminated:
        print("profilemock: stopped (SIGTERM)", file=err, flush=True)
        return 128 + signal.SIGTERM


def _stdout_dropped() -> None:
    """What is left to write to standard output goes nowhere (the interpreter flushes it
    at exit)."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _tell(error: Exception, err: TextIO) -> None:
    """``error`` on ``err``, a ``profilemock: error:`` line for each of its lines."""
    for line in str(error).splitlines():
        print(f"profilemock: error: {line}", file=err)


_WRITES_TO_STDOUT = {"generate": "a data set", "record": "a recording", "openapi": "a document"}
"""The commands whose product is what they write to standard output (without ``-o``)."""


def _refuse_lost_output(args: argparse.Namespace) -> None:
    """With standard output closed (``>&-``), a command whose product goes there would
    print that it wrote it, exit 0 and keep nothing: it is refused before any work."""
    what = _WRITES_TO_STDOUT.get(args.command)
    if what is None or getattr(args, "output", None) is not None:
        return
    instead = "give -o FILE" if hasattr(args, "output") else "redirect it to a file"
    raise CliError(f"standard output is closed: {what} written there would be lost; {instead}")


def _nowhere() -> TextIO:
    """What a stream the process was started without (``2>&-``: ``sys.stderr`` is None)
    is written to: nothing keeps it."""
    return open(os.devnull, "w", encoding="utf-8")  # open while the process runs


_TAKES_TIME = ("--now",)
_RELATIVE = re.compile(r"^-\d")


def _values_joined(argv: Sequence[str]) -> list[str]:
    """``--now -1d`` as ``--now=-1d``: argparse takes a value that starts with ``-`` for
    an option and says "expected one argument"."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] in _TAKES_TIME and _RELATIVE.match(arg):
            joined[-1] = f"{joined[-1]}={arg}"
        else:
            joined.append(arg)
    return joined


def _check(paths: list[str], snapshots: Snapshots | None, out: TextIO, err: TextIO) -> int:
    seen: set[str] = set()
    try:
        files = fixture_files(paths)
        store, problems = check_fixtures(
            files, Clock(), snapshots=snapshots, progress=lambda step, *_: seen.add(step)
        )
    except FixtureError as exc:
        raise CliError("\n".join(str(p) for p in exc.problems)) from None
    if store is None:
        for problem in FixtureError(problems).problems:
            print(problem, file=err)
        count = len(problems)
        print(f"{counted(count, 'problem')} found", file=err)
        return 1
    _print_warnings(store, err)
    warned = len(store.warnings)
    summary = f"ok: {counted(len(files), 'file')}, {counts_text(store.counts())}"
    if warned:
        summary += f", {counted(warned, 'warning')}"
    if "snapshot" in seen and snapshots is not None:
        summary += f" (from the snapshot of an earlier check in {snapshots.directory})"
    print(summary, file=out)
    _tell_saved(seen, snapshots, err)
    return 0


def _print_warnings(store: Store, err: TextIO) -> None:
    """``file:line:column: warning: …`` for what loads but is served differently."""
    for problem in store.warnings:
        print(problem.as_warning(), file=err)


def _demo(paths: list[str] | None, out: TextIO) -> int:
    """Who is in the data, to write tests against it without reading the YAML."""
    try:
        store = load_fixtures(paths or [demo_fixture_path()], Clock())
    except FixtureError as exc:
        raise CliError("\n".join(str(p) for p in exc.problems)) from None
    for space in store.spaces.values():
        print(f"space {space.id}  tokens: {', '.join(space.tokens)}", file=out)
        for collection in COLLECTIONS:
            profiles = space.profiles[collection]
            if not profiles:
                continue
            print(f"  {collection} ({len(profiles)}):", file=out)
            for profile in sorted(profiles.values(), key=_name):
                print(f"    {_who(space, profile)}", file=out)
    return 0


def _who(space: Space, profile: Profile) -> str:
    """One profile on one line: ids, then what its routes answer."""
    # One id of each type first: of 30 anonymous ids and a user_id, the user_id is shown.
    firsts: dict[str, ExternalId] = {}
    for known in profile.external_ids:
        firsts.setdefault(known.type, known)
    ids = [*firsts.values(), *(e for e in profile.external_ids if firsts[e.type] is not e)]
    parts = [f"{few([f'{e.type}:{e.id}' for e in ids], ' ')}  ({profile.segment_id})"]
    for klass, label in (
        ("trait", "traits"),
        ("audience", "audiences"),
        ("computed_trait", "computed"),
    ):
        index = profile.traits.get(None)
        keys = [] if index is None else [t.key for t in index.traits if t.klass == klass]
        if keys:
            parts.append(f"{label}: {few(keys)}")
    if profile.events:
        parts.append(f"events: {len(profile.events)}")
    other = OTHER[profile.collection]
    linked = [
        space.get(other, s) for s in space.links[profile.collection].get(profile.segment_id, ())
    ]
    if linked:
        parts.append(f"links: {few([_name(p) for p in linked if p is not None])}")
    return "  ".join(parts)


def _name(profile: Profile) -> str:
    first = profile.external_ids[0] if profile.external_ids else None
    return profile.segment_id if first is None else f"{first.type}:{first.id}"


def _validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Every file checked; one that cannot be (unreadable, not JSON) is told on ``err`` as
    it comes — the body files of unknown endpoint in one line after them all, what is
    wrong being the same of each — and the others are checked all the same (a folder of
    captures with one stray file still gets its report), the exit then 2."""
    from profilemock.schemas.files import (
        EndpointUnknown,
        UnusableInput,
        check_file,
        unknown_endpoint,
    )

    _check_verbose(args)
    reports = []
    unusable = 0
    endpoint_unknown: list[str] = []
    for name in args.files:
        try:
            reports += check_file(
                Path(name),
                endpoint=args.endpoint,
                url=args.url,
                status=args.status,
                verbose=args.verbose,
                strict=args.strict,
                allow_empty=args.allow_empty,
            )
        except EndpointUnknown as exc:  # the same for each: said once, of them all
            unusable += 1
            endpoint_unknown.append(str(exc.path))
        except UnusableInput as exc:
            unusable += 1
            _tell(exc, err)
    if endpoint_unknown:
        _tell(CliError(unknown_endpoint(endpoint_unknown, few(endpoint_unknown))), err)
    if args.output_format == "json":
        json.dump([r.as_dict() for r in reports], out, indent=2)
        out.write("\n")
    else:
        if unusable and not reports:  # nothing was checked: the errors on stderr say it all
            return 2
        for report in reports:
            if report.skipped is not None:
                print(f"{report.name}: skipped ({report.skipped})", file=out)
                continue
            if report.valid:
                print(f"{report.name}: ok ({report.endpoint})", file=out)
                continue
            count = len(report.violations)
            print(
                f"{report.name}: {counted(count, 'violation')} ({report.endpoint})",
                file=out,
            )
            for violation in report.violations:
                print(f"  {violation}", file=out)
        print(_validate_summary(reports, unusable), file=out)
    if unusable:
        return 2
    return 1 if any(not r.valid for r in reports) else 0


def _check_verbose(args: argparse.Namespace) -> None:
    """``--url`` and ``--verbose`` checked before any file is read: each is the same for
    every file, so what is wrong with it is said once, of the option. ``--verbose`` is
    refused where it could change nothing (only a traits body has a verbose form; a HAR
    entry's comes from its URL), rather than passed over while the user believes the
    bodies were checked as verbose ones."""
    from profilemock.schemas.validation import UnknownEndpoint, endpoint_for_url

    endpoint = args.endpoint
    if args.url is not None:
        try:
            endpoint = endpoint_for_url(args.url).endpoint
        except UnknownEndpoint as exc:
            raise CliError(f"--url: {exc}") from None
    if not args.verbose or endpoint == "traits":
        return
    if args.endpoint is not None:
        given = f"--endpoint is {args.endpoint}"
    elif args.url is not None:
        given = f"--url names the {endpoint} route"
    else:
        given = "neither --endpoint nor --url is given (a HAR entry's comes from its URL)"
    raise CliError(
        f"--verbose: only traits bodies have a verbose form, and {given}; give it with"
        " --endpoint traits (or a --url of the traits route), or leave it out"
    )


def _validate_summary(reports: list[Report], unusable: int) -> str:
    """``5 checked, 1 with violations, 2 skipped (1 CORS preflight, 1 status 0)``, and
    ``1 file could not be checked (their errors on stderr)``: each reason skipped by its
    label (``skip_label``), the whole of it told on the line of its entry."""
    from profilemock.schemas.validation import skip_label

    checked = [r for r in reports if r.skipped is None]
    bad = sum(not r.valid for r in checked)
    summary = f"{len(checked)} checked, {bad} with violations"
    reasons = Counter(skip_label(r.skipped) for r in reports if r.skipped is not None)
    if reasons:
        why = ", ".join(f"{count} {reason}" for reason, count in reasons.items())
        summary += f", {sum(reasons.values())} skipped ({why})"
    if unusable:
        errors = "its error" if unusable == 1 else "their errors"
        summary += f", {counted(unusable, 'file')} could not be checked ({errors} on stderr)"
    return summary


def _openapi(args: argparse.Namespace, out: TextIO) -> int:
    from profilemock.fixtures.generator import dump_yaml
    from profilemock.openapi import build_openapi

    document = build_openapi(args.server_url, admin=not args.no_admin)
    if args.output_format == "json":
        json.dump(document, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        out.write(dump_yaml(document, header=""))
    return 0


def _generate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from profilemock.fixtures.generator import Format, Plan, write
    from profilemock.fixtures.yamltext import SIMPLE_KEY_LIMIT

    extras.faker("profilemock generate")  # before anything is written
    plan = Plan(
        users=args.users,
        accounts=args.accounts,
        events=args.events_per_user,
        seed=args.seed,
        space_id=args.space_id,
        token=args.token,
    )
    json_name = json_named(args.output)
    if args.format == "yaml" and json_name:
        raise CliError(
            f"--format yaml cannot be written to {args.output}: a .json fixture file is read"
            " as JSON (name it .yaml, or use --format json)"
        )
    output_format: Format = "json" if args.format == "json" or json_name else "yaml"
    if output_format == "yaml" and len(args.space_id) > SIMPLE_KEY_LIMIT:
        # Written as a key, which YAML reads only up to 1024 characters: a file that does
        # not load (JSON has no such limit).
        raise CliError(
            f"--space-id is {len(args.space_id):,} characters, and a YAML key holds at most"
            f" {SIMPLE_KEY_LIMIT:,}: give a shorter one, or use --format json"
        )
    if args.output is None:
        write(plan, out, output_format)
        return 0
    target = Path(args.output)
    if _special(target):
        # /dev/stdout, a FIFO: written as it is, like standard output (a file renamed over
        # it would replace the device or pipe itself).
        try:
            with open(target, "w", encoding="utf-8") as file:
                write(plan, file, output_format)
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror}") from None
        return 0
    # Written beside the target and renamed into place: an interrupted run (Ctrl-C, SIGTERM)
    # never leaves a half-written fixture file where a server (or --watch) would read it. A
    # symlink's file is replaced, the link kept.
    real = _followed(target)
    partial = _partial(real, args.output)
    _check_writable(real)  # as `record -o`: a mistyped directory is told, not made
    progress = ProgressBar(err, plan.users, f"generating {target.name}")
    try:
        with _cleaned_up_on_sigterm():
            with open(partial, "w", encoding="utf-8") as file:
                _keep_mode(real, partial)  # created, nothing in it yet
                write(plan, file, output_format, progress.update)
            partial.replace(real)
    except OSError as exc:
        _remove(partial)
        raise CliError(f"cannot write {args.output}: {exc.strerror}") from None
    except BaseException:
        _remove(partial)
        raise
    finally:
        progress.finish()
    snapshots = _snapshots(args)
    if snapshots is not None and target.stat().st_size >= snapshots.min_bytes:
        # The first serve of a generated set starts from its snapshot, as every later one
        # does: the set is checked here, once, instead of at that start.
        print(
            f"wrote {target}; checking it so that serving it starts from a snapshot"
            " (Ctrl-C skips this: the file is complete; --no-snapshots: never)",
            file=err,
            flush=True,
        )
        try:
            _load([target], Clock(), err, snapshots)
        except KeyboardInterrupt:
            print(
                f"\nprofilemock: stopped the check (Ctrl-C): {target} is complete; its first"
                " serve checks it",
                file=err,
                flush=True,
            )
            return 130
    return 0


def _partial(target: Path, given: object) -> Path:
    """Where ``target`` is written before it is renamed into place: beside it, hidden, and
    this process's own (two runs writing one file each wrote into the other's partial file
    and renamed it into place, half of one and half of the other). A CliError when
    ``target`` names a directory (``/``, ``.``, ``..``, one that exists), which no file can
    replace (``/`` and ``.`` were a traceback)."""
    if target.name in ("", ".", "..") or target.is_dir():
        raise CliError(f"cannot write {given}: it is a directory; name a file in it")
    _remove_stale_partials(target)
    return target.with_name(f".{target.name}.{os.getpid()}.partial")


def _remove_stale_partials(target: Path) -> None:
    """Remove the partial files of ``target`` that runs whose process is gone left behind
    (ended by SIGKILL, or by a power cut: nothing removed them), never one whose process
    is running — another run writing the same file, or one the check cannot tell of (not
    ours to signal) — nor where a process cannot be asked about (not POSIX). Nor one
    written in the last ``_PARTIAL_STALE_AFTER`` seconds: a run in another PID namespace
    (a container sharing the folder) is "no such process" here, and its partial, still
    being written, was removed — its run then failed at the end, "No such file"."""
    if os.name != "posix":
        return
    prefix = f".{target.name}."
    try:
        names = [entry.name for entry in os.scandir(target.parent)]
    except OSError:
        return  # told when the file itself is written
    for name in names:
        pid = name.removeprefix(prefix).removesuffix(".partial")
        if (
            name.startswith(prefix)
            and name.endswith(".partial")
            and (number := whole_number(pid, 2**31 - 1)) is not None
            and not _running(number)
            and not _written_lately(target.with_name(name))
        ):
            _remove(target.with_name(name))


_PARTIAL_STALE_AFTER = 60.0
"""Seconds without a write after which a partial file whose process is gone is stale:
each run writes its partial file without a pause, from its first byte to its rename."""


def _written_lately(path: Path) -> bool:
    try:
        written = path.lstat().st_mtime
    except OSError:
        return True  # gone already, or not ours to read
    return time.time() - written < _PARTIAL_STALE_AFTER


def _running(pid: int) -> bool:
    """Whether process ``pid`` may be running: anything but "no such process", or (where
    ``/proc`` tells) a zombie — ended by SIGKILL, its parent yet to reap it — says so."""
    if pid <= 0 or pid == os.getpid():
        return True  # 0 would ask this process's group; this process's own is written anew
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: another user's; a pid out of range
        return True
    try:  # "PID (NAME) STATE …", NAME as the process named itself (any character)
        state = Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[:1]
    except OSError:
        return True
    return state != [b"Z"]


def _special(path: Path) -> bool:
    """Whether ``path`` (followed) is there and neither a file nor a directory."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


FULL_COLLECTION_EVERY = 100
"""``gc``'s third threshold while ``serve`` runs (Python's default: 10)."""


def _fault_flags(specs: list[str]) -> list[dict[str, Any]]:
    """The rules of the ``--fault`` flags, each checked before any fixture loads (a bad
    spec is told at once, not after a large set has loaded), naming the flag."""
    rules = []
    for number, spec in enumerate(specs, 1):
        try:
            rule = parse_spec(spec)  # its errors name the flag and the spec already
        except FaultRuleError as exc:
            raise CliError(str(exc)) from None
        try:
            parse_rule(rule, f"fault-{number}")
        except FaultRuleError as exc:
            raise CliError(f"{spec_given(spec)}: {exc}{_no_room(rule)}") from None
        rules.append(rule)
    return rules


def _no_room(rule: dict[str, Any]) -> str:
    """Of a ``--fault`` rule refused for want of a ``body`` or ``headers`` (a 2xx, a
    redirect's ``Location``), which a spec cannot give: where such a rule can be written."""
    try:
        parse_rule({**rule, "body": {}, "headers": {"Location": "/"}}, "fault")
    except FaultRuleError:
        return ""
    return (
        " (a --fault spec gives no body or headers: write this rule in a fixture file's"
        " `faults:`, or arm it through the admin API or a test)"
    )


def _serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    paths = args.fixtures or [demo_fixture_path()]
    clock = Clock.pinned_at(args.now)
    realism: dict[str, Any] = {}
    try:
        for spec in args.realism:
            realism.update(parse_realism(spec))
        Realism().changed(realism)
    except RealismError as exc:
        raise CliError(str(exc)) from None
    faults = _fault_flags(args.fault)
    snapshots = _snapshots(args)
    # The store lives as long as the process: the collector stays off while it loads and
    # never scans it (turned back on unfrozen, it would first scan every object loaded).
    gc.disable()
    try:
        with fanout.meanwhile(_server):
            store = _load(paths, clock, err, snapshots)
    finally:
        gc.freeze()
        gc.enable()
    for spec, rule in zip(args.fault, faults, strict=True):
        try:  # a space no fixture defines: a mistyped one, most likely
            FaultSet().add(rule, spaces=list(store.spaces))
        except FaultRuleError as exc:
            raise CliError(f"{spec_given(spec)}: {exc}") from None
    from profilemock.mockserver.app import create_app
    from profilemock.mockserver.reload import enable_reload
    from profilemock.mockserver.requestlog import RequestLog
    from profilemock.mockserver.serving import run, serve_until_stopped
    from profilemock.mockserver.state import ServerSettings

    # Up to 20,000 built profiles are kept (store/lazy) and a full collection walks them
    # all (~0.15 s): one every 100 young-generation passes instead of every 10 (cyclic
    # garbage that lives that long is freed later, not never).
    gc.set_threshold(*gc.get_threshold()[:2], FULL_COLLECTION_EVERY)
    _print_warnings(store, err)
    sock = _listen(args.host, args.port)
    # The server's own lines (a reload's) go through the request log: in order with the
    # requests', and a reader of stderr that went away stops neither the watch nor a reload.
    stderr_log = RequestLog(err)
    request_log = None if args.quiet else stderr_log

    try:
        settings = ServerSettings(
            seed=args.seed,
            faults=faults,
            rate_limit=args.rate_limit,
            journal_size=args.journal_size,
            admin=not args.no_admin,
            admin_token=args.admin_token,
            cors=args.cors or bool(args.cors_origin),
            cors_origins=tuple(args.cors_origin),
            allowed_hosts=(args.host, *args.allow_host),
            realism=realism,
            now_given=args.now is not None,
        )
        app = create_app(store, clock, settings)
    except FaultRuleError as exc:
        sock.close()
        raise CliError(str(exc)) from None

    reloader = enable_reload(app, paths, watch_files=args.watch, log=stderr_log.say)

    def ready(url: str) -> None:
        print(_banner(url, store, settings), file=out, flush=True)
        warning = exposure_warning(args.host, settings)
        if warning:
            print(f"profilemock: warning: {warning}", file=err, flush=True)
        if args.watch and reloader.unwatched is None:  # else the log said why not
            shown = ", ".join(str(p) for p in paths)
            print(f"watching {shown}: saved changes are served at once", file=out, flush=True)

    # Ctrl-C before the signal handler is installed still ends cleanly.
    with _records_to(stderr_log), contextlib.suppress(KeyboardInterrupt):
        run(serve_until_stopped(app, sock, ready, request_log=request_log, limits=_limits(args)))
    print("profilemock stopped", file=out, flush=True)
    return 0


def _server() -> None:
    """The server's modules imported: what ``serve`` does while forked processes read its
    fixtures, rather than before (the fixtures need none of it)."""
    import profilemock.mockserver.app
    import profilemock.mockserver.reload
    import profilemock.mockserver.serving  # noqa: F401


LOAD_STEPS: dict[str, tuple[str, Callable[[int], str]]] = {
    "reading": ("loading: reading the fixtures", megabytes),
    "checking": ("loading: checking files against the schema", "{:,}".format),
    "building": ("loading: checking profiles", "{:,}".format),
}
LARGE = 5_000_000
"""Fixture sets from this many bytes get a line before loading starts."""


def _load(
    paths: Sequence[str | Path], clock: Clock, err: TextIO, snapshots: Snapshots | None = None
) -> Store:
    """The fixtures, loaded with progress on stderr: a bar on a terminal, else a line a
    second (nothing for a set that loads within a second)."""
    started = time.perf_counter()
    steps = Steps(err, LOAD_STEPS)
    seen: set[str] = set()

    def progress(step: str, done: int, total: int) -> None:
        seen.add(step)
        if step == "waiting" and snapshots is not None:
            print(
                "another process is checking these files: waiting for it, to start from the"
                f" snapshot it saves in {snapshots.directory} (--no-snapshots: check them here)",
                file=err,
                flush=True,
            )
        elif step not in ("snapshot", "saved", "unsaved", "waiting"):
            steps(step, done, total)

    try:
        files = fixture_files(paths)
        size = sum(path.stat().st_size for path in files)
        if size >= LARGE:
            print(
                f"loading {megabytes(size)} of fixtures from {counted(len(files), 'file')}"
                " (Ctrl-C stops)",
                file=err,
                flush=True,
            )
        store = load_fixtures(files, clock, progress, snapshots=snapshots)
    except FixtureError as exc:
        raise CliError("\n".join(str(p) for p in exc.problems)) from None
    finally:
        steps.finish()
    how = ""
    if "snapshot" in seen and snapshots is not None:
        how = f" from the snapshot of an earlier check in {snapshots.directory}"
    if steps.shown_any or size >= LARGE or how:
        print(
            f"loaded {counts_text(store.counts())} in {time.perf_counter() - started:.1f} s{how}",
            file=err,
            flush=True,
        )
    _tell_saved(seen, snapshots, err)
    return store


def _tell_saved(seen: set[str], snapshots: Snapshots | None, err: TextIO) -> None:
    """Whether a load that checked the files saved its snapshot (``seen``: its steps)."""
    if "unsaved" in seen and snapshots is not None:
        print(
            f"profilemock: warning: could not write a snapshot in {snapshots.directory} (not"
            " a writable directory): every start of these files checks them again"
            " (--snapshots DIR chooses another directory)",
            file=err,
            flush=True,
        )
    if "saved" in seen and snapshots is not None:
        print(
            f"saved a snapshot of the check in {snapshots.directory}: the next start of"
            " these files skips it (--no-snapshots: never)",
            file=err,
            flush=True,
        )


def _proxy(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from profilemock.contract.proxy import ProxySettings, create_proxy_app
    from profilemock.mockserver.requestlog import RequestLog
    from profilemock.mockserver.serving import run, serve_until_stopped

    settings = ProxySettings(
        upstream=args.upstream or REGIONS[args.region],
        strict=args.strict,
        fail_on_violation=args.fail_on_violation,
        timeout=args.timeout,
        journal_size=args.journal_size,
        admin=not args.no_admin,
        admin_token=args.admin_token,
        keep_upstream_urls=args.keep_upstream_urls,
        max_body=args.max_body,
    )
    sock = _listen(args.host, args.port)
    # The violations' lines go through the request log too (`_records_to`).
    stderr_log = RequestLog(err)
    request_log = None if args.quiet else stderr_log
    violations = logging.getLogger("profilemock.proxy")
    violations.setLevel(logging.INFO)
    app = create_proxy_app(settings, violation_log=violations)

    def ready(url: str) -> None:
        checks = "strict" if settings.strict else "lenient"
        failing = ", violations answer 502" if settings.fail_on_violation else ""
        lines = [
            f"profilemock proxy at {url} forwards /v1/ to {settings.upstream}",
            f"  every answer checked against the schemas ({checks}{failing});"
            f" timeout {settings.timeout:g} s; bodies up to {counted(settings.max_body, 'byte')}",
            "  cursor.url and Location passed on as the upstream wrote them"
            if settings.keep_upstream_urls
            else "  cursor.url and Location pointing upstream point back here"
            " (--keep-upstream-urls: as sent)",
        ]
        if settings.admin:
            lines.append(f"journal with violations: {url}/__admin/requests")
        lines.append("Ctrl-C stops it.")
        print("\n".join(lines), file=out, flush=True)

    with _records_to(stderr_log), contextlib.suppress(KeyboardInterrupt):
        run(serve_until_stopped(app, sock, ready, request_log=request_log, limits=_limits(args)))
    print("profilemock proxy stopped", file=out, flush=True)
    return 0


def _record(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from profilemock.contract.record import (
        Progress,
        RecordError,
        collection_of,
        record,
        to_fixture,
        unserved,
    )
    from profilemock.contract.redact import Redactor
    from profilemock.fixtures.generator import dump_yaml
    from profilemock.mockserver.serving import run

    if args.redact:
        extras.faker("profilemock record --redact")  # before the requests
    token = _token(args.token_file)
    upstream = args.upstream or REGIONS[args.region]
    output = None if args.output is None else Path(args.output)
    if output is not None and not _special(output):
        # Before the requests: their answers kept. A symlink's file is what is written.
        _check_writable(_followed(output))
    # A user and an account in one file: two runs made two files that no serve takes
    # together (their `now:` differs, and each holds the other's profiles as stubs).
    wanted = [(args.collection or collection_of(identifier), identifier) for identifier in args.ids]
    progress = Progress(err, len(wanted))
    try:
        outcome = run(
            record(
                upstream,
                args.space,
                token,
                wanted,
                follow_links=args.follow_links,
                timeout=args.timeout,
                progress=progress,
                max_body=args.max_body,
            )
        )
    except RecordError as exc:
        raise CliError(str(exc)) from None
    for problem in outcome.missing:
        print(f"profilemock: not recorded: {problem}", file=err)
    if not outcome.recorded:
        raise CliError("no profile was recorded; nothing written")
    late = unserved(outcome)
    if late is not None:
        print(f"profilemock: warning: {late}", file=err)
    redactor = Redactor(args.seed) if args.redact else None
    document = to_fixture(
        outcome,
        args.space,
        fixture_token=args.fixture_token,
        redactor=redactor,
    )
    users = len(document["spaces"][args.space].get("users", ()))
    accounts = len(document["spaces"][args.space].get("accounts", ()))
    redacted = f", redacted with seed {args.seed}" if args.redact else ""
    header = (
        f"# Recorded by profilemock record from {upstream}, space {args.space}{redacted}.\n"
        f"# Serve it with: profilemock serve --fixtures FILE (token {args.fixture_token})\n"
    )
    as_json = json_named(args.output)
    text = (
        json.dumps(document, ensure_ascii=False, indent=1) + "\n"
        if as_json
        else dump_yaml(document, header=header)
    )
    where = args.output or "standard output"
    summary = (
        f"recorded {len(outcome.recorded)} of {len(outcome.recorded) + len(outcome.missing)}"
        f" profiles ({counted(users, 'user')} and {counted(accounts, 'account')} written,"
        " linked stubs included) in"
        f" {outcome.requests} requests to {where}; now pinned at {document['now']}"
    )
    if redactor is not None:
        # The file answers for none of the ids asked for that were replaced (a 404 for
        # `phone_number:+5555550123`), and said not which to ask for instead.
        served = [
            f"{found.asked} as {id_type}:{new}"
            for found in outcome.recorded
            for id_type, _, value in [found.asked.partition(":")]
            if (new := redactor.identifier(id_type, value)) != value
        ]
        if served:
            summary += "; redacted, it answers " + ", ".join(served)

    def tell() -> None:
        print(summary, file=err, flush=True)

    if output is None:
        out.write(text)
        tell()
    elif _special(output):
        # A pipe or device is written as standard output is, a stop not held: one whose
        # reader never comes held it for ever.
        _write_atomically(output, text)
        tell()
    else:
        # The recording (minutes of requests) is in the file: a stop asked for while it is
        # written comes once it is in place, and said so — but not held while that is said
        # (a stderr no one reads held it until that print returned).
        with _stops_held(then=tell):
            _write_atomically(output, text)
    return 1 if outcome.missing else 0


def _token(token_file: str | None) -> str:
    """The API token: from ``--token-file`` or PROFILE_API_TOKEN, never from a flag."""
    if token_file is not None:
        where = f"--token-file {token_file}"
        try:  # a byte order mark (Notepad's) is no part of the token
            token = Path(token_file).read_text(encoding="utf-8-sig").strip()
        except OSError as exc:
            raise CliError(f"cannot read {where}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:  # it was a traceback
            raise CliError(
                f"{where} is not UTF-8 text (byte {exc.start + 1}): is it the token's file?"
            ) from None
        if not token:
            raise CliError(f"{where} is empty")
    else:
        where = TOKEN_VARIABLE
        token = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not token:
            raise CliError(
                f"no token: set {TOKEN_VARIABLE} or pass --token-file FILE (a plain flag would"
                " leave it in your shell history)"
            )
    if not _API_TOKEN.fullmatch(token):  # (never shown: it is a secret)
        raise CliError(
            f"{where} holds more than a token: a space, a line break or a `:`, which no token has"
        )
    return token


def _followed(path: Path) -> Path:
    """The file ``path`` names, a symlink followed (its file is written, the link kept), or
    a CliError when the links lead round in a loop (a traceback, "Symlink loop from")."""
    if not path.is_symlink():
        return path
    try:
        real = path.resolve()
    except (RuntimeError, OSError):  # to Python 3.12; after, the loop's link is returned
        real = path
    if real.is_symlink():
        raise CliError(f"cannot write {path}: its symbolic links lead round in a loop")
    return real


def _check_writable(path: Path) -> None:
    """A CliError unless a file can be written at ``path`` (its folder exists and may be
    written in, and it is no folder itself)."""
    folder = path.parent
    if path.is_dir():
        raise CliError(f"cannot write {path}: it is a directory")
    if folder.exists() and not folder.is_dir():
        raise CliError(f"cannot write {path}: {folder} is not a directory")
    if not folder.is_dir():
        raise CliError(f"cannot write {path}: the directory {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CliError(f"cannot write {path}: the directory {folder} may not be written in")


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all, nothing left beside it: written
    beside it, then renamed into place (a symlink's file replaced, the link kept). A device
    or FIFO (``/dev/stdout``) is written as it is, as standard output is."""
    try:
        if _special(path):
            path.write_text(text, encoding="utf-8")
            return
        real = _followed(path)
        partial = _partial(real, path)
        try:
            with open(partial, "w", encoding="utf-8") as file:
                _keep_mode(real, partial)  # created, nothing in it yet
                file.write(text)
            partial.replace(real)
        except BaseException:
            _remove(partial)
            raise
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


def _keep_mode(target: Path, partial: Path) -> None:
    """Give ``partial``, before anything is written in it, the permissions of the file
    ``target`` it is to replace, if there is one: a recording kept private (``chmod 600``)
    was world-readable (the umask's ``644``) once recorded again."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return  # no file there yet: the umask's, as any new file
    partial.chmod(mode)


@contextlib.contextmanager
def _stops_held(then: Callable[[], object] = lambda: None) -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP wait while the block runs, then act as they would have
    (``_cleaned_up_on_sigterm``'s ``Terminated``, say): what it writes is never cut short.
    ``then`` runs once the block has finished without an exception, the stops heeded again
    and before a held one acts: what it prints (a summary to a pipe no one reads, or to a
    terminal paused with Ctrl-S) may wait without holding them. Off the main thread none
    can be caught, nor held."""
    if threading.current_thread() is not threading.main_thread():
        yield
        then()
        return
    held: list[int] = []
    previous: dict[int, Any] = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) not in (signal.SIG_IGN, None):
            previous[number] = signal.signal(number, lambda signum, _: held.append(signum))
    finished = False
    try:
        yield
        finished = True
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        try:
            if finished:
                then()
        finally:
            for number in dict.fromkeys(held):
                signal.raise_signal(number)


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or a CliError saying why not."""
    from profilemock.mockserver.serving import bind

    try:
        return bind(host, port)
    except OSError as exc:
        in_use = exc.errno == errno.EADDRINUSE
        reason = "address already in use" if in_use else exc.strerror or str(exc)
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            advice = (
                "--host takes an address or name of this machine, such as 127.0.0.1,"
                " localhost, or 0.0.0.0 for every address"
            )
        else:
            advice = "choose another --port, or --port 0 for any free port"
        raise CliError(f"cannot listen on {host}:{port}: {reason} ({advice})") from None


@contextlib.contextmanager
def _cleaned_up_on_sigterm() -> Iterator[None]:
    """SIGTERM inside raises ``Terminated`` (exit 143), as Ctrl-C raises KeyboardInterrupt:
    a ``kill`` (a CI job's timeout, a container stopped) runs the cleanup Ctrl-C runs,
    instead of ending the process where it stands. An ignored SIGTERM stays ignored, and
    off the main thread (``main`` called from a test's thread) none can be caught."""
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN or threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum: int, frame: object) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _records_to(log: RequestLog) -> Iterator[None]:
    """While a server runs, the package's ``logging`` records (a refused request, a
    proxy's contract violation) are lines of ``log``, in order with the request lines: a
    stderr nobody reads (``| less`` left unscrolled) holds the log's thread, never the
    server. At the end every line is written (under ``--quiet`` too: its own lines)."""
    from profilemock.mockserver.requestlog import LogHandler

    package = logging.getLogger("profilemock")
    records = LogHandler(log)
    package.addHandler(records)
    try:
        yield
    finally:
        package.removeHandler(records)
        log.close()


def exposure_warning(host: str, settings: ServerSettings) -> str | None:
    """What to warn of when serving on ``host``: an admin API open to the network."""
    if not settings.admin or settings.admin_token is not None or is_loopback_name(host):
        return None
    return (
        f"serving on {host} without --admin-token: anyone who can reach this address can"
        " change the fake through /__admin/ (add --admin-token TOKEN, or --no-admin)"
    )


def _banner(url: str, store: Store, settings: ServerSettings) -> str:
    lines = [f"profilemock is serving the Segment Profile API at {url}"]
    example = None
    for space in store.spaces.values():
        users, accounts = len(space.profiles["users"]), len(space.profiles["accounts"])
        tokens = ", ".join(space.tokens)
        sizes = f"{counted(users, 'user')}, {counted(accounts, 'account')}"
        lines.append(f"  space {space.id}  token {tokens}  ({sizes})")
        profile = next(iter(space.profiles["users"].values()), None)
        if example is None and profile is not None:
            named = sorted(profile.external_ids, key=lambda x: x.type != "user_id")
            text = f"{named[0].type}:{named[0].id}" if named else profile.segment_id
            identifier = quote(text, safe=":")
            example = (
                f"  curl -u {space.tokens[0]}: {url}/v1/spaces/{space.id}"
                f"/collections/users/profiles/{identifier}/traits"
            )
    if example:
        lines += ["try:", example]
    if settings.admin:
        guarded = " (admin token required)" if settings.admin_token else ""
        lines.append(f"admin API: {url}/__admin/health{guarded}")
        lines.append(f"explorer: {url}/__admin/explorer")
    if settings.cors:
        lines.append("CORS: browsers may call the Profile API from any origin")
    if settings.cors and settings.admin:
        admitted = ", ".join(("loopback origins", *settings.cors_origins))
        lines.append(f"CORS: the admin API takes calls from {admitted}")
    for spec in settings.faults:
        lines.append(f"fault: {json.dumps(spec)}")
    if settings.realism:
        switches = ", ".join(f"{name}={value}" for name, value in settings.realism.items())
        lines.append(f"realism: {switches}")
    lines.append("Ctrl-C stops it.")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
