"""The validating proxy: forwards the Profile API to an upstream and checks every answer.

Requests under ``/v1/`` go to the upstream as sent — method, raw path (``%2B`` stays
``%2B``), query, ``Authorization`` and the other end-to-end headers — through one pooled
client session. The upstream's status, body and headers come back unchanged (hop-by-hop
headers aside), each answer checked against the response schemas for its route and status
as the upstream sent it. One change is made after the check, so that a client paging
through the proxy, or following a redirect, stays in it: a URL under the upstream's base
URL and ``/v1/`` — a ``cursor.url``, a ``Location`` or ``Content-Location`` header — gets
the proxy's own origin (as the client reached it, ``X-Forwarded-*`` honoured as the fake
honours them), its path and query kept byte for byte (``keep_upstream_urls`` turns it
off). A HEAD answer keeps the upstream's ``Content-Length`` when the GET's body would pass
unchanged. A request body is read up to ``max_body`` bytes, as answers are; a larger one is
a 413 in the API's envelope, never sent on.
A broken contract adds ``Profilemock-Violations: N``, one log line per violation, and the
violations in the journal (``GET /__admin/requests``); with ``fail_on_violation`` the
answer becomes a 502 in the API's envelope. An unreachable upstream is a 502, a slow one a
504, never a traceback. The token is forwarded and nothing else: never logged or kept.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from profilemock import schemas
from profilemock.api import (
    API_PREFIX,
    HTTP_STATUSES,
    OTHER,
    REQUEST_ID_HEADER,
    collection_named,
    envelope,
    is_http_status,
)
from profilemock.clock import Clock
from profilemock.contract.upstream import (
    DEFAULT_MAX_BODY,
    DEFAULT_TIMEOUT,
    MAX_BODY_FLAG,
    BodyTooLarge,
    declared_size,
    over_limit,
    read_body,
    read_decoded,
    read_limited,
    upstream_failure,
)
from profilemock.jsontext import member_span, string_prefix_end
from profilemock.mockserver.admin import admin_app
from profilemock.mockserver.app import (
    ADMIN_PREFIX,
    STATE,
    admin_pipeline,
    public_url,
    request_ids,
)
from profilemock.mockserver.connections import close_unread
from profilemock.mockserver.errors import ApiError
from profilemock.mockserver.expect import expect_handler
from profilemock.mockserver.journal import DEFAULT_SIZE, auth_kind
from profilemock.mockserver.lookup import in_the_other
from profilemock.mockserver.origins import split_origin
from profilemock.mockserver.render import json_response
from profilemock.mockserver.routing import match_path
from profilemock.mockserver.state import ServerSettings, ServerState
from profilemock.schemas import Violation
from profilemock.schemas.validation import UNREAD, Checked, Target, check_body, media_type
from profilemock.store.space import Store
from profilemock.words import unreadable_body

VIOLATIONS_HEADER = "Profilemock-Violations"
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE",
        "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length",
    )
)  # fmt: skip
"""Headers of one connection, not of the message: never forwarded either way."""
_NOT_BACK_DECODED = HOP_BY_HOP | {"content-encoding"}
"""Not passed back with a body the client session decoded (``upstream.read_decoded``): it is
passed on decoded. A body in a coding the session does not undo goes on as it came, its
``Content-Encoding`` with it (dropped, the client took coded bytes for plain ones)."""
_NOT_UP = HOP_BY_HOP | {"accept-encoding", "content-encoding", "forwarded"}
"""Never sent upstream. The request body is read decoded (aiohttp undoes its content
coding), so it goes on without its ``Content-Encoding``. ``Forwarded`` and every
``X-Forwarded-*`` header (``_FORWARDED``) describe the client's hop to the proxy, not the
proxy's hop to the upstream: the proxy reads them to point ``cursor.url`` at itself, and
reaches the upstream as a client of its own (its ``Host`` the upstream's), so an upstream
that honours them (the fake does) still writes its ``cursor.url`` under its own base URL,
and the proxy moves it."""
_FORWARDED = "x-forwarded-"
_UNSENDABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\udc80-\udcff]")
"""What no status line or header the proxy writes can hold: a control character (tab
aside), which HTTP forbids there (RFC 9110 5.5) and aiohttp refuses to write, and a byte
that is not UTF-8, which the client session reads as a lone surrogate and aiohttp's writer
drops (``Location: /caf\\xe9`` went on as ``/caf``)."""
LINK_HEADERS = ("Location", "Content-Location")
"""Answer headers holding a URL, pointed at the proxy as ``cursor.url`` is."""
log = logging.getLogger("profilemock.proxy")


@dataclass(frozen=True)
class ProxySettings:
    """How a proxy forwards and checks."""

    upstream: str
    """Base URL of the real API (checked by ``upstream_url``)."""
    strict: bool = False
    """Also report fields the contract does not name, and timestamps that are not RFC 3339."""
    fail_on_violation: bool = False
    """Answer a contract-breaking response with a 502 naming the first violation."""
    timeout: float = DEFAULT_TIMEOUT
    """Seconds the upstream has to answer completely; then the client gets a 504."""
    journal_size: int = DEFAULT_SIZE
    admin: bool = True
    admin_token: str | None = None
    keep_upstream_urls: bool = False
    """Pass the URLs that point at the upstream (``cursor.url``, ``Location``,
    ``Content-Location``) on as the upstream wrote them, rather than at the proxy."""
    max_body: int = DEFAULT_MAX_BODY
    """Bytes of an upstream body at most, a larger one a 502 (``body_too_large``); and of a
    request body, a larger one a 413 (``body_too_large``)."""
    max_body_flag: str = MAX_BODY_FLAG
    """The setting that raises ``max_body``, as its error names it."""
    find_other_collection: bool = False
    """After a 404 for a profile, ask the upstream whether the other collection holds it
    (one more request, not journaled) and, if so, journal the hint the fake gives such a
    404: live mode's ``assert_called`` then leaves out a call to the wrong collection, as
    it does against the fake."""


PROXY = web.AppKey("profilemock_proxy", ProxySettings)
SESSION = web.AppKey("profilemock_proxy_session", aiohttp.ClientSession)


def check_answer(
    raw_path: str,
    status: int,
    content_type: str,
    body: bytes,
    *,
    strict: bool = False,
    method: str = "GET",
    coding: str = "",
) -> list[Violation]:
    """Where an answer to ``method`` on ``raw_path`` breaks the contract: its status, its
    schema for the route and status, and JSON at all (a body that is not JSON, or not
    labelled as JSON, breaks it).

    Answers to paths that are no route of the API are checked only when they are errors
    (their envelope); answers without a body of the API (``nothing_to_check``: HEAD,
    interim, 204, redirect and 304 answers) are not checked. ``coding``: the
    ``Content-Encoding`` the body is still in (one the client session did not undo)."""
    checked = _checked(method, raw_path, status, content_type, body, strict=strict, coding=coding)
    return checked.violations


def _checked(
    method: str,
    raw_path: str,
    status: int,
    content_type: str,
    body: bytes,
    *,
    strict: bool,
    coding: str = "",
) -> Checked:
    """``check_answer``'s checks (``check_body``), the route read from ``raw_path``."""
    target = _route(raw_path)
    return check_body(
        method, status, content_type, lambda: body, target, strict=strict, coding=coding
    )


def _route(raw_path: str) -> Target | None:
    """The route ``raw_path`` is of the API (None when it is none)."""
    try:
        return schemas.endpoint_for_url(raw_path)
    except schemas.UnknownEndpoint:
        return None


def upstream_tail(url: str, upstream: str) -> str | None:
    """The part of ``url`` from ``/v1/`` on when ``url`` points under the ``upstream``
    base URL and ``/v1/`` (the same scheme, host and port, no credentials, under its base
    path), else None: a relative URL, another origin, a path outside the API. The one
    test of "this URL leads back to the upstream" for every URL the proxy moves."""
    found, base = split_origin(url), split_origin(upstream)
    if found is None or base is None or found[0] != base[0]:
        return None
    rest, base_path = found[1], base[1].rstrip("/")
    if not rest.startswith(base_path + API_PREFIX):
        return None
    return rest[len(base_path) :]


def links_here(headers: CIMultiDict[str], upstream: str, here: Callable[[], str]) -> None:
    """Point each ``Location`` and ``Content-Location`` under the upstream's base URL and
    ``/v1/`` at ``here()`` (the proxy's base URL as the client reached it), path, query and
    fragment kept as written; any other value (relative, another origin) stays as it is."""
    for name in LINK_HEADERS:
        values = headers.getall(name, [])
        tails = [upstream_tail(value, upstream) for value in values]
        if any(tail is not None for tail in tails):
            headers.popall(name)
            for value, tail in zip(values, tails, strict=True):
                headers.add(name, value if tail is None else here() + tail)


def cursor_url_here(body: bytes, data: Any, upstream: str, here: Callable[[], str]) -> bytes | None:
    """``body`` (whose JSON is ``data``) with its ``cursor.url`` moved from ``upstream`` to
    ``here()`` (the proxy's base URL as the client reached it), or None when it has no
    ``cursor.url`` under the upstream's base URL and ``/v1/`` (a relative URL, another
    origin: left as it is). Only the URL's origin (and the upstream's base path) changes:
    every other byte of the body, and of the URL's path and query (escapes and all), stays
    as it came."""
    cursor = data.get("cursor") if isinstance(data, dict) else None
    url = cursor.get("url") if isinstance(cursor, dict) else None
    if not isinstance(url, str):
        return None
    tail = upstream_tail(url, upstream)
    if tail is None:
        return None
    text = body.decode("utf-8")
    span = member_span(text, "cursor", "url")
    if span is None:  # cannot be: ``data`` was read from this text; but never a 500
        return None
    start, end = span
    token = text[start:end]
    kept = token[string_prefix_end(token, len(url) - len(tail)) :]
    moved = json.dumps(here())[:-1] + kept
    return (text[:start] + moved + text[end:]).encode()


def create_proxy_app(
    settings: ProxySettings, *, violation_log: logging.Logger = log
) -> web.Application:
    """A validating proxy to ``settings.upstream``, with the fake's journal and admin API."""
    state = ServerState.create(
        Store(spaces={}),
        Clock(),
        ServerSettings(
            journal_size=settings.journal_size,
            admin=settings.admin,
            admin_token=settings.admin_token,
        ),
    )
    state.next_request_id = request_ids()
    app = web.Application()
    app[STATE] = state
    app[PROXY] = settings

    async def session(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=settings.timeout)
        async with aiohttp.ClientSession(
            timeout=timeout, auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar()
        ) as client:
            app[SESSION] = client
            yield

    app.cleanup_ctx.append(session)
    if settings.admin:
        app.add_subapp(ADMIN_PREFIX.rstrip("/"), admin_app(admin_pipeline))

    async def handle(request: web.Request) -> web.StreamResponse:
        return await forward(request, violation_log)

    app.router.add_route("*", r"/{path:[\s\S]*}", handle, expect_handler=proxy_expect)
    return app


async def forward(request: web.Request, violation_log: logging.Logger) -> web.StreamResponse:
    """One request through the proxy, journaled with its violations."""
    state = request.app[STATE]
    settings = request.app[PROXY]
    arrived, started = state.clock.now_ns(), time.perf_counter()
    own_id = state.next_request_id()
    response: web.StreamResponse | None = None
    violations: list[Violation] = []
    hint = None
    request_id = own_id
    try:
        if not request.raw_path.startswith(API_PREFIX):
            response = _failure(
                404,
                "not_found",
                f"the proxy forwards the Profile API (paths under {API_PREFIX}) and serves its"
                f" admin API under {ADMIN_PREFIX}; `{request.path}` is neither",
                own_id,
            )
            return response
        try:
            _sendable_up(request)
            sent = await _request_body(request, settings)
        except _RequestRefused as exc:
            response = _failure(exc.status, exc.code, exc.message, own_id)
            if exc.close:
                close_unread(request, response)
            return response
        try:
            status, reason, headers, body = await _send(
                request, settings, request.app[SESSION], sent
            )
        except BodyTooLarge as exc:
            status, request_id = exc.status, exc.headers.get(REQUEST_ID_HEADER, own_id)
            violations = [Violation("", "max-body", exc.about(settings.max_body_flag))]
            response = _failure(
                502,
                "body_too_large",
                f"the upstream's {status} answer was not passed on: {violations[0].message}",
                request_id,
            )
        except asyncio.TimeoutError as exc:
            late = (
                f"answered {exc.status} but did not send all of its body"
                if isinstance(exc, _BodyLate)
                else "did not answer"
            )
            response = _failure(
                504,
                "gateway_timeout",
                f"the upstream {settings.upstream} {late} within {settings.timeout:g} s",
                own_id,
            )
            return response
        except (aiohttp.ClientError, OSError) as exc:
            response = _failure(
                502,
                "bad_gateway",
                f"the upstream {settings.upstream} {upstream_failure(exc)}",
                own_id,
            )
            return response
        else:
            request_id = headers.get(REQUEST_ID_HEADER, own_id)
            response, violations = _relay(
                request, settings, (status, reason, headers, body), request_id
            )
            if status == 404 and settings.find_other_collection:
                hint = await _in_the_other_collection(request, settings, request.app[SESSION])
        for violation in violations:
            violation_log.warning(
                "contract violation: %s %s -> %d %s: %s [%s]",
                request.method,
                request.raw_path,  # the query too: which page, and verbose or not
                status,
                violation.shown_pointer,
                violation.message,
                violation.rule,
            )
        response.headers.setdefault(REQUEST_ID_HEADER, own_id)
        if violations:
            response.headers[VIOLATIONS_HEADER] = str(len(violations))
        return response
    finally:
        state.journal.record(
            arrived,
            request.method,
            request.raw_path,
            auth_kind(request.headers.get("Authorization")),
            None if response is None else response.status,
            None,
            (time.perf_counter() - started) * 1000,
            request_id,
            tuple(violations),
            hint,
        )


def _relay(
    request: web.Request,
    settings: ProxySettings,
    answer: tuple[int, str, CIMultiDict[str], bytes],
    request_id: str,
) -> tuple[web.Response, list[Violation]]:
    """The upstream's answer checked, and what the client gets of it."""
    status, reason, headers, body = answer
    checked = _checked(
        request.method,
        request.raw_path,
        status,
        media_type(headers.get("Content-Type", "")),
        body,
        strict=settings.strict,
        coding=headers.get("Content-Encoding", ""),  # one the session did not undo (`_send`)
    )
    violations = checked.violations
    if not is_http_status(status):
        # Relayed, it went out as `HTTP/1.1 42`, which clients refuse as malformed.
        failure = _failure(
            502,
            "bad_gateway",
            f"the upstream {settings.upstream} answered status {status}, which is not"
            f" {HTTP_STATUSES}; not passed on",
            request_id,
        )
        return failure, violations
    unsendable = _unsendable(headers.items())
    if unsendable is not None:
        # Written, it broke the connection: the client got no answer at all.
        failure = _failure(
            502,
            "bad_gateway",
            f"the upstream {settings.upstream} answered {status} with {unsendable},"
            " which cannot be passed on as sent; not passed on",
            request_id,
        )
        return failure, violations
    # One that cannot go on as it came gets the status's own: clients ignore it (RFC 9112 4).
    phrase = None if _UNSENDABLE.search(reason) else reason
    if violations and settings.fail_on_violation:
        first = violations[0]
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        failure = _failure(
            502,
            "contract_violation",
            f"the upstream's {status} answer breaks the contract at {first}{more}",
            request_id,
        )
        return failure, violations
    pointing = not settings.keep_upstream_urls

    def here() -> str:
        return public_url(request, "")

    if checked.data is not UNREAD and 200 <= status < 300 and pointing:
        moved = cursor_url_here(body, checked.data, settings.upstream, here)
        body = body if moved is None else moved
    if pointing:
        links_here(headers, settings.upstream, here)
    # Only a HEAD answer keeps a Content-Length (``_send``; checked first, so a GET pays
    # nothing). The GET's cursor.url may be moved, and its length with it: no length rather
    # than one the GET contradicts (RFC 9110 8.6).
    moving = "Content-Length" in headers and pointing and 200 <= status < 300
    if moving and _route(request.raw_path) is not None:
        headers.popall("Content-Length")
    return web.Response(status=status, reason=phrase, body=body, headers=headers), violations


def _unsendable(headers: Iterable[tuple[str, str]]) -> str | None:
    """The first of ``headers`` (name, value) that no message the proxy writes can carry as
    it came (``_UNSENDABLE``), and what in it, in words; else None."""
    for name, value in headers:
        found = _UNSENDABLE.search(value)
        if found is None:
            continue
        code = ord(found.group())
        if code > 0x7F:  # a byte the client session read as a lone surrogate
            return f"a `{name}` header holding byte 0x{code - 0xDC00:02x} (not UTF-8)"
        return f"a `{name}` header holding control character 0x{code:02x}"
    return None


class _BodyLate(asyncio.TimeoutError):
    """The upstream's status and headers came in time, and its body did not."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _RequestRefused(Exception):
    """A request the proxy does not send on, and the answer it gets instead."""

    def __init__(self, status: int, code: str, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.close = close
        """Close the connection after the answer: the body is not read (nor wanted)."""


def _expects_continue(request: web.Request) -> bool:
    return (
        request.version == aiohttp.HttpVersion11
        and request.headers.get("Expect", "").lower() == "100-continue"
    )


def _declared_over(request: web.Request, limit: int) -> int | None:
    """The request body's size from its ``Content-Length`` when that is over ``limit``."""
    declared = declared_size(request.content_length, request.headers)
    return declared if declared is not None and declared > limit else None


async def proxy_expect(request: web.Request) -> web.StreamResponse | None:
    """``expect_handler``, except that a body whose ``Content-Length`` is over
    ``max_body`` gets no ``100 Continue``: ``forward`` answers it 413 unread."""
    if _declared_over(request, request.app[PROXY].max_body) is not None:
        return None
    return await expect_handler(request)


async def _request_body(request: web.Request, settings: ProxySettings) -> bytes | None:
    """The body to send upstream (None when the client sent none), read up to
    ``max_body`` bytes (as decoded); or ``_RequestRefused``: over it (413), or unreadable."""
    if not request.body_exists:
        return None
    limit, flag = settings.max_body, settings.max_body_flag
    declared = _declared_over(request, limit)
    try:
        body = None if declared is not None else await read_limited(request.content, limit)
    except ApiError as exc:  # the body did not arrive in time (the server's limits)
        raise _RequestRefused(exc.status, exc.code, exc.message) from None
    except web.RequestPayloadError as exc:  # a broken chunk, a coding that does not decode
        raise _RequestRefused(
            400, "invalid_request_error", unreadable_body(exc), close=True
        ) from None
    if body is None:
        raise _RequestRefused(
            413,
            "body_too_large",
            f"the request body was not sent on: {over_limit(limit, declared, flag)}",
            close=declared is not None and _expects_continue(request),
        )
    return body


def _headers_up(request: web.Request) -> dict[str, str]:
    """The headers of ``request`` that go upstream: its end-to-end ones."""
    connection_only = _connection_headers(request.headers.get("Connection", ""))
    return {
        k: v
        for k, v in request.headers.items()
        if k.lower() not in _NOT_UP
        and not k.lower().startswith(_FORWARDED)
        and k.lower() not in connection_only
    }


def _sendable_up(request: web.Request) -> None:
    """``_RequestRefused`` (400) when a header that goes upstream cannot go as it came: one
    holding a byte that is not UTF-8 went without it (``Authorization: Basic \\xff…`` as
    ``Basic ``)."""
    unsendable = _unsendable(_headers_up(request).items())
    if unsendable is not None:
        raise _RequestRefused(
            400,
            "invalid_request_error",
            f"the request was not sent on: it has {unsendable}, which cannot be sent on as it came",
            close=request.body_exists,
        )


async def _send(
    request: web.Request,
    settings: ProxySettings,
    client: aiohttp.ClientSession,
    data: bytes | None,
) -> tuple[int, str, CIMultiDict[str], bytes]:
    """The upstream's answer to ``request`` (its body ``data``): status, reason, headers to
    pass on, body. A HEAD answer's headers keep its ``Content-Length`` (RFC 9110 9.3.2: a
    HEAD answer has a GET's header fields), as the size of the body a GET gets."""
    url = URL(settings.upstream + request.raw_path, encoded=True)
    async with client.request(
        request.method,
        url,
        headers=_headers_up(request),
        # as a stream: aiohttp warns that bytes over 1 MiB written at once block the loop
        data=None if data is None else io.BytesIO(data),
        allow_redirects=False,
    ) as answer:
        try:
            body = await read_body(answer, settings.max_body)
        except asyncio.TimeoutError:
            raise _BodyLate(answer.status) from None
        connection_only = _connection_headers(answer.headers.get("Connection", ""))
        dropped = _NOT_BACK_DECODED if read_decoded(answer.headers) else HOP_BY_HOP
        back: CIMultiDict[str] = CIMultiDict(
            (k, v)
            for k, v in answer.headers.items()
            if k.lower() not in dropped and k.lower() not in connection_only
        )
        length = declared_size(answer.content_length, answer.headers)
        if request.method == "HEAD" and length is not None:
            back["Content-Length"] = str(length)
        return answer.status, answer.reason or "", back, body


async def _in_the_other_collection(
    request: web.Request, settings: ProxySettings, client: aiohttp.ClientSession
) -> str | None:
    """The fake's hint for a 404 to ``request`` when the upstream has its profile in the
    other collection (its ``metadata`` answers 200 there), else None (a failure included:
    the 404 then counts as the fake's does for a profile that is nowhere)."""
    route = match_path(request.raw_path)
    collection = None if route is None else collection_named(route.collection)
    if route is None or collection is None or ":" not in (route.identifier or ""):
        return None
    parts = route.path.split("/")  # ["", "v1", "spaces", S, "collections", C, "profiles", I, R]
    parts[5], parts[8] = OTHER[collection], "metadata"
    url = URL(settings.upstream + "/".join(parts), encoded=True)
    authorization = request.headers.get("Authorization")
    headers = {"Authorization": authorization} if authorization else {}
    try:
        async with client.get(url, headers=headers, allow_redirects=False) as answer:
            found = answer.status == 200
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
        return None
    return in_the_other(route.identifier or "", collection) if found else None


def _connection_headers(value: str) -> set[str]:
    """Headers the ``Connection`` header names: hop-by-hop for this connection only."""
    return {name.strip().lower() for name in value.split(",") if name.strip()}


def _failure(status: int, code: str, message: str, request_id: str) -> web.Response:
    response = json_response(envelope(code, message), status)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response
