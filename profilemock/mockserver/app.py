"""The aiohttp application: one request pipeline, in the API's order of checks (CORS in
``cors.py``, the contract check in ``contract_check.py``, the admin API in ``admin.py``).

    [Request-Id, envelope, contract check, CORS, journal] -> route -> faults -> auth
    -> rate limit -> path validation -> query validation -> lookup -> resource -> render

``create_app(store, ...)`` holds no global state, so several servers can share a process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from profilemock.api import (
    API_PREFIX,
    FAULT_HEADER,
    HINT_HEADER,
    REQUEST_ID_HEADER,
    envelope,
    is_ip_address,
)
from profilemock.clock import Clock
from profilemock.faults import BODY_FAULTS, CONNECTION_FAULTS, FaultRule
from profilemock.mockserver import (
    contract_check,
    cors,
    expect,
    inject,
    lookup,
    origins,
    resources,
    routing,
)
from profilemock.mockserver.admin import ROUTES as ADMIN_ROUTES
from profilemock.mockserver.admin import admin_app, token_refusal
from profilemock.mockserver.auth import authenticate
from profilemock.mockserver.connections import DIRECT, close_unread
from profilemock.mockserver.errors import ApiError, rate_limited
from profilemock.mockserver.journal import (
    ANSWERED,
    BROKEN,
    CLIENT_GONE,
    NOT_ANSWERED,
    Outcome,
    auth_kind,
)
from profilemock.mockserver.render import json_response
from profilemock.mockserver.state import STATE as STATE  # the app's state key
from profilemock.mockserver.state import ServerSettings, ServerState
from profilemock.realism import short_page
from profilemock.store.overlay import LiveStore
from profilemock.store.space import Store

log = logging.getLogger("profilemock")
ADMIN_PREFIX = "/__admin/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def request_ids() -> Callable[[], str]:
    """Request ids shaped like version-4 UUIDs: a random part drawn once per server and a
    counter — unique, and cheap on every request (uuid4() makes a system call)."""
    h = f"{random.getrandbits(80):020x}"
    prefix = f"{h[:8]}-{h[8:12]}-4{h[12:15]}-{'89ab'[int(h[15], 16) & 3]}{h[16:19]}-"
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):012x}"


@dataclass(slots=True)
class Exchange:
    """One API request on its way through the pipeline: what the journal keeps of it
    beyond the request itself."""

    arrived: int
    """Server clock at arrival, nanoseconds: the request's "now"."""
    started: float
    request_id: str
    ticket: int
    """Where the journal keeps this request (journaled at arrival)."""
    fault: str | None = None
    """The id of the fault rule that fired, if one did."""
    authorized: bool | None = None
    """Whether the credentials open the space, once decided."""
    client_gone: bool = False
    """The client left before the answer could be written (found when writing it)."""
    headers_sent: bool = False
    """The answer's status line and headers (its Request-Id among them) went out before the
    pipeline ended (a truncated body)."""
    fault_answered: bool = False
    """A fault rule made or broke the answer (a status of its own, a broken body): it is
    not the API's, so the contract check leaves it alone. A rule that only delays the
    answer or adds headers leaves it the API's own, checked like any other."""
    delayed: bool = False
    """A fault rule delayed the request (a client that went away meanwhile left because
    of the rule: the journal counts that as the rule's answer)."""


def api_handler(state: ServerState) -> Handler:
    """The handler of every API path of ``state``'s server: the pipeline, journaled.

    Called directly, not as a middleware: aiohttp wraps each middleware anew on every
    request, which the API's hot path need not pay. Nor does it read ``request.app``: the
    server's runner hands it the API's paths without aiohttp's router
    (``connections.DIRECT``), and the app's catch-all route hands it the others."""

    async def serve_api(request: web.Request) -> web.StreamResponse:
        now = state.clock.now_ns()
        auth = auth_kind(request.headers.get("Authorization"))
        ticket = state.journal.arrived(now, request.method, raw_target(request), auth)
        exchange = Exchange(now, time.perf_counter(), state.next_request_id(), ticket)
        response: web.StreamResponse | None = None
        try:
            try:
                expectation = request.headers.get("Expect")
                refused = await expect.refusal(request, expectation) if expectation else None
                if refused is not None:
                    response = error_response(request, state, refused)
                    close_unread(request, response)  # the body the client may send is not read
                elif state.settings.cors and cors.is_preflight(request):
                    response = cors.preflight(request)
                    state.journal.preflight(ticket)
                else:
                    route = routing.match(request.method, raw_target(request))
                    rule = state.faults.pick(
                        route.resource,
                        request.method,
                        route.space_id,
                        route.collection,
                        route.identifier,
                    )
                    if rule is None:
                        response = answer(request, state, state.store, route, exchange)
                    else:
                        response = await faulted(request, state, route, rule, exchange)
            except ConnectionResetError:
                # Writing to the client (its 100 Continue; a body fault streams its own
                # answer) found it gone: nothing reached it, and the fake did nothing wrong.
                exchange.client_gone = True
                raise asyncio.CancelledError from None
            except Exception as exc:
                if isinstance(exc, ApiError) and exc.status == 401:
                    exchange.authorized = False
                if isinstance(exc, ApiError) and exc.status == 405 and cors.is_preflight(request):
                    exc.hint = cors.OFF_HINT  # CORS is off (on, the preflight was answered)
                response = error_response(request, state, exc)
            if exchange.fault is not None:
                response.headers.setdefault(FAULT_HEADER, exchange.fault)
            response = _finished(
                request, state, response, exchange.request_id, checked=not exchange.fault_answered
            )
            return response
        finally:
            _record(request, state, exchange, response)

    return serve_api


@web.middleware
async def admin_pipeline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The same pipeline around the admin API, which is not journaled."""
    state = request.config_dict[STATE]
    response: web.StreamResponse
    expectation = request.headers.get("Expect")
    try:
        refused = await expect.refusal(request, expectation, limited=True) if expectation else None
    except ConnectionResetError:
        raise asyncio.CancelledError from None  # the client left before its 100 Continue
    admitted = origins.admin_refusal(
        request.method, request.headers, request.scheme, request.body_exists, state.settings
    )
    if refused is not None and refused.status == 413:
        # A body refused unsent: whoever may not call at all is told that first (a 403, a
        # 415, the token's 401), as a body sent whole would have been.
        refused = admitted or token_refusal(request) or refused
    refusal = refused or admitted
    unsent = refused is not None  # no 100 Continue went out: the body is not read
    if refusal is not None:
        response = error_response(request, state, refusal)
        if unsent:
            close_unread(request, response)  # the body the client may still send is not read
        if refusal.status == 415:
            # Host and origin passed (the body's type is checked last): the page that sent
            # text/plain may read why, instead of the browser's bare "Failed to fetch".
            _allow_admin_origin(request, response)
    elif cors.is_preflight(request):
        response = _admin_preflight(request)
    else:
        try:
            response = await handler(request)
        except Exception as exc:
            response = error_response(request, state, exc)
        _allow_admin_origin(request, response)
    if state.check_contract and response.status >= 400:
        response = contract_check.checked(request, response, state)
    response.headers[REQUEST_ID_HEADER] = state.next_request_id()
    return response


def _finished(
    request: web.Request,
    state: ServerState,
    response: web.StreamResponse,
    request_id: str,
    *,
    checked: bool,
) -> web.StreamResponse:
    """Around every answer: its Request-Id, the contract check (when on and ``checked``) and
    CORS (when on)."""
    if state.check_contract and checked:
        response = contract_check.checked(request, response, state)
    response.headers[REQUEST_ID_HEADER] = request_id
    if state.settings.cors:
        cors.allow_origin(request, response)
    return response


def _admin_preflight(request: web.Request) -> web.Response:
    """A preflight to the admin API (the origin was allowed by ``admin_refusal``)."""
    response = web.Response(status=204)
    response.headers.update(
        {
            "Access-Control-Allow-Methods": origins.ADMIN_METHODS,
            "Access-Control-Allow-Headers": origins.ADMIN_HEADERS,
            "Access-Control-Max-Age": "600",
        }
    )
    _allow_admin_origin(request, response)
    return response


def _allow_admin_origin(request: web.Request, response: web.StreamResponse) -> None:
    """Admin answers name only an origin ``admin_refusal`` let through (never ``*``)."""
    if "Origin" in request.headers:
        cors.allow_origin(request, response)


def error_response(request: web.Request, state: ServerState, exc: Exception) -> web.Response:
    """An error raised while answering, in the API's envelope."""
    if isinstance(exc, ApiError):
        return json_response(exc.body(), exc.status, exc.response_headers())
    if isinstance(exc, web.HTTPException):
        # aiohttp's own answers (an unknown admin route, a wrong method on it), said as the
        # API says its own 404 and 405, naming what there is.
        if exc.status == 405:
            allowed = exc.headers.get("Allow", "")
            message = (
                f"The method {request.method} is not allowed on {request.path}; use {allowed}."
            )
            return json_response(envelope("method_not_allowed", message), 405, {"Allow": allowed})
        if exc.status == 404:
            paths = ", ".join(
                dict.fromkeys(ADMIN_PREFIX.rstrip("/") + r.path for r in ADMIN_ROUTES)
            )
            message = f"no admin route `{request.path}`; the admin API has {paths}"
            return json_response(envelope("not_found", message), 404)
        return json_response(envelope("invalid_request_error", exc.reason), exc.status)
    log.exception("profilemock failed answering %s %s", request.method, request.path)
    state.errors.append(exc)
    return json_response(
        envelope("internal_error", f"profilemock failed: {type(exc).__name__}: {exc}"), 500
    )


def _record(
    request: web.Request,
    state: ServerState,
    exchange: Exchange,
    response: web.StreamResponse | None,
) -> None:
    """The outcome of one journaled API request, whatever became of it."""
    status: int | None = None
    hint: str | None = None
    transport = request.transport
    if (
        transport is None
        or exchange.client_gone
        or (response is not None and transport.is_closing())
    ):
        # The connection was lost, or is closing with the answer not yet written, before
        # the handler ended: the client went away (a fault closing the connection itself
        # still holds it at this point, and has no answer).
        outcome: Outcome = CLIENT_GONE
    elif response is None:
        outcome = BROKEN if exchange.fault is not None else NOT_ANSWERED
    else:
        outcome = ANSWERED
        status = response.status
        if status >= 400:
            hint = response.headers.get(HINT_HEADER)
    state.journal.finished(
        exchange.ticket,
        status,
        exchange.fault,
        (time.perf_counter() - exchange.started) * 1000,
        outcome,
        exchange.authorized,
        hint,
        exchange.request_id if status is not None or exchange.headers_sent else None,
        fault_answered=exchange.fault_answered or (outcome == CLIENT_GONE and exchange.delayed),
    )


def raw_target(request: web.Request) -> str:
    """The path and query as sent; of an absolute-form target (``GET http://host/v1/…``,
    which RFC 9112 requires servers to accept and proxies send), its path and query."""
    raw = request.raw_path
    if raw.startswith("/"):
        return raw
    return request.rel_url.raw_path_qs


async def faulted(
    request: web.Request,
    state: ServerState,
    route: routing.Route,
    rule: FaultRule,
    exchange: Exchange,
) -> web.StreamResponse:
    """The answer to a request of ``route`` that fault ``rule`` picked: delayed, broken,
    or replaced by the rule's own; or the API's own (a refusal the rule leaves alone)."""
    store = state.store  # the data at arrival: a reload meanwhile does not change the answer
    exchange.fault = rule.id
    request[inject.FIRED] = rule
    state.journal.fault_fired(exchange.ticket, rule.id, rule.origin)
    exchange.authorized = _authorized(state, route, request)
    exchange.delayed = rule.latency is not None
    await inject.delay(rule, request, state)
    if rule.fault in CONNECTION_FAULTS:
        # The rule's own answer, a connection broken (or held, then closed), whether
        # it breaks it or the client gives up first.
        exchange.fault_answered = True
        await inject.break_connection(rule, request, state)
    if rule.status is not None:
        exchange.fault_answered = True
        return inject.respond(rule, state.realism.gateway_errors)
    try:
        response = answer(request, state, store, route, exchange)
    except ApiError:
        if rule.fault in BODY_FAULTS:
            # Nothing of the rule reached the client: the API refused the request first.
            rule.fired -= 1
            rule.refused_first += 1
            exchange.fault = None
        raise
    response.headers.update(rule.headers)
    if rule.fault in BODY_FAULTS:
        exchange.fault_answered = True
        if rule.fault == "truncate":
            # Streamed from here, past the pipeline's _finished: the answer gets its
            # Request-Id and CORS headers now, as every answer does.
            _finished(request, state, response, exchange.request_id, checked=False)
            exchange.headers_sent = True
        return await inject.break_body(rule, request, response)
    return response


def _authorized(state: ServerState, route: routing.Route, request: web.Request) -> bool:
    """Whether the request's credentials open its space (for a request a fault answers
    before the API would have checked them)."""
    try:
        authenticate(state.store, route.space_id, request.headers.get("Authorization"))
    except ApiError:
        return False
    return True


def answer(
    request: web.Request,
    state: ServerState,
    store: LiveStore,
    route: routing.Route,
    exchange: Exchange,
) -> web.Response:
    """The API's own answer from ``store``: auth, rate limit, validation, lookup, resource."""
    space = authenticate(store, route.space_id, request.headers.get("Authorization"))
    exchange.authorized = True
    now = exchange.arrived
    if not state.limiter.admit(space.id):
        raise rate_limited()
    lookup.validate_path(route)
    query = state.queries.parse(route.resource, request.rel_url)
    realism = state.realism
    if realism.short_pages:
        query = dataclasses.replace(query, page_size=short_page(query.page_size))
    collection = lookup.collection_of(route)
    if space.lagging:
        space = space.visible(state.clock.ticks_ns())
    profile = None
    if route.identifier is not None:
        if realism.unescaped_500:
            lookup.check_escaped(route)
        profile = lookup.find_profile(space, collection, route, state.clock)
    req = resources.Request(
        space=space,
        collection=collection,
        query=query,
        base_url=lambda: public_url(request, route.path),
        now=now,
        profile=profile,
        null_lists=realism.null_lists,
    )
    handler = resources.profiles if profile is None else resources.RESOURCE_HANDLERS[route.resource]
    return json_response(handler(req))


_HOST = re.compile(
    r"(?:[A-Za-z0-9_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?"
)
"""A host a URL carries: a name or address, or an IPv6 address in brackets; a port."""
_PREFIX = re.compile(r"(/(?:[A-Za-z0-9._~!$&'()*+,;=:@\-]|%[0-9A-Fa-f]{2})+)+")


def _url_host(text: str) -> bool:
    """Whether ``text`` is a host (and port) a URL can carry: not ``[::1``, ``a..b`` or
    ``x:99999``, which made a ``cursor.url`` no client could follow."""
    found = _HOST.fullmatch(text)
    return found is not None and (found[1] is None or 0 < int(found[1]) <= 65535)


def public_url(request: web.Request, path: str) -> str:
    """``path`` as the client reached it: behind a dev proxy (Vite, webpack) that mounts
    the fake under a prefix, ``Forwarded`` (RFC 7239: its ``proto`` and ``host``),
    ``X-Forwarded-Proto``, ``X-Forwarded-Host`` and ``X-Forwarded-Prefix`` say where; of
    a list, the first (client-side) element counts, ``Forwarded`` before the ``X-``
    headers, and a value that is not a scheme, host or path is ignored. Only asked for
    when a cursor has a next page; the validating proxy asks it for its own origin
    (``path=""``) to point the upstream's ``cursor.url`` at itself."""
    headers = request.headers
    first = _forwarded_element(headers.get("Forwarded"))
    protos = (first.get("proto", ""), _forwarded(headers.get("X-Forwarded-Proto")))
    hosts = (first.get("host", ""), _forwarded(headers.get("X-Forwarded-Host")))
    proto = next((p.lower() for p in protos if p.lower() in ("http", "https")), request.scheme)
    if not request.raw_path.startswith("/"):
        # Absolute-form: its authority is the host (RFC 9112 §3.2.2), port included;
        # aiohttp's ``request.host`` keeps the name only.
        own = request.url.host_port_subcomponent or ""
    elif "Host" in headers or not _is_address(request.host):
        own = request.host
    else:
        # Without a Host header (HTTP/1.0 needs none) aiohttp's ``request.host`` is our
        # socket's address without its port: a URL to port 80.
        own = ""
    host = next((h for h in (*hosts, own) if _url_host(h)), None)
    if host is None:  # no Host, or one no URL can carry (a byte beyond ASCII, a space)
        host = _own_address(request)
    prefix = _forwarded(headers.get("X-Forwarded-Prefix")).rstrip("/")
    if not _PREFIX.fullmatch(prefix):
        prefix = ""
    return f"{proto}://{host}{prefix}{path}"


def _is_address(host: str) -> bool:
    """Whether ``host`` is an IP address, an IPv6 one in brackets as a URL writes it."""
    return is_ip_address(host.removeprefix("[").removesuffix("]"))


def _own_address(request: web.Request) -> str:
    """The address and port the request reached, as a URL's host writes them."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if not isinstance(sockname, tuple) or len(sockname) < 2:
        return "localhost"
    address, port = str(sockname[0]), sockname[1]
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PAIR = re.compile(rf'[ \t]*({_TOKEN})=({_TOKEN}|"(?:[^"\\]|\\.)*")[ \t]*([;,]|$)')


def _forwarded_element(value: str | None) -> dict[str, str]:
    """The first (client-side) element of a ``Forwarded`` header (RFC 7239), names in
    lower case, quoted values unquoted; nothing when it is not well formed (aiohttp's
    ``request.forwarded`` reads ``host=evil/path`` as host ``evil``)."""
    element: dict[str, str] = {}
    text, at = value or "", 0
    while True:
        at += len(text[at:]) - len(text[at:].lstrip(" \t;"))  # empty pairs are allowed
        if at == len(text) or text[at] == ",":
            return element
        pair = _PAIR.match(text, at)
        if pair is None:
            return {}
        name, raw, end = pair.groups()
        if name.lower() in element:
            return {}  # a parameter given twice in one element: not well formed (RFC 7239 §4)
        quoted = raw.startswith('"')
        element[name.lower()] = re.sub(r"\\(.)", r"\1", raw[1:-1]) if quoted else raw
        if end != ";":
            return element
        at = pair.end()


def _forwarded(value: str | None) -> str:
    """The first (client-side) value of a forwarded header that proxies append to."""
    return "" if value is None else value.split(",", 1)[0].strip()


async def _release_hangs(app: web.Application) -> None:
    app[STATE].release_hangs()


def create_app(
    store: Store,
    clock: Clock | None = None,
    settings: ServerSettings | None = None,
    *,
    check_contract: bool | None = None,
) -> web.Application:
    """The fake Profile API serving ``store``, reading time from ``clock``.

    ``check_contract`` validates every answer against the response schemas (strict); by
    default it follows ``settings``, or the environment (``PROFILEMOCK_STRICT_CONTRACT=1``).
    """
    settings = settings or ServerSettings()
    if check_contract is None:
        check_contract = (
            settings.check_contract or os.environ.get("PROFILEMOCK_STRICT_CONTRACT") == "1"
        )
    app = web.Application()
    app[STATE] = ServerState.create(store, clock or Clock(), settings)
    app[STATE].check_contract = check_contract
    app[STATE].next_request_id = request_ids()
    app.on_shutdown.append(_release_hangs)
    if settings.admin:
        app.add_subapp(ADMIN_PREFIX.rstrip("/"), admin_app(admin_pipeline))
    serve_api = api_handler(app[STATE])
    app[DIRECT] = (API_PREFIX, serve_api)
    # [\s\S] rather than ".": a decoded path may hold a newline (%0A), which "." skips.
    app.router.add_route("*", r"/{path:[\s\S]*}", serve_api, expect_handler=expect.in_pipeline)
    return app
